//! `eng-intel validate`: every finding, as text or JSON; exit 0 clean, 1 errors, 2 could not run.

use std::path::Path;

use super::Format;
use crate::validate::validate_dir;

pub fn run(dir: &Path, format: Format, deny_warnings: bool) -> u8 {
    let (project, report) = match validate_dir(dir) {
        Ok(x) => x,
        Err(e) => {
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({"ok": false, "error": e.to_string(), "diagnostics": []})
                ),
                Format::Text => eprintln!("error: {e}"),
            }
            return 2;
        }
    };
    let failed = report.has_errors() || (deny_warnings && report.warnings() > 0);
    match format {
        Format::Json => {
            let out = serde_json::json!({
                "ok": !failed,
                "errors": report.errors(),
                "warnings": report.warnings(),
                "diagnostics": report.diagnostics,
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        Format::Text => {
            print!("{report}");
            let files = project.graphs.len() + project.prompts.len() + project.tool_files.len();
            println!(
                "{}: {} file(s) checked, {} error(s), {} warning(s)",
                if failed { "FAILED" } else { "ok" },
                files,
                report.errors(),
                report.warnings()
            );
        }
    }
    u8::from(failed)
}
