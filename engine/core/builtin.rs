//! The names of the builtin tools (`store: builtin`): vocabulary `validate` checks
//! tools.yaml against (E048) and `toolbox` dispatches on.

/// Every builtin, by the tool name that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    DoraMetrics,
    LeadTimeTrend,
    Workload,
    MetricAnomalies,
    RerankPassages,
    SqlSchema,
    RunSql,
    LinkEntities,
}

impl Builtin {
    pub const ALL: [Builtin; 8] = [
        Builtin::DoraMetrics,
        Builtin::LeadTimeTrend,
        Builtin::Workload,
        Builtin::MetricAnomalies,
        Builtin::RerankPassages,
        Builtin::SqlSchema,
        Builtin::RunSql,
        Builtin::LinkEntities,
    ];

    /// The name a tool of tools.yaml has to run it.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::DoraMetrics => "dora_metrics",
            Builtin::LeadTimeTrend => "lead_time_trend",
            Builtin::Workload => "workload",
            Builtin::MetricAnomalies => "metric_anomalies",
            Builtin::RerankPassages => "rerank_passages",
            Builtin::SqlSchema => "sql_schema",
            Builtin::RunSql => "run_sql",
            Builtin::LinkEntities => "link_entities",
        }
    }

    pub fn parse(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}
