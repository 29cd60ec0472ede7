//! Running cases through the engine, one at a time. Each case brings its tools (its
//! canned results, or the configured stores) and its model (the offline model, or the
//! OpenAI-compatible provider pointed at a recorder that replays or records the case's
//! model replies); `slot` hands them to the one engine all cases share.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use super::cassette::{self, Cassette};
use super::expect::{self, Failure};
use super::record::Recorder;
use super::slot::{ModelSlot, ToolSlot};
use crate::compile::{ToolDef, compile};
use crate::config::Project;
use crate::config::case_spec::{TurnRole, TurnSpec};
use crate::config::cases::Case;
use crate::model::offline::OfflineModel;
use crate::model::openai::{OpenAiModel, Options as ModelOptions};
use crate::model::{Message, Model, Role};
use crate::run::{Engine, RunRequest};
use crate::settings::{Llm, Settings};
use crate::tools::{MockTools, ToolError, ToolRunner};

/// How cases run.
#[derive(Clone)]
pub struct RunOptions {
    /// Record each case's model replies (needs `llm`), instead of replaying them.
    pub record: bool,
    /// The OpenAI-compatible server to record from; also the model names when replaying.
    pub llm: Option<Llm>,
    /// Tools for cases without canned results; Err says why there are none.
    pub stores: Result<Arc<dyn ToolRunner>, String>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub id: String,
    pub file: String,
    pub line: usize,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
    /// E.g. `recorded 2 requests`, `replayed`.
    pub note: Option<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs `cases` of `project` (already validated), calling `each` as each result comes.
pub async fn run(
    project: &Project,
    cases: &[Case],
    opts: &RunOptions,
    mut each: impl FnMut(&CaseResult),
) -> Vec<CaseResult> {
    let model = Arc::new(ModelSlot::new());
    let tools = Arc::new(ToolSlot::new());
    let engine = match compile(project.clone()) {
        Ok(set) => Some(Engine::new(set, model.clone(), tools.clone())),
        Err(_) => None,
    };
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        let r = match &engine {
            Some(engine) => run_case(engine, &model, &tools, project, case, opts).await,
            None => {
                let mut r = CaseResult::new(case);
                r.failures.push(setup(
                    "a configuration that compiles",
                    "it does not; run `eng-intel validate`".into(),
                ));
                r
            }
        };
        each(&r);
        out.push(r);
    }
    out
}

fn setup(what: &str, e: String) -> Failure {
    Failure {
        expectation: "setup".into(),
        expected: what.into(),
        actual: e,
    }
}

impl CaseResult {
    fn new(case: &Case) -> Self {
        CaseResult {
            id: case.id.clone(),
            file: case.file().to_string(),
            line: case.pos().line,
            elapsed: Duration::ZERO,
            failures: Vec::new(),
            note: None,
        }
    }
}

async fn run_case(
    engine: &Engine,
    model_slot: &ModelSlot,
    tool_slot: &ToolSlot,
    project: &Project,
    case: &Case,
    opts: &RunOptions,
) -> CaseResult {
    let t0 = Instant::now();
    let mut result = CaseResult::new(case);
    let mut no_stores = None;
    let tools: Arc<dyn ToolRunner> = match (&case.spec.tools, &opts.stores) {
        (Some(canned), _) => Arc::new(Canned::new(&case.id, canned)),
        (None, Ok(stores)) => stores.clone(),
        (None, Err(why)) => no_stores.insert(Arc::new(NoStores::new(why))).clone(),
    };
    let path = cassette::path_for(&project.root, &case.id);
    let (model, recorder) = match model_for(case, opts, &path).await {
        Ok(m) => m,
        Err(e) => {
            result
                .failures
                .push(setup("a model to run the case with", e));
            return result;
        }
    };
    model_slot.set(model);
    tool_slot.set(tools);
    let events = engine
        .run_collect(RunRequest {
            graph: case.graph.clone(),
            question: case.spec.question.clone(),
            history: case.spec.history.iter().map(message).collect(),
            ..Default::default()
        })
        .await;
    if let Some(f) = no_stores.and_then(|ns| ns.failure()) {
        result.failures.push(f);
    }
    if let Some(rec) = recorder {
        let shown = relative(project, &path);
        result.note = finish(rec, &path, &shown, &mut result.failures).await;
    }
    // A tool without stores or a request the recorder could not answer makes the rest
    // of the run meaningless: then only that is reported.
    if result.failures.is_empty() {
        result.failures = expect::check(&case.spec.expect, &events);
    }
    result.elapsed = t0.elapsed();
    result
}

