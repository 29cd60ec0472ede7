//! Positions inside a scalar: the file line and column that byte `offset` of a parsed
//! string came from, undoing YAML quoting, escapes, line folding and block indentation.
//!
//! Diagnostics about a token inside a value (a name in `a -> b -> c`, a variable in a
//! template, the broken part of a regex) point at the token, not at the start of the value.

use super::spans::{Pos, Style};

/// Where byte `offset` of `value` is in `text`, the scalar starting at `start` with `style`.
/// Falls back to the nearest position it can vouch for; never panics on odd input.
pub fn locate(text: &str, start: Pos, style: Style, value: &str, offset: usize) -> Pos {
    let Some(from) = byte_of(text, start) else {
        return start;
    };
    let mut src = text[from..].chars().peekable();
    let mut at = start;
    let step = |at: &mut Pos, c: char| {
        if c == '\n' {
            at.line += 1;
            at.col = 1;
        } else {
            at.col += 1;
        }
    };
    match style {
        Style::SingleQuoted | Style::DoubleQuoted => {
            if let Some(c) = src.next() {
                step(&mut at, c);
            }
        }
        // The header line (`|`, `>-`, a comment) holds no content; the parser may mark the
        // scalar at its indicator or at its first content line.
        Style::Literal | Style::Folded => {
            if src.peek().is_some_and(|c| *c == '|' || *c == '>') {
                while let Some(c) = src.next_if(|c| *c != '\n') {
                    step(&mut at, c);
                }
            }
            while let Some(c) = src.next_if(|c| *c == ' ') {
                step(&mut at, c);
            }
        }
        Style::Plain => {}
    }
    let mut val = value.char_indices().peekable();
    if matches!(style, Style::Literal | Style::Folded) {
        // Content indented past the block's own indentation starts with spaces.
        while val.next_if(|(i, c)| *c == ' ' && *i < offset).is_some() {}
    }
    loop {
        let Some(&(vi, _)) = val.peek() else {
            return at;
        };
        if vi >= offset {
            return at;
        }
        let Some(sc) = src.next() else {
            return at;
        };
        if sc == '\n' || sc == '\r' {
            // A line break (folded to a space, or kept) and the indentation after it.
            step(&mut at, sc);
            while let Some(c) = src.next_if(|c| c.is_whitespace()) {
                step(&mut at, c);
            }
            while val
                .next_if(|(i, c)| c.is_whitespace() && *i < offset)
                .is_some()
            {}
            continue;
        }
        step(&mut at, sc);
        match (style, sc) {
            // `''` is one quote.
            (Style::SingleQuoted, '\'') => {
                if let Some(c) = src.next() {
                    step(&mut at, c);
                }
            }
            (Style::DoubleQuoted, '\\') => {
                let extra = match src.next() {
                    Some('x') => 2,
                    Some('u') => 4,
                    Some('U') => 8,
                    Some('\n') => {
                        // An escaped line break joins lines and yields nothing.
                        at.line += 1;
                        at.col = 1;
                        while let Some(c) = src.next_if(|c| c.is_whitespace()) {
                            step(&mut at, c);
                        }
                        continue;
                    }
                    _ => 0,
                };
                at.col += 1;
                for _ in 0..extra {
                    if src.next().is_some() {
                        at.col += 1;
                    }
                }
            }
            _ => {}
        }
        val.next();
    }
}

/// The position of byte `offset` in `text` (for files that are templates themselves).
pub fn pos_of_offset(text: &str, offset: usize) -> Pos {
    let mut at = Pos { line: 1, col: 1 };
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            at.line += 1;
            at.col = 1;
        } else {
            at.col += 1;
        }
    }
    at
}

/// Byte index of a 1-based line and character column.
fn byte_of(text: &str, pos: Pos) -> Option<usize> {
    let line_start = if pos.line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(pos.line - 2)?.0 + 1
    };
    let rest = &text[line_start..];
    match rest.char_indices().nth(pos.col.saturating_sub(1)) {
        Some((i, _)) => Some(line_start + i),
        None => Some(text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spans::Spans;

    /// Parses `yaml`, finds `needle` in the value at `/v`, and returns where it is.
    fn find(yaml: &str, needle: &str) -> Pos {
        let spans = Spans::of(yaml);
        let value: serde_json::Value = serde_yaml::from_str(yaml).expect("yaml");
        let text = value["v"].as_str().expect("string");
        let offset = text.find(needle).expect("needle in value");
        let (start, style) = spans.scalar("/v").expect("scalar");
        locate(yaml, start, style, text, offset)
    }

    /// The position of `needle`'s first occurrence in `yaml` after the `v:` key.
    fn expected(yaml: &str, needle: &str) -> Pos {
        let from = yaml.find("v:").expect("key");
        pos_of_offset(yaml, from + yaml[from..].find(needle).expect("needle"))
    }

    #[test]
    fn plain_and_quoted_scalars() {
        for yaml in [
            "x: 1\nv: a -> bee -> c\n",
            "x: 1\nv: 'it''s -> bee'\n",
            "x: 1\nv: \"a\\tb -> bee\"\n",
            "x: 1\nv: \"\\u00e9 -> bee\"\n",
        ] {
            assert_eq!(find(yaml, "bee"), expected(yaml, "bee"), "{yaml}");
        }
    }

    #[test]
    fn blocks_and_folded_lines() {
        for yaml in [
            "v: |\n  line one\n    {{ bee }}\n",
            "v: |2\n    indented\n  bee\n",
            "v: >-\n  one\n  two bee\n",
            "v: a plain\n  scalar with bee\n",
            "v: 'quoted\n\n  on bee'\n",
        ] {
            assert_eq!(find(yaml, "bee"), expected(yaml, "bee"), "{yaml}");
        }
    }

    #[test]
    fn offsets_in_plain_text() {
        assert_eq!(pos_of_offset("ab\ncd", 4), Pos { line: 2, col: 2 });
        assert_eq!(pos_of_offset("é\nx", 3), Pos { line: 2, col: 1 });
    }
}
