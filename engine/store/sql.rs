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
        // Literals, quoted identifiers ('' and "" escape themselves) and comments verbatim.
        if let Some(end) = skipped(&chars, i) {
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        match c {
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

/// The query with each optional filter settled by its parameter's value:
/// `(:name IS NULL OR cond)` becomes `(1 = 1)` when `name` is null or missing and `(cond)`
/// otherwise — the same truth, but a planner that sees `cond` alone can use its index
/// (an `IS NULL OR` on a bound parameter keeps SQLite and PostgreSQL off it: "done tickets
/// for Laura" read all 151,614 done tickets of `--scale 5000`). Literals and comments are
/// copied as they are.
pub fn settled(query: &str, params: &super::Params) -> String {
    let chars: Vec<char> = query.chars().collect();
    settle(&chars, params)
}

fn settle(chars: &[char], params: &super::Params) -> String {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(end) = skipped(chars, i) {
            out.extend(&chars[i..end]);
            i = end;
        } else if let Some((name, cond)) = (c == '(').then(|| optional(chars, i)).flatten() {
            let close = closing(chars, i);
            let null = params.get(&name).is_none_or(serde_json::Value::is_null);
            if null {
                out.push_str("(1 = 1)");
            } else {
                out.push('(');
                out.push_str(&settle(&chars[cond..close], params));
                out.push(')');
            }
            i = close + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The end of the literal, quoted identifier or comment starting at `i`, if one does.
fn skipped(chars: &[char], i: usize) -> Option<usize> {
    match chars[i] {
        '\'' | '"' => Some(
            chars[i + 1..]
                .iter()
                .position(|&x| x == chars[i])
                .map_or(chars.len(), |p| i + 1 + p + 1),
        ),
        '-' if chars.get(i + 1) == Some(&'-') => Some(
            chars[i..]
                .iter()
                .position(|&x| x == '\n')
                .map_or(chars.len(), |p| i + p),
        ),
        '/' if chars.get(i + 1) == Some(&'*') => Some(
            (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                .map_or(chars.len(), |j| j + 2),
        ),
        _ => None,
    }
}

/// At a `(` opening `(:name IS NULL OR `: the name and where the condition starts.
fn optional(chars: &[char], open: usize) -> Option<(String, usize)> {
    let space = |mut j: usize| {
        while chars.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        j
    };
    let word = |j: usize, w: &str| -> Option<usize> {
        let n = w.len();
        let got: String = chars.get(j..j + n)?.iter().collect();
        let after = chars.get(j + n).copied().unwrap_or(' ');
        (got.eq_ignore_ascii_case(w) && after.is_whitespace()).then_some(j + n)
    };
    let mut j = space(open + 1);
    if chars.get(j) != Some(&':')
        || !chars
            .get(j + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
    {
        return None;
    }
    let start = j + 1;
    j = (start..chars.len())
        .find(|&k| !(chars[k].is_ascii_alphanumeric() || chars[k] == '_'))
        .unwrap_or(chars.len());
    let name: String = chars[start..j].iter().collect();
    for w in ["IS", "NULL", "OR"] {
        j = word(space(j), w)?;
    }
    Some((name, space(j)))
}

/// The `)` closing the `(` at `open` (the end of the text if none does).
fn closing(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        if let Some(end) = skipped(chars, i) {
            i = end;
            continue;
        }
        match chars[i] {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_filters_are_settled_by_their_values() {
        let q = "SELECT * FROM t WHERE (:team IS NULL OR t.name = :team) AND ( :person is null or \
                 (e.name = :person OR e.id IN (SELECT id FROM x WHERE n = ')'))) AND k = ':team'";
        let p: super::super::Params =
            serde_json::from_str(r#"{"team": null, "person": "Ana"}"#).unwrap();
        assert_eq!(
            settled(q, &p),
            "SELECT * FROM t WHERE (1 = 1) AND ((e.name = :person OR e.id IN (SELECT id FROM x WHERE n = ')'))) AND k = ':team'"
        );
        let p: super::super::Params = serde_json::from_str(r#"{"team": "Mobile"}"#).unwrap();
        assert_eq!(
            settled(
                "WHERE (:team IS NULL OR (:older IS NULL OR a < :older) AND t = :team)",
                &p
            ),
            "WHERE ((1 = 1) AND t = :team)"
        );
        // Not an optional filter: left alone.
        assert_eq!(
            settled("WHERE (:a IS NULLX OR b)", &p),
            "WHERE (:a IS NULLX OR b)"
        );
    }

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
