//! The OpenAI-compatible provider against a fake server speaking the real wire protocol:
//! streaming, the tool-call shapes of different servers, retries, timeouts, broken
//! streams, the repair turn, the circuit breaker and the fallback chain.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eng_intel::compile::ToolDef;
use eng_intel::config::spec::{StoreRole, ToolSpec};
use eng_intel::model::fallback::{FallbackModel, FallbackNotice};
use eng_intel::model::openai::{OpenAiModel, Options, ToolChoice};
use eng_intel::model::{
    ChatRequest, Message, Model, ModelError, Purpose, Reply, Role, Tier, ToolCall, Turn, Usage,
};
use serde_json::{Value, json};

use super::{FAST, PRIMARY, llm};
use crate::support::fake_openai::{
    FakeOpenAi, Piece, Reply as Script, call, content, error, finish, text, tool, usage,
};

/// Quick retries and no breaker unless a test asks for them.
fn opts() -> Options {
    Options {
        retry_base: Duration::from_millis(10),
        max_retries: 2,
        read_timeout: Duration::from_secs(5),
        breaker_threshold: 0,
        ..Options::default()
    }
}

fn tool_def(name: &str, args: Value) -> Arc<ToolDef> {
    let spec = ToolSpec {
        description: format!("The {name} tool."),
        args,
        store: StoreRole::Builtin,
        query: None,
        graph: None,
        intents: vec![],
        examples: vec![],
        slots: Default::default(),
        measures: Default::default(),
        preview: None,
        answer: None,
    };
    Arc::new(ToolDef::compile(name, &spec, &Default::default()).unwrap())
}

fn tools() -> Vec<Arc<ToolDef>> {
    vec![
        tool_def(
            "workload",
            json!({"type": "object", "properties": {"team": {"type": "string"}}, "required": ["team"]}),
        ),
        tool_def(
            "find_developer_by_skills",
            json!({"type": "object", "properties": {"skills": {"type": "string"}}, "required": ["skills"]}),
        ),
        tool_def("headcount", json!({"type": "object", "properties": {}})),
    ]
}

fn conversation(question: &str) -> Vec<Message> {
    vec![
        Message::new(Role::System, "You answer engineering managers."),
        Message::new(Role::User, question),
    ]
}

/// Asks `model` once and returns the result with the tokens it streamed.
async fn ask(
    model: &dyn Model,
    tier: Tier,
    messages: &[Message],
    tools: &[Arc<ToolDef>],
    purpose: Purpose<'_>,
) -> (Result<Turn, ModelError>, Vec<String>) {
    let tokens = Mutex::new(Vec::new());
    let sink = |t: &str| tokens.lock().unwrap().push(t.to_string());
    let req = ChatRequest {
        tier,
        question: "q",
        messages,
        tools,
        json: false,
        purpose,
        understanding: None,
    };
    let r = model.chat(req, &sink).await;
    (r, tokens.into_inner().unwrap())
}

/// Asks `model`'s primary tier to complete a conversation ending with `question`, no tools.
async fn complete(model: &dyn Model, question: &str) -> (Result<Turn, ModelError>, Vec<String>) {
    ask(
        model,
        Tier::Primary,
        &conversation(question),
        &[],
        Purpose::Complete,
    )
    .await
}

fn no_answer() -> String {
    String::new()
}

async fn agent_turn(
    model: &dyn Model,
    tools: &[Arc<ToolDef>],
) -> (Result<Turn, ModelError>, Vec<String>) {
    let answer = no_answer;
    ask(
        model,
        Tier::Primary,
        &conversation("Who is overloaded?"),
        tools,
        Purpose::Agent { answer: &answer },
    )
    .await
}

fn calls(turn: Result<Turn, ModelError>) -> Vec<ToolCall> {
    match turn.expect("a turn").reply {
        Reply::ToolCalls(c) => c,
        other => panic!("expected tool calls, got {other:?}"),
    }
}

#[tokio::test]
async fn content_streams_into_tokens_and_usage_comes_from_the_final_empty_chunk() {
    let parts = ["Hel", "lo, ", "wörld"];
    let fake = FakeOpenAi::start(vec![text(&parts, 21, 3)]).await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, tokens) = complete(&model, "hi").await;
    let turn = turn.unwrap();
    assert_eq!(tokens, parts);
    assert_eq!(turn.reply, Reply::Text(parts.concat()));
    assert_eq!(
        turn.usage,
        Usage {
            prompt_tokens: 21,
            completion_tokens: 3
        }
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer test-key"));
    let body = &reqs[0].body;
    assert_eq!(body["model"], PRIMARY);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You answer engineering managers."},
            {"role": "user", "content": "hi"},
        ])
    );
    assert!(body.get("tools").is_none() && body.get("response_format").is_none());
}

