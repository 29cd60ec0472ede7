//! What /proc says of a process, for the benchmarks that report memory and CPU (0 where
//! there is no /proc).

/// A field of /proc/`pid`/status in kB ("VmRSS", "VmHWM", "RssAnon"); `pid` "self" for
/// this process.
pub fn status_kb(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) this process has used.
#[allow(dead_code)] // not every benchmark reads it
pub fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the parenthesised command name, utime and stime are fields 12 and 13.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}
