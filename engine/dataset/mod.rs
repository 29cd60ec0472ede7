//! What the stores hold: the demo organisation (`org`, a deterministic generator with
//! planted patterns; docs/DATA.md), the tables it is written as (`tables`: each described
//! once, with the migrations of the SQL stores and the guard of generated SQL over them),
//! the graph a graph server holds (`graph`), loading it into every configured store
//! (`seeding`), and opening the stores with it, seeding empty ones (`open`).

mod graph;
mod open;
pub mod org;
mod seeding;
mod tables;

pub use open::{WhenDown, embed_documents, open, open_with};
pub use org::{
    Collaboration, Commit, Employee, EmployeeSkill, PullRequest, Service, ServiceDependency, Skill,
    Team,
};
pub use org::{DEFAULT_EMPLOYEES, DEFAULT_SEED, Org, Rng, as_of, generate, history_start};
pub use seeding::{LoadTarget, load_targets};
pub use tables::{
    DERIVED_COLUMNS, METRICS, POSTGRES_SCHEMA, RELATIONAL, SQLITE_SCHEMA, VALUE_COLUMNS, meta,
    snapshot, sql_guard, tables,
};
