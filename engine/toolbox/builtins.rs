//! Builtin tools (`store: builtin`): computations in Rust over rows the stores return.
//! [`Builtin`] (defined in `core`) is the one list of their names, which `validate` checks tools against and
//! [`call`] dispatches on; the computations live beside it (`delivery`, `anomalies`,
//! `rerank`, `nl_sql`), the pure maths in `analytics`.

use serde_json::{Value, json};

use super::context::Ctx;
use crate::store::{Params, StoreError};

pub use crate::core::Builtin;

pub async fn call(name: &str, p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let Some(builtin) = Builtin::parse(name) else {
        return Err(StoreError::query(format!(
            "no builtin named \"{name}\"; see engine/toolbox/builtins.rs for the builtins"
        )));
    };
    match builtin {
        Builtin::DoraMetrics => super::delivery::dora_metrics(p, cx).await,
        Builtin::LeadTimeTrend => super::delivery::lead_time_trend(p, cx).await,
        Builtin::Workload => super::delivery::workload(p, cx).await,
        Builtin::RerankPassages => super::rerank::rerank(p),
        Builtin::SqlSchema => Ok(super::nl_sql::schema(cx)),
        Builtin::RunSql => super::nl_sql::run(p, cx).await,
        Builtin::LinkEntities => Ok(link_entities(p, cx)),
        Builtin::MetricAnomalies => super::anomalies::metric_anomalies(p, cx).await,
    }
}

/// The people, teams, services and skills the text names (Graph RAG's entity linking).
fn link_entities(p: &Params, cx: &Ctx<'_>) -> Value {
    let text = p.get("text").and_then(Value::as_str).unwrap_or_default();
    Value::Array(
        cx.directory
            .mentions(text)
            .into_iter()
            .map(|(kind, name)| json!({ "kind": kind, "name": name }))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_named_once() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::parse(b.name()), Some(b));
        }
        assert_eq!(Builtin::parse("dora_metric"), None);
    }
}
