//! 1,000 concurrent SSE chats against the real server on loopback, with the offline
//! model and in-memory tools: time to first event and to the end of the stream (p50,
//! p99), errors, and the server's RSS and CPU. Run: `cargo bench --bench sse` (see
//! bench/README.md, section "SSE").
//!
//! Two shapes of "1,000 concurrent":
//! - burst: 1,000 chats sent at the same instant, each on a new connection;
//! - open streams: tools answer after 1 s and chats arrive one per millisecond, so all
//!   1,000 streams are open at once while new ones keep arriving.
//!
//! And the write path: 3,000 `/api/chat/sync` chats from 16 clients at once, each chat a
//! new thread stored in SQLite, for the p50 and p99 of a chat when chats wait on each
//! other's writes. `SSE_BENCH_SHAPES=burst,open,sync` picks shapes (all by default).
//!
//! The server runs in this process; the clients run in a child process (this same
//! binary, told so by `SSE_BENCH_CLIENT`), so this process's RSS and CPU are the
//! server's alone.

mod procfs;

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
const SYNC_CHATS: usize = 3_000;
const SYNC_CONCURRENCY: usize = 16;
const QUESTIONS: [&str; 3] = [
    "Find developers with Python expertise",
    "What are our DORA metrics?",
    "Who is overloaded? Show the workload",
];

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var("SSE_BENCH_CLIENT") {
        Ok(url) if url.ends_with("/sync") => rt.block_on(sync_client(url)),
        Ok(url) => rt.block_on(client(url)),
        Err(_) => rt.block_on(server()),
    }
}

