//! `eng-intel dry-run`: questions through the graphs with the offline model, as one thread.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::model::offline::OfflineModel;
use crate::model::{Message, Role};
use crate::run::{Engine, Event, RunRequest};
use crate::tools::{MockTools, ToolRunner};

pub async fn run(
    dir: &Path,
    questions: &[String],
    graph: &str,
    json: bool,
    mock_tools: Option<&Path>,
) -> u8 {
    let set = match super::load_compiled(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let tools: Arc<dyn ToolRunner> = match mock_tools {
        Some(p) => match MockTools::from_file(p) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        // The configured stores (embedded by default, seeded on first use).
        None => {
            match crate::toolbox::Toolbox::open(&crate::settings::Settings::from_env(), &|msg| {
                eprintln!("{msg}")
            })
            .await
            {
                Ok(toolbox) => toolbox.tools(),
                Err(e) => {
                    eprintln!(
                        "error: cannot open the stores: {e:#}; pass --mock-tools FILE to try the graphs without data"
                    );
                    return 2;
                }
            }
        }
    };
    let engine = Engine::new(set, Arc::new(OfflineModel), tools.clone());
    let mut history: Vec<Message> = Vec::new();
    let mut turns: Vec<crate::understand::Turn> = Vec::new();
    let mut ok = true;
    for question in questions {
        // The reading the router and the offline model work from: names, window, shape
        // and the best tools with their scores (on stderr, so `--json` stays NDJSON).
        let reading = crate::understand::Understanding::read(
            question,
            &turns,
            engine.config().lexicon(),
            &tools.vocabulary(),
        );
        eprintln!("{}", explain(&reading));
        let mut run = engine.start(RunRequest {
            graph: graph.into(),
            question: question.clone(),
            history: history.clone(),
            ..Default::default()
        });
        let mut answer = String::new();
        let mut stdout = std::io::stdout().lock();
        while let Some(ev) = run.events.recv().await {
            match &ev.event {
                Event::StreamEnd { ok: o, .. } => ok &= *o,
                Event::Response { content } => answer.clone_from(content),
                _ => {}
            }
            let line = if json {
                ev.to_json()
            } else {
                human(&ev.event, ev.seq)
            };
            // A closed pipe (`| head`) ends the trace quietly; dropping the receiver cancels the run.
            if writeln!(stdout, "{line}").is_err() {
                return u8::from(!ok);
            }
        }
        history.push(Message::new(Role::User, question.clone()));
        history.push(Message::new(Role::Assistant, answer.clone()));
        turns.push(crate::understand::Turn {
            question: question.clone(),
            answer,
        });
    }
    u8::from(!ok)
}

/// The reading in a few lines: what was linked, the window, and why the winner won.
fn explain(u: &crate::understand::Understanding) -> String {
    let mut s = String::from("understood:");
    for m in &u.mentions {
        let kind = m.kind.map_or("unknown name", |k| k.as_str());
        s.push_str(&format!(" {kind}={:?} ({:?});", m.name, m.how));
    }
    if let Some(w) = &u.window {
        let (a, b) = w.dates();
        s.push_str(&format!(" window={a}..{b} ({});", w.label));
    }
    if let Some(d) = u.age_days {
        s.push_str(&format!(" older than {d} days;"));
    }
    if let Some(d) = &u.sql {
        s.push_str(&format!(" drafted query: {};", d.sql));
    }
    if u.refuse {
        s.push_str(" asks to change data;");
    }
    s.push_str(&format!(
        "\n  words: {}\n  candidates:",
        u.features.join(" | ")
    ));
    for c in u.candidates.iter().take(5) {
        let missing = if c.missing.is_empty() {
            String::new()
        } else {
            format!(" (missing {})", c.missing.join(", "))
        };
        s.push_str(&format!(" {} {:.3}{missing};", c.tool, c.score));
    }
    s.push_str(&format!(" (answers from {:.2})", crate::understand::ACCEPT));
    s
}

/// One readable line per event.
pub(super) fn human(ev: &Event, seq: u64) -> String {
    let body = match ev {
        Event::StreamStart { query, graph, .. } => {
            format!("stream_start    graph={graph} query={query:?}")
        }
        Event::ModelSelection {
            model,
            emoji,
            task_type,
            tier,
        } => format!("model_selection {emoji} {model} task_type={task_type} tier={tier}"),
        Event::Routing {
            agent,
            method,
            graph,
        } => format!("routing         → {agent} ({method:?}, in {graph})"),
        Event::NodeStart { graph, node, kind } => {
            format!("node_start      {graph}/{node} [{kind}]")
        }
        Event::NodeEnd {
            graph,
            node,
            ok,
            elapsed_ms,
        } => format!("node_end        {graph}/{node} ok={ok} {elapsed_ms:.3} ms"),
        Event::ToolStart { tool, args } => format!("tool_start      {tool} {args}"),
        Event::ToolEnd {
            tool,
            ok,
            result_preview,
            ..
        } => format!("tool_end        {tool} ok={ok} {result_preview}"),
        Event::Token { content } => format!("token           {content:?}"),
        Event::ModelFallback { from, to, reason } => {
            format!("model_fallback  {from} → {to}: {reason}")
        }
        Event::Response { content } => format!("response\n{}\n", indent(content)),
        Event::Error { kind, message } => format!("error           [{kind}] {message}"),
        Event::StreamEnd {
            elapsed_s,
            steps,
            total_tokens,
            ok,
            ..
        } => format!(
            "stream_end      ok={ok} steps={steps} tokens={total_tokens} {:.3} ms",
            elapsed_s * 1000.0
        ),
    };
    format!("{seq:>3} {body}")
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
