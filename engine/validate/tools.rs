//! Checks of tools.yaml: argument schemas, intent regexes and their captures, previews.

use regex::Regex;
use serde_json::Value;

use super::diagnostic::{Diagnostic, Report};
use crate::config::Project;

pub fn check_tools(project: &Project, report: &mut Report) {
    let Some(doc) = &project.tools else { return };
    for (name, tool) in &doc.spec.tools {
        let base = format!("/tools/{name}");
        let schema_ok = match jsonschema::meta::validate(&tool.args) {
            Ok(()) => jsonschema::validator_for(&tool.args).is_ok(),
            Err(e) => {
                report.push(Diagnostic::error(
                    "E040",
                    doc.file(),
                    doc.at(&format!("{base}/args{}", e.instance_path().as_str())),
                    format!("args of tool \"{name}\" is not a valid JSON Schema: {e}; fix it so it describes the arguments object"),
                ));
                false
            }
        };
        let props: Vec<String> = tool
            .args
            .get("properties")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if schema_ok && tool.args.get("type").and_then(Value::as_str) != Some("object") {
            report.push(Diagnostic::error(
                "E040",
                doc.file(),
                doc.at(&format!("{base}/args")),
                format!("args of tool \"{name}\" must be a JSON Schema with `type: object`"),
            ));
        }
        for (i, intent) in tool.intents.iter().enumerate() {
            let at = doc.at(&format!("{base}/intents/{i}"));
            match Regex::new(intent) {
                Err(e) => report.push(Diagnostic::error(
                    "E041",
                    doc.file(),
                    at,
                    format!(
                        "intent {i} of tool \"{name}\" is not a valid regex: {}",
                        one_line(&e.to_string())
                    ),
                )),
                Ok(re) => {
                    for cap in re.capture_names().flatten() {
                        if !props.iter().any(|p| p == cap) {
                            let hint = super::diagnostic::did_you_mean(
                                cap,
                                props.iter().map(String::as_str),
                            );
                            report.push(Diagnostic::error(
                                "E042",
                                doc.file(),
                                at,
                                format!("intent capture \"{cap}\" of tool \"{name}\" is not one of its args{hint}; name the capture after an arg in `args.properties`"),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Regex errors span several lines; diagnostics are one line each.
pub fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
