//! Aggregates computed where the data is: the SQL each metrics backend (SQLite, PostgreSQL,
//! ClickHouse 18.16) runs so that a delivery builtin receives figures — counts, DevLake's
//! lower medians, a row per day or week — instead of every event of the window.
//!
//! Durations leave the database as whole seconds and become hours in Rust
//! (`analytics::dora::hours`), so every backend gives the hours `analytics::dora` computes
//! from the raw rows to the last bit; the integration tests hold the two to that.

use crate::store::StoreError;

/// The SQL dialect of a metrics store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    ClickHouse,
    /// ClickHouse holding a load from before the columns a load derives from other tables
    /// (a change's deployment and lead time, an incident's deployment finish; `meta` has
    /// no `derived_columns`): the tables added them empty, so its statements join instead.
    ClickHouseJoined,
}

impl Dialect {
    /// The dialect of a store's `backend()` name.
    pub fn of(backend: &str) -> Result<Dialect, StoreError> {
        match backend {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" => Ok(Dialect::Postgres),
            "clickhouse" => Ok(Dialect::ClickHouse),
            other => Err(StoreError::query(format!(
                "the {other} backend computes no delivery metrics"
            ))),
        }
    }

    /// SQLite or PostgreSQL: a store with indexes to read a range of rows by.
    fn row_store(self) -> bool {
        matches!(self, Dialect::Sqlite | Dialect::Postgres)
    }

    /// Whole seconds from `a` to `b`, two ISO-8601 UTC text columns.
    pub(super) fn seconds(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("(unixepoch({b}) - unixepoch({a}))"),
            Dialect::Postgres => format!(
                "CAST(EXTRACT(EPOCH FROM CAST({b} AS timestamptz) - CAST({a} AS timestamptz)) AS BIGINT)"
            ),
            // 18.16 parses `YYYY-MM-DD hh:mm:ss` (any separator), not the trailing `Z`.
            Dialect::ClickHouse | Dialect::ClickHouseJoined => {
                let at = |c: &str| {
                    format!("toInt64(toUnixTimestamp(toDateTime(substring({c}, 1, 19), 'UTC')))")
                };
                format!("({} - {})", at(b), at(a))
            }
        }
    }

    /// `n`, the number of values `s` of the subquery `values`, and `median_s`, their
    /// lower median (DevLake's: the largest value whose percent_rank is at most 0.5),
    /// per group of the `by` columns (none: one row, or none when there are no values).
    fn medians(self, values: &str, by: &[&str]) -> String {
        let keys = by.join(", ");
        let select = by.iter().map(|k| format!("{k}, ")).collect::<String>();
        let group = if by.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {keys}")
        };
        match self {
            // One sort of the values and two scans to count them (an index range each):
            // SQLite's window functions cost about twice as much for the same figure.
            Dialect::Sqlite if by.is_empty() => {
                let n = format!("(SELECT COUNT(*) FROM ({values}) v)");
                format!(
                    "SELECT n, median_s FROM (SELECT {n} AS n, \
                     (SELECT s FROM ({values}) v ORDER BY s LIMIT 1 OFFSET ({n} - 1) / 2) AS median_s) m \
                     WHERE n > 0"
                )
            }
            // `lower_median` is the store's own aggregate (`store::sqlite`): one pass over
            // each group's values where a JSON array of them was sorted, built and parsed.
            Dialect::Sqlite => format!(
                "SELECT {select}COUNT(*) AS n, lower_median(s) AS median_s FROM ({values}) v{group}"
            ),
            // The first value whose cumulative share reaches one half: the lower median.
            Dialect::Postgres => format!(
                "SELECT {select}COUNT(*) AS n, percentile_disc(0.5) WITHIN GROUP (ORDER BY s) AS median_s \
                 FROM ({values}) v{group} HAVING COUNT(*) > 0"
            ),
            // No window functions in 18.16: each group's values sorted in an array.
            Dialect::ClickHouse | Dialect::ClickHouseJoined => {
                format!(
                    "SELECT {select}count() AS n, \
                     arrayElement(arraySort(groupArray(s)), intDiv(count() + 1, 2)) AS median_s \
                     FROM ({values}){group} HAVING count() > 0"
                )
            }
        }
    }

    /// Two columns of a grouped `SELECT` over values `s`: `n_{name}`, how many rows satisfy
    /// `cond`, and `median_s_{name}`, the lower median of their `s` (NULL, or 0 on
    /// ClickHouse, when none do). Groups split this way keep the order an index gives them,
    /// where grouping by the condition as well sorts the rows again.
    fn median_where(self, cond: &str, name: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS n_{name}, \
                 lower_median(CASE WHEN {cond} THEN s END) AS median_s_{name}"
            ),
            Dialect::Postgres => format!(
                "COUNT(*) FILTER (WHERE {cond}) AS n_{name}, \
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY s) FILTER (WHERE {cond}) AS median_s_{name}"
            ),
            Dialect::ClickHouse | Dialect::ClickHouseJoined => format!(
                "countIf({cond}) AS n_{name}, \
                 arrayElement(arraySort(groupArrayIf(s, {cond})), intDiv(countIf({cond}) + 1, 2)) AS median_s_{name}"
            ),
        }
    }

    /// The Monday of a timestamp's week (UTC), as a value to group by.
    fn week(self, t: &str) -> String {
        match self {
            Dialect::Sqlite => format!("date({t}, '-6 days', 'weekday 1')"),
            Dialect::Postgres => format!("date_trunc('week', CAST(substring({t}, 1, 10) AS date))"),
            Dialect::ClickHouse | Dialect::ClickHouseJoined => {
                format!("toMonday(toDate(substring({t}, 1, 10)))")
            }
        }
    }

    /// A [`Dialect::week`] column as `YYYY-MM-DD`: formatted once a group, not once a row
    /// (PostgreSQL cast each of the trend's 127,000 changes to a timestamp and formatted
    /// it: 163 ms for the statement, 95 ms with the day's date grouped and formatted here).
    fn week_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_string(),
            Dialect::Postgres => format!("to_char({column}, 'YYYY-MM-DD')"),
            Dialect::ClickHouse | Dialect::ClickHouseJoined => format!("toString({column})"),
        }
    }
}

