//! Named parameters for SQL: queries in tools.yaml say `:name`; each backend wants its own
//! positional placeholders. Rewriting keeps values out of the query text — they are always
//! bound — and skips string literals, quoted identifiers, comments and `::` casts.

/// The placeholder style of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// SQLite: `?1`, `?2`, … (a name used twice binds once).
    Question,
    /// PostgreSQL: `$1`, `$2`, ….
    Dollar,
}

/// The query with positional placeholders, and the parameter names in binding order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positional {
    pub text: String,
    pub names: Vec<String>,
}

pub fn positional(query: &str, style: Style) -> Positional {
    let chars: Vec<char> = query.chars().collect();
    let mut out = String::with_capacity(query.len());
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            // Literals and quoted identifiers are copied verbatim ('' and "" escape themselves).
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .map_or(chars.len(), |p| i + 1 + p + 1);
                out.extend(&chars[i..end]);
                i = end;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&x| x == '\n')
                    .map_or(chars.len(), |p| i + p);
                out.extend(&chars[i..end]);
                i = end;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .map_or(chars.len(), |j| j + 2);
                out.extend(&chars[i..end]);
                i = end;
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if chars
                .get(i + 1)
                .is_some_and(|x| x.is_ascii_alphabetic() || *x == '_') =>
            {
                let start = i + 1;
                let end = (start..chars.len())
                    .find(|&j| !(chars[j].is_ascii_alphanumeric() || chars[j] == '_'))
                    .unwrap_or(chars.len());
                let name: String = chars[start..end].iter().collect();
                let n = match names.iter().position(|x| *x == name) {
                    Some(p) => p + 1,
                    None => {
                        names.push(name);
                        names.len()
                    }
                };
                out.push(if style == Style::Question { '?' } else { '$' });
                out.push_str(&n.to_string());
                i = end;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Positional { text: out, names }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_numbered_placeholders_in_first_use_order() {
        let q =
            "SELECT * FROM t WHERE (:team IS NULL OR team = :team) AND d >= :since LIMIT :limit";
        let p = positional(q, Style::Dollar);
        assert_eq!(
            p.text,
            "SELECT * FROM t WHERE ($1 IS NULL OR team = $1) AND d >= $2 LIMIT $3"
        );
        assert_eq!(p.names, ["team", "since", "limit"]);
        assert_eq!(
            positional(q, Style::Question).text,
            "SELECT * FROM t WHERE (?1 IS NULL OR team = ?1) AND d >= ?2 LIMIT ?3"
        );
    }

    #[test]
    fn literals_comments_and_casts_are_left_alone() {
        let q = "SELECT ':nope', \"col:x\", a::text, :p::bigint -- :also_not\n/* :nor */ FROM t WHERE x = 'it''s :no'";
        let p = positional(q, Style::Dollar);
        assert_eq!(
            p.text,
            "SELECT ':nope', \"col:x\", a::text, $1::bigint -- :also_not\n/* :nor */ FROM t WHERE x = 'it''s :no'"
        );
        assert_eq!(p.names, ["p"]);
        // A time literal and a colon not followed by a name stay as they are.
        assert_eq!(
            positional("SELECT '10:30', x : y", Style::Question).names,
            Vec::<String>::new()
        );
    }
}
