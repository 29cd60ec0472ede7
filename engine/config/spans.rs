//! Source positions for every node of a YAML document, keyed by JSON Pointer.
//!
//! serde_yaml gives us values but forgets where they came from; diagnostics need
//! `file:line:col` for any field, so we walk yaml-rust2's marked events once and
//! remember where each key and value starts, how each scalar is quoted (to find a
//! token inside it, see `locate`), and which mapping keys are repeated (serde drops
//! all but the last silently).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub use crate::core::Pos;

/// How a scalar is written, which decides how its text maps back to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

/// A mapping key written twice: `pointer` is the entry, `first` and `again` its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub pointer: String,
    pub key: String,
    pub first: Pos,
    pub again: Pos,
}

/// Positions of a document's nodes: `/nodes/route/kind` → where its value starts.
#[derive(Debug, Default, Clone)]
pub struct Spans {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
    styles: HashMap<String, Style>,
    duplicates: Vec<Duplicate>,
}

impl Spans {
    /// Builds the index; a document that does not parse yields an empty index
    /// (the syntax error itself is reported by the loader).
    pub fn of(text: &str) -> Spans {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Spans::default();
        }
        builder.spans
    }

    /// Where the value at `pointer` starts, or the nearest ancestor that has a position.
    pub fn value(&self, pointer: &str) -> Pos {
        self.lookup(&self.values, pointer)
    }

    /// Where the key of the entry at `pointer` starts (falls back to its value).
    pub fn key(&self, pointer: &str) -> Pos {
        match self.keys.get(pointer) {
            Some(p) => *p,
            None => self.value(pointer),
        }
    }

    /// Where the scalar at `pointer` starts and how it is quoted, if it is a scalar.
    pub fn scalar(&self, pointer: &str) -> Option<(Pos, Style)> {
        Some((*self.values.get(pointer)?, *self.styles.get(pointer)?))
    }

    /// Mapping keys written more than once, in document order.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    fn lookup(&self, map: &HashMap<String, Pos>, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = map.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }
}

/// Escapes one JSON Pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Map {
        path: String,
        pending_key: Option<String>,
        seen: HashMap<String, Pos>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    spans: Spans,
}

impl Builder {
    /// The pointer of the node that starts now, or None when the event is a mapping key.
    fn child_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}/{next}");
                *next += 1;
                Some(p)
            }
            Some(Frame::Map {
                path, pending_key, ..
            }) => pending_key.take().map(|k| format!("{path}/{}", escape(&k))),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos {
            line: mark.line(),
            col: mark.col() + 1,
        };
        match ev {
            Event::Scalar(value, style, ..) => match self.child_path() {
                Some(path) => {
                    self.spans.values.insert(path.clone(), pos);
                    self.spans.styles.insert(path, style.into());
                }
                None => {
                    if let Some(Frame::Map {
                        path,
                        pending_key,
                        seen,
                    }) = self.stack.last_mut()
                    {
                        let pointer = format!("{path}/{}", escape(&value));
                        match seen.get(&value) {
                            Some(first) => self.spans.duplicates.push(Duplicate {
                                pointer: pointer.clone(),
                                key: value.clone(),
                                first: *first,
                                again: pos,
                            }),
                            None => {
                                seen.insert(value.clone(), pos);
                            }
                        }
                        if seen.len() == 1 {
                            // A block mapping is marked where its first `:` is; start it at its first key.
                            let start = self.spans.values.entry(path.clone()).or_insert(pos);
                            *start = (*start).min(pos);
                        }
                        self.spans.keys.insert(pointer, pos);
                        *pending_key = Some(value);
                    }
                }
            },
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = self.child_path().unwrap_or_default();
                self.spans.values.insert(path.clone(), pos);
                self.stack.push(if matches!(ev, Event::MappingStart(..)) {
                    Frame::Map {
                        path,
                        pending_key: None,
                        seen: HashMap::new(),
                    }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                if let Some(path) = self.child_path() {
                    self.spans.values.insert(path, pos);
                }
            }
            _ => {}
        }
    }
}

impl From<TScalarStyle> for Style {
    fn from(s: TScalarStyle) -> Style {
        match s {
            TScalarStyle::Plain => Style::Plain,
            TScalarStyle::SingleQuoted => Style::SingleQuoted,
            TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            TScalarStyle::Literal => Style::Literal,
            TScalarStyle::Folded => Style::Folded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let s = Spans::of("a: 1\nnodes:\n  x:\n    kind: tool\nlist:\n  - p\n  - q\n");
        assert_eq!(s.value("/a"), Pos { line: 1, col: 4 });
        assert_eq!(s.key("/nodes/x"), Pos { line: 3, col: 3 });
        assert_eq!(s.value("/nodes/x/kind"), Pos { line: 4, col: 11 });
        assert_eq!(s.value("/list/1"), Pos { line: 7, col: 5 });
        assert_eq!(s.value("/nodes/x/missing"), Pos { line: 4, col: 5 });
    }

    #[test]
    fn styles_of_scalars() {
        let s = Spans::of("a: x\nb: 'y'\nc: \"z\"\nd: |\n  w\ne: >\n  v\n");
        let styles: Vec<Style> = ["/a", "/b", "/c", "/d", "/e"]
            .iter()
            .map(|p| s.scalar(p).expect("scalar").1)
            .collect();
        use Style::*;
        assert_eq!(styles, [Plain, SingleQuoted, DoubleQuoted, Literal, Folded]);
        assert_eq!(s.scalar("/b").map(|x| x.0), Some(Pos { line: 2, col: 4 }));
    }

    #[test]
    fn repeated_keys_are_found_with_both_positions() {
        let s = Spans::of("nodes:\n  a:\n    kind: tool\n    kind: llm\n  a: {}\n");
        assert_eq!(
            s.duplicates(),
            [
                Duplicate {
                    pointer: "/nodes/a/kind".into(),
                    key: "kind".into(),
                    first: Pos { line: 3, col: 5 },
                    again: Pos { line: 4, col: 5 },
                },
                Duplicate {
                    pointer: "/nodes/a".into(),
                    key: "a".into(),
                    first: Pos { line: 2, col: 3 },
                    again: Pos { line: 5, col: 3 },
                },
            ]
        );
    }
}
