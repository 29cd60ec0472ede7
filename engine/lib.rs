//! eng-intel: an engineering-intelligence assistant on a declarative agent-graph engine.
//!
//! The data path names the modules: `config` loads YAML and prompts, `validate` checks
//! them, `compile` builds petgraph graphs, `run` executes them and streams events,
//! `model` and `tools` are what nodes call, `toolbox` runs tools against the `store`
//! backends (with `analytics` for the maths), `dataset` is what the stores hold, `api`
//! serves HTTP/SSE, and `cli` is the command line.

pub mod analytics;
pub mod api;
pub mod cli;
pub mod compile;
pub mod config;
pub mod core;
pub mod dataset;
pub mod embed;
pub mod error;
pub mod graph_tests;
pub mod import;
pub mod model;
pub mod reload;
pub mod resilience;
pub mod run;
pub mod settings;
pub mod store;
pub mod threads;
pub mod toolbox;
pub mod tools;
pub mod understand;
pub mod validate;
pub mod watch;
