//! Smoke check against a real OpenAI-compatible server: chat, streaming, a forced tool
//! call and one question through the graphs. Ignored by default; scripts/real-model.sh
//! serves SmolLM2-135M with llama-cpp-python and runs these with REAL_MODEL_BASE_URL set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eng_intel::model::openai::{OpenAiModel, Options, ToolChoice};
use eng_intel::model::{ChatRequest, Message, Model, Purpose, Reply, Role, Tier};
use eng_intel::run::{Engine, Event, RunRequest, answer_of};
use eng_intel::settings::Llm;
use eng_intel::tools::MockTools;
use serde_json::json;

use crate::support::{config as compiled, env, settings};

const TOOL: &str = "find_developer_by_skills";

fn llm() -> Llm {
    let base = env("REAL_MODEL_BASE_URL").expect("REAL_MODEL_BASE_URL (run scripts/real-model.sh)");
    let model = env("REAL_MODEL_NAME").unwrap_or_else(|| "smollm2".into());
    settings(&[("OPENAI_BASE_URL", base), ("OPENAI_MODEL", model)])
        .llm
        .unwrap()
}

fn opts(tool_choice: ToolChoice) -> Options {
    Options {
        read_timeout: Duration::from_secs(120),
        max_retries: 1,
        temperature: Some(0.0),
        max_tokens: Some(96),
        tool_choice,
        ..Options::default()
    }
}

#[tokio::test]
#[ignore = "needs a model server: scripts/real-model.sh"]
async fn chat_streams_tokens() {
    let model = OpenAiModel::new(&llm(), opts(ToolChoice::Auto)).unwrap();
    let messages = [
        Message::new(Role::System, "You are a helpful assistant."),
        Message::new(Role::User, "Say hello to an engineering manager."),
    ];
    let tokens = Mutex::new(Vec::<String>::new());
    let req = ChatRequest {
        tier: Tier::Primary,
        question: "",
        messages: &messages,
        tools: &[],
        json: false,
        purpose: Purpose::Complete,
        understanding: None,
    };
    let turn = model
        .chat(req, &|t| tokens.lock().unwrap().push(t.into()))
        .await
        .unwrap();
    let tokens = tokens.into_inner().unwrap();
    println!(
        "reply: {:?}\ntokens: {}  usage: {:?}",
        turn.reply,
        tokens.len(),
        turn.usage
    );
    let Reply::Text(text) = turn.reply else {
        panic!("expected text")
    };
    assert!(!text.trim().is_empty());
    assert!(
        tokens.len() >= 2,
        "the reply arrived in {} piece(s), not streamed",
        tokens.len()
    );
    assert_eq!(tokens.concat(), text);
}

#[tokio::test]
#[ignore = "needs a model server: scripts/real-model.sh"]
async fn a_forced_tool_call_comes_back_valid() {
    let set = compiled();
    let tool = set.tool(TOOL).expect("tool").clone();
    let model = OpenAiModel::new(&llm(), opts(ToolChoice::Function(TOOL.into()))).unwrap();
    let messages = [
        Message::new(Role::System, "You find developers by skill."),
        Message::new(Role::User, "Find developers with Python expertise."),
    ];
    let answer = String::new;
    let req = ChatRequest {
        tier: Tier::Primary,
        question: "",
        messages: &messages,
        tools: std::slice::from_ref(&tool),
        json: false,
        purpose: Purpose::Agent { answer: &answer },
        understanding: None,
    };
    let turn = model.chat(req, &|_| {}).await.unwrap();
    println!("reply: {:?}", turn.reply);
    let Reply::ToolCalls(calls) = turn.reply else {
        panic!("expected a tool call")
    };
    assert_eq!(calls[0].name, TOOL);
    assert!(tool.check_args(&calls[0].args).is_ok());
    assert!(!calls[0].id.is_empty());
}

#[tokio::test]
#[ignore = "needs a model server: scripts/real-model.sh"]
async fn a_question_runs_through_the_graphs() {
    let model = OpenAiModel::new(&llm(), opts(ToolChoice::Function(TOOL.into()))).unwrap();
    let tools = MockTools::new(HashMap::from([(
        TOOL.to_string(),
        json!([{"name": "Ada Lovelace", "skill": "Python", "level": 5}]),
    )]));
    let engine = Engine::new(compiled(), Arc::new(model), Arc::new(tools));
    let events = engine
        .run_collect(RunRequest {
            question: "Find developers with Python expertise".into(),
            ..Default::default()
        })
        .await;
    for e in &events {
        println!("{}", e.to_json());
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.event, Event::ToolStart { tool, .. } if tool == TOOL))
    );
    assert!(answer_of(&events).is_some_and(|a| !a.trim().is_empty()));
    assert!(matches!(
        events.last().unwrap().event,
        Event::StreamEnd { ok: true, .. }
    ));
}
