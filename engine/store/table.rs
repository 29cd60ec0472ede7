//! What a load writes, as the backends take it: tables described once (name, typed
//! columns, sort key), their rows produced lazily (a scaled organisation has millions),
//! the graph as Cypher statements with their rows, and the `meta` rows written last.
//! The dataset says which tables exist; the backends only read these descriptions.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One value to bind. Nulls carry their column type: PostgreSQL wants typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

/// A column's type. Nullable columns hold the loader's optional values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    NullInt,
    NullText,
    NullReal,
}

impl Ty {
    pub fn nullable(self) -> bool {
        matches!(self, Ty::NullInt | Ty::NullText | Ty::NullReal)
    }
}

/// A table: its columns in row order, and its sort key (the columns its time-range
/// queries filter on, as the SQL indexes have them; a column store's `ORDER BY`).
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Ty)],
    pub sort_key: &'static str,
}

impl TableDef {
    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.0)
    }
}

/// Where the data came from and the instant it describes ("now"): every store has it, and
/// a load writes it last, so a half-done load never counts as loaded.
pub const META: TableDef = TableDef {
    name: "meta",
    columns: &[("key", Ty::Text), ("value", Ty::Text)],
    sort_key: "key",
};

/// A table's rows, produced on demand.
pub struct Table<'a> {
    pub def: &'static TableDef,
    pub len: usize,
    pub row: Box<dyn Fn(usize) -> Vec<Cell> + Send + Sync + 'a>,
}

impl Table<'_> {
    pub fn name(&self) -> &'static str {
        self.def.name
    }
}

/// Cypher statements (`UNWIND $rows AS r …`), each with the rows it runs over: nodes
/// before the relationships between them.
pub type GraphRows = Vec<(&'static str, Vec<Value>)>;

/// Everything a load writes into a store.
pub struct Snapshot<'a> {
    /// In an order that loads parents before children.
    pub tables: Vec<Table<'a>>,
    /// For a graph store: made only when one is loaded.
    pub graph: Box<dyn Fn() -> GraphRows + Send + Sync + 'a>,
    /// The [`META`] rows.
    pub meta: Vec<(&'static str, String)>,
}

impl Snapshot<'_> {
    /// The rows of every table (what a relational load reports).
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.len as u64).sum()
    }
}

/// The ISO-8601 text form every timestamp column uses.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Rows per INSERT statement: SQLite allows 32 766 parameters, PostgreSQL 65 535.
pub fn chunk_rows(columns: usize) -> usize {
    (8000 / columns).max(1)
}
