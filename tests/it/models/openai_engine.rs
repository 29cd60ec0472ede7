//! The repository's graphs run end to end on the OpenAI-compatible provider against the
//! fake server: the model routes, calls a tool, gets the tool's message back, answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eng_intel::compile::{CompiledSet, Kind, ToolDef};
use eng_intel::model::fallback::{FallbackModel, FallbackNotice};
use eng_intel::model::offline::OfflineModel;
use eng_intel::model::openai::{OpenAiModel, Options};
use eng_intel::model::{Model, Usage};
use eng_intel::run::{Engine, Event, RouteMethod, RunRequest, answer_of};
use eng_intel::tools::MockTools;
use serde_json::{Value, json};

use super::llm;
use crate::support::fake_openai::{FakeOpenAi, call, text};
use crate::support::{config as compiled, event_names as names};

/// Matches none of the supervisor's intents, so the router asks the model.
const QUESTION: &str = "What should I focus on this quarter?";

fn opts() -> Options {
    Options {
        retry_base: Duration::from_millis(10),
        max_retries: 0,
        ..Options::default()
    }
}

/// A tool of the Insights specialist's agent that takes no arguments.
fn argless_insights_tool(set: &CompiledSet) -> Arc<ToolDef> {
    let g = set
        .graph("insights_specialist")
        .expect("insights_specialist graph");
    g.graph
        .node_weights()
        .find_map(|n| match &n.kind {
            Kind::Agent { tools, .. } => tools
                .iter()
                .find(|t| t.check_args(&json!({})).is_ok())
                .cloned(),
            _ => None,
        })
        .expect("an agent tool without required arguments")
}

#[tokio::test]
async fn the_model_routes_calls_a_tool_and_answers_with_its_result() {
    let set = compiled();
    let tool = argless_insights_tool(&set);
    let result = json!({"total": 42, "by_team": {"Core": 12, "Payments": 30}});
    let answer = ["We have ", "42 employees."];
    let fake = FakeOpenAi::start(vec![
        text(&["Insights_Specialist"], 120, 4),
        call("call_1", &tool.name, json!({}), 300, 9),
        text(&answer, 350, 7),
    ])
    .await;
    let tools = MockTools::new(HashMap::from([(tool.name.clone(), result.clone())]));
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let engine = Engine::new(set, Arc::new(model), Arc::new(tools));
    let events = engine
        .run_collect(RunRequest {
            question: QUESTION.into(),
            ..Default::default()
        })
        .await;

    assert_eq!(
        names(&events),
        [
            "stream_start",
            "model_selection",
            "routing",
            "tool_start",
            "tool_end",
            "token",
            "token",
            "response",
            "stream_end"
        ],
        "{events:#?}"
    );
    let selected = events
        .iter()
        .find_map(|e| match &e.event {
            Event::ModelSelection { model, .. } => Some(model.clone()),
            _ => None,
        })
        .unwrap();
    assert!(events.iter().any(|e| e.event
        == Event::Routing {
            agent: "Insights_Specialist".into(),
            method: RouteMethod::Model,
            graph: "supervisor".into()
        }));
    assert!(events.iter().any(|e| matches!(&e.event,
        Event::ToolEnd { tool: t, ok: true, .. } if *t == tool.name)));
    let tokens: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Token { content } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tokens, answer);
    assert_eq!(answer_of(&events), Some(answer.concat().as_str()));
    let expected = [(120, 4), (300, 9), (350, 7)]
        .iter()
        .fold(Usage::default(), |mut u, (p, c)| {
            u += Usage {
                prompt_tokens: *p,
                completion_tokens: *c,
            };
            u
        });
    match &events.last().unwrap().event {
        Event::StreamEnd {
            prompt_tokens,
            completion_tokens,
            total_tokens,
            ok,
            ..
        } => {
            assert!(*ok);
            assert_eq!(
                (*prompt_tokens, *completion_tokens),
                (expected.prompt_tokens, expected.completion_tokens)
            );
            assert_eq!(
                *total_tokens,
                expected.prompt_tokens + expected.completion_tokens
            );
        }
        other => panic!("last event is {other:?}"),
    }

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        fake.models().iter().all(|m| *m == selected),
        "{:?} vs {selected}",
        fake.models()
    );
    // 1: the route question, no tools, asking for a name.
    let route_msgs = reqs[0].body["messages"].as_array().unwrap();
    assert!(reqs[0].body.get("tools").is_none());
    let system = route_msgs[0]["content"].as_str().unwrap();
    assert!(
        system.contains("Reply with exactly one of these names and nothing else:")
            && system.contains("Insights_Specialist")
    );
    // 2: the agent with its tools; 3: the same plus the call and its tool message.
    let sent_tools: Vec<&str> = reqs[1].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(sent_tools.contains(&tool.name.as_str()));
    let first = reqs[1].body["messages"].as_array().unwrap();
    let second = reqs[2].body["messages"].as_array().unwrap();
    assert_eq!(second.len(), first.len() + 2);
    assert_eq!(second[..first.len()], first[..]);
    assert_eq!(second[first.len()]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        second[first.len()]["tool_calls"][0]["function"]["name"],
        tool.name.as_str()
    );
    let tool_msg = &second[first.len() + 1];
    assert_eq!(tool_msg["role"], "tool");
    assert_eq!(tool_msg["tool_call_id"], "call_1");
    let content: Value = serde_json::from_str(tool_msg["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, result);
}

#[tokio::test]
async fn a_dead_server_falls_back_to_the_offline_answer() {
    let fake = FakeOpenAi::start(vec![]).await; // 500 to everything
    let heard: Arc<Mutex<Vec<FallbackNotice>>> = Arc::default();
    let h = heard.clone();
    let chain = FallbackModel::from_settings(Some(&llm(&fake.base_url)), opts())
        .unwrap()
        .on_fallback(move |n| h.lock().unwrap().push(n.clone()));
    let ask = |model: Arc<dyn Model>| async move {
        Engine::new(compiled(), model, Arc::new(MockTools::default()))
            .run_collect(RunRequest {
                question: QUESTION.into(),
                ..Default::default()
            })
            .await
    };
    let with_chain = ask(Arc::new(chain)).await;
    let offline = ask(Arc::new(OfflineModel)).await;

    assert_eq!(answer_of(&with_chain), answer_of(&offline));
    assert!(answer_of(&with_chain).is_some_and(|a| !a.is_empty()));
    assert!(matches!(
        with_chain.last().unwrap().event,
        Event::StreamEnd { ok: true, .. }
    ));
    // Every model call went fast → primary → offline, one request each.
    let heard = heard.lock().unwrap().clone();
    let calls = fake.requests().len() / 2;
    assert!(calls >= 1);
    assert_eq!(fake.models(), ["small-model", "big-model"].repeat(calls));
    let route: Vec<(&str, &str)> = heard
        .iter()
        .map(|n| (n.from.as_str(), n.to.as_str()))
        .collect();
    let one = [("small-model", "big-model"), ("big-model", "offline")];
    assert_eq!(route, one.repeat(calls));
}
