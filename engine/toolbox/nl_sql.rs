//! Builtins of the NL→SQL pipeline: the schema a model may write SQL against, and the
//! guarded, read-only execution of what it wrote.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::Ctx;
use crate::dataset::sql_guard;
use crate::store::sql_guard::MAX_ROWS;
use crate::store::{Params, StoreError};

/// How long a generated statement may run.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// `sql_schema`: the dialect and the allow-listed tables with their columns.
pub fn schema(cx: &Ctx<'_>) -> Value {
    let tables: Vec<Value> = sql_guard()
        .allowed()
        .iter()
        .map(|(t, cols)| json!({ "name": t, "columns": cols }))
        .collect();
    json!({
        "dialect": cx.relational.backend(),
        "tables": tables,
        "max_rows": MAX_ROWS,
        "now": cx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// `run_sql`: guard, then run read-only. A refused or failing statement is a result with
/// `ok: false` and the reason (not an error), so that the graph can ask for a repair.
pub async fn run(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let sql = p
        .get("sql")
        .and_then(Value::as_str)
        .map(strip_fences)
        .unwrap_or_default();
    if sql.is_empty() {
        return Ok(json!({ "ok": false, "sql": "", "reason": "no SQL was given" }));
    }
    let guarded = match sql_guard().guard(&sql, cx.relational.backend()) {
        Ok(s) => s,
        Err(refusal) => {
            return Ok(json!({ "ok": false, "sql": sql, "reason": refusal.0, "refused": true }));
        }
    };
    match cx
        .relational
        .query_read_only(&guarded, STATEMENT_TIMEOUT)
        .await
    {
        Ok(rows) => Ok(json!({
            "ok": true,
            "sql": guarded,
            "row_count": rows.len(),
            "rows": rows,
        })),
        Err(e) if e.retryable => Err(e),
        Err(e) => Ok(json!({ "ok": false, "sql": guarded, "reason": e.message })),
    }
}

/// Models like to wrap SQL in a Markdown code fence.
fn strip_fences(text: &str) -> String {
    let t = text.trim();
    let t = t
        .strip_prefix("```sql")
        .or_else(|| t.strip_prefix("```"))
        .unwrap_or(t);
    t.strip_suffix("```").unwrap_or(t).trim().to_string()
}
