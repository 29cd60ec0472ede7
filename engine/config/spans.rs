//! Source positions for every node of a YAML document, keyed by JSON Pointer.
//!
//! serde_yaml gives us values but forgets where they came from; diagnostics need
//! `file:line:col` for any field, so we walk yaml-rust2's marked events once and
//! remember where each key and value starts.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Positions of a document's nodes: `/nodes/route/kind` → where its value starts.
#[derive(Debug, Default, Clone)]
pub struct Spans {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
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
            Some(Frame::Map { path, pending_key }) => {
                pending_key.take().map(|k| format!("{path}/{}", escape(&k)))
            }
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
            Event::Scalar(value, ..) => match self.child_path() {
                Some(path) => {
                    self.spans.values.insert(path, pos);
                }
                None => {
                    if let Some(Frame::Map { path, pending_key }) = self.stack.last_mut() {
                        self.spans
                            .keys
                            .insert(format!("{path}/{}", escape(&value)), pos);
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
}
