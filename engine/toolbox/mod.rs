//! Running tools.yaml's tools against the stores: [`StoreTools`] is the `ToolRunner` the
//! engine calls, dispatching on each tool's `store:` role. Before a query runs, `params`
//! fills in schema defaults, resolves names through the `directory` ("did you mean …?")
//! and derives `:now`, `:since`, `:period_*`; `store: builtin` tools run the Rust
//! functions of `builtins` (one registry of their names, which `validate` reads).

mod aggregates;
pub mod anomalies;
mod builtins;
mod context;
mod delivery;
mod directory;
mod nl_sql;
mod params;
pub use params::period_bounds;
mod rerank;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use builtins::Builtin;
use context::Ctx;
use directory::Directory;

use crate::compile::ToolDef;
use crate::config::spec::StoreRole;
use crate::dataset::WhenDown;
use crate::settings::Settings;
use crate::store::{
    DocFilter, Documents, Graph, Metrics, Params, QueryStore, Relational, StoreError, Stores,
};
use crate::tools::{ToolError, ToolRunner};
use crate::understand::{Calendar, Kind, Vocabulary};

/// The opened stores and the tool runner over them: what the server, the CLI and the
/// tests run on.
pub struct Toolbox {
    pub stores: Stores,
    tools: Arc<StoreTools>,
}

impl Toolbox {
    pub async fn new(stores: Stores) -> Result<Toolbox, StoreError> {
        let tools = Arc::new(StoreTools::new(&stores).await?);
        Ok(Toolbox { stores, tools })
    }

    /// The configured stores, opened (and seeded when empty) by `dataset::open`.
    pub async fn open(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<Toolbox> {
        Toolbox::open_with(settings, WhenDown::Refuse, announce).await
    }

    /// [`Toolbox::open`] with a say in what a server down at the start means.
    pub async fn open_with(
        settings: &Settings,
        when_down: WhenDown,
        announce: &dyn Fn(&str),
    ) -> anyhow::Result<Toolbox> {
        let stores = crate::dataset::open_with(settings, when_down, announce).await?;
        Ok(Toolbox::new(stores).await?)
    }

    /// The runner the engine calls tools through.
    pub fn tools(&self) -> Arc<dyn ToolRunner> {
        self.tools.clone()
    }
}

/// The `ToolRunner` over the stores.
pub struct StoreTools {
    relational: Arc<dyn Relational>,
    metrics: Arc<dyn Metrics>,
    graph: Arc<dyn Graph>,
    documents: Arc<dyn Documents>,
    directory: Directory,
    vocabulary: Arc<Vocabulary>,
    now: DateTime<Utc>,
    /// The metrics store's, found by the first builtin call that can ask it.
    dialect: tokio::sync::OnceCell<aggregates::Dialect>,
}

impl StoreTools {
    /// Reads the names to resolve and the instant the data describes (`meta.as_of`, else now).
    pub async fn new(stores: &Stores) -> Result<StoreTools, StoreError> {
        let (relational, metrics) = (stores.relational.clone(), stores.metrics.clone());
        let (graph, documents) = (stores.graph.clone(), stores.documents.clone());
        let directory = Directory::load(relational.as_ref()).await?;
        let as_of = relational
            .query("SELECT value FROM meta WHERE key = 'as_of'", &Params::new())
            .await?;
        let now = as_of
            .first()
            .and_then(|r| r.get("value"))
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let vocabulary = Arc::new(vocabulary(relational.as_ref(), now).await?);
        Ok(StoreTools {
            relational,
            metrics,
            graph,
            documents,
            directory,
            vocabulary,
            now,
            dialect: tokio::sync::OnceCell::new(),
        })
    }

    /// The SQL dialect of the metrics store's delivery statements: ClickHouse's depends on
    /// its load (`meta.derived_columns`), which a server down at the start cannot tell yet.
    async fn dialect(&self) -> Result<aggregates::Dialect, StoreError> {
        use aggregates::Dialect;
        self.dialect
            .get_or_try_init(|| async {
                match Dialect::of(self.metrics.backend())? {
                    Dialect::ClickHouse if !derives_columns(self.metrics.as_ref()).await? => {
                        Ok(Dialect::ClickHouseJoined)
                    }
                    d => Ok(d),
                }
            })
            .await
            .copied()
    }

