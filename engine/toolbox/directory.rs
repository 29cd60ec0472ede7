//! The names questions refer to — employees, teams, services, skills — so that arguments
//! resolve to the exact stored spelling before a query runs, and an unknown name gets
//! "no employee named X — did you mean Y?" instead of an empty answer.

use strsim::damerau_levenshtein;

use crate::store::{Params, QueryStore, Row, StoreError};

#[derive(Debug, Default, Clone)]
pub struct Directory {
    employees: Vec<String>,
    teams: Vec<String>,
    services: Vec<String>,
    skills: Vec<String>,
}

/// Common spellings of skills.
const SKILL_ALIASES: [(&str, &str); 9] = [
    ("k8s", "Kubernetes"),
    ("ml", "Machine Learning"),
    ("postgres", "PostgreSQL"),
    ("golang", "Go"),
    ("ts", "TypeScript"),
    ("node", "Node.js"),
    ("nodejs", "Node.js"),
    ("ci", "CI/CD"),
    ("cicd", "CI/CD"),
];

impl Directory {
    pub async fn load(relational: &dyn QueryStore) -> Result<Directory, StoreError> {
        let names = |rows: Vec<Row>| -> Vec<String> {
            rows.into_iter()
                .filter_map(|r| r.get("name").and_then(|v| v.as_str()).map(str::to_string))
                .collect()
        };
        let empty = Params::new();
        Ok(Directory {
            employees: names(
                relational
                    .query("SELECT name FROM employees ORDER BY id", &empty)
                    .await?,
            ),
            teams: names(
                relational
                    .query("SELECT name FROM teams ORDER BY id", &empty)
                    .await?,
            ),
            services: names(
                relational
                    .query("SELECT name FROM services ORDER BY id", &empty)
                    .await?,
            ),
            skills: names(
                relational
                    .query("SELECT name FROM skills ORDER BY id", &empty)
                    .await?,
            ),
        })
    }

