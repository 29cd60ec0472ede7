//! The question bank through the model path: an OpenAI-compatible model (the fake, over
//! real HTTP) calls the bank's expected tool with the names written the way a model
//! writes them from the question — lower case, a first name, a service without its
//! suffix — and the resolver must hand the tool the organisation's names, saying so in
//! the answer. Asked: every single question of the bank that the understanding answers
//! with its expected tool, called with names (pipelines left out: they ask the model
//! again inside); the model writes the names of that call its own way.

use std::sync::Arc;

use eng_intel::model::openai::{OpenAiModel, Options};
use eng_intel::run::{Engine, Event, RunRequest};
use serde_json::{Map, Value, json};

use super::bank::{Entry, bank};
use super::{data_dir, suite};
use crate::support::fake_openai::{FakeOpenAi, call, text};
use crate::support::{Vars, config, env, settings};

/// The arguments that hold names.
const NAMED: &[&str] = &["team", "service", "person", "skills", "topic", "project"];

/// A name as a model might write it: "Sofia Rossi" → "sofia", "ledger-service" → "ledger",
/// "fraud-detection" → "fraud detection", "Payments" → "payments".
fn sloppy(arg: &str, name: &str) -> String {
    let lower = name.to_lowercase();
    match arg {
        "person" => lower.split(' ').next().unwrap_or_default().to_string(),
        "service" => match lower.rsplit_once('-') {
            Some((core, "service" | "api" | "app")) => core.replace('-', " "),
            _ => lower.replace('-', " "),
        },
        _ => lower,
    }
}

#[tokio::test]
async fn a_models_names_reach_the_tools_as_the_organisations() {
    let offline = suite().await;
    let fake = FakeOpenAi::start(vec![]).await;
    let llm = settings(&[
        ("OPENAI_BASE_URL", fake.base_url.as_str()),
        ("OPENAI_API_KEY", "test-key"),
    ])
    .llm
    .expect("LLM settings");
    let model = OpenAiModel::new(
        &llm,
        Options {
            max_retries: 0,
            ..Options::default()
        },
    )
    .unwrap();
    let stores =
        eng_intel::toolbox::Toolbox::open(&Vars::new().data_dir(data_dir()).settings(), &|_| {})
            .await
            .unwrap();
    let set = config();
    let engine = Engine::new(config(), Arc::new(model), stores.tools());
    let (mut asked, mut renamed, mut misses) = (0usize, 0usize, Vec::new());
    for entry in bank().into_values().flatten() {
        let Entry::One(turn) = entry else { continue };
        let Some(tool) = turn.tool.clone() else {
            continue;
        };
        // A pipeline asks the model again inside; its own tests cover it.
        if set.tool(&tool).is_none_or(|t| t.pipeline.is_some()) {
            continue;
        }
        // What the understanding calls the tool with; the model writes the same names
        // its own way.
        let offline_args = offline
            .engine
            .run_collect(RunRequest {
                question: turn.ask.clone(),
                ..Default::default()
            })
            .await
            .into_iter()
            .find_map(|e| match e.event {
                Event::ToolStart { tool: t, args } if t == tool => Some(args),
                _ => None,
            });
        let Some(Value::Object(offline_args)) = offline_args else {
            continue;
        };
        let names: Map<String, Value> = offline_args
            .iter()
            .filter(|(k, v)| NAMED.contains(&k.as_str()) && v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if names.is_empty() {
            continue;
        }
        let mut written = offline_args.clone();
        for (k, v) in &names {
            written.insert(k.clone(), json!(sloppy(k, v.as_str().unwrap())));
        }
        fake.clear();
        fake.push(call("call_1", &tool, Value::Object(written.clone()), 10, 5));
        fake.push(text(&["Here is what I found."], 10, 5));
        let events = engine
            .run_collect(RunRequest {
                question: turn.ask.clone(),
                ..Default::default()
            })
            .await;
        asked += 1;
        let got = events.iter().find_map(|e| match &e.event {
            Event::ToolStart { tool: t, args } if *t == tool => Some(args.clone()),
            _ => None,
        });
        let answer = events
            .iter()
            .find_map(|e| match &e.event {
                Event::Response { content } => Some(content.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let wrong: Vec<String> = names
            .iter()
            .filter(|(k, v)| {
                let have = got
                    .as_ref()
                    .and_then(|a| a.get(k.as_str()))
                    .and_then(Value::as_str);
                !have.is_some_and(|h| h.eq_ignore_ascii_case(v.as_str().unwrap()))
            })
            .map(|(k, v)| {
                let have = got.as_ref().and_then(|a| a.get(k.as_str()));
                format!(
                    "{k}: wrote {:?}, tool got {have:?}, expected {v}",
                    written[k]
                )
            })
            .collect();
        // Rewritten to the stored spelling (a name the organisation lacks stays as written).
        let rewritten = names.iter().any(|(k, v)| {
            let have = got.as_ref().and_then(|a| a.get(k.as_str()));
            have == Some(v) && written[k] != *v
        });
        if rewritten {
            renamed += 1;
            assert!(
                answer.contains("Read \""),
                "{:?}: the answer does not say how the names were read:\n{answer}",
                turn.ask
            );
        }
        if !wrong.is_empty() {
            misses.push(format!("{:?}\n    - {}", turn.ask, wrong.join("\n    - ")));
        }
    }
    let share = 1.0 - misses.len() as f64 / asked.max(1) as f64;
    if env("BANK_REPORT").is_some() {
        println!(
            "model path: {} of {asked} calls reached the tool with the organisation's names ({renamed} rewritten)\n{}",
            asked - misses.len(),
            misses.join("\n")
        );
    }
    assert!(
        asked >= 100,
        "only {asked} bank questions were asked through the model"
    );
    assert!(
        share >= 0.95,
        "{} of {asked} model calls kept a name the organisation does not have:\n{}",
        misses.len(),
        misses.join("\n")
    );
}
