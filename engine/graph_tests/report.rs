//! Reporting results: text like `cargo test`, or JUnit XML for CI systems.

use std::fmt::Write;
use std::time::Duration;

use super::runner::CaseResult;

/// `test <id> ... ok|FAILED`, with a note when there is one.
pub fn line(r: &CaseResult) -> String {
    let status = if r.passed() { "ok" } else { "FAILED" };
    match &r.note {
        Some(n) => format!("test {} ... {status} ({n})", r.id),
        None => format!("test {} ... {status}", r.id),
    }
}

/// Each failed case with what it expected and what happened, then the summary lines.
pub fn summary(results: &[CaseResult]) -> String {
    let failed: Vec<&CaseResult> = results.iter().filter(|r| !r.passed()).collect();
    let passed = results.len() - failed.len();
    let mut s = String::new();
    if !failed.is_empty() {
        s.push_str("\nfailures:\n");
        for r in &failed {
            let _ = writeln!(s, "\n---- {} ({}:{}) ----", r.id, r.file, r.line);
            for f in &r.failures {
                let _ = writeln!(s, "{f}");
            }
        }
        s.push_str("\nfailures:\n");
        for r in &failed {
            let _ = writeln!(s, "    {}", r.id);
        }
    }
    let _ = writeln!(s, "\n{passed} passed, {} failed", failed.len());
    let _ = writeln!(
        s,
        "test result: {}. {passed} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    s
}

/// JUnit XML: one `<testsuite>` per file, one `<testcase>` per case.
pub fn junit(results: &[CaseResult], elapsed: Duration) -> String {
    let failures = results.iter().filter(|r| !r.passed()).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"eng-intel\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
        results.len(),
        elapsed.as_secs_f64()
    );
    let mut files: Vec<&str> = results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    for file in files {
        let cases: Vec<&CaseResult> = results.iter().filter(|r| r.file == file).collect();
        let time: f64 = cases.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{time:.3}\">",
            xml(file),
            cases.len(),
            cases.iter().filter(|r| !r.passed()).count()
        );
        for r in cases {
            let (class, name) = r.id.rsplit_once("::").unwrap_or(("", &r.id));
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                xml(name),
                xml(class),
                xml(&r.file),
                r.line,
                r.elapsed.as_secs_f64()
            );
            if r.passed() {
                let _ = writeln!(s, "{open}/>");
                continue;
            }
            let _ = writeln!(s, "{open}>");
            for f in &r.failures {
                let _ = writeln!(
                    s,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    xml(&f.expectation),
                    xml(&format!("{}: expected {}", f.expectation, f.expected)),
                    xml(&f.to_string())
                );
            }
            let _ = writeln!(s, "    </testcase>");
        }
        let _ = writeln!(s, "  </testsuite>");
    }
    s.push_str("</testsuites>\n");
    s
}

/// Escapes text for XML content and attributes; drops characters XML 1.0 forbids.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph_tests::expect::Failure;

    fn result(id: &str, failures: Vec<Failure>) -> CaseResult {
        CaseResult {
            id: id.into(),
            file: "graphs/supervisor.yaml".into(),
            line: 7,
            elapsed: Duration::from_millis(2),
            failures,
            note: None,
        }
    }

    #[test]
    fn text_summary_counts_and_lists_failures() {
        let bad = Failure {
            expectation: "route".into(),
            expected: "DORA_Pro".into(),
            actual: "Insights_Specialist (by rules, in supervisor)".into(),
        };
        let results = vec![
            result("supervisor::a", vec![]),
            result("supervisor::b", vec![bad]),
        ];
        assert_eq!(line(&results[0]), "test supervisor::a ... ok");
        assert_eq!(line(&results[1]), "test supervisor::b ... FAILED");
        assert_eq!(
            summary(&results),
            "\nfailures:\n\n---- supervisor::b (graphs/supervisor.yaml:7) ----\nroute\n  expected: DORA_Pro\n  actual:   Insights_Specialist (by rules, in supervisor)\n\nfailures:\n    supervisor::b\n\n1 passed, 1 failed\ntest result: FAILED. 1 passed; 1 failed\n"
        );
    }

    #[test]
    fn junit_escapes_and_counts() {
        let bad = Failure {
            expectation: "answer_contains".into(),
            expected: "the answer to contain \"<b>\"".into(),
            actual: "answer \"a & b\"".into(),
        };
        let xml = junit(
            &[
                result("supervisor::a", vec![]),
                result("supervisor::b", vec![bad]),
            ],
            Duration::from_millis(5),
        );
        assert!(xml.contains(
            "<testsuites name=\"eng-intel\" tests=\"2\" failures=\"1\" errors=\"0\" time=\"0.005\">"
        ));
        assert!(xml.contains("<testcase name=\"a\" classname=\"supervisor\" file=\"graphs/supervisor.yaml\" line=\"7\" time=\"0.002\"/>"));
        assert!(xml.contains(
            "message=\"answer_contains: expected the answer to contain &quot;&lt;b&gt;&quot;\""
        ));
        assert!(xml.contains("actual:   answer &quot;a &amp; b&quot;</failure>"));
        assert_eq!(xml.matches("<testsuite ").count(), 1);
    }
}
