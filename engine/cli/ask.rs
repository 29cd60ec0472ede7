//! `eng-intel ask`: one question through a graph (the supervisor, a specialist or a
//! pipeline) with the configured model chain and stores. The answer goes to stdout;
//! progress (routing, tool calls, model fallbacks) to stderr, or every event as NDJSON
//! with `--json`.

use std::io::Write;
use std::path::Path;

use crate::run::{Engine, Event, RunRequest};
use crate::settings::Settings;

pub async fn run(dir: &Path, question: &str, graph: &str, json: bool) -> u8 {
    let set = match super::load_compiled(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if set.graph(graph).is_none() {
        let names: Vec<&str> = set.graphs().map(|g| g.name.as_str()).collect();
        eprintln!(
            "error: no graph named \"{graph}\"{}; graphs: {}",
            crate::validate::diagnostic::did_you_mean(graph, names.iter().copied()),
            names.join(", ")
        );
        return 2;
    }
    let settings = Settings::from_env();
    let toolbox = match crate::toolbox::Toolbox::open(&settings, &|msg| eprintln!("{msg}")).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open the stores: {e:#}");
            return 2;
        }
    };
    let model = match super::serve::model(&settings) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot set up the model: {e}");
            return 2;
        }
    };
    let engine = Engine::new(set, model, toolbox.tools());
    let mut run = engine.start(RunRequest {
        graph: graph.into(),
        question: question.into(),
        ..Default::default()
    });
    let mut ok = false;
    let mut stdout = std::io::stdout().lock();
    while let Some(ev) = run.events.recv().await {
        let line = if json {
            Some(ev.to_json())
        } else {
            match &ev.event {
                Event::Response { content } => Some(content.clone()),
                Event::Routing { .. }
                | Event::ToolStart { .. }
                | Event::ToolEnd { .. }
                | Event::ModelFallback { .. }
                | Event::Error { .. } => {
                    let line = super::dry_run::human(&ev.event, ev.seq);
                    let cut = line.floor_char_boundary(200);
                    eprintln!(
                        "{}{}",
                        &line[..cut],
                        if cut < line.len() { "…" } else { "" }
                    );
                    None
                }
                _ => None,
            }
        };
        if let Event::StreamEnd { ok: o, .. } = &ev.event {
            ok = *o;
        }
        // A closed pipe ends quietly; dropping the receiver cancels the run.
        if let Some(line) = line
            && writeln!(stdout, "{line}").is_err()
        {
            break;
        }
    }
    u8::from(!ok)
}
