//! Settings from the environment (and a `.env` file): the seed's variables plus ours.
//!
//! Everything is optional; with nothing set the service runs embedded (SQLite under
//! `DATA_DIR`, in-process stores, the offline model). Secrets are kept in `Secret` so
//! that they never print in logs, errors or health output.

use std::path::PathBuf;
use std::time::Duration;

/// A value that never prints.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Debug, Clone)]
pub struct Postgres {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: Secret,
    /// disable, prefer, require, verify-ca, verify-full.
    pub sslmode: String,
    pub pool_size: u32,
    /// How long to wait for a pooled connection, a new one included (`POSTGRES_CONNECT_TIMEOUT_S`).
    pub connect_timeout: Duration,
}

impl Postgres {
    /// Connection URL for sqlx (contains the password: never log it).
    pub fn url(&self) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}?sslmode={}",
            self.user,
            self.password.expose(),
            self.host,
            self.port,
            self.database,
            self.sslmode
        )
    }
}

#[derive(Debug, Clone)]
pub struct ClickHouse {
    /// Full URL: http(s)://host:port (HTTPS for port 8443).
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: Secret,
}

#[derive(Debug, Clone)]
pub struct Neo4j {
    pub uri: String,
    pub user: String,
    pub password: Secret,
    pub database: Option<String>,
    /// Bolt connections kept by the pool (`NEO4J_POOL_SIZE`).
    pub pool_size: usize,
}

/// An OpenAI-compatible model server (Featherless, OpenAI, vLLM, Ollama, llama.cpp…).
#[derive(Debug, Clone)]
pub struct Llm {
    pub base_url: String,
    pub api_key: Secret,
    pub model_primary: String,
    pub model_code: String,
    pub model_fast: String,
    pub model_analytics: String,
}

impl Llm {
    pub fn model_for_tier(&self, tier: crate::core::Tier) -> &str {
        use crate::core::Tier;
        match tier {
            Tier::Primary => &self.model_primary,
            Tier::Code => &self.model_code,
            Tier::Fast => &self.model_fast,
            Tier::Analytics => &self.model_analytics,
        }
    }
}

/// An OpenAI-compatible embeddings server (`EMBEDDING_*`): OpenAI, vLLM, Ollama, TEI…
#[derive(Debug, Clone)]
pub struct Embedding {
    pub base_url: String,
    pub api_key: Secret,
    pub model: String,
    /// Asked of the server (`dimensions`) and checked on every vector; learned when unset.
    pub dimensions: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    /// Where the embedded stores live (SQLite file, caches).
    pub data_dir: PathBuf,
    pub log_level: String,
    pub log_json: bool,
    pub debug: bool,
    /// Bearer token required on /api routes (but health) when set.
    pub api_key: Option<Secret>,
    /// Allowed CORS origins; `*` when empty.
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    /// `CONSOLE_DIR`: serve the web console's files from this directory instead of the
    /// copies embedded in the binary (for editing them without a rebuild).
    pub console_dir: Option<PathBuf>,
    pub sync_timeout_s: u64,
    /// Bounds every request to ClickHouse and Neo4j (`STORE_TIMEOUT_S`), so a server that
    /// stops answering makes a tool error rather than a hung request.
    pub store_timeout: Duration,
    pub postgres: Option<Postgres>,
    pub clickhouse: Option<ClickHouse>,
    pub neo4j: Option<Neo4j>,
    pub llm: Option<Llm>,
    pub pinecone_api_key: Option<Secret>,
    /// Pinecone's API root (`PINECONE_BASE_URL`, default https://api.pinecone.io).
    pub pinecone_base_url: Option<String>,
    /// Embeddings for document search; wins over Pinecone when both are set.
    pub embedding: Option<Embedding>,
}

