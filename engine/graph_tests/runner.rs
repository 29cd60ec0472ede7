//! Running cases through the engine: each case gets its own `Engine` with its tools
//! (the case's canned results, or the configured stores) and its model (the offline
//! model, or the OpenAI-compatible provider pointed at a recorder that replays or
//! records the case's model replies).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;

use super::cassette::{self, Cassette};
use super::expect::{self, Failure};
use super::load::Case;
use super::record::Recorder;
use crate::compile::{ToolDef, compile};
use crate::config::Project;
use crate::model::Model;
use crate::model::offline::OfflineModel;
use crate::model::openai::{OpenAiModel, Options as ModelOptions};
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
    /// Cases run at once (results are reported in order).
    pub parallel: usize,
}

impl RunOptions {
    /// Offline model, no stores, replaying recordings.
    pub fn offline() -> RunOptions {
        RunOptions {
            record: false,
            llm: None,
            stores: Err("no stores are open".into()),
            parallel: 4,
        }
    }
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

/// Runs `cases` of `project` (already validated), calling `each` as results come, in order.
pub async fn run(
    project: &Project,
    cases: &[Case],
    opts: &RunOptions,
    mut each: impl FnMut(&CaseResult),
) -> Vec<CaseResult> {
    let mut stream = futures::stream::iter(cases)
        .map(|case| run_case(project, case, opts))
        .buffered(opts.parallel.max(1));
    let mut out = Vec::with_capacity(cases.len());
    while let Some(r) = stream.next().await {
        each(&r);
        out.push(r);
    }
    out
}

async fn run_case(project: &Project, case: &Case, opts: &RunOptions) -> CaseResult {
    let t0 = Instant::now();
    let mut result = CaseResult {
        id: case.id.clone(),
        file: case.file().to_string(),
        line: case.pos().line,
        elapsed: Duration::ZERO,
        failures: Vec::new(),
        note: None,
    };
    let setup = |what: &str, e: String| Failure {
        expectation: "setup".into(),
        expected: what.into(),
        actual: e,
    };
    let set = match compile(project.clone()) {
        Ok(s) => s,
        Err(report) => {
            result.failures.push(setup("a configuration that compiles", report.to_string()));
            return result;
        }
    };
    let mut no_stores = None;
    let tools: Arc<dyn ToolRunner> = match (&case.spec.tools, &opts.stores) {
        (Some(canned), _) => Arc::new(Canned::new(&case.id, canned)),
        (None, Ok(stores)) => stores.clone(),
        (None, Err(why)) => no_stores.insert(Arc::new(NoStores::new(why))).clone(),
    };
    let path = cassette::path_for(&project.root, &case.id);
    let recorder = match model_for(case, opts, &path).await {
        Ok(r) => r,
        Err(e) => {
            result.failures.push(setup("a model to run the case with", e));
            return result;
        }
    };
    let model: Arc<dyn Model> = match &recorder {
        None => Arc::new(OfflineModel),
        Some((rec, llm)) => {
            let llm = Llm {
                base_url: rec.base_url().to_string(),
                ..llm.clone()
            };
            // No retries: a replayed reply is final, and a recorded failure is not kept.
            let mopts = ModelOptions {
                max_retries: if opts.record { ModelOptions::from_env().max_retries } else { 0 },
                breaker_threshold: 0,
                ..ModelOptions::from_env()
            };
            match OpenAiModel::new(&llm, mopts) {
                Ok(m) => Arc::new(m),
                Err(e) => {
                    result.failures.push(setup("an OpenAI-compatible provider", e.message));
                    return result;
                }
            }
        }
    };
    let engine = Engine::new(set, model, tools);
    let events = engine
        .run_collect(RunRequest {
            graph: case.graph.clone(),
            question: case.spec.question.clone(),
            history: case.spec.history.iter().map(|t| t.message()).collect(),
            ..Default::default()
        })
        .await;
    // A tool without stores or a request the recorder could not answer makes the rest
    // of the run meaningless: report only that.
    let mut setup_failed = false;
    if let Some(ns) = no_stores {
        let called = ns.called();
        if !called.is_empty() {
            setup_failed = true;
            result.failures.push(setup(
                &format!("stores to run {} (or canned results under `tools:`)", called.join(", ")),
                format!("no stores: {}", ns.why),
            ));
        }
    }
    if let Some((rec, _)) = recorder {
        let finished = rec.finish().await;
        setup_failed |= !finished.problems.is_empty();
        for p in finished.problems {
            result.failures.push(Failure {
                expectation: "recording".into(),
                expected: format!("requests that match {}", relative(project, &path)),
                actual: p,
            });
        }
        match finished.cassette {
            Some(c) if c.interactions.is_empty() => {
                // Nothing asked the model: a stale recording would only mislead.
                let _ = std::fs::remove_file(&path);
                result.note = Some("no model requests to record".into());
            }
            Some(c) => match c.save(&path) {
                Ok(()) => {
                    result.note = Some(format!(
                        "recorded {} request(s) to {}",
                        c.interactions.len(),
                        relative(project, &path)
                    ))
                }
                Err(e) => result.failures.push(setup("a recording written", e)),
            },
            None => result.note = Some("replayed".into()),
        }
    }
    if !setup_failed {
        result.failures.extend(expect::check(&case.spec.expect, &events));
    }
    result.elapsed = t0.elapsed();
    result
}

/// The recorder for this case and the LLM settings the provider starts from, or None
/// for the offline model.
async fn model_for(
    case: &Case,
    opts: &RunOptions,
    path: &std::path::Path,
) -> Result<Option<(Recorder, Llm)>, String> {
    let io = |e: std::io::Error| format!("cannot start the recorder: {e}");
    if opts.record {
        let llm = opts.llm.clone().ok_or(
            "--record needs an OpenAI-compatible model: set FEATHERLESS_BASE_URL or OPENAI_BASE_URL (and its API key)",
        )?;
        let rec = Recorder::record(&case.id, &llm.base_url).await.map_err(io)?;
        return Ok(Some((rec, llm)));
    }
    let Some(cassette) = Cassette::load(path)? else {
        return Ok(None);
    };
    // Replaying needs no server: model names default when none is configured.
    let llm = match &opts.llm {
        Some(l) => l.clone(),
        None => Settings::from_lookup(|k| (k == "OPENAI_BASE_URL").then(|| "http://replay".into()))
            .llm
            .expect("a base URL makes LLM settings"),
    };
    let rec = Recorder::replay(cassette).await.map_err(io)?;
    Ok(Some((rec, llm)))
}

fn relative(project: &Project, path: &std::path::Path) -> String {
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
    fn called(&self) -> Vec<String> {
        self.called.lock().expect("no-stores lock").iter().cloned().collect()
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
