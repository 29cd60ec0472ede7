//! An idle server is idle: `eng-intel serve` (the built binary, embedded stores), left
//! alone for 30 s once healthy, uses under 1 % of a core (its user + system time from
//! /proc), and SIGTERM ends it within the grace docs/DEPLOY.md gives (30 s). Both failed
//! with sqlx 0.9.0's SQLite pool reaping idle connections (sqlx issue 3645).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::support::server::client;
use crate::support::{BIN, repo};

/// The process's CPU time so far (user + system), from /proc/<pid>/stat.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    let hz: u64 = String::from_utf8_lossy(&hz.stdout).trim().parse().unwrap();
    Duration::from_millis(ticks * 1000 / hz)
}

/// Ends the child if the test fails before it does.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn an_idle_server_stays_idle_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("serve.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut server = Server(
        Command::new(BIN)
            .arg("--config")
            .arg(repo())
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env_clear()
            .env("DATA_DIR", dir.path())
            .env("LOG_LEVEL", "warn")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    let health = format!("http://127.0.0.1:{port}/api/health");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok = client().get(&health).send().await;
        if ok.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not healthy within 90 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Idleness is measured over time: here the waiting is the test.
    let (before, started) = (cpu_time(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (used, over) = (cpu_time(pid) - before, started.elapsed());
    assert!(
        used.as_secs_f64() < 0.01 * over.as_secs_f64(),
        "the idle server used {used:?} of CPU in {over:?}"
    );

    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "serve ended with {status} on SIGTERM");
    eprintln!(
        "idle: {used:?} CPU in {over:?}; stopped {:?} after SIGTERM",
        sent.elapsed()
    );
}
