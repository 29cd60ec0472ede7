//! The specialists and the pipelines end to end: the repository's graphs, the embedded
//! stores holding the demo organisation, and the OpenAI-compatible provider (with its fallback chain) talking to
//! the fake server over real HTTP. What the model is sent is checked as well as what the
//! run answers.

mod anomalies;

use std::sync::Arc;
use std::time::Duration;

use eng_intel::model::Model;
use eng_intel::model::fallback::FallbackModel;
use eng_intel::model::openai::Options;
use eng_intel::run::{Engine, Envelope, Event, RunRequest, answer_of};
use eng_intel::toolbox::Toolbox;
use serde_json::json;

use crate::support::fake_openai::{FakeOpenAi, Reply, call, error, text};
use crate::support::{Vars, config};

struct Fixture {
    engine: Engine,
    toolbox: Toolbox,
    fake: FakeOpenAi,
    _dir: tempfile::TempDir,
}

/// The demo organisation in a fresh data dir, and a model chain whose tiers have distinct
/// model names (so that the tier each node asks for shows in the requests).
async fn fixture(replies: Vec<Reply>) -> Fixture {
    let fake = FakeOpenAi::start(replies).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = Vars::new()
        .data_dir(dir.path())
        .set("OPENAI_BASE_URL", fake.base_url.as_str())
        .set("FEATHERLESS_MODEL_PRIMARY", "primary-model")
        .set("FEATHERLESS_MODEL_CODE", "code-model")
        .set("FEATHERLESS_MODEL_FAST", "fast-model")
        .set("FEATHERLESS_MODEL_ANALYTICS", "analytics-model")
        .settings();
    let toolbox = Toolbox::open(&settings, &|_| {}).await.unwrap();
    let opts = Options {
        retry_base: Duration::from_millis(5),
        max_retries: 0,
        ..Options::default()
    };
    let model: Arc<dyn Model> =
        Arc::new(FallbackModel::from_settings(settings.llm.as_ref(), opts).unwrap());
    Fixture {
        engine: Engine::new(config(), model, toolbox.tools()),
        toolbox,
        fake,
        _dir: dir,
    }
}

async fn ask(f: &Fixture, graph: &str, question: &str) -> Vec<Envelope> {
    f.engine
        .run_collect(RunRequest {
            graph: graph.into(),
            question: question.into(),
            ..Default::default()
        })
        .await
}

fn answer(events: &[Envelope]) -> String {
    answer_of(events).unwrap_or_default().to_string()
}

