//! Settings from the environment (and a `.env` file): the seed's variables plus ours.
//!
//! Everything is optional; with nothing set the service runs embedded (SQLite under
//! `DATA_DIR`, in-process stores, the offline model). Secrets are kept in `Secret` so
//! that they never print in logs, errors or health output.

mod redact;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

pub use redact::{MASK, RedactingWriter, Redactor};

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
    /// `MODELS_DIR`, when set: see [`Settings::models_dir`].
    pub models_dir_var: Option<PathBuf>,
    pub log_level: String,
    pub log_json: bool,
    pub debug: bool,
    /// Bearer token required on /api routes (but health) when set; one admin key.
    pub api_key: Option<Secret>,
    /// Every accepted key with its name and role: `API_KEY` (named `admin`), then
    /// `API_KEYS` and the lines of `API_KEYS_FILE` (`name:role:key`, role user|admin).
    pub api_keys: Vec<ApiKey>,
    /// Allowed CORS origins; `*` when empty.
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    /// `CONSOLE_DIR`: serve the web console's files from this directory instead of the
    /// copies embedded in the binary (for editing them without a rebuild).
    pub console_dir: Option<PathBuf>,
    pub sync_timeout_s: u64,
    /// Bounds every request to ClickHouse and Neo4j and every query of the PostgreSQL
    /// organisation store (`STORE_TIMEOUT_S`), so a server that stops answering makes a
    /// tool error (which its breaker counts) rather than a hung request.
    pub store_timeout: Duration,
    /// How long a server store's open circuit refuses calls (`STORE_BREAKER_COOLDOWN_S`)
    /// after it failed `store::BREAKER_FAILURES` times in a row.
    pub store_cooldown: Duration,
    pub postgres: Option<Postgres>,
    pub clickhouse: Option<ClickHouse>,
    pub neo4j: Option<Neo4j>,
    pub llm: Option<Llm>,
    pub pinecone_api_key: Option<Secret>,
    /// Pinecone's API root (`PINECONE_BASE_URL`, default https://api.pinecone.io).
    pub pinecone_base_url: Option<String>,
    /// Embeddings for document search; wins over Pinecone when both are set.
    pub embedding: Option<Embedding>,
    /// `/metrics` without the API key (`METRICS_PUBLIC=1`); by default it needs one.
    pub metrics_public: bool,
    /// Limits that keep slow or greedy clients from starving the others.
    pub limits: Limits,
    /// Every secret read from the environment, for `redactor()`.
    secrets: Vec<Secret>,
}

/// Who may call the API, and as what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sees and continues only the threads created with its own key.
    User,
    /// Sees every thread and may use `/api/admin/*`.
    Admin,
}

/// A named API key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub name: String,
    pub key: Secret,
    pub role: Role,
}

/// `name:role:key` entries, separated by commas or new lines; `#` starts a comment line.
/// A malformed entry is skipped with its reason in the error list (never the key).
pub fn parse_api_keys(text: &str) -> (Vec<ApiKey>, Vec<String>) {
    let (mut keys, mut errors) = (Vec::new(), Vec::new());
    for (i, entry) in text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.starts_with('#'))
        .enumerate()
    {
        let mut parts = entry.splitn(3, ':');
        let (name, role, key) = (parts.next(), parts.next(), parts.next());
        let role = match role.map(str::to_ascii_lowercase).as_deref() {
            Some("user") => Role::User,
            Some("admin") => Role::Admin,
            _ => {
                errors.push(format!("entry {} has no role user|admin", i + 1));
                continue;
            }
        };
        match (name.map(str::trim), key.map(str::trim)) {
            (Some(n), Some(k)) if !n.is_empty() && k.len() >= 8 => keys.push(ApiKey {
                name: n.to_string(),
                key: Secret(k.to_string()),
                role,
            }),
            _ => errors.push(format!(
                "entry {} needs name:role:key with a key of 8 characters or more",
                i + 1
            )),
        }
    }
    (keys, errors)
}

/// Connection and request limits (docs/DEPLOY.md, "Operating").
#[derive(Debug, Clone)]
pub struct Limits {
    /// A client must send a request's headers within this (`HEADER_READ_TIMEOUT_S`, 10).
    pub header_read_timeout: Duration,
    /// …and its body within this (`BODY_READ_TIMEOUT_S`, 30).
    pub body_read_timeout: Duration,
    /// Open connections at most; more wait in the listen backlog (`MAX_CONNECTIONS`, 1000).
    pub max_connections: usize,
    /// Chats one client address may have running at once; 0: no limit (`MAX_CHATS_PER_IP`, 10).
    pub max_chats_per_ip: usize,
    /// Chats that may wait for one thread beyond the one running (`THREAD_QUEUE_MAX`, 8).
    pub thread_queue_max: usize,
}

impl Settings {
    /// Masks every configured secret (and URL credentials) in text that leaves the process.
    pub fn redactor(&self) -> Redactor {
        let mut all: Vec<String> = self
            .secrets
            .iter()
            .map(|s| s.expose().to_string())
            .collect();
        // Passwords written into URLs (`http://user:pw@host`) are secrets too.
        let urls = [
            self.llm.as_ref().map(|l| l.base_url.as_str()),
            self.embedding.as_ref().map(|e| e.base_url.as_str()),
            self.clickhouse.as_ref().map(|c| c.url.as_str()),
            self.neo4j.as_ref().map(|n| n.uri.as_str()),
            self.pinecone_base_url.as_deref(),
        ];
        all.extend(urls.into_iter().flatten().filter_map(url_password));
        Redactor::new(all)
    }

