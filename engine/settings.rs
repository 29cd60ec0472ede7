//! Settings from the environment (and a `.env` file): the seed's variables plus ours.
//!
//! Everything is optional; with nothing set the service runs embedded (SQLite under
//! `DATA_DIR`, in-process stores, the offline model). Secrets are kept in `Secret` so
//! that they never print in logs, errors or health output.

use std::path::PathBuf;

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
    pub fn model_for_tier(&self, tier: &str) -> &str {
        match tier {
            "code" => &self.model_code,
            "fast" => &self.model_fast,
            "analytics" => &self.model_analytics,
            _ => &self.model_primary,
        }
    }
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
    pub sync_timeout_s: u64,
    pub postgres: Option<Postgres>,
    pub clickhouse: Option<ClickHouse>,
    pub neo4j: Option<Neo4j>,
    pub llm: Option<Llm>,
    pub pinecone_api_key: Option<Secret>,
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
        let postgres = get("POSTGRES_HOST").map(|host| Postgres {
            host,
            port: num("POSTGRES_PORT", 5432) as u16,
            database: get("POSTGRES_DATABASE").unwrap_or_else(|| "engineering_intelligence".into()),
            user: get("POSTGRES_USER").unwrap_or_else(|| "postgres".into()),
            password: secret("POSTGRES_PASSWORD"),
            sslmode: get("POSTGRES_SSLMODE").unwrap_or_else(|| "prefer".into()),
            pool_size: num("POSTGRES_POOL_SIZE", 10) as u32,
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
            sync_timeout_s: num("SYNC_TIMEOUT_S", 120),
            postgres,
            clickhouse,
            neo4j,
            llm,
            pinecone_api_key: get("PINECONE_API_KEY").map(Secret),
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
}