async fn server() {
    println!(
        "SSE benchmark: {CHATS} concurrent chats, offline model, loopback, {} CPU(s)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let shapes = std::env::var("SSE_BENCH_SHAPES").unwrap_or("burst,open,sync".into());
    for (shape, name, tool_delay, spacing_ms, path, chats) in [
        (
            "burst",
            "burst (all at once, new connections)",
            Duration::ZERO,
            0,
            "/api/chat",
            CHATS,
        ),
        (
            "open",
            "open streams (1 s tool latency, one arrival per ms)",
            Duration::from_secs(1),
            1,
            "/api/chat",
            CHATS,
        ),
        (
            "sync",
            "sync (16 clients at once, keep-alive, every chat a new stored thread)",
            Duration::ZERO,
            0,
            "/api/chat/sync",
            SYNC_CHATS,
        ),
    ] {
        if !shapes.split(',').any(|s| s.trim() == shape) {
            continue;
        }
        let (base, dir) = start(tool_delay).await;
        let idle_mb = procfs::status_kb("self", "VmRSS") / 1024.0;
        let done = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let done = done.clone();
            async move {
                let mut peak: f64 = 0.0;
                while !done.load(Ordering::Relaxed) {
                    peak = peak.max(procfs::status_kb("self", "VmRSS"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                peak / 1024.0
            }
        });
        let cpu0 = procfs::cpu_s();
        let out = tokio::process::Command::new(std::env::current_exe().expect("own path"))
            .env("SSE_BENCH_CLIENT", format!("{base}{path}"))
            .env("SSE_BENCH_SPACING_MS", spacing_ms.to_string())
            .output()
            .await
            .expect("client process runs");
        let cpu = procfs::cpu_s() - cpu0;
        done.store(true, Ordering::Relaxed);
        let peak_mb = sampler.await.expect("sampler");
        assert!(
            out.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!("\n{name}");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        println!(
            "  server RSS: {idle_mb:.1} MB idle, {peak_mb:.1} MB peak (VmHWM since the process began: {:.1} MB)",
            procfs::status_kb("self", "VmHWM") / 1024.0
        );
        println!(
            "  server CPU: {cpu:.2} s ({:.0} µs per chat)",
            cpu / chats as f64 * 1e6
        );
        drop(dir);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average at the end: {}", load.trim());
}

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

/// A server on 127.0.0.1:0 over a fresh data directory; returns its base URL.
async fn start(tool_delay: Duration) -> (String, tempfile::TempDir) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (project, report) = eng_intel::validate::validate_dir(root).expect("project loads");
    assert!(!report.has_errors(), "{report}");
    let config = eng_intel::compile::compile(project).expect("project compiles");
    let row = json!({"name": "Alex Kumar", "title": "Engineer", "team": "Platform", "skill": "Python", "proficiency": 4});
    let canned: HashMap<String, Value> = config
        .tools()
        .map(|t| (t.name.clone(), json!([row])))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let threads = SqliteThreads::open(&dir.path().join("threads.db"))
        .await
        .expect("sqlite");
    let state = AppState::new(AppParts {
        // Every client is on 127.0.0.1: no per-address cap.
        settings: Settings::from_lookup(|k| (k == "MAX_CHATS_PER_IP").then(|| "0".into())),
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

struct Outcome {
    first_event: Duration,
    whole: Duration,
}

/// The client process: CHATS chats, the i-th sent at i × SSE_BENCH_SPACING_MS; prints
/// the figures.
async fn client(url: String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let spacing = Duration::from_millis(
        std::env::var("SSE_BENCH_SPACING_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    // One connection per chat, as 1,000 separate users would have.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let t0 = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..CHATS)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                tokio::time::sleep_until(t0 + spacing * i as u32).await;
                let chat = one_chat(&http, &url, QUESTIONS[i % QUESTIONS.len()]);
                match tokio::time::timeout(Duration::from_secs(60), chat).await {
                    Ok(r) => r,
                    Err(_) => Err("no stream_end within 60 s".to_string()),
                }
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(CHATS);
    let mut errors: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        match t.await.expect("chat task") {
            Ok(o) => outcomes.push(o),
            Err(e) => *errors.entry(e).or_default() += 1,
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let first: Vec<Duration> = outcomes.iter().map(|o| o.first_event).collect();
    let whole: Vec<Duration> = outcomes.iter().map(|o| o.whole).collect();
    println!(
        "  first event  p50 {:8.2} ms   p99 {:8.2} ms",
        ms_at(&first, 50),
        ms_at(&first, 99)
    );
    println!(
        "  whole run    p50 {:8.2} ms   p99 {:8.2} ms",
        ms_at(&whole, 50),
        ms_at(&whole, 99)
    );
    println!(
        "  completed {} / {CHATS}, errors {}, wall {wall:.2} s",
        outcomes.len(),
        errors.values().sum::<usize>()
    );
    for (e, n) in errors {
        println!("    {n} × {e}");
    }
}

/// The sync client process: SYNC_CHATS chats from SYNC_CONCURRENCY clients, each sending
/// its next chat when the last is answered, on its own keep-alive connection.
async fn sync_client(url: String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t0 = Instant::now();
    let clients: Vec<_> = (0..SYNC_CONCURRENCY)
        .map(|c| {
            let url = url.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut out = Vec::new();
                for i in (c..SYNC_CHATS).step_by(SYNC_CONCURRENCY) {
                    let t = Instant::now();
                    let res = http
                        .post(&url)
                        .json(&json!({"message": QUESTIONS[i % QUESTIONS.len()]}))
                        .send()
                        .await;
                    out.push(match res {
                        Ok(r) if r.status() == 200 => r
                            .bytes()
                            .await
                            .map(|_| t.elapsed())
                            .map_err(|e| format!("body: {e}")),
                        Ok(r) => Err(format!("status {}", r.status())),
                        Err(e) => Err(format!("request: {e}")),
                    });
                }
                out
            })
        })
        .collect();
    let mut times = Vec::with_capacity(SYNC_CHATS);
    let mut errors: HashMap<String, usize> = HashMap::new();
    for c in clients {
        for r in c.await.expect("client task") {
            match r {
                Ok(t) => times.push(t),
                Err(e) => *errors.entry(e).or_default() += 1,
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let (p50, p99) = (ms_at(&times, 50), ms_at(&times, 99));
    println!(
        "  chat         p50 {p50:8.2} ms   p99 {p99:8.2} ms   p99/p50 {:.1}",
        p99 / p50
    );
    println!(
        "  completed {} / {SYNC_CHATS}, errors {}, wall {wall:.2} s, {:.0} chats/s",
        times.len(),
        errors.values().sum::<usize>(),
        times.len() as f64 / wall
    );
    for (e, n) in errors {
        println!("    {n} × {e}");
    }
}

async fn one_chat(http: &reqwest::Client, url: &str, q: &str) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let res = http
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
        return Err(format!("ended with {}", last.event));
    }
    Ok(Outcome { first_event, whole })
}

/// The p-th percentile in milliseconds.
fn ms_at(v: &[Duration], p: usize) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)].as_secs_f64() * 1000.0
}