    /// "Now" for queries: the end of the demo history, or the wall clock for live data.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    async fn run(&self, tool: &ToolDef, p: &Params) -> Result<Value, StoreError> {
        let store: &dyn QueryStore = match tool.store {
            StoreRole::Relational => self.relational.as_ref(),
            StoreRole::Metrics => self.metrics.as_ref(),
            StoreRole::Graph => self.graph.as_ref(),
            StoreRole::Documents => return self.search(p).await,
            StoreRole::Builtin => {
                let cx = Ctx {
                    relational: self.relational.as_ref(),
                    metrics: self.metrics.as_ref(),
                    directory: &self.directory,
                    now: self.now,
                    dialect: self.dialect().await,
                };
                return builtins::call(&tool.name, p, &cx).await;
            }
            StoreRole::Pipeline => {
                return Err(StoreError::query(format!(
                    "tool {} uses store \"{}\", which the store runner does not serve",
                    tool.name,
                    tool.store.name()
                )));
            }
        };
        let text = tool
            .query
            .as_ref()
            .and_then(|q| q.for_backend(store.backend()))
            .ok_or_else(|| {
                StoreError::query(format!(
                    "tool {} has no query for the {} backend; add `{}:` to its query in tools.yaml",
                    tool.name,
                    store.backend(),
                    store.backend()
                ))
            })?;
        let rows = store.query(text, p).await?;
        Ok(Value::Array(rows.into_iter().map(Value::Object).collect()))
    }

    async fn search(&self, p: &Params) -> Result<Value, StoreError> {
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        let filter = DocFilter {
            kind: s("kind"),
            team: s("team"),
            service: s("service"),
        };
        let limit = p.get("limit").and_then(Value::as_u64).unwrap_or(5) as usize;
        let hits = self
            .documents
            .search(&s("query").unwrap_or_default(), &filter, limit)
            .await?;
        Ok(serde_json::to_value(hits).expect("hits serialize"))
    }
}

#[async_trait]
impl ToolRunner for StoreTools {
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError> {
        let p = params::prepare(tool, args, &self.directory, self.now).map_err(ToolError::fatal)?;
        self.run(tool, &p).await.map_err(|e| ToolError {
            message: e.message,
            retryable: e.retryable,
        })
    }

    fn refuse(&self, tool: &ToolDef, args: &Value) -> Option<String> {
        params::prepare(tool, args, &self.directory, self.now).err()
    }

    fn documented_arg(&self, arg: &str) -> Option<Value> {
        params::documented(arg, &self.directory)
    }

    fn vocabulary(&self) -> Arc<Vocabulary> {
        self.vocabulary.clone()
    }
}