/// The case's model, and its recorder when it talks to one: recording with `--record`,
/// replaying when the case has a recording, else the offline model.
async fn model_for(
    case: &Case,
    opts: &RunOptions,
    path: &Path,
) -> Result<(Arc<dyn Model>, Option<Recorder>), String> {
    let io = |e: std::io::Error| format!("cannot start the recorder: {e}");
    let (rec, llm) = if opts.record {
        let llm = opts.llm.clone().ok_or(
            "--record needs an OpenAI-compatible model: set FEATHERLESS_BASE_URL or OPENAI_BASE_URL (and its API key)",
        )?;
        let rec = Recorder::record(&case.id, &llm.base_url)
            .await
            .map_err(io)?;
        (rec, llm)
    } else {
        let Some(cassette) = Cassette::load(path)? else {
            return Ok((Arc::new(OfflineModel), None));
        };
        // Replaying needs no server: without one configured, model names are the defaults.
        let llm = match &opts.llm {
            Some(l) => l.clone(),
            None => {
                Settings::from_lookup(|k| (k == "OPENAI_BASE_URL").then(|| "http://replay".into()))
                    .llm
                    .expect("a base URL makes LLM settings")
            }
        };
        (Recorder::replay(cassette).await.map_err(io)?, llm)
    };
    let llm = Llm {
        base_url: rec.base_url().to_string(),
        ..llm
    };
    // Replaying never retries: a replayed reply is final. The breaker stays off, as
    // every case starts afresh.
    let env = ModelOptions::from_env();
    let mopts = ModelOptions {
        max_retries: if opts.record { env.max_retries } else { 0 },
        breaker_threshold: 0,
        ..env
    };
    let model = OpenAiModel::new(&llm, mopts).map_err(|e| e.message)?;
    Ok((Arc::new(model), Some(rec)))
}

/// Stops the recorder: its problems become failures; a recording is saved (or, when the
/// model was never asked, a stale one removed). Returns the note for the report.
async fn finish(
    rec: Recorder,
    path: &Path,
    shown: &str,
    failures: &mut Vec<Failure>,
) -> Option<String> {
    let finished = rec.finish().await;
    for p in finished.problems {
        failures.push(Failure {
            expectation: "recording".into(),
            expected: format!("requests that match {shown}"),
            actual: p,
        });
    }
    match finished.cassette {
        None => Some("replayed".into()),
        Some(c) if c.interactions.is_empty() => {
            let _ = std::fs::remove_file(path);
            Some("no model requests to record".into())
        }
        Some(c) => match c.save(path) {
            Ok(()) => Some(format!(
                "recorded {} request(s) to {shown}",
                c.interactions.len()
            )),
            Err(e) => {
                failures.push(setup("the recording written", e));
                None
            }
        },
    }
}

fn relative(project: &Project, path: &Path) -> String {
    path.strip_prefix(&project.root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A case's canned results: a tool it did not list fails, saying so.
struct Canned {
    case: String,
    names: BTreeSet<String>,
    mock: MockTools,
}

impl Canned {
    fn new(case: &str, canned: &std::collections::BTreeMap<String, Value>) -> Self {
        let results: HashMap<String, Value> = canned.clone().into_iter().collect();
        Canned {
            case: case.into(),
            names: canned.keys().cloned().collect(),
            mock: MockTools::new(results),
        }
    }
}

#[async_trait]
impl ToolRunner for Canned {
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError> {
        if !self.names.contains(&tool.name) {
            let listed: Vec<&str> = self.names.iter().map(String::as_str).collect();
            return Err(ToolError::fatal(format!(
                "case {} has no canned result for tool \"{}\" (it lists: {}); add one under `tools:`",
                self.case,
                tool.name,
                listed.join(", ")
            )));
        }
        self.mock.call(tool, args).await
    }
}

/// Stands in for the stores when none could be opened, noting the tools asked for.
struct NoStores {
    why: String,
    called: std::sync::Mutex<BTreeSet<String>>,
}

impl NoStores {
    fn new(why: &str) -> Self {
        NoStores {
            why: why.into(),
            called: Default::default(),
        }
    }
    /// The failure to report when a tool was asked for.
    fn failure(&self) -> Option<Failure> {
        let called = self.called.lock().expect("no-stores lock");
        if called.is_empty() {
            return None;
        }
        let names: Vec<&str> = called.iter().map(String::as_str).collect();
        Some(setup(
            &format!(
                "stores to run {} (or canned results under `tools:`)",
                names.join(", ")
            ),
            format!("no stores: {}", self.why),
        ))
    }
}

#[async_trait]
impl ToolRunner for NoStores {
    async fn call(&self, tool: &ToolDef, _args: &Value) -> Result<Value, ToolError> {
        self.called
            .lock()
            .expect("no-stores lock")
            .insert(tool.name.clone());
        Err(ToolError::fatal(format!(
            "no stores: tool \"{}\" has no canned result in this case and {}",
            tool.name, self.why
        )))
    }
}

/// An earlier turn of a case as the model sees it.
fn message(turn: &TurnSpec) -> Message {
    let role = match turn.role {
        TurnRole::User => Role::User,
        TurnRole::Assistant => Role::Assistant,
    };
    Message::new(role, turn.content.clone())
}
