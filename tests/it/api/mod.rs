//! The HTTP/SSE API on a real socket.

mod chat;
mod console;
mod errors;
mod ops;
mod seed_clients;
mod threads;
mod two_instances;
