//! The stores behind the tools, the SQL guard, and the real servers.

mod backends;
mod org;
mod servers;
mod sql_guard;