    /// The people, teams, services and skills a text names, in the order they appear
    /// (whole words, any case; a person by full name). Entity linking for Graph RAG.
    pub fn mentions(&self, text: &str) -> Vec<(&'static str, String)> {
        let lower = text.to_lowercase();
        let mut found: Vec<(usize, &'static str, String)> = Vec::new();
        let kinds: [(&'static str, &Vec<String>); 4] = [
            ("person", &self.employees),
            ("team", &self.teams),
            ("service", &self.services),
            ("skill", &self.skills),
        ];
        for (kind, names) in kinds {
            for name in names {
                // Short names ("Go", "ML") only in their own case: "how did it go" is no skill.
                let at = if name.len() <= 3 {
                    word_at(text, name)
                } else {
                    word_at(&lower, &name.to_lowercase())
                };
                if let Some(at) = at
                    && !found.iter().any(|(_, _, n)| n == name)
                {
                    found.push((at, kind, name.clone()));
                }
            }
        }
        found.sort_by_key(|(at, _, _)| *at);
        found.into_iter().map(|(_, k, n)| (k, n)).collect()
    }

    /// A person by full name (any case), or by a first or last name only they have.
    pub fn person(&self, asked: &str) -> Result<String, String> {
        let q = normalise(asked);
        if let Some(n) = exact(&self.employees, &q) {
            return Ok(n);
        }
        let partial: Vec<&String> = self
            .employees
            .iter()
            .filter(|n| {
                n.split_whitespace()
                    .any(|part| part.eq_ignore_ascii_case(&q))
            })
            .collect();
        match partial.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(format!(
                "no employee named {q}{}",
                hint(&q, &self.employees)
            )),
            many => Err(format!(
                "{} employees are called {q}: {} — which one?",
                many.len(),
                many.iter()
                    .take(5)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// A team by name; "the Data team" and "data" both find "Data".
    pub fn team(&self, asked: &str) -> Result<String, String> {
        let q = normalise(asked);
        let q = q.strip_prefix("the ").unwrap_or(&q);
        let q = q.strip_suffix(" team").unwrap_or(q).trim();
        exact(&self.teams, q).ok_or_else(|| match hint(q, &self.teams) {
            h if !h.is_empty() => format!("no team named {q}{h}"),
            _ => format!("no team named {q}; teams are {}", list(&self.teams)),
        })
    }

    pub fn service(&self, asked: &str) -> Result<String, String> {
        let q = normalise(asked);
        exact(&self.services, &q).ok_or_else(|| match hint(&q, &self.services) {
            h if !h.is_empty() => format!("no service named {q}{h}"),
            _ => format!(
                "no service named {q}; services include {}",
                list(&self.services)
            ),
        })
    }

    pub fn skill(&self, asked: &str) -> Result<String, String> {
        let q = normalise(asked);
        if let Some((_, s)) = SKILL_ALIASES
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&q))
        {
            return Ok(s.to_string());
        }
        exact(&self.skills, &q).ok_or_else(|| match hint(&q, &self.skills) {
            h if !h.is_empty() => format!("no skill named {q}{h}"),
            _ => format!(
                "no skill named {q}; known skills are {}",
                list(&self.skills)
            ),
        })
    }

    pub fn employees(&self) -> Vec<String> {
        self.employees.clone()
    }
    pub fn teams(&self) -> Vec<String> {
        self.teams.clone()
    }
    pub fn services(&self) -> Vec<String> {
        self.services.clone()
    }
    pub fn skills(&self) -> Vec<String> {
        self.skills.clone()
    }
    /// Skills, then services: what `topic` reads.
    pub fn topics(&self) -> Vec<String> {
        self.skills.iter().chain(&self.services).cloned().collect()
    }

    /// A skill or, failing that, a service (what experts can be asked about).
    pub fn topic(&self, asked: &str) -> Result<String, String> {
        self.skill(asked)
            .or_else(|_| self.service(asked))
            .map_err(|_| {
                let q = normalise(asked);
                let all: Vec<String> = self.skills.iter().chain(&self.services).cloned().collect();
                format!("no skill or service named {q}{}", hint(&q, &all))
            })
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| c == '?' || c == '.' || c == '"' || c == '\'')
        .to_string()
}

fn exact(names: &[String], q: &str) -> Option<String> {
    names.iter().find(|n| n.eq_ignore_ascii_case(q)).cloned()
}

/// " — did you mean Y?" for the closest name within a third of its length, else "".
fn hint(q: &str, names: &[String]) -> String {
    let ql = q.to_lowercase();
    names
        .iter()
        .map(|n| (damerau_levenshtein(&ql, &n.to_lowercase()), n))
        .filter(|(d, n)| *d <= (n.len().max(ql.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| format!(" — did you mean {n}?"))
        .unwrap_or_default()
}

fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
    if names.len() > shown.len() {
        format!("{}, …", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Where `word` occurs in `text` as a whole word (both already lower-case).
fn word_at(text: &str, word: &str) -> Option<usize> {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        boundary(text[..i].chars().next_back()) && boundary(text[i + word.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Directory {
            employees: s(&["Alex Kumar", "Sofia Rossi", "Alex Brown"]),
            teams: s(&["Platform", "Data", "Payments"]),
            services: s(&["ledger-service", "payments-api"]),
            skills: s(&["Python", "Kubernetes", "Machine Learning"]),
        }
    }

    #[test]
    fn names_resolve_or_explain() {
        let d = dir();
        assert_eq!(d.person("sofia rossi"), Ok("Sofia Rossi".into()));
        assert_eq!(d.person("Rossi"), Ok("Sofia Rossi".into()));
        assert_eq!(
            d.person("Alx Kumar"),
            Err("no employee named Alx Kumar — did you mean Alex Kumar?".into())
        );
        assert_eq!(
            d.person("Alex"),
            Err("2 employees are called Alex: Alex Kumar, Alex Brown — which one?".into())
        );
        assert_eq!(
            d.person("Zed Quux"),
            Err("no employee named Zed Quux".into())
        );
        assert_eq!(d.team("the Data team"), Ok("Data".into()));
        assert_eq!(
            d.team("Paymnts"),
            Err("no team named Paymnts — did you mean Payments?".into())
        );
        assert_eq!(
            d.team("Marketing"),
            Err("no team named Marketing; teams are Platform, Data, Payments".into())
        );
        assert_eq!(d.skill("k8s"), Ok("Kubernetes".into()));
        assert_eq!(
            d.skill("Pyhton"),
            Err("no skill named Pyhton — did you mean Python?".into())
        );
        assert_eq!(d.topic("ledger-service"), Ok("ledger-service".into()));
        assert_eq!(
            d.service("ledger-servce"),
            Err("no service named ledger-servce — did you mean ledger-service?".into())
        );
    }
}