impl Settings {
    /// Reads `.env` (if present) then the environment.
    pub fn from_env() -> Settings {
        let _ = dotenvy::dotenv();
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds settings from any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let num = |k: &str, d: u64| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let flag = |k: &str| {
            get(k).is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        };
        let secret = |k: &str| Secret(get(k).unwrap_or_default());
        // Whole seconds, at least one: a zero timeout would fail every request.
        let secs = |k: &str, d: u64| Duration::from_secs(num(k, d).max(1));
        let postgres = get("POSTGRES_HOST").map(|host| Postgres {
            host,
            port: num("POSTGRES_PORT", 5432) as u16,
            database: get("POSTGRES_DATABASE").unwrap_or_else(|| "engineering_intelligence".into()),
            user: get("POSTGRES_USER").unwrap_or_else(|| "postgres".into()),
            password: secret("POSTGRES_PASSWORD"),
            sslmode: get("POSTGRES_SSLMODE").unwrap_or_else(|| "prefer".into()),
            pool_size: num("POSTGRES_POOL_SIZE", 10) as u32,
            connect_timeout: secs("POSTGRES_CONNECT_TIMEOUT_S", 10),
        });
        let clickhouse = get("CLICKHOUSE_HOST").map(|host| {
            let port = num("CLICKHOUSE_PORT", 8123);
            let scheme = if port == 8443 || flag("CLICKHOUSE_SECURE") {
                "https"
            } else {
                "http"
            };
            ClickHouse {
                url: if host.starts_with("http") {
                    host
                } else {
                    format!("{scheme}://{host}:{port}")
                },
                database: get("CLICKHOUSE_DATABASE").unwrap_or_else(|| "default".into()),
                user: get("CLICKHOUSE_USERNAME").unwrap_or_else(|| "default".into()),
                password: secret("CLICKHOUSE_PASSWORD"),
            }
        });
        let neo4j = get("NEO4J_URI").map(|uri| Neo4j {
            uri,
            user: get("NEO4J_USERNAME").unwrap_or_else(|| "neo4j".into()),
            password: secret("NEO4J_PASSWORD"),
            database: get("NEO4J_DATABASE"),
            pool_size: num("NEO4J_POOL_SIZE", 16).max(1) as usize,
        });
        let llm = get("FEATHERLESS_BASE_URL")
            .or_else(|| get("OPENAI_BASE_URL"))
            .map(|base_url| {
                let primary = get("FEATHERLESS_MODEL_PRIMARY")
                    .or_else(|| get("OPENAI_MODEL"))
                    .unwrap_or_else(|| "Qwen/Qwen2.5-72B-Instruct".into());
                Llm {
                    base_url,
                    api_key: Secret(
                        get("FEATHERLESS_API_KEY")
                            .or_else(|| get("OPENAI_API_KEY"))
                            .unwrap_or_default(),
                    ),
                    model_code: get("FEATHERLESS_MODEL_CODE").unwrap_or_else(|| primary.clone()),
                    model_fast: get("FEATHERLESS_MODEL_FAST").unwrap_or_else(|| primary.clone()),
                    model_analytics: get("FEATHERLESS_MODEL_ANALYTICS")
                        .unwrap_or_else(|| primary.clone()),
                    model_primary: primary,
                }
            });
        let embedding = get("EMBEDDING_BASE_URL").map(|base_url| Embedding {
            base_url,
            api_key: secret("EMBEDDING_API_KEY"),
            model: get("EMBEDDING_MODEL").unwrap_or_else(|| "text-embedding-3-small".into()),
            dimensions: get("EMBEDDING_DIMENSIONS")
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0),
        });
        Settings {
            port: num("PORT", 7860) as u16,
            data_dir: get("DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("data")),
            log_level: get("LOG_LEVEL")
                .unwrap_or_else(|| "info".into())
                .to_lowercase(),
            log_json: flag("LOG_JSON"),
            debug: flag("DEBUG"),
            api_key: get("API_KEY").map(Secret),
            cors_origins: get("CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            body_limit_bytes: num("BODY_LIMIT_BYTES", 64 * 1024) as usize,
            console_dir: get("CONSOLE_DIR").map(PathBuf::from),
            sync_timeout_s: num("SYNC_TIMEOUT_S", 120),
            store_timeout: secs("STORE_TIMEOUT_S", 30),
            postgres,
            clickhouse,
            neo4j,
            llm,
            pinecone_api_key: get("PINECONE_API_KEY").map(Secret),
            pinecone_base_url: get("PINECONE_BASE_URL"),
            embedding,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_and_no_secret_in_debug() {
        let s = Settings::from_lookup(|_| None);
        assert_eq!(s.port, 7860);
        assert!(s.postgres.is_none() && s.llm.is_none());
        let s = Settings::from_lookup(|k| match k {
            "POSTGRES_HOST" => Some("db".into()),
            "POSTGRES_PASSWORD" => Some("hunter2".into()),
            "CLICKHOUSE_HOST" => Some("ch".into()),
            "CLICKHOUSE_PORT" => Some("8443".into()),
            _ => None,
        });
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.clickhouse.unwrap().url, "https://ch:8443");
    }

    #[test]
    fn pool_sizes_and_timeouts() {
        let s = Settings::from_lookup(|k| match k {
            "POSTGRES_HOST" | "NEO4J_URI" => Some("db".into()),
            _ => None,
        });
        assert_eq!(s.store_timeout, Duration::from_secs(30));
        let (pg, neo) = (s.postgres.unwrap(), s.neo4j.unwrap());
        assert_eq!(
            (pg.pool_size, pg.connect_timeout, neo.pool_size),
            (10, Duration::from_secs(10), 16)
        );

        let s = Settings::from_lookup(|k| {
            match k {
                "POSTGRES_HOST" | "NEO4J_URI" => "db",
                "STORE_TIMEOUT_S" => "5",
                "POSTGRES_POOL_SIZE" => "3",
                "POSTGRES_CONNECT_TIMEOUT_S" => "2",
                "NEO4J_POOL_SIZE" => "4",
                _ => return None,
            }
            .to_string()
            .into()
        });
        assert_eq!(s.store_timeout, Duration::from_secs(5));
        let (pg, neo) = (s.postgres.unwrap(), s.neo4j.unwrap());
        assert_eq!(
            (pg.pool_size, pg.connect_timeout, neo.pool_size),
            (3, Duration::from_secs(2), 4)
        );

        // Zero or unreadable values fall back to something that can work.
        let s = Settings::from_lookup(|k| match k {
            "NEO4J_URI" => Some("db".into()),
            "STORE_TIMEOUT_S" => Some("0".into()),
            "NEO4J_POOL_SIZE" => Some("many".into()),
            _ => None,
        });
        assert_eq!(s.store_timeout, Duration::from_secs(1));
        assert_eq!(s.neo4j.unwrap().pool_size, 16);
    }
}