#[tokio::test]
async fn sse_lines_split_across_writes_are_reassembled() {
    let line = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": "split"}}]})
    );
    let (a, b) = line.split_at(line.len() / 2);
    let pause = || Piece::Pause(Duration::from_millis(30));
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        Piece::Raw(": keep-alive\r\n\r\n".into()),
        Piece::Raw(a.into()),
        pause(),
        Piece::Raw(b.into()),
        finish("stop"),
        Piece::Done,
    ])])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, tokens) = complete(&model, "hi").await;
    assert_eq!(turn.unwrap().reply, Reply::Text("split".into()));
    assert_eq!(tokens, ["split"]);
}

#[tokio::test]
async fn interleaved_parallel_tool_calls_are_grouped_by_index() {
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        tool(0, Some("call_a"), Some("workload"), ""),
        tool(1, Some("call_b"), Some("find_developer_by_skills"), ""),
        tool(0, None, None, "{\"te"),
        tool(1, None, None, "{\"skills\":"),
        tool(0, None, None, "am\":\"Core\"}"),
        tool(1, None, None, "\"Rust\"}"),
        finish("tool_calls"),
        usage(40, 12),
        Piece::Done,
    ])])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let tools = tools();
    let (turn, tokens) = agent_turn(&model, &tools).await;
    assert!(tokens.is_empty());
    assert_eq!(
        calls(turn),
        vec![
            ToolCall {
                id: "call_a".into(),
                name: "workload".into(),
                args: json!({"team": "Core"})
            },
            ToolCall {
                id: "call_b".into(),
                name: "find_developer_by_skills".into(),
                args: json!({"skills": "Rust"})
            },
        ]
    );
    // The tools went out as function schemas; no tool_choice unless configured.
    let body = &fake.requests()[0].body;
    let sent: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["workload", "find_developer_by_skills", "headcount"]);
    assert_eq!(
        body["tools"][0]["function"]["parameters"],
        tools[0].args_schema
    );
    assert!(body.get("tool_choice").is_none());
}

#[tokio::test]
async fn index_zero_for_every_call_with_new_ids_gives_separate_calls() {
    // Ollama: each parallel call complete in one chunk, all at index 0.
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        tool(0, Some("call_1"), Some("headcount"), "{}"),
        tool(
            0,
            Some("call_2"),
            Some("workload"),
            "{\"team\":\"Payments\"}",
        ),
        finish("tool_calls"),
        Piece::Done,
    ])])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, _) = agent_turn(&model, &tools()).await;
    assert_eq!(
        calls(turn),
        vec![
            ToolCall {
                id: "call_1".into(),
                name: "headcount".into(),
                args: json!({})
            },
            ToolCall {
                id: "call_2".into(),
                name: "workload".into(),
                args: json!({"team": "Payments"})
            },
        ]
    );
}

