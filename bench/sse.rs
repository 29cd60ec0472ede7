//! 1,000 concurrent SSE chats against the real server on loopback, with the offline
//! model and in-memory tools: time to first event and to the end of the stream (p50,
//! p99), errors, and the process's RSS. Run: `cargo bench --bench sse` (see
//! bench/README.md, section "SSE").
//!
//! Two shapes of "1,000 concurrent":
//! - burst: 1,000 chats sent at the same instant, each on a new connection;
//! - open streams: tools answer after 1 s, chats arrive one per millisecond, so all
//!   1,000 streams are open at once while new ones keep arriving.
//!
//! Server and clients share this process (one tokio runtime), so the RSS includes the
//! 1,000 clients too: an upper bound on the server's.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eng_intel::api::{self, AppParts, AppState, Tuning};
use eng_intel::compile::ToolDef;
use eng_intel::model::offline::OfflineModel;
use eng_intel::settings::Settings;
use eng_intel::threads::SqliteThreads;
use eng_intel::tools::{MockTools, ToolError, ToolRunner};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};

const CHATS: usize = 1_000;
const QUESTIONS: [&str; 3] = [
    "Find developers with Python expertise",
    "What are our DORA metrics?",
    "Who is overloaded? Show the workload",
];

/// Canned results, after `delay`.
struct SlowTools {
    inner: MockTools,
    delay: Duration,
}

#[async_trait]
impl ToolRunner for SlowTools {
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.call(tool, args).await
    }
}

struct Outcome {
    first_event: Duration,
    whole: Duration,
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        println!("SSE benchmark: {CHATS} concurrent chats, offline model, loopback, {} CPU(s)",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let (burst_base, burst_dir) = start(Duration::ZERO).await;
        report("burst (all at once, new connections)", run(&burst_base, Duration::ZERO).await);
        drop(burst_dir);
        let (open_base, open_dir) = start(Duration::from_secs(1)).await;
        report(
            "open streams (1 s tool latency, one arrival per ms)",
            run(&open_base, Duration::from_millis(1)).await,
        );
        drop(open_dir);
        println!("process RSS: peak {:.1} MB (server and clients)", kb("VmHWM") / 1024.0);
    });
}

/// A server on 127.0.0.1:0 over a fresh data directory; returns its base URL.
async fn start(tool_delay: Duration) -> (String, tempfile::TempDir) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (project, report) = eng_intel::validate::validate_dir(root).expect("project loads");
    assert!(!report.has_errors(), "{report}");
    let config = eng_intel::compile::compile(project).expect("project compiles");
    let canned: HashMap<String, Value> = config
        .tools()
        .map(|t| (t.name.clone(), json!([{"name": "Alex Kumar", "title": "Engineer", "team": "Platform", "skill": "Python", "proficiency": 4}])))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let threads = SqliteThreads::open(&dir.path().join("threads.db"))
        .await
        .expect("sqlite");
    let state = AppState::new(AppParts {
        settings: Settings::from_lookup(|_| None),
        config_dir: root.to_path_buf(),
        config,
        model: Arc::new(OfflineModel),
        tools: Arc::new(SlowTools {
            inner: MockTools::new(canned),
            delay: tool_delay,
        }),
        threads: Arc::new(threads),
        health: api::no_stores(),
        tuning: Tuning::default(),
    });
    let listener = api::bind(([127, 0, 0, 1], 0).into()).expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(api::serve(listener, state, std::future::pending()));
    (base, dir)
}

/// Sends CHATS chats, the i-th at `i * spacing`, and waits for all of them.
async fn run(base: &str, spacing: Duration) -> Phase {
    // One connection per chat, as 1,000 separate users would have.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let url = format!("{base}/api/chat");
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let done = done.clone();
        async move {
            let mut peak: f64 = 0.0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(kb("VmRSS"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        }
    });
    let cpu0 = cpu_s();
    let t0 = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..CHATS)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(t0 + spacing * i as u32).await;
                let chat = one_chat(&client, &url, QUESTIONS[i % QUESTIONS.len()]);
                match tokio::time::timeout(Duration::from_secs(60), chat).await {
                    Ok(r) => r,
                    Err(_) => Err("no stream_end within 60 s".to_string()),
                }
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(CHATS);
    let mut errors = Vec::new();
    for t in tasks {
        match t.await.expect("chat task") {
            Ok(o) => outcomes.push(o),
            Err(e) => errors.push(e),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_s() - cpu0;
    done.store(true, Ordering::Relaxed);
    let peak = sampler.await.expect("sampler").max(kb("VmRSS"));
    Phase {
        outcomes,
        errors,
        rss_mb: peak / 1024.0,
        wall,
        cpu,
    }
}

struct Phase {
    outcomes: Vec<Outcome>,
    errors: Vec<String>,
    rss_mb: f64,
    wall: f64,
    cpu: f64,
}

/// CPU seconds (user + system) this process has used.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

async fn one_chat(client: &reqwest::Client, url: &str, q: &str) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let res = client
        .post(url)
        .json(&json!({"message": q}))
        .send()
        .await
        .map_err(|e| format!("request: {e}"))?;
    if res.status() != 200 {
        return Err(format!("status {}", res.status()));
    }
    let mut events = res.bytes_stream().eventsource();
    let first = events
        .next()
        .await
        .ok_or("empty stream")?
        .map_err(|e| format!("sse: {e}"))?;
    let first_event = t0.elapsed();
    if first.event != "stream_start" {
        return Err(format!("first event {}", first.event));
    }
    let mut last = first;
    while let Some(e) = events.next().await {
        last = e.map_err(|e| format!("sse: {e}"))?;
    }
    let whole = t0.elapsed();
    if last.event != "stream_end" || !last.data.contains("\"ok\":true") {
        return Err(format!("ended with {} {}", last.event, last.data));
    }
    Ok(Outcome { first_event, whole })
}

fn report(name: &str, phase: Phase) {
    let Phase {
        outcomes,
        errors,
        rss_mb,
        wall,
        cpu,
    } = phase;
    let pct = |mut v: Vec<Duration>, p: usize| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort();
        v[(v.len() * p / 100).min(v.len() - 1)].as_secs_f64() * 1000.0
    };
    let first: Vec<Duration> = outcomes.iter().map(|o| o.first_event).collect();
    let whole: Vec<Duration> = outcomes.iter().map(|o| o.whole).collect();
    println!("\n{name}");
    println!(
        "  first event  p50 {:8.2} ms   p99 {:8.2} ms",
        pct(first.clone(), 50),
        pct(first, 99)
    );
    println!(
        "  whole run    p50 {:8.2} ms   p99 {:8.2} ms",
        pct(whole.clone(), 50),
        pct(whole, 99)
    );
    println!("  completed {} / {CHATS}, errors {}", outcomes.len(), errors.len());
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for e in &errors {
        *kinds.entry(e.as_str()).or_default() += 1;
    }
    for (k, n) in kinds {
        println!("    {n} × {k}");
    }
    println!("  process RSS peak {rss_mb:.1} MB");
    println!(
        "  wall {wall:.2} s, process CPU {cpu:.2} s ({:.0} µs per chat, server and client)",
        cpu / CHATS as f64 * 1e6
    );
}

/// A field of /proc/self/status in kB (0 where there is no /proc).
fn kb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0.0)
}