/// The window's successful production deployments in scope (`:since`, `:until`, `:team`,
/// `:service`): what DORA counts as shipped.
const SHIPPED: &str = "SELECT id, team, finished_at FROM deployments \
    WHERE environment = 'production' AND status = 'success' \
    AND finished_at >= :since AND finished_at < :until \
    AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service)";

/// The statements of `dora_metrics`, in one dialect.
pub struct DoraSql {
    /// Per day with a production deployment: `day`, `ok` (succeeded), `failed`.
    pub days: String,
    /// `n` changes shipped and, on ClickHouse, their lower median lead time `median_s`;
    /// the row stores find the median with `lead_at`.
    pub lead: String,
    /// Row stores: the lead time `s` at offset `:k` of the window's changes in lead-time
    /// order (the lower median at k = (n − 1) / 2), which an index read in that order can
    /// give without sorting the window (PostgreSQL's planner picks that plan itself).
    pub lead_at: Option<LeadAt>,
    /// Row stores, for the whole organisation: `days` and `lead`'s count from
    /// `delivery_days` for the window's whole days and from the events for its ends.
    pub whole_org: Option<WholeOrg>,
    /// `failed` (shipped deployments that caused an incident) and `unresolved` (their
    /// incidents not resolved by `:until`).
    pub caused: String,
    /// `n` incidents resolved in the window and their lower median recovery `median_s`.
    pub recovery: String,
}