#[tokio::test]
async fn names_repeated_in_every_fragment_are_not_concatenated() {
    // llama-cpp-python: id, type and name again in every fragment; odd finish_reason.
    let frag = |args: &str| tool(0, Some("call_x"), Some("workload"), args);
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        frag(""),
        frag("{\"team\""),
        frag(": \"Core\""),
        frag("}"),
        finish(""),
        finish("eos"),
        Piece::Done,
    ])])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, _) = agent_turn(&model, &tools()).await;
    assert_eq!(
        calls(turn),
        vec![ToolCall {
            id: "call_x".into(),
            name: "workload".into(),
            args: json!({"team": "Core"})
        }]
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let fake = FakeOpenAi::start(vec![
        error(429, vec![("retry-after", "1".into())]),
        text(&["ok"], 1, 1),
    ])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let t0 = Instant::now();
    let (turn, _) = complete(&model, "hi").await;
    let waited = t0.elapsed();
    assert_eq!(turn.unwrap().reply, Reply::Text("ok".into()));
    assert_eq!(fake.requests().len(), 2);
    // The backoff alone would be ~10 ms: the second of waiting is the server's.
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_fails_at_once() {
    let fake = FakeOpenAi::start(vec![error(429, vec![("retry-after", "120".into())])]).await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let t0 = Instant::now();
    let (turn, _) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(err.retryable);
    assert!(
        err.message
            .contains("HTTP 429 Too Many Requests: scripted 429"),
        "{}",
        err.message
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let fake = FakeOpenAi::start(vec![error(500, vec![]), text(&["fine"], 2, 1)]).await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, _) = complete(&model, "hi").await;
    assert_eq!(turn.unwrap().reply, Reply::Text("fine".into()));
    assert_eq!(fake.models(), [PRIMARY, PRIMARY]);
}

#[tokio::test]
async fn a_persistent_500_is_an_error_after_the_retries() {
    let fake = FakeOpenAi::start(vec![]).await; // answers 500 to everything
    let model = OpenAiModel::new(
        &llm(&fake.base_url),
        Options {
            max_retries: 1,
            ..opts()
        },
    )
    .unwrap();
    let (turn, _) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(err.retryable);
    assert_eq!(
        err.message,
        format!(
            "model \"{PRIMARY}\" at {}/chat/completions: HTTP 500 Internal Server Error: no scripted reply left (after 2 attempts)",
            fake.base_url
        )
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_persistent_500_falls_back_to_another_tier_then_offline() {
    let fake = FakeOpenAi::start(vec![]).await;
    let heard: Arc<Mutex<Vec<FallbackNotice>>> = Arc::default();
    let h = heard.clone();
    let chain = FallbackModel::from_settings(
        Some(&llm(&fake.base_url)),
        Options {
            max_retries: 1,
            ..opts()
        },
    )
    .unwrap()
    .on_fallback(move |n| h.lock().unwrap().push(n.clone()));
    assert_eq!(chain.model_name(Tier::Fast), FAST);

    let per_call = Mutex::new(Vec::new());
    let req = ChatRequest {
        tier: Tier::Fast,
        question: "q",
        messages: &conversation("hi"),
        tools: &[],
        json: false,
        purpose: Purpose::Complete,
        understanding: None,
    };
    let turn = chain
        .chat_with_fallbacks(req, &|_| {}, &|n| per_call.lock().unwrap().push(n.clone()))
        .await
        .unwrap();
    // The offline model completes a prompt with nothing.
    assert_eq!(turn.reply, Reply::Text(String::new()));
    assert_eq!(fake.models(), [FAST, FAST, PRIMARY, PRIMARY]);
    let heard = heard.lock().unwrap().clone();
    let route: Vec<(&str, &str)> = heard
        .iter()
        .map(|n| (n.from.as_str(), n.to.as_str()))
        .collect();
    assert_eq!(route, [(FAST, PRIMARY), (PRIMARY, "offline")]);
    assert!(
        heard.iter().all(|n| n.reason.contains("HTTP 500")),
        "{heard:?}"
    );
    assert_eq!(*per_call.lock().unwrap(), heard);
}

#[tokio::test]
async fn without_llm_settings_the_chain_is_the_offline_model() {
    let chain = FallbackModel::from_settings(None, Options::default()).unwrap();
    assert_eq!(chain.model_name(Tier::Primary), "offline");
}

#[tokio::test]
async fn a_stream_slower_than_the_read_timeout_fails_without_repeating_tokens() {
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        content("partial"),
        Piece::Pause(Duration::from_secs(3)),
        content(" late"),
        finish("stop"),
        Piece::Done,
    ])])
    .await;
    let model = OpenAiModel::new(
        &llm(&fake.base_url),
        Options {
            read_timeout: Duration::from_millis(300),
            ..opts()
        },
    )
    .unwrap();
    let t0 = Instant::now();
    let (turn, tokens) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(err.retryable);
    assert!(
        err.message
            .ends_with("stream stalled: no data for 0.3s after 1 chunks"),
        "{}",
        err.message
    );
    // Tokens already reached the client, so no retry repeats them.
    assert_eq!(tokens, ["partial"]);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_malformed_chunk_is_a_fatal_error() {
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        Piece::Raw("data: {\"choices\": [{\"delta\": oops\n\n".into()),
        Piece::Done,
    ])])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, _) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message
            .contains("malformed stream chunk: expected value"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("{\"choices\": [{\"delta\": oops"),
        "{}",
        err.message
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_connection_cut_mid_stream_is_a_retryable_error() {
    let fake = FakeOpenAi::start(vec![Script::Stream(vec![
        content("half"),
        Piece::Pause(Duration::from_millis(50)), // let the server flush it first
        Piece::Abort,
    ])])
    .await;
    let model = OpenAiModel::new(
        &llm(&fake.base_url),
        Options {
            max_retries: 0,
            ..opts()
        },
    )
    .unwrap();
    let (turn, tokens) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(err.retryable);
    assert!(
        err.message.contains("stream broken after 1 chunks"),
        "{}",
        err.message
    );
    assert_eq!(tokens, ["half"]);
}

#[tokio::test]
async fn a_stream_ending_before_done_is_retried_when_nothing_was_shown() {
    // A route reply is not streamed to the client, so the cut reply can be asked again.
    let fake = FakeOpenAi::start(vec![
        Script::Stream(vec![content("Insights_")]),
        text(&["Insights_Specialist"], 30, 4),
    ])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let routes = [];
    let (turn, tokens) = ask(
        &model,
        Tier::Fast,
        &conversation("hi"),
        &[],
        Purpose::Route { routes: &routes },
    )
    .await;
    let turn = turn.unwrap();
    assert_eq!(turn.reply, Reply::Text("Insights_Specialist".into()));
    assert!(tokens.is_empty());
    assert_eq!(fake.models(), [FAST, FAST]);

    let fake = FakeOpenAi::start(vec![Script::Stream(vec![content("Insights_")])]).await;
    let model = OpenAiModel::new(
        &llm(&fake.base_url),
        Options {
            max_retries: 0,
            ..opts()
        },
    )
    .unwrap();
    let (turn, _) = ask(
        &model,
        Tier::Fast,
        &conversation("hi"),
        &[],
        Purpose::Route { routes: &routes },
    )
    .await;
    let err = turn.unwrap_err();
    assert!(
        err.retryable
            && err
                .message
                .ends_with("stream ended before [DONE] after 1 chunks"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn invalid_tool_json_gets_one_repair_turn() {
    // The first reply's arguments are cut JSON; the second is right.
    let fake = FakeOpenAi::start(vec![
        Script::Stream(vec![
            tool(0, Some("call_1"), Some("workload"), "{\"team\": "),
            finish("length"),
            usage(10, 5),
            Piece::Done,
        ]),
        call("call_2", "workload", json!({"team": "Core"}), 30, 6),
    ])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let (turn, _) = agent_turn(&model, &tools()).await;
    let turn = turn.unwrap();
    assert_eq!(
        turn.usage,
        Usage {
            prompt_tokens: 40,
            completion_tokens: 11
        }
    );
    assert_eq!(
        turn.reply,
        Reply::ToolCalls(vec![ToolCall {
            id: "call_2".into(),
            name: "workload".into(),
            args: json!({"team": "Core"})
        }])
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    let first = reqs[0].body["messages"].as_array().unwrap().clone();
    let second = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(second.len(), first.len() + 1);
    let repair = second.last().unwrap();
    assert_eq!(repair["role"], "user");
    let text = repair["content"].as_str().unwrap();
    assert!(
        text.contains("the arguments of workload are not a JSON object"),
        "{text}"
    );
    assert!(text.contains("{\"team\": "), "{text}");
}

#[tokio::test]
async fn arguments_breaking_the_schema_twice_are_a_clear_error() {
    let fake = FakeOpenAi::start(vec![
        call(
            "c1",
            "find_developer_by_skills",
            json!({"skill": "Go"}),
            5,
            5,
        ),
        call(
            "c2",
            "find_developer_by_skills",
            json!({"skill": "Go"}),
            5,
            5,
        ),
    ])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let tools = tools();
    let (turn, _) = agent_turn(&model, &tools).await;
    let err = turn.unwrap_err();
    assert!(!err.retryable);
    let schema_error = tools[1].check_args(&json!({"skill": "Go"})).unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "model \"{PRIMARY}\" made an invalid tool call again after a repair turn: {schema_error}"
        )
    );
    assert_eq!(fake.requests().len(), 2);
    let repair = &fake.requests()[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(repair["content"].as_str().unwrap().contains(&schema_error));
}

#[tokio::test]
async fn the_circuit_breaker_opens_then_lets_a_request_through_after_the_cool_down() {
    let fake = FakeOpenAi::start(vec![error(503, vec![]), error(502, vec![])]).await;
    let cooldown = Duration::from_millis(400);
    let model = OpenAiModel::new(
        &llm(&fake.base_url),
        Options {
            max_retries: 0,
            breaker_threshold: 2,
            breaker_cooldown: cooldown,
            ..opts()
        },
    )
    .unwrap();
    // No earlier than the circuit opens (on the second failure).
    let opened = Instant::now();
    for _ in 0..2 {
        let (turn, _) = complete(&model, "hi").await;
        assert!(turn.unwrap_err().message.contains("HTTP 50"));
    }
    let (turn, _) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message
            .contains("circuit open after 2 consecutive failures"),
        "{}",
        err.message
    );
    assert_eq!(fake.requests().len(), 2, "an open circuit sends nothing");

    // Asked again and again, the circuit lets a request through once the cool-down is over,
    // not before.
    fake.push(text(&["back"], 1, 1));
    let deadline = opened + cooldown + Duration::from_secs(10);
    let turn = loop {
        let (turn, _) = complete(&model, "hi").await;
        match turn {
            Err(e) if e.message.contains("circuit open") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            turn => break turn,
        }
    };
    assert!(
        opened.elapsed() >= cooldown,
        "through after {:?}",
        opened.elapsed()
    );
    assert_eq!(turn.unwrap().reply, Reply::Text("back".into()));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_forced_tool_choice_applies_until_the_tool_has_answered() {
    let fake = FakeOpenAi::start(vec![
        call("c1", "headcount", json!({}), 1, 1),
        text(&["42 people"], 1, 1),
    ])
    .await;
    let model = OpenAiModel::new(
        &llm(&fake.base_url),
        Options {
            tool_choice: ToolChoice::Function("headcount".into()),
            ..opts()
        },
    )
    .unwrap();
    let tools = tools();
    let answer = no_answer;
    let mut messages = conversation("How many people?");
    let (turn, _) = ask(
        &model,
        Tier::Primary,
        &messages,
        &tools,
        Purpose::Agent { answer: &answer },
    )
    .await;
    let first = calls(turn);
    messages.push(Message {
        role: Role::Assistant,
        content: String::new(),
        tool_calls: first.clone(),
        tool_call_id: None,
    });
    messages.push(Message {
        role: Role::Tool,
        content: "{\"total\":42}".into(),
        tool_calls: vec![],
        tool_call_id: Some("c1".into()),
    });
    let (turn, tokens) = ask(
        &model,
        Tier::Primary,
        &messages,
        &tools,
        Purpose::Agent { answer: &answer },
    )
    .await;
    assert_eq!(turn.unwrap().reply, Reply::Text("42 people".into()));
    assert_eq!(tokens, ["42 people"]);

    let reqs = fake.requests();
    assert_eq!(
        reqs[0].body["tool_choice"],
        json!({"type": "function", "function": {"name": "headcount"}})
    );
    assert!(reqs[1].body.get("tool_choice").is_none());
    let sent = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(
        sent[2],
        json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "headcount", "arguments": "{}"}}
        ]})
    );
    assert_eq!(
        sent[3],
        json!({"role": "tool", "tool_call_id": "c1", "content": "{\"total\":42}"})
    );
}

