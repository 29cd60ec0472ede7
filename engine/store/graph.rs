//! The embedded graph store: people, teams, skills and services in a petgraph `DiGraph`,
//! built from the relational and metrics data. Its "query language" is a named operation
//! (a tool's `embedded:` query) with the tool's parameters; the node and edge model is the
//! one a Neo4j backend mirrors (docs/DATA.md).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use async_trait::async_trait;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde_json::{Value, json};

use super::contract::{Graph, Params, QueryStore, Row, StoreError};

#[derive(Debug, Clone)]
pub enum Node {
    Person {
        name: String,
        title: String,
        team: String,
    },
    Team {
        name: String,
    },
    Skill {
        name: String,
    },
    Service {
        name: String,
        team: String,
        owner: String,
        tier: String,
    },
}

#[derive(Debug, Clone, Copy)]
pub enum Edge {
    /// Person → Team.
    MemberOf,
    /// Person → Person (their manager).
    ReportsTo,
    /// Person → Skill, with proficiency 1–5.
    HasSkill(i64),
    /// Team → Service.
    Owns,
    /// Person → Service, with their commit count.
    CommitsTo(i64),
    /// Service → Service.
    DependsOn,
    /// Service → Skill (its stack).
    Uses,
    /// Person → Person (reviewer → author), with the number of reviews.
    Reviewed(i64),
    /// Person → Person, both ways: commits written together.
    CoAuthored(i64),
    /// Person → Person, both ways: files both changed within a few weeks of each other.
    CoChanged(i64),
}

pub struct MemGraph {
    g: DiGraph<Node, Edge>,
    people: HashMap<String, NodeIndex>,
    skills: HashMap<String, NodeIndex>,
    services: HashMap<String, NodeIndex>,
    teams: HashMap<String, NodeIndex>,
}

