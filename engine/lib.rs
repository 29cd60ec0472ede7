//! eng-intel: an engineering-intelligence assistant on a declarative agent-graph engine.
//!
//! The data path names the modules: `config` loads YAML and prompts, `validate` checks
//! them, `compile` builds petgraph graphs, `run` executes them and streams events,
//! `model` and `tools` are what nodes call, `store` and `org` hold the organisation's
//! data, `api` serves HTTP/SSE, and `cli` is the command line.

pub mod api;
pub mod cli;
pub mod compile;
pub mod config;
pub mod embed;
pub mod error;
pub mod graph_tests;
pub mod model;
pub mod org;
pub mod reload;
pub mod resilience;
pub mod run;
pub mod settings;
pub mod store;
pub mod threads;
pub mod tools;
pub mod understand;
pub mod validate;
pub mod watch;
