//! Cold start of `eng-intel serve` on the repository's configuration: from exec to the
//! first 200 on `/api/health`, median of 10 starts, and the server's resident memory
//! once it is up and idle, with its anonymous and file-backed parts (the latter is the
//! executable's pages, shared with the page cache). Run: `cargo bench --bench start`
//! (see bench/README.md, section "Start").
//!
//! The data directory (`BENCH_DATA_DIR`, or a temporary one) gets the demo organisation
//! on an untimed first start; the timed starts find it there, as a restarted server does.
//! Only the embedded stores are used: every server variable is removed.
//! `ENG_INTEL_BIN` times another build of the binary (an earlier commit's, to compare).

mod procfs;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STARTS: usize = 10;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().expect("temp dir");
    let data = std::env::var("BENCH_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| temp.path().join("data"));
    println!("eng-intel serve: exec → first 200 on /api/health, {STARTS} starts");
    let (first, mut child) = start(repo, &data);
    println!("  untimed first start (the demo organisation, if missing): {first:.0} ms");
    stop(&mut child);

    let mut times = Vec::new();
    let (mut idle, mut anon, mut file) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let (ms, mut child) = start(repo, &data);
        times.push(ms);
        // Idle: up, and a second later nothing more is going on.
        std::thread::sleep(Duration::from_secs(1));
        idle.push(procfs::status_kb(&child.id().to_string(), "VmRSS") / 1024.0);
        anon.push(procfs::status_kb(&child.id().to_string(), "RssAnon") / 1024.0);
        file.push(procfs::status_kb(&child.id().to_string(), "RssFile") / 1024.0);
        stop(&mut child);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lo, hi) = (
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "  start: median {:.1} ms (min {lo:.1}, max {hi:.1})",
        median(&mut times)
    );
    println!(
        "  idle RSS 1 s after start: median {:.1} MB (anonymous {:.1} MB, file-backed {:.1} MB)",
        median(&mut idle),
        median(&mut anon),
        median(&mut file)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
}

/// Starts the server on a free port; returns the milliseconds from exec to the first 200.
fn start(repo: &Path, data: &Path) -> (f64, Child) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let bin = std::env::var("ENG_INTEL_BIN").unwrap_or(env!("CARGO_BIN_EXE_eng-intel").into());
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--port", &port.to_string()])
        .current_dir(repo)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", data)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("eng-intel starts");
    while !health_ok(port) {
        if t0.elapsed() > Duration::from_secs(120) {
            stop(&mut child);
            panic!("no 200 on /api/health within 120 s");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    (t0.elapsed().as_secs_f64() * 1e3, child)
}

/// One `GET /api/health`: true on status 200.
fn health_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let req =
        format!("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut head = [0u8; 12];
    s.write_all(req.as_bytes()).is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.1 200")
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
