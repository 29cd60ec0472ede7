//! The integration tests: one binary, so that the crate is linked once for all of them.
//!
//! Modules by theme; run one with `cargo test --test it THEME` (a name filter, e.g.
//! `questions`, `api::chat`, `stores::`):
//!
//! - `api`: the HTTP/SSE server (chat, errors, operations, threads, the seed's own clients,
//!   two processes sharing PostgreSQL);
//! - `engine`: the executor, the YAML test runner (`eng-intel test`), reload and watch;
//! - `import`: `eng-intel import` on a real repository's history (the axum bundle), its
//!   facts computed from `git log`, questions over it, a second run that adds nothing;
//! - `models`: the OpenAI-compatible provider, the engine over it, embeddings and hybrid
//!   search, the ignored smoke check against a real model;
//! - `pipelines`: the pipeline graphs over a fake model, anomaly detection;
//! - `questions`: the question suite, a table of manager questions checked against SQL;
//! - `stores`: the stores behind the tools, the SQL guard, the real servers against the
//!   embedded default;
//! - `validate`: `eng-intel validate` on the broken-configuration corpus (tests/corpus).
//!
//! `support` is written once for all: fake OpenAI and embeddings servers, the API server
//! harness, settings, and `require_server`, which makes a test that needs PostgreSQL,
//! ClickHouse or Bolt skip visibly (or fail under `ENG_INTEL_CI=1`) when the server's
//! variables are unset.

mod api;
mod engine;
mod import;
mod models;
mod pipelines;
mod questions;
mod stores;
mod support;
mod validate;