impl DoraSql {
    pub fn new(d: Dialect) -> DoraSql {
        // The incidents the window's shipped deployments caused, read by the deployment's
        // finish each carries (an index range on the row stores); joined on tables loaded
        // before that column.
        let caused = match d {
            Dialect::Sqlite | Dialect::Postgres | Dialect::ClickHouse => {
                "SELECT deployment_id, resolved_at, deployed_at AS finished_at \
                FROM incidents WHERE deployed_at >= :since AND deployed_at < :until \
                AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service)"
                    .to_string()
            }
            Dialect::ClickHouseJoined => format!(
                "SELECT i.deployment_id AS deployment_id, i.resolved_at AS resolved_at, d.finished_at AS finished_at \
                 FROM incidents i JOIN ({SHIPPED}) d ON d.id = i.deployment_id"
            ),
        };
        DoraSql {
            days: "SELECT substring(finished_at, 1, 10) AS day, \
                SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS ok, \
                SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END) AS failed \
                FROM deployments WHERE environment = 'production' \
                AND finished_at >= :since AND finished_at < :until \
                AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service) \
                GROUP BY substring(finished_at, 1, 10)"
                .into(),
            lead: match d {
                Dialect::ClickHouse | Dialect::ClickHouseJoined => d.medians(&lead_times(d), &[]),
                _ => format!("SELECT COUNT(*) AS n FROM ({}) c", lead_times(d)),
            },
            lead_at: LeadAt::new(d),
            whole_org: d.row_store().then(WholeOrg::new),
            caused: format!(
                "SELECT COUNT(DISTINCT deployment_id) AS failed, \
                 SUM(CASE WHEN resolved_at IS NULL OR resolved_at >= :until THEN 1 ELSE 0 END) AS unresolved \
                 FROM ({caused}) c"
            ),
            recovery: d.medians(
                &format!(
                    "SELECT {} AS s FROM ({caused}) c WHERE resolved_at >= :since AND resolved_at < :until",
                    d.seconds("finished_at", "resolved_at")
                ),
                &[],
            ),
        }
    }
}

/// The whole organisation's deployment days and changes shipped, from `delivery_days` for
/// the window's whole days (`:whole_from` ≤ day < `:whole_until`) and from the events for
/// its partial ends (`:since` to `:whole_from_at`, `:whole_until_at` to `:until`): a row a
/// day instead of every deployment and change of the window.
pub struct WholeOrg {
    /// As `DoraSql::days`, one row a day.
    pub days: String,
    /// `n`, the changes shipped in the window.
    pub changes: String,
}

impl WholeOrg {
    fn new() -> WholeOrg {
        let ends = |at: &str| {
            format!(
                "(({at} >= :since AND {at} < :whole_from_at) OR ({at} >= :whole_until_at AND {at} < :until))"
            )
        };
        WholeOrg {
            days: format!(
                "SELECT day, ok, failed FROM delivery_days WHERE day >= :whole_from AND day < :whole_until \
                 UNION ALL \
                 SELECT substring(finished_at, 1, 10) AS day, \
                 SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS ok, \
                 SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END) AS failed \
                 FROM deployments WHERE environment = 'production' AND {} \
                 GROUP BY substring(finished_at, 1, 10)",
                ends("finished_at")
            ),
            changes: format!(
                "SELECT (SELECT COALESCE(SUM(changes), 0) FROM delivery_days \
                 WHERE day >= :whole_from AND day < :whole_until) \
                 + (SELECT COUNT(*) FROM pull_requests WHERE {}) AS n",
                ends("deployed_at")
            ),
        }
    }
}

/// The statements that read one lead time by its rank (row stores).
pub struct LeadAt {
    /// Sorts the window's changes (an index range on `deployed_at`); for PostgreSQL,
    /// whichever plan its planner prices lower.
    pub sorted: String,
    /// SQLite, the whole organisation: walks the `(lead_seconds, deployed_at)` index in
    /// order, counting the window's changes until the `:k`th. It reads about k ÷ (the
    /// window's share of the history) entries instead of sorting n values: the cheaper
    /// plan once the window spans a large share of the history ([`HISTORY_SPAN`]).
    pub walked: Option<String>,
}