#[tokio::test]
async fn json_mode_and_a_server_that_ignores_stream() {
    let fake = FakeOpenAi::start(vec![Script::Json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"ok\":true}"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }))])
    .await;
    let model = OpenAiModel::new(&llm(&fake.base_url), opts()).unwrap();
    let tokens = Mutex::new(Vec::<String>::new());
    let req = ChatRequest {
        tier: Tier::Primary,
        question: "q",
        messages: &conversation("status as json"),
        tools: &[],
        json: true,
        purpose: Purpose::Complete,
        understanding: None,
    };
    let turn = model
        .chat(req, &|t| tokens.lock().unwrap().push(t.into()))
        .await
        .unwrap();
    assert_eq!(turn.reply, Reply::Text("{\"ok\":true}".into()));
    assert_eq!(
        turn.usage,
        Usage {
            prompt_tokens: 3,
            completion_tokens: 4
        }
    );
    assert!(
        tokens.lock().unwrap().is_empty(),
        "JSON for the engine is not streamed to the reader"
    );
    assert_eq!(
        fake.requests()[0].body["response_format"],
        json!({"type": "json_object"})
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let model = OpenAiModel::new(
        &llm(&base),
        Options {
            max_retries: 1,
            ..opts()
        },
    )
    .unwrap();
    let (turn, _) = complete(&model, "hi").await;
    let err = turn.unwrap_err();
    assert!(err.retryable);
    assert!(
        err.message.contains("cannot connect") && err.message.ends_with("(after 2 attempts)"),
        "{}",
        err.message
    );
}