/// Whether the data in `metrics` was loaded with the columns a load derives from other
/// tables (`meta.derived_columns`; tables created before them hold them empty).
async fn derives_columns(metrics: &dyn QueryStore) -> Result<bool, StoreError> {
    let rows = metrics
        .query(
            "SELECT value FROM meta WHERE key = 'derived_columns'",
            &Params::new(),
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Every statement the builtins run, named, in the SQL of `backend` (`sqlite`, `postgres`,
/// `clickhouse`): what the query-plan test explains besides tools.yaml's queries.
pub fn builtin_statements(backend: &str) -> Result<Vec<(String, String)>, StoreError> {
    use aggregates::{Dialect, DoraSql, TrendSql};
    let d = Dialect::of(backend)?;
    let (dora, trend) = (DoraSql::new(d), TrendSql::new(d));
    let mut out: Vec<(String, String)> = vec![
        ("dora_metrics days".into(), dora.days),
        ("dora_metrics lead".into(), dora.lead),
        (
            "dora_metrics history span".into(),
            aggregates::HISTORY_SPAN.into(),
        ),
        ("dora_metrics caused".into(), dora.caused),
        ("dora_metrics recovery".into(), dora.recovery),
        ("lead_time_trend teams".into(), delivery::TREND_TEAMS.into()),
        ("lead_time_trend weekly".into(), trend.weekly(3)),
        ("lead_time_trend halves".into(), trend.halves),
        ("workload open work".into(), delivery::OPEN_WORK.into()),
        (
            "workload pending reviews".into(),
            delivery::PENDING_REVIEWS.into(),
        ),
        (
            "metric_anomalies failed changes".into(),
            anomalies::failed_changes(d).into(),
        ),
    ];
    if let Some(o) = dora.whole_org {
        out.push(("dora_metrics organisation days".into(), o.days));
        out.push(("dora_metrics organisation changes".into(), o.changes));
    }
    if let Some(at) = dora.lead_at {
        out.push(("dora_metrics lead at".into(), at.sorted));
        out.extend(at.walked.map(|w| ("dora_metrics lead walked".into(), w)));
    }
    for m in anomalies::Metric::ALL {
        out.push((format!("metric_anomalies {}", m.name()), m.daily(d)));
        out.push((
            format!("metric_anomalies {} start", m.name()),
            m.history_start_query().into(),
        ));
    }
    Ok(out)
}

/// Every name a question may use, by kind, and the sprint in progress at `now`.
async fn vocabulary(
    relational: &dyn Relational,
    now: DateTime<Utc>,
) -> Result<Vocabulary, StoreError> {
    let none = Params::new();
    let mut names = Vec::new();
    for (kind, sql) in [
        (Kind::Person, "SELECT name FROM employees ORDER BY id"),
        (Kind::Team, "SELECT name FROM teams ORDER BY id"),
        (Kind::Service, "SELECT name FROM services ORDER BY id"),
        (Kind::Skill, "SELECT name FROM skills ORDER BY id"),
        (Kind::Project, "SELECT name FROM projects ORDER BY id"),
        (
            Kind::Title,
            "SELECT DISTINCT title AS name FROM employees ORDER BY title",
        ),
    ] {
        for row in relational.query(sql, &none).await? {
            if let Some(n) = row.get("name").and_then(Value::as_str) {
                names.push((kind, n.to_string()));
            }
        }
    }
    let mut p = Params::new();
    p.insert("today".into(), now.format("%Y-%m-%d").to_string().into());
    let sprint = relational
        .query(
            "SELECT MIN(starts_on) AS s, MAX(ends_on) AS e FROM sprints WHERE starts_on <= :today AND ends_on >= :today",
            &p,
        )
        .await?;
    let day = |k: &str| {
        sprint
            .first()
            .and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    let calendar = Calendar {
        now,
        sprint: day("s").zip(day("e")),
    };
    let mut heads = Vec::new();
    for sql in [
        "SELECT t.name AS scope, e.name AS head FROM teams t JOIN employees e ON e.id = t.manager_id",
        "SELECT s.name AS scope, e.name AS head FROM services s JOIN employees e ON e.id = s.owner_id",
        "SELECT p.name AS scope, e.name AS head FROM projects p JOIN employees e ON e.id = p.lead_id",
    ] {
        for row in relational.query(sql, &none).await? {
            if let (Some(of), Some(head)) = (
                row.get("scope").and_then(Value::as_str),
                row.get("head").and_then(Value::as_str),
            ) {
                heads.push((of.to_string(), head.to_string()));
            }
        }
    }
    let mut team_of = Vec::new();
    let sql =
        "SELECT e.name AS person, t.name AS team FROM employees e JOIN teams t ON t.id = e.team_id";
    for row in relational.query(sql, &none).await? {
        if let (Some(p), Some(t)) = (
            row.get("person").and_then(Value::as_str),
            row.get("team").and_then(Value::as_str),
        ) {
            team_of.push((p.to_string(), t.to_string()));
        }
    }
    // Value columns of tables this store may lack (the analytics ones) are left out.
    let mut values = Vec::new();
    for (table, column) in crate::dataset::VALUE_COLUMNS {
        let sql = format!(
            "SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL LIMIT 200"
        );
        for row in relational.query(&sql, &none).await.unwrap_or_default() {
            if let Some(v) = row.get("v").and_then(Value::as_str) {
                values.push((table.to_string(), column.to_string(), v.to_string()));
            }
        }
    }
    Ok(Vocabulary::new(names, Some(calendar))
        .with_heads(heads)
        .with_teams(team_of)
        .with_values(values))
}
