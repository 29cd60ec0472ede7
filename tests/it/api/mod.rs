//! The HTTP/SSE API on a real socket.

mod chat;
mod console;
mod errors;
mod exposure;
mod idle;
mod ops;
mod outages;
mod owners;
mod pg_concurrency;
mod secrets;
mod seed_clients;
mod threads;
mod turns;
mod two_instances;