fn s(r: &Row, k: &str) -> String {
    r.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
fn i(r: &Row, k: &str) -> i64 {
    r.get(k).and_then(Value::as_i64).unwrap_or_default()
}

impl MemGraph {
    pub async fn build(
        relational: &dyn QueryStore,
        metrics: &dyn QueryStore,
    ) -> Result<MemGraph, StoreError> {
        let p = Params::new();
        let people = relational
            .query("SELECT e.id, e.name, e.title, t.name AS team, e.manager_id FROM employees e JOIN teams t ON t.id = e.team_id ORDER BY e.id", &p)
            .await?;
        let teams = relational
            .query("SELECT name FROM teams ORDER BY id", &p)
            .await?;
        let skills = relational
            .query("SELECT name FROM skills ORDER BY id", &p)
            .await?;
        let has = relational
            .query("SELECT es.employee_id, s.name, es.proficiency FROM employee_skills es JOIN skills s ON s.id = es.skill_id", &p)
            .await?;
        let services = relational
            .query("SELECT s.id, s.name, t.name AS team, e.name AS owner, s.tier, s.stack FROM services s JOIN teams t ON t.id = s.team_id JOIN employees e ON e.id = s.owner_id ORDER BY s.id", &p)
            .await?;
        let deps = relational
            .query(
                "SELECT service_id, depends_on_id FROM service_dependencies",
                &p,
            )
            .await?;
        let commits = metrics
            .query(
                "SELECT author_id, service, COUNT(*) AS n FROM commits GROUP BY author_id, service",
                &p,
            )
            .await?;
        let reviews = metrics
            .query("SELECT reviewer_id, author_id, COUNT(*) AS n FROM pr_reviews WHERE reviewed_at IS NOT NULL GROUP BY reviewer_id, author_id", &p)
            .await?;
        let together = metrics
            .query(
                "SELECT employee_id, other_id, kind, weight FROM collaborations",
                &p,
            )
            .await?;

        let mut m = MemGraph {
            g: DiGraph::new(),
            people: HashMap::new(),
            skills: HashMap::new(),
            services: HashMap::new(),
            teams: HashMap::new(),
        };
        for t in &teams {
            let n = m.g.add_node(Node::Team { name: s(t, "name") });
            m.teams.insert(s(t, "name").to_lowercase(), n);
        }
        for k in &skills {
            let n = m.g.add_node(Node::Skill { name: s(k, "name") });
            m.skills.insert(s(k, "name").to_lowercase(), n);
        }
        let mut by_id: HashMap<i64, NodeIndex> = HashMap::new();
        for r in &people {
            let n = m.g.add_node(Node::Person {
                name: s(r, "name"),
                title: s(r, "title"),
                team: s(r, "team"),
            });
            by_id.insert(i(r, "id"), n);
            m.people.insert(s(r, "name").to_lowercase(), n);
            if let Some(&t) = m.teams.get(&s(r, "team").to_lowercase()) {
                m.g.add_edge(n, t, Edge::MemberOf);
            }
        }
        for r in &people {
            if let (Some(&a), Some(&b)) = (by_id.get(&i(r, "id")), by_id.get(&i(r, "manager_id"))) {
                m.g.add_edge(a, b, Edge::ReportsTo);
            }
        }
        for r in &has {
            if let (Some(&a), Some(&b)) = (
                by_id.get(&i(r, "employee_id")),
                m.skills.get(&s(r, "name").to_lowercase()),
            ) {
                m.g.add_edge(a, b, Edge::HasSkill(i(r, "proficiency")));
            }
        }
        let mut svc_by_id: HashMap<i64, NodeIndex> = HashMap::new();
        for r in &services {
            let n = m.g.add_node(Node::Service {
                name: s(r, "name"),
                team: s(r, "team"),
                owner: s(r, "owner"),
                tier: s(r, "tier"),
            });
            svc_by_id.insert(i(r, "id"), n);
            m.services.insert(s(r, "name").to_lowercase(), n);
            if let Some(&t) = m.teams.get(&s(r, "team").to_lowercase()) {
                m.g.add_edge(t, n, Edge::Owns);
            }
            for skill in s(r, "stack").split(',') {
                if let Some(&k) = m.skills.get(&skill.trim().to_lowercase()) {
                    m.g.add_edge(n, k, Edge::Uses);
                }
            }
        }
        for r in &deps {
            if let (Some(&a), Some(&b)) = (
                svc_by_id.get(&i(r, "service_id")),
                svc_by_id.get(&i(r, "depends_on_id")),
            ) {
                m.g.add_edge(a, b, Edge::DependsOn);
            }
        }
        for r in &commits {
            if let (Some(&a), Some(&b)) = (
                by_id.get(&i(r, "author_id")),
                m.services.get(&s(r, "service").to_lowercase()),
            ) {
                m.g.add_edge(a, b, Edge::CommitsTo(i(r, "n")));
            }
        }
        for r in &reviews {
            if let (Some(&a), Some(&b)) = (
                by_id.get(&i(r, "reviewer_id")),
                by_id.get(&i(r, "author_id")),
            ) {
                m.g.add_edge(a, b, Edge::Reviewed(i(r, "n")));
            }
        }
        for r in &together {
            let edge = match s(r, "kind").as_str() {
                "co_authored" => Edge::CoAuthored(i(r, "weight")),
                "co_changed" => Edge::CoChanged(i(r, "weight")),
                _ => continue,
            };
            if let (Some(&a), Some(&b)) = (
                by_id.get(&i(r, "employee_id")),
                by_id.get(&i(r, "other_id")),
            ) {
                m.g.add_edge(a, b, edge);
            }
        }
        Ok(m)
    }

    fn name(&self, n: NodeIndex) -> &str {
        match &self.g[n] {
            Node::Person { name, .. }
            | Node::Team { name }
            | Node::Skill { name }
            | Node::Service { name, .. } => name,
        }
    }

    fn person_row(&self, n: NodeIndex) -> Row {
        let mut r = Row::new();
        if let Node::Person { name, title, team } = &self.g[n] {
            r.insert("name".into(), json!(name));
            r.insert("title".into(), json!(title));
            r.insert("team".into(), json!(team));
        }
        r
    }

    fn lookup(
        map: &HashMap<String, NodeIndex>,
        what: &str,
        key: &str,
    ) -> Result<NodeIndex, StoreError> {
        map.get(&key.to_lowercase())
            .copied()
            .ok_or_else(|| StoreError::query(format!("no {what} named {key}")))
    }

    /// People who review each other's work or write code together: most reviews and
    /// co-authored commits first, then most files changed together, then by name.
    fn collaborators(&self, person: &str, limit: usize) -> Result<Vec<Row>, StoreError> {
        let me = Self::lookup(&self.people, "employee", person)?;
        // given, received, co-authored, co-changed
        let mut tally: HashMap<NodeIndex, [i64; 4]> = HashMap::new();
        for e in self.g.edges_directed(me, Direction::Outgoing) {
            let (k, n) = match e.weight() {
                Edge::Reviewed(n) => (0, n),
                Edge::CoAuthored(n) => (2, n),
                Edge::CoChanged(n) => (3, n),
                _ => continue,
            };
            tally.entry(e.target()).or_default()[k] += n;
        }
        for e in self.g.edges_directed(me, Direction::Incoming) {
            if let Edge::Reviewed(n) = e.weight() {
                tally.entry(e.source()).or_default()[1] += n;
            }
        }
        let mine: HashSet<NodeIndex> = self.commits_of(me).into_iter().map(|(s, _)| s).collect();
        let mut rows: Vec<((i64, i64), String, Row)> = tally
            .into_iter()
            .filter(|(other, _)| *other != me)
            .map(|(other, [given, received, authored, changed])| {
                let mut shared: Vec<String> = self
                    .commits_of(other)
                    .into_iter()
                    .filter(|(s, _)| mine.contains(s))
                    .map(|(s, _)| self.name(s).to_string())
                    .collect();
                shared.sort();
                let mut r = self.person_row(other);
                r.insert("reviews_given".into(), json!(given));
                r.insert("reviews_received".into(), json!(received));
                r.insert("reviews_together".into(), json!(given + received));
                r.insert("co_authored_commits".into(), json!(authored));
                r.insert("co_changed_files".into(), json!(changed));
                r.insert("shared_services".into(), json!(shared));
                let rank = (given + received + authored, changed);
                (rank, self.name(other).to_string(), r)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(rows.into_iter().take(limit).map(|(_, _, r)| r).collect())
    }

    fn commits_of(&self, person: NodeIndex) -> Vec<(NodeIndex, i64)> {
        self.g
            .edges_directed(person, Direction::Outgoing)
            .filter_map(|e| match e.weight() {
                Edge::CommitsTo(n) => Some((e.target(), *n)),
                _ => None,
            })
            .collect()
    }

    /// For a skill: proficiency × 10 plus a fifth of their commits (capped at 100) to
    /// services built with it. For a service: its committers by commits.
    fn experts(&self, topic: &str, limit: usize) -> Result<Vec<Row>, StoreError> {
        let mut rows: Vec<(i64, String, Row)> = Vec::new();
        if let Some(&skill) = self.skills.get(&topic.to_lowercase()) {
            let using: HashSet<NodeIndex> = self
                .g
                .edges_directed(skill, Direction::Incoming)
                .filter(|e| matches!(e.weight(), Edge::Uses))
                .map(|e| e.source())
                .collect();
            let mut people: BTreeMap<NodeIndex, (i64, i64)> = BTreeMap::new();
            for e in self.g.edges_directed(skill, Direction::Incoming) {
                if let Edge::HasSkill(p) = e.weight() {
                    people.entry(e.source()).or_default().0 = *p;
                }
            }
            for &svc in &using {
                for e in self.g.edges_directed(svc, Direction::Incoming) {
                    if let Edge::CommitsTo(n) = e.weight() {
                        people.entry(e.source()).or_default().1 += n;
                    }
                }
            }
            for (p, (prof, commits)) in people {
                let score = prof * 10 + commits.min(100) / 5;
                let mut r = self.person_row(p);
                r.insert("topic".into(), json!(self.name(skill)));
                r.insert("topic_kind".into(), json!("skill"));
                r.insert("proficiency".into(), json!(prof));
                r.insert("related_commits".into(), json!(commits));
                r.insert("score".into(), json!(score));
                rows.push((score, self.name(p).to_string(), r));
            }
        } else {
            let svc = Self::lookup(&self.services, "skill or service", topic)?;
            for e in self.g.edges_directed(svc, Direction::Incoming) {
                if let Edge::CommitsTo(n) = e.weight() {
                    let mut r = self.person_row(e.source());
                    r.insert("topic".into(), json!(self.name(svc)));
                    r.insert("topic_kind".into(), json!("service"));
                    r.insert("related_commits".into(), json!(n));
                    r.insert("score".into(), json!(n));
                    rows.push((*n, self.name(e.source()).to_string(), r));
                }
            }
        }
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(rows.into_iter().take(limit).map(|(_, _, r)| r).collect())
    }

    /// A service's owner, direct dependencies, direct dependents and everything that
    /// depends on it transitively (its blast radius).
    fn service_dependencies(&self, service: &str) -> Result<Vec<Row>, StoreError> {
        let svc = Self::lookup(&self.services, "service", service)?;
        let Node::Service {
            name,
            team,
            owner,
            tier,
        } = &self.g[svc]
        else {
            unreachable!("services map holds services")
        };
        let direct = |dir: Direction| -> Vec<String> {
            let mut v: Vec<String> = self
                .g
                .edges_directed(svc, dir)
                .filter(|e| matches!(e.weight(), Edge::DependsOn))
                .map(|e| {
                    self.name(if dir == Direction::Outgoing {
                        e.target()
                    } else {
                        e.source()
                    })
                    .to_string()
                })
                .collect();
            v.sort();
            v
        };
        let mut seen = HashSet::from([svc]);
        let mut queue = VecDeque::from([svc]);
        let mut impacted = Vec::new();
        while let Some(n) = queue.pop_front() {
            for e in self.g.edges_directed(n, Direction::Incoming) {
                if matches!(e.weight(), Edge::DependsOn) && seen.insert(e.source()) {
                    impacted.push(self.name(e.source()).to_string());
                    queue.push_back(e.source());
                }
            }
        }
        impacted.sort();
        let mut r = Row::new();
        r.insert("service".into(), json!(name));
        r.insert("team".into(), json!(team));
        r.insert("owner".into(), json!(owner));
        r.insert("tier".into(), json!(tier));
        r.insert("depends_on".into(), json!(direct(Direction::Outgoing)));
        r.insert("used_by".into(), json!(direct(Direction::Incoming)));
        r.insert("impacted".into(), json!(impacted));
        Ok(vec![r])
    }

    /// Services by bus factor: the fewest people who together made more than half of its
    /// commits. Lowest first.
    fn knowledge_silos(&self, team: Option<&str>, limit: usize) -> Result<Vec<Row>, StoreError> {
        let mut rows: Vec<(i64, usize, String, Row)> = Vec::new();
        for (_, &svc) in self.services.iter() {
            let Node::Service {
                name,
                team: owner_team,
                ..
            } = &self.g[svc]
            else {
                continue;
            };
            if team.is_some_and(|t| !t.eq_ignore_ascii_case(owner_team)) {
                continue;
            }
            let mut counts: Vec<(i64, String)> = self
                .g
                .edges_directed(svc, Direction::Incoming)
                .filter_map(|e| match e.weight() {
                    Edge::CommitsTo(n) => Some((*n, self.name(e.source()).to_string())),
                    _ => None,
                })
                .collect();
            counts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let total: i64 = counts.iter().map(|c| c.0).sum();
            let mut acc = 0;
            let mut bus = 0;
            for (n, _) in &counts {
                if acc * 2 > total {
                    break;
                }
                acc += n;
                bus += 1;
            }
            let mut r = Row::new();
            r.insert("service".into(), json!(name));
            r.insert("team".into(), json!(owner_team));
            r.insert("committers".into(), json!(counts.len()));
            r.insert("bus_factor".into(), json!(bus));
            r.insert("commits".into(), json!(total));
            r.insert(
                "top_contributor".into(),
                json!(counts.first().map(|c| c.1.clone())),
            );
            r.insert(
                "top_share".into(),
                json!(counts.first().map(|c| c.0 as f64 / total as f64)),
            );
            rows.push((bus, counts.len(), name.clone(), r));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        Ok(rows.into_iter().take(limit).map(|(_, _, _, r)| r).collect())
    }
}

fn arg<'a>(p: &'a Params, k: &str) -> Result<&'a str, StoreError> {
    p.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| StoreError::query(format!("missing argument \"{k}\"")))
}

fn limit(p: &Params) -> usize {
    p.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize
}

#[async_trait]
impl QueryStore for MemGraph {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn query(&self, operation: &str, p: &Params) -> Result<Vec<Row>, StoreError> {
        match operation.trim() {
            "collaborators" => self.collaborators(arg(p, "person")?, limit(p)),
            "experts" => self.experts(arg(p, "topic")?, limit(p)),
            "service_dependencies" => self.service_dependencies(arg(p, "service")?),
            "knowledge_silos" => {
                self.knowledge_silos(p.get("team").and_then(Value::as_str), limit(p))
            }
            other => Err(StoreError::query(format!(
                "the embedded graph has no operation \"{other}\"; it knows collaborators, experts, service_dependencies, knowledge_silos"
            ))),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Graph for MemGraph {}
