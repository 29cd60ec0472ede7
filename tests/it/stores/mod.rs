//! The stores behind the tools, the SQL guard, and the real servers.

mod aggregates;
mod app_role;
mod backends;
mod clickhouse_metrics;
mod neo4j_graph;
mod org;
mod plans;
mod seeding;
mod servers;
mod sql_guard;
