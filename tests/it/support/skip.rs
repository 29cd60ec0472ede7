//! Tests that need a real server (PostgreSQL, ClickHouse, Bolt: scripts/servers.sh) find it
//! through its variables (`POSTGRES_HOST`, `CLICKHOUSE_HOST`, `NEO4J_URI`). When they are
//! unset the test is skipped *visibly*: a line `SKIP <test>: <reason>` goes to stderr past
//! libtest's output capture (so it shows without `--nocapture`) and into
//! `target/tmp/skipped-tests.txt`, which lists the skips of the last run that had any.
//! Under CI (`ENG_INTEL_CI=1`, exported by .ci/run) a missing server fails the test instead.
//!
//! Server tests share the servers' default databases and some stop a server and start it
//! again, so they run one at a time: the [`ServerTest`] a test gets holds the lock until
//! the test ends. Tests without servers run alongside.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use eng_intel::settings::Settings;

use super::env;

static SERVERS: Mutex<()> = Mutex::new(());

/// Leave to use the servers, for as long as the test holds it.
pub struct ServerTest {
    _alone: MutexGuard<'static, ()>,
}

impl ServerTest {
    /// The servers' settings, from the environment only (a developer's `.env` must not
    /// point a test at a hosted database).
    pub fn settings(&self) -> Settings {
        Settings::from_lookup(env)
    }
}

/// The server named by `var` (`POSTGRES_HOST`, `CLICKHOUSE_HOST`, `NEO4J_URI`): `Some` when
/// it is set; otherwise the test is skipped visibly (`None`: return) or, under CI, fails.
pub fn require_server(var: &str) -> Option<ServerTest> {
    require_servers(&[var])
}

/// Servers of which the test uses those that are set: `Some` when at least one is, saying
/// which part of the test is skipped for the others; `None` (skipped) when none is. Under
/// CI each one must be set.
pub fn require_servers(vars: &[&str]) -> Option<ServerTest> {
    let missing: Vec<&str> = vars.iter().copied().filter(|v| env(v).is_none()).collect();
    if !missing.is_empty() {
        let unset = match missing.as_slice() {
            [one] => format!("{one} is not set"),
            many => format!("{} are not set", many.join(", ")),
        };
        let reason = format!("{unset} (eval \"$(bash scripts/servers.sh env)\" to run it)");
        if ci() {
            panic!(
                "{}: {unset}; with ENG_INTEL_CI set a server test must find its server \
                 (.ci/run starts them with scripts/servers.sh)",
                test_name()
            );
        }
        if missing.len() == vars.len() {
            skip(&reason);
            return None;
        }
        report(&format!("SKIP {} (in part): {reason}", test_name()));
    }
    Some(ServerTest {
        _alone: SERVERS.lock().unwrap_or_else(PoisonError::into_inner),
    })
}

/// Skips the rest of the calling test visibly, for a reason that is no server (a tool or
/// a file that is not on this machine); under CI, where nothing may be skipped, it fails.
pub fn skip(reason: &str) {
    assert!(
        !ci(),
        "{}: {reason} (nothing may be skipped under CI)",
        test_name()
    );
    report(&format!("SKIP {}: {reason}", test_name()));
}

/// Whether the tests run under CI, where nothing may be skipped for want of a server.
fn ci() -> bool {
    env("ENG_INTEL_CI").is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "no"))
}

/// The running test: libtest names each test's thread after it (`stores::backends::…`).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test off its own thread")
        .to_string()
}

/// Writes `line` to stderr as it is (not captured) and to the skip list.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
    static LIST: OnceLock<Mutex<Option<std::fs::File>>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
        Mutex::new(std::fs::File::create(path).ok())
    });
    if let Some(file) = list.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
        let _ = writeln!(file, "{line}");
    }
}