/// `first` and `last`: when the history's first and last shipped changes were deployed.
pub const HISTORY_SPAN: &str = "SELECT (SELECT MIN(deployed_at) FROM pull_requests) AS first, \
    (SELECT MAX(deployed_at) FROM pull_requests) AS last";

impl LeadAt {
    fn new(d: Dialect) -> Option<LeadAt> {
        let ordered = |from: &str, shipped: &str| {
            format!(
                "SELECT lead_seconds AS s FROM {from} WHERE {shipped}deployed_at >= :since AND deployed_at < :until \
                 AND (:team IS NULL OR service_team = :team) AND (:service IS NULL OR service = :service) \
                 ORDER BY lead_seconds LIMIT 1 OFFSET :k"
            )
        };
        match d {
            Dialect::ClickHouse | Dialect::ClickHouseJoined => None,
            Dialect::Postgres => Some(LeadAt {
                sorted: ordered("pull_requests", ""),
                walked: None,
            }),
            Dialect::Sqlite => Some(LeadAt {
                sorted: ordered("pull_requests INDEXED BY pull_requests_shipped", ""),
                walked: Some(ordered(
                    "pull_requests INDEXED BY pull_requests_lead",
                    "lead_seconds IS NOT NULL AND ",
                )),
            }),
        }
    }
}

/// Each shipped change's `team`, deployment `finished_at` and lead time `s` in seconds,
/// from the columns a load derives onto the pull request (one index range on the row
/// stores; at --scale 5000, ClickHouse's quarter of changes 54–81 → 30–43 ms against a
/// hash join), or joined on tables loaded before those columns.
pub(super) fn lead_times(d: Dialect) -> String {
    match d {
        Dialect::Sqlite | Dialect::Postgres | Dialect::ClickHouse => "SELECT service_team AS team, deployed_at AS finished_at, lead_seconds AS s \
            FROM pull_requests WHERE deployed_at >= :since AND deployed_at < :until \
            AND (:team IS NULL OR service_team = :team) AND (:service IS NULL OR service = :service)"
            .into(),
        Dialect::ClickHouseJoined => format!(
            "SELECT d.team AS team, d.finished_at AS finished_at, {} AS s \
             FROM pull_requests p JOIN ({SHIPPED}) d ON d.id = p.deployment_id",
            d.seconds("p.first_commit_at", "d.finished_at")
        ),
    }
}

/// The statements of `lead_time_trend`, in one dialect.
pub struct TrendSql {
    /// Per `team`: `n_recent` and `median_s_recent` for the changes shipped at or after
    /// `:recent`, `n_earlier` and `median_s_earlier` for those before.
    pub halves: String,
    dialect: Dialect,
}

impl TrendSql {
    pub fn new(d: Dialect) -> TrendSql {
        TrendSql {
            halves: format!(
                "SELECT team, {}, {} FROM ({}) c GROUP BY team",
                d.median_where("finished_at >= :recent", "recent"),
                d.median_where("finished_at < :recent", "earlier"),
                lead_times(d)
            ),
            dialect: d,
        }
    }

    /// Per `team` and `week` (Monday, `YYYY-MM-DD`): `n` changes and their lower median
    /// `median_s`, for the teams bound to `:trend_team_0` … `:trend_team_{teams − 1}`.
    pub fn weekly(&self, teams: usize) -> String {
        let d = self.dialect;
        let list: Vec<String> = (0..teams).map(|i| format!(":trend_team_{i}")).collect();
        format!(
            "SELECT team, {} AS week, n, median_s FROM ({}) w",
            d.week_text("week"),
            d.medians(
                &format!(
                    "SELECT team, {} AS week, s FROM ({}) c WHERE team IN ({})",
                    d.week("finished_at"),
                    lead_times(d),
                    list.join(", ")
                ),
                &["team", "week"],
            )
        )
    }
}
