//! The engine without HTTP: the executor, `eng-intel test`, reload and watch.

mod executor;
mod graph_tests;
mod reload;
