//! A tool from tools.yaml or a file it includes, compiled: its argument validator, intent
//! regexes and the names of its templates.

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::config::regexes::{Pattern, Regexes};
use crate::config::spec::{QuerySpec, StoreRole, ToolSpec};

pub struct ToolDef {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (also sent to models as the function's parameters).
    pub args_schema: Value,
    /// Built on the first check: `validate` has built the same one to report a schema that
    /// does not compile (E040), and a question calls few of the tools.
    validator: OnceLock<Result<jsonschema::Validator, String>>,
    pub store: StoreRole,
    pub query: Option<QuerySpec>,
    /// For `store: pipeline`, the graph the tool runs (resolved by `compile`; None from
    /// `ToolDef::compile` alone).
    pub pipeline: Option<Arc<super::CompiledGraph>>,
    pub intents: Vec<Pattern>,
    /// Declares example phrasings: chosen by the understanding stage, never by `intents`.
    pub has_examples: bool,
    pub has_preview: bool,
    /// Compiled template that renders an agent's answer when this tool answered.
    pub answer: Option<String>,
    /// Figures of the result for comparisons and superlatives; their expressions are
    /// compiled templates (`measure_template`).
    pub measures: Vec<Measure>,
}

pub struct Measure {
    pub name: String,
    /// Words that name it besides its name.
    pub words: Vec<String>,
    pub unit: String,
    pub higher_is_better: bool,
    /// Read per row (with a label per row) rather than once per result.
    pub per_row: bool,
}

impl ToolDef {
    /// The intents come from `regexes` (the project's, parsed by validation); the args
    /// validator is built on the first check.
    pub fn compile(name: &str, spec: &ToolSpec, regexes: &Regexes) -> Result<ToolDef, String> {
        let intents = spec
            .intents
            .iter()
            .map(|i| regexes.get(i).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(ToolDef {
            name: name.into(),
            description: spec.description.clone(),
            args_schema: spec.args.clone(),
            validator: OnceLock::new(),
            store: spec.store,
            query: spec.query.clone(),
            pipeline: None,
            intents,
            has_examples: !spec.examples.is_empty(),
            has_preview: spec.preview.is_some(),
            answer: spec.answer.as_deref().map(super::prompt_template),
            measures: spec
                .measures
                .iter()
                .map(|(name, m)| Measure {
                    name: name.clone(),
                    words: m.words.clone(),
                    unit: m.unit.clone(),
                    higher_is_better: m.better == crate::config::spec::Better::Higher,
                    per_row: m.rows.is_some(),
                })
                .collect(),
        })
    }

    /// Name of a measure's compiled template: `part` is value, rows or label.
    pub fn measure_template(&self, measure: &str, part: &str) -> String {
        format!("tool:{}:measure:{measure}:{part}", self.name)
    }

    /// Name of the compiled preview template.
    pub fn preview_template(&self) -> String {
        format!("tool:{}:preview", self.name)
    }

    /// Checks args against the schema; the error lists every violation.
    pub fn check_args(&self, args: &Value) -> Result<(), String> {
        let validator = self
            .validator
            .get_or_init(|| jsonschema::validator_for(&self.args_schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| format!("the args schema of {} does not compile: {e}", self.name))?;
        let errors: Vec<String> = validator
            .iter_errors(args)
            .map(|e| {
                let at = e.instance_path().as_str();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{}: {e}", at.trim_start_matches('/'))
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "invalid arguments for {}: {}",
                self.name,
                errors.join("; ")
            ))
        }
    }

    /// The first intent that matches `question`, with its named captures as args.
    /// Numbers and booleans are converted where the schema asks for them.
    pub fn match_intent(&self, question: &str) -> Option<Map<String, Value>> {
        for re in &self.intents {
            if let Some(caps) = re.captures(question) {
                let mut args = Map::new();
                for name in re.capture_names() {
                    if let Some(m) = caps.name(name) {
                        args.insert(name.to_string(), self.coerce(name, m.as_str().trim()));
                    }
                }
                return Some(args);
            }
        }
        None
    }

    /// Text (a capture or a rendered template) as the type the schema asks for.
    pub fn coerce(&self, arg: &str, text: &str) -> Value {
        let ty = self
            .args_schema
            .pointer(&format!("/properties/{arg}/type"))
            .and_then(Value::as_str);
        match ty {
            Some("integer") => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| text.into()),
            Some("number") => text
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or_else(|_| text.into()),
            Some("boolean") => text
                .parse::<bool>()
                .map(Value::from)
                .unwrap_or_else(|_| text.into()),
            // A template passes lists and objects on with `| tojson`.
            Some("array") | Some("object") => {
                serde_json::from_str(text).unwrap_or_else(|_| text.into())
            }
            _ => Value::String(text.to_string()),
        }
    }
}
