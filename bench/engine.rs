//! Engine overhead on the seed's shape: the supervisor classifies and routes to one of
//! three specialists, the specialist calls one in-memory tool and answers, with the
//! offline model. Prints p50/p99 latency, CPU per query, queries/s at 1,000 concurrent
//! runs and RSS. Run: `cargo bench --bench engine` (see bench/README.md).

mod procfs;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Event, RunRequest};
use eng_intel::tools::MockTools;
use serde_json::json;

const QUESTIONS: [&str; 3] = [
    "Find developers with Python expertise",
    "What are our DORA metrics?",
    "Who is overloaded? Show the workload",
];

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

async fn bench() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (project, report) = eng_intel::validate::validate_dir(root).expect("project loads");
    assert!(!report.has_errors(), "{report}");
    let set = eng_intel::compile::compile(project).expect("project compiles");
    // Every tool answers at once from memory with a small canned result.
    let canned: HashMap<String, serde_json::Value> = set
        .tools()
        .map(|t| {
            (
                t.name.clone(),
                json!([{"name": "Alex Kumar", "team": "Platform", "value": 1}]),
            )
        })
        .collect();
    let engine = Arc::new(Engine::new(
        set,
        Arc::new(OfflineModel),
        Arc::new(MockTools::new(canned)),
    ));

    // Sanity: each question reaches a specialist and a tool.
    for q in QUESTIONS {
        let events = engine.run_collect(req(q)).await;
        let routed = events
            .iter()
            .any(|e| matches!(e.event, Event::Routing { .. }));
        let tooled = events
            .iter()
            .any(|e| matches!(e.event, Event::ToolEnd { ok: true, .. }));
        assert!(
            routed && tooled,
            "question {q:?} must route and call a tool"
        );
    }

    let rss_idle = rss_kb();
    // Warm up.
    for i in 0..2_000 {
        engine.run_collect(req(QUESTIONS[i % 3])).await;
    }

    // Sequential latency: one run at a time, start → stream_end received.
    let n = 20_000;
    let mut lat = Vec::with_capacity(n);
    let cpu0 = procfs::cpu_s();
    let t0 = Instant::now();
    for i in 0..n {
        let s = Instant::now();
        let events = engine.run_collect(req(QUESTIONS[i % 3])).await;
        lat.push(s.elapsed());
        debug_assert!(events.last().is_some_and(|e| e.name() == "stream_end"));
    }
    let wall = t0.elapsed();
    let cpu = procfs::cpu_s() - cpu0;
    lat.sort();
    println!("sequential: {n} queries in {:.2} s", wall.as_secs_f64());
    println!(
        "  latency p50 {:.1} µs  p99 {:.1} µs",
        us(lat[n / 2]),
        us(lat[n * 99 / 100])
    );
    println!("  CPU per query {:.1} µs", cpu / n as f64 * 1e6);

    // Throughput: 1,000 runs in flight at once, repeated.
    let rounds = 20;
    let concurrent = 1_000;
    let t0 = Instant::now();
    let mut clat = Vec::with_capacity(rounds * concurrent);
    for _ in 0..rounds {
        let mut handles = Vec::with_capacity(concurrent);
        for i in 0..concurrent {
            let engine = engine.clone();
            handles.push(tokio::spawn(async move {
                let s = Instant::now();
                let events = engine.run_collect(req(QUESTIONS[i % 3])).await;
                assert!(matches!(
                    events.last().map(|e| &e.event),
                    Some(Event::StreamEnd { ok: true, .. })
                ));
                s.elapsed()
            }));
        }
        for h in handles {
            clat.push(h.await.unwrap());
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    clat.sort();
    let total = rounds * concurrent;
    println!(
        "concurrent: {concurrent} in flight, {total} queries in {wall:.2} s → {:.0} queries/s",
        total as f64 / wall
    );
    println!(
        "  latency under load p50 {:.2} ms  p99 {:.2} ms",
        ms(clat[total / 2]),
        ms(clat[total * 99 / 100])
    );
    println!(
        "RSS: idle {} MB, after {} runs {} MB (peak {} MB)",
        rss_idle / 1024,
        n + total + 2_000,
        rss_kb() / 1024,
        peak_kb() / 1024
    );
}

fn req(q: &str) -> RunRequest {
    RunRequest {
        graph: "supervisor".into(),
        question: q.into(),
        ..Default::default()
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rss_kb() -> u64 {
    procfs::status_kb("self", "VmRSS") as u64
}
fn peak_kb() -> u64 {
    procfs::status_kb("self", "VmHWM") as u64
}