/// The system message of the n-th request the model server received.
fn system(f: &Fixture, n: usize) -> String {
    let requests = f.fake.requests();
    let r = requests.get(n).unwrap_or_else(|| {
        panic!("only {} requests", requests.len());
    });
    r.body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The function names offered to the model in the n-th request.
fn offered(f: &Fixture, n: usize) -> Vec<String> {
    f.fake.requests()[n].body["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The first tool message of the n-th request: (tool_call_id, content).
fn tool_message(f: &Fixture, n: usize) -> (String, String) {
    let requests = f.fake.requests();
    let m = requests[n].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("a tool message");
    let text = |k: &str| m[k].as_str().unwrap_or_default().to_string();
    (text("tool_call_id"), text("content"))
}

/// Each tool_end as (tool, ok, preview), in order.
fn tool_ends(events: &[Envelope]) -> Vec<(String, bool, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ToolEnd {
                tool,
                ok,
                result_preview,
                ..
            } => Some((tool.clone(), *ok, result_preview.clone())),
            _ => None,
        })
        .collect()
}

fn ended_ok(events: &[Envelope]) -> bool {
    events
        .iter()
        .any(|e| matches!(e.event, Event::StreamEnd { ok: true, .. }))
}

const TEAM_SQL: &str = "SELECT t.name AS team, COUNT(*) AS done FROM tickets k JOIN teams t ON t.id = k.team_id WHERE k.status = 'done' GROUP BY t.name ORDER BY t.name";

#[tokio::test]
async fn nl_sql_writes_with_the_code_model_runs_read_only_and_explains() {
    let f = fixture(vec![
        text(&[TEAM_SQL], 50, 20),
        text(&["Payments closed the most tickets."], 80, 10),
    ])
    .await;
    let events = ask(&f, "nl_sql", "How many tickets has each team closed?").await;
    assert!(ended_ok(&events), "{events:#?}");
    assert_eq!(f.fake.models(), ["code-model", "analytics-model"]);
    let schema = system(&f, 0);
    assert!(
        schema.contains("employees(id, name, title"),
        "schema in the prompt: {schema}"
    );
    assert!(!schema.contains("email"), "private columns stay out");
    let runs = tool_ends(&events);
    assert!(
        runs.iter()
            .any(|(t, ok, p)| t == "run_sql" && *ok && p == "4 rows"),
        "{runs:?}"
    );
    // The rows the explanation is based on came from the real data.
    let explain = system(&f, 1);
    let truth = f
        .toolbox
        .stores
        .relational
        .query(
            "SELECT COUNT(*) AS n FROM tickets k JOIN teams t ON t.id = k.team_id WHERE t.name = 'Payments' AND k.status = 'done'",
            &Default::default(),
        )
        .await
        .unwrap();
    let n = truth[0]["n"].as_i64().unwrap();
    assert!(
        explain.contains(&format!(r#"{{"done": {n}, "team": "Payments"}}"#)),
        "rows in the explanation prompt: {explain}"
    );
    let a = answer(&events);
    assert!(a.contains("Payments closed the most tickets."), "{a}");
    assert!(a.contains("SQL: SELECT"), "the answer shows its SQL: {a}");
    assert!(a.contains("LIMIT 200"), "the guard bounded it: {a}");
}

#[tokio::test]
async fn nl_sql_repairs_a_refused_statement_once() {
    let f = fixture(vec![
        text(&["DROP TABLE employees"], 50, 5),
        text(
            &["```sql\nSELECT name FROM teams ORDER BY name\n```"],
            60,
            10,
        ),
        text(&["There are four teams."], 70, 5),
    ])
    .await;
    let events = ask(&f, "nl_sql", "Which teams are there?").await;
    assert!(ended_ok(&events));
    let repair = system(&f, 1);
    assert!(
        repair.contains("DROP TABLE employees") && repair.contains("only SELECT is allowed"),
        "the repair turn says what was refused and why: {repair}"
    );
    let runs: Vec<bool> = tool_ends(&events)
        .into_iter()
        .filter(|(t, ..)| t == "run_sql")
        .map(|(_, ok, _)| ok)
        .collect();
    // Both runs are tool successes; the first result says it was refused.
    assert_eq!(runs, [true, true]);
    assert!(answer(&events).contains("There are four teams."));
    let left = f
        .toolbox
        .stores
        .relational
        .query("SELECT COUNT(*) AS n FROM employees", &Default::default())
        .await
        .unwrap();
    assert_eq!(left[0]["n"], json!(18), "nothing was dropped");
}

#[tokio::test]
async fn nl_sql_gives_up_after_one_repair_and_says_why() {
    let f = fixture(vec![
        text(&["DELETE FROM teams"], 50, 5),
        text(&["SELECT pg_sleep(100)"], 50, 5),
    ])
    .await;
    let events = ask(&f, "nl_sql", "Clear out the teams").await;
    assert_eq!(f.fake.requests().len(), 2, "one draft, one repair, no more");
    let a = answer(&events);
    assert!(a.contains("I could not answer that with SQL"), "{a}");
    assert!(a.contains("pg_sleep"), "{a}");
}

#[tokio::test]
async fn rag_answer_cites_only_the_passages_the_model_used() {
    let f = fixture(vec![text(
        &["Roll back through the deploy pipeline if the deployment is the cause [1]."],
        90,
        15,
    )])
    .await;
    let events = ask(&f, "rag", "How do we roll back the ledger-service?").await;
    assert!(ended_ok(&events));
    let prompt = system(&f, 0);
    assert!(
        prompt.contains("[1] Runbook: ledger-service"),
        "passages numbered for citation: {prompt}"
    );
    assert_eq!(f.fake.models(), ["primary-model"]);
    let a = answer(&events);
    assert!(
        a.starts_with("Roll back through the deploy pipeline"),
        "{a}"
    );
    assert!(a.contains("[1] Runbook: ledger-service"), "{a}");
    assert!(!a.contains("[2]"), "uncited passages are not listed: {a}");
}

#[tokio::test]
async fn a_specialist_calls_a_pipeline_as_a_tool() {
    let f = fixture(vec![
        call(
            "call_1",
            "answer_from_documents",
            json!({"query": "roll back ledger-service"}),
            40,
            10,
        ),
        text(&["Roll back through the deploy pipeline [1]."], 90, 10),
        text(
            &["Per the ledger-service runbook: roll back through the deploy pipeline."],
            120,
            12,
        ),
    ])
    .await;
    let events = ask(&f, "insights_specialist", "How do we roll back the ledger?").await;
    assert!(ended_ok(&events), "{events:#?}");
    let offered = offered(&f, 0);
    assert!(
        offered.iter().any(|t| t == "answer_from_documents"),
        "{offered:?}"
    );
    let tools: Vec<String> = tool_ends(&events).into_iter().map(|(t, ..)| t).collect();
    assert_eq!(
        tools,
        [
            "document_search",
            "rerank_passages",
            "answer_from_documents"
        ],
        "the pipeline's own tool calls come inside the pipeline tool's"
    );
    // The agent's next turn carries the pipeline's answer as the tool message.
    let (call_id, content) = tool_message(&f, 2);
    assert_eq!(call_id, "call_1");
    assert!(
        content.contains("Sources:") && content.contains("Runbook: ledger-service"),
        "{content}"
    );
    assert_eq!(
        answer(&events),
        "Per the ledger-service runbook: roll back through the deploy pipeline."
    );
}

#[tokio::test]
async fn one_on_one_prep_gives_the_model_the_facts() {
    let f = fixture(vec![text(
        &["## 1:1 brief: Sofia Rossi\nStart with her workload."],
        200,
        30,
    )])
    .await;
    let events = ask(&f, "one_on_one_prep", "Prepare my 1:1 with Sofia Rossi").await;
    assert!(ended_ok(&events));
    let prompt = system(&f, 0);
    for fact in [
        "1:1 brief: Sofia Rossi",
        "overloaded",
        "Feeling stretched thin",
        "Suggested talking points",
    ] {
        assert!(prompt.contains(fact), "{fact:?} in {prompt}");
    }
    assert_eq!(
        answer(&events),
        "## 1:1 brief: Sofia Rossi\nStart with her workload."
    );
}

#[tokio::test]
async fn graph_rag_synthesises_from_neighbourhoods_and_documents() {
    let f = fixture(vec![text(
        &["Kenji Tanaka owns ledger-service and is its only committer."],
        150,
        20,
    )])
    .await;
    let events = ask(
        &f,
        "graph_rag",
        "How is Kenji Tanaka connected to ledger-service?",
    )
    .await;
    assert!(ended_ok(&events));
    let prompt = system(&f, 0);
    assert!(
        prompt.contains("Kenji Tanaka works most closely with"),
        "{prompt}"
    );
    assert!(prompt.contains("**ledger-service** is a"), "{prompt}");
    assert!(prompt.contains("Runbook: ledger-service"), "{prompt}");
    assert!(answer(&events).contains("only committer"));
}

#[tokio::test]
async fn a_model_that_is_down_falls_back_to_the_offline_answer() {
    let f = fixture(vec![error(500, vec![]), error(500, vec![])]).await;
    let events = ask(&f, "rag", "How do we roll back the ledger-service?").await;
    assert!(ended_ok(&events), "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e.event, Event::ModelFallback { .. })),
        "the fallback is reported"
    );
    let a = answer(&events);
    assert!(
        a.starts_with("From the documents:"),
        "extractive answer: {a}"
    );
    assert!(a.contains("[1] Runbook: ledger-service"), "{a}");
}

#[tokio::test]
async fn anomaly_detection_is_explained_by_the_analytics_model() {
    let f = fixture(vec![text(
        &["Production deployments failed far more often in the week of 12 May 2025."],
        300,
        25,
    )])
    .await;
    let events = ask(
        &f,
        "anomaly_detection",
        "Were there any anomalies in failed deployments?",
    )
    .await;
    assert!(ended_ok(&events));
    assert_eq!(f.fake.models(), ["analytics-model"]);
    let prompt = system(&f, 0);
    assert!(
        prompt.contains("failed_deployments") && prompt.contains("2025-05-12"),
        "the detected anomalies reach the model: {prompt}"
    );
    assert_eq!(
        answer(&events),
        "Production deployments failed far more often in the week of 12 May 2025."
    );
}

#[tokio::test]
async fn dora_pro_calls_the_anomaly_pipeline_as_a_tool() {
    let f = fixture(vec![
        call(
            "call_a",
            "find_anomalies",
            json!({"metric": "lead_time_hours", "team": "Payments"}),
            40,
            10,
        ),
        text(
            &["Payments' lead time rose over the last two weeks."],
            200,
            20,
        ),
        text(
            &["Lead time for Payments is up sharply since 16 June."],
            220,
            15,
        ),
    ])
    .await;
    let events = ask(&f, "dora_pro", "Is anything off with Payments delivery?").await;
    assert!(ended_ok(&events), "{events:#?}");
    let tools: Vec<String> = tool_ends(&events).into_iter().map(|(t, ..)| t).collect();
    assert!(
        tools.contains(&"metric_anomalies".to_string())
            && tools.last().unwrap() == "find_anomalies",
        "{tools:?}"
    );
    let explain = system(&f, 1);
    assert!(
        explain.contains("lead_time_hours") && explain.contains("Payments"),
        "{explain}"
    );
    assert_eq!(
        answer(&events),
        "Lead time for Payments is up sharply since 16 June."
    );
}

/// Each specialist, on the model: it offers the specialist's tools, the model calls one, the
/// real result goes back as the tool message, and the model's text is the answer.
#[tokio::test]
async fn each_specialist_runs_its_tool_loop_on_the_model() {
    let cases = [
        (
            "dora_pro",
            "dora_metrics",
            json!({"team": "Payments"}),
            "change_failure_rate",
        ),
        (
            "resource_planner",
            "workload",
            json!({"team": "Payments"}),
            "Sofia Rossi",
        ),
        ("insights_specialist", "headcount", json!({}), "Payments"),
    ];
    for (graph, tool, args, in_result) in cases {
        let f = fixture(vec![
            call("call_s", tool, args.clone(), 30, 8),
            text(&["Here is what the data says."], 90, 6),
        ])
        .await;
        let events = ask(&f, graph, "What should I know?").await;
        assert!(ended_ok(&events), "{graph}: {events:#?}");
        let offered = offered(&f, 0);
        assert!(
            offered.iter().any(|t| t == tool),
            "{graph} offers {tool}: {offered:?}"
        );
        let (_, content) = tool_message(&f, 1);
        assert!(content.contains(in_result), "{graph}/{tool}: {content}");
        assert_eq!(answer(&events), "Here is what the data says.", "{graph}");
    }
}