    /// Reads `.env` (if present) then the environment.
    pub fn from_env() -> Settings {
        let _ = dotenvy::dotenv();
        Settings::from_lookup(|k| std::env::var(k).ok())
    }

    /// Where `eng-intel models fetch` puts local models and the embedder finds them:
    /// `MODELS_DIR`, else `models` in the data dir.
    pub fn models_dir(&self) -> PathBuf {
        self.models_dir_var
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models"))
    }

    /// Builds settings from any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        // Every secret goes through `secret`/`opt_secret`, which keep it for `redactor()`.
        let kept: RefCell<Vec<Secret>> = RefCell::default();
        let opt_secret = |k: &str| {
            let s = get(k).map(Secret)?;
            kept.borrow_mut().push(s.clone());
            Some(s)
        };
        let num = |k: &str, d: u64| get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let flag = |k: &str| {
            get(k).is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        };
        let secret = |k: &str| opt_secret(k).unwrap_or_default();
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
                    api_key: opt_secret("FEATHERLESS_API_KEY")
                        .or_else(|| opt_secret("OPENAI_API_KEY"))
                        .unwrap_or_default(),
                    model_code: get("FEATHERLESS_MODEL_CODE").unwrap_or_else(|| primary.clone()),
                    model_fast: get("FEATHERLESS_MODEL_FAST").unwrap_or_else(|| primary.clone()),
                    model_analytics: get("FEATHERLESS_MODEL_ANALYTICS")
                        .unwrap_or_else(|| primary.clone()),
                    model_primary: primary,
                }
            });
        let api_key = opt_secret("API_KEY");
        let mut api_keys: Vec<ApiKey> = api_key
            .iter()
            .map(|k| ApiKey {
                name: "admin".into(),
                key: k.clone(),
                role: Role::Admin,
            })
            .collect();
        let listed = [
            get("API_KEYS"),
            get("API_KEYS_FILE").and_then(|f| std::fs::read_to_string(f).ok()),
        ];
        for text in listed.into_iter().flatten() {
            let (keys, errors) = parse_api_keys(&text);
            for e in errors {
                eprintln!("warning: API_KEYS: {e}; skipped");
            }
            for k in keys {
                kept.borrow_mut().push(k.key.clone());
                api_keys.push(k);
            }
        }
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
            models_dir_var: get("MODELS_DIR").map(PathBuf::from),
            log_level: get("LOG_LEVEL")
                .unwrap_or_else(|| "info".into())
                .to_lowercase(),
            log_json: flag("LOG_JSON"),
            debug: flag("DEBUG"),
            api_key: api_key.clone(),
            api_keys,
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
            store_cooldown: secs("STORE_BREAKER_COOLDOWN_S", 10),
            postgres,
            clickhouse,
            neo4j,
            llm,
            pinecone_api_key: opt_secret("PINECONE_API_KEY"),
            pinecone_base_url: get("PINECONE_BASE_URL"),
            embedding,
            metrics_public: flag("METRICS_PUBLIC"),
            limits: Limits {
                header_read_timeout: secs("HEADER_READ_TIMEOUT_S", 10),
                body_read_timeout: secs("BODY_READ_TIMEOUT_S", 30),
                max_connections: num("MAX_CONNECTIONS", 1000).max(1) as usize,
                max_chats_per_ip: num("MAX_CHATS_PER_IP", 10) as usize,
                thread_queue_max: num("THREAD_QUEUE_MAX", 8) as usize,
            },
            secrets: kept.into_inner(),
        }
    }
}

/// The password of `scheme://user:password@host…`, if any.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    Some(pw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variable whose name says it holds a secret is in the one redaction list: a
    /// new `*_KEY` read with plain `get` fails here.
    #[test]
    fn every_secret_variable_is_redacted() {
        let read = RefCell::new(Vec::<String>::new());
        let value = |k: &str| format!("value-of-{k}");
        let s = Settings::from_lookup(|k| {
            read.borrow_mut().push(k.to_string());
            Some(match k {
                "FEATHERLESS_BASE_URL" | "EMBEDDING_BASE_URL" => {
                    "http://user:url-pw-123@host/v1".to_string()
                }
                _ if k.ends_with("_PORT") || k.ends_with("_S") || k.ends_with("_SIZE") => {
                    "5".to_string()
                }
                _ => value(k),
            })
        });
        let secretish = ["_KEY", "_PASSWORD", "_TOKEN", "_SECRET"];
        let names: Vec<String> = read
            .into_inner()
            .into_iter()
            .filter(|k| secretish.iter().any(|s| k.ends_with(s)))
            .collect();
        assert!(names.len() >= 7, "{names:?}");
        let r = s.redactor();
        for k in &names {
            let text = format!("echo {} end", value(k));
            assert_eq!(r.redact(&text), "echo *** end", "{k} is not redacted");
        }
        assert_eq!(r.redact("pw url-pw-123"), "pw ***");
    }

    #[test]
    fn named_keys_with_roles() {
        let s = Settings::from_lookup(|k| match k {
            "API_KEY" => Some("the-admin-key".into()),
            "API_KEYS" => Some("alice:user:alice-key-1, bob:ADMIN:bob-key-22,bad:root:x".into()),
            _ => None,
        });
        let got: Vec<(&str, Role)> = s
            .api_keys
            .iter()
            .map(|k| (k.name.as_str(), k.role))
            .collect();
        assert_eq!(
            got,
            [
                ("admin", Role::Admin),
                ("alice", Role::User),
                ("bob", Role::Admin)
            ]
        );
        assert_eq!(s.redactor().redact("alice-key-1"), "***");
    }

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
