//! The broken-configuration corpus: each `tests/corpus/<case>/` is the small `clean` project
//! broken in one way (see tests/corpus/README.md). `eng-intel validate --format json` must
//! report exactly the expected findings — code, file, line and column, in the report's order —
//! and exit 0 (clean), 1 (errors, or warnings with --deny-warnings) or 2 (could not run).
//! Some messages are asserted whole, so that a changed message is a reviewed diff.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{BIN, repo};

/// One expected finding: code, file, line, column.
type Finding = (&'static str, &'static str, u64, u64);

const MAIN: &str = "graphs/main.yaml";
const DELIVERY: &str = "graphs/delivery.yaml";
const TOOLS: &str = "tools.yaml";
const PEOPLE_TOOLS: &str = "tools/people.yaml";
const DELIVERY_TOOLS: &str = "tools/delivery.yaml";
const AGENT_PROMPT: &str = "prompts/agent.j2";

fn corpus(case: &str) -> PathBuf {
    repo().join("tests/corpus").join(case)
}

/// `eng-intel validate --format json [extra] DIR`: the exit code and the parsed output.
fn validate(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let out = Command::new(BIN)
        .args(["validate", "--format", "json"])
        .args(extra)
        .arg(dir)
        .output()
        .expect("eng-intel runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validate printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), json)
}

/// Validates `case` and asserts it reports exactly `expected`, with the counts and exit code
/// that follow from them; returns the diagnostics for message checks.
fn check(case: &str, expected: &[Finding]) -> Vec<Value> {
    let (code, json) = validate(&corpus(case), &[]);
    let diags = json["diagnostics"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: no diagnostics array in {json:#}"))
        .clone();
    let got: Vec<(String, String, u64, u64)> = diags
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("?").to_string(),
                d["file"].as_str().unwrap_or("?").to_string(),
                d["line"].as_u64().unwrap_or(0),
                d["col"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want: Vec<(String, String, u64, u64)> = expected
        .iter()
        .map(|(c, f, l, col)| (c.to_string(), f.to_string(), *l, *col))
        .collect();
    assert_eq!(got, want, "{case}: findings differ; output:\n{json:#}");
    let errors = expected.iter().filter(|f| f.0.starts_with('E')).count();
    let warnings = expected.len() - errors;
    assert_eq!(json["errors"], errors, "{case}");
    assert_eq!(json["warnings"], warnings, "{case}");
    assert_eq!(json["ok"], errors == 0, "{case}");
    assert_eq!(code, i32::from(errors > 0), "{case}: exit code");
    for d in &diags {
        let severity = if d["code"].as_str().is_some_and(|c| c.starts_with('W')) {
            "warning"
        } else {
            "error"
        };
        assert_eq!(d["severity"], severity, "{case}: {d}");
    }
    diags
}

fn message(d: &Value) -> &str {
    d["message"].as_str().expect("message is a string")
}

// --- the repository itself and the baseline -------------------------------------------

#[test]
fn the_repository_config_validates_clean() {
    let (code, json) = validate(repo(), &["--deny-warnings"]);
    assert_eq!(json["diagnostics"], serde_json::json!([]), "{json:#}");
    assert_eq!(code, 0);
}

#[test]
fn the_corpus_baseline_is_clean() {
    check("clean", &[]);
}

#[test]
fn the_baseline_with_included_tools_files_is_clean() {
    // clean, with its tools in tools/*.yaml and the agent answered by its tool's `answer:`.
    check("clean_include", &[]);
}

// --- syntax and schema --------------------------------------------------------------

#[test]
fn yaml_syntax_error_points_at_the_unclosed_bracket() {
    let d = check("yaml_syntax", &[("E001", MAIN, 28, 12)]);
    assert_eq!(
        message(&d[0]),
        "YAML syntax error: the list `[` that starts here is not closed (did not find expected ',' or ']' at line 29 column 11); close it"
    );
}

#[test]
fn yaml_tab_indentation() {
    let d = check("yaml_tab", &[("E001", TOOLS, 20, 1)]);
    assert!(
        message(&d[0]).ends_with("YAML does not allow tabs for indentation; indent with spaces")
    );
}

#[test]
fn unknown_field_suggests_the_near_name_and_nothing_else() {
    // `promt` for `prompt`: one finding, not also "missing required field prompt".
    let d = check("unknown_field", &[("E002", MAIN, 27, 5)]);
    assert_eq!(
        message(&d[0]),
        "unknown field \"promt\" in `nodes.agent` (did you mean \"prompt\"?); allowed here: answer, description, kind, max_turns, output, prompt, retry, tier, timeout_ms, tools"
    );
}

#[test]
fn wrong_type() {
    let d = check("wrong_type", &[("E003", MAIN, 28, 12)]);
    assert_eq!(
        message(&d[0]),
        "wrong type at `nodes.agent.tools`: expected a list, found the string \"find_people\" (Tools the agent may call: names in tools.yaml)"
    );
}

#[test]
fn missing_required_field_points_at_the_node() {
    let d = check("missing_field", &[("E004", MAIN, 25, 3)]);
    assert!(
        message(&d[0])
            .starts_with("missing required field \"prompt\" in `nodes.agent`; add `prompt:`"),
        "{}",
        message(&d[0])
    );
}

#[test]
fn unknown_node_kind() {
    let d = check("unknown_kind", &[("E003", MAIN, 34, 11)]);
    assert_eq!(
        message(&d[0]),
        "unknown node kind \"templat\" (did you mean \"template\"?); use one of: classify, router, agent, llm, tool, subgraph, map, template"
    );
}

#[test]
fn edge_mapping_without_to() {
    check("bad_edge_shape", &[("E004", MAIN, 40, 5)]);
}

#[test]
fn one_bad_tool_does_not_hide_the_others() {
    // dora_metrics lacks `store`; delivery's tool node still finds it (no "unknown tool").
    check("tools_partial", &[("E004", TOOLS, 14, 3)]);
}

// --- duplicates ---------------------------------------------------------------------

#[test]
fn duplicate_graph_name() {
    let d = check(
        "duplicate_graph",
        &[("E010", "graphs/delivery_copy.yaml", 1, 7)],
    );
    assert_eq!(
        message(&d[0]),
        "duplicate graph name \"delivery\", already defined in graphs/delivery.yaml:1:7; give each graph its own name"
    );
}

#[test]
fn duplicate_node_key_in_yaml() {
    let d = check("duplicate_node", &[("E010", MAIN, 33, 3)]);
    assert_eq!(
        message(&d[0]),
        "duplicate key \"agent\" in `nodes`, first at line 25; YAML keeps only the last one, so rename or remove one of them"
    );
}

#[test]
fn duplicate_field_in_a_node() {
    check("duplicate_field", &[("E010", MAIN, 16, 5)]);
}

// --- references -----------------------------------------------------------------------

#[test]
fn edge_from_unknown_node() {
    check("edge_from_unknown", &[("E011", MAIN, 40, 11)]);
}

#[test]
fn edge_to_unknown_node_suggests_the_near_name() {
    let d = check("edge_to_unknown", &[("E011", MAIN, 38, 17)]);
    assert_eq!(
        message(&d[0]),
        "edge to unknown node \"rout\" (did you mean \"route\"?); define the node under `nodes:` or fix the name"
    );
}

#[test]
fn unknown_node_inside_a_chain_is_reported_once_and_without_echoes() {
    // No "unreachable" or "no way to END" for the nodes the broken chain cuts off.
    check("edge_through_unknown", &[("E011", MAIN, 39, 14)]);
}

#[test]
fn unknown_start_node() {
    check("unknown_start", &[("E011", MAIN, 5, 8)]);
}

#[test]
fn unknown_tool_suggests_the_near_name() {
    let d = check("unknown_tool", &[("E012", MAIN, 28, 13)]);
    assert_eq!(
        message(&d[0]),
        "unknown tool \"find_peple\" (did you mean \"find_people\"?); declare it in tools.yaml or fix the name"
    );
}

#[test]
fn unknown_prompt_written_with_its_extension() {
    let d = check("unknown_prompt", &[("E013", MAIN, 27, 13)]);
    assert_eq!(
        message(&d[0]),
        "unknown prompt \"agent.j2\" (did you mean \"agent\"?); prompts are named without the .j2 extension"
    );
}

#[test]
fn unknown_subgraph() {
    check("unknown_subgraph", &[("E014", MAIN, 32, 12)]);
}

#[test]
fn unknown_model_tier() {
    check("unknown_tier", &[("E015", MAIN, 12, 15)]);
}

#[test]
fn output_to_an_undeclared_state_key() {
    check("undeclared_output", &[("E016", MAIN, 36, 13)]);
}

#[test]
fn subgraph_input_that_is_not_a_state_key_of_the_child() {
    check("subgraph_input", &[("E016", MAIN, 34, 7)]);
}

#[test]
fn router_default_names_an_unknown_route() {
    let d = check("unknown_route", &[("E011", MAIN, 17, 14)]);
    assert_eq!(
        message(&d[0]),
        "unknown route \"peple\" (did you mean \"people\"?); name one of the routes of \"route\": delivery, people"
    );
}

#[test]
fn map_with_both_graph_and_tool() {
    check("map_graph_and_tool", &[("E005", MAIN, 34, 5)]);
}

#[test]
fn tool_node_arg_the_tool_does_not_take() {
    check("tool_arg_unknown", &[("E043", DELIVERY, 8, 7)]);
}

// --- shape --------------------------------------------------------------------------

#[test]
fn unreachable_node_is_a_warning_that_fails_only_with_deny_warnings() {
    let d = check("unreachable", &[("W020", MAIN, 37, 3)]);
    assert_eq!(
        message(&d[0]),
        "node \"audit\" is unreachable from start \"classify\"; add an edge to it or remove it"
    );
    let (code, json) = validate(&corpus("unreachable"), &["--deny-warnings"]);
    assert_eq!(code, 1);
    assert_eq!(json["ok"], false);
    assert_eq!(json["warnings"], 1);
}

#[test]
fn loop_with_no_path_to_end() {
    let d = check("closed_loop", &[("E021", MAIN, 25, 3)]);
    assert_eq!(
        message(&d[0]),
        "nodes \"agent\", \"summarize\" form a loop with no path to END, so a run that gets here never ends; add an edge that leaves the loop, e.g. a conditional edge to END"
    );
}

#[test]
fn node_with_no_outgoing_edge() {
    let d = check("dead_end", &[("E021", MAIN, 30, 3)]);
    assert_eq!(
        message(&d[0]),
        "node \"delivery\" has no outgoing edge, so a run that gets here fails; add `delivery -> END` or an edge to another node"
    );
}

#[test]
fn subgraph_include_cycle_is_reported_at_each_include() {
    let d = check(
        "include_cycle",
        &[("E050", DELIVERY, 9, 12), ("E050", MAIN, 32, 12)],
    );
    assert!(message(&d[1]).starts_with("subgraph include cycle: main → delivery → main;"));
}

#[test]
fn a_graph_that_reaches_itself_through_a_pipeline_tool_is_reported_at_the_call() {
    // main includes delivery, whose tool node calls main_report, which runs main again:
    // not an include cycle (E050), but a run would nest main without end.
    let d = check("pipeline_cycle", &[("E051", DELIVERY, 11, 11)]);
    assert_eq!(
        message(&d[0]),
        "graph \"delivery\" reaches itself through pipeline tool \"main_report\", which runs graph \"main\" (tools.yaml:28): delivery → main → delivery; a run would nest graphs without end, so have node \"report\" call another tool or point the tool at another graph"
    );
}

// --- templates and expressions -------------------------------------------------------

#[test]
fn condition_that_does_not_parse() {
    check("bad_condition", &[("E030", MAIN, 42, 18)]);
}

#[test]
fn template_syntax_error_inline() {
    check("template_syntax_inline", &[("E031", MAIN, 35, 49)]);
}

#[test]
fn template_syntax_error_in_a_prompt_file() {
    check("template_syntax_prompt", &[("E031", AGENT_PROMPT, 2, 49)]);
}

#[test]
fn template_variable_nothing_provides() {
    let d = check("unknown_variable", &[("E032", MAIN, 35, 27)]);
    assert_eq!(
        message(&d[0]),
        "template of node \"summarize\" uses \"answr\", which no state key, input or node output provides (did you mean \"answer\"?); declare it under `state:` or fix the name"
    );
}

#[test]
fn template_variable_nothing_provides_in_a_prompt_file() {
    check("unknown_variable_prompt", &[("E032", AGENT_PROMPT, 2, 33)]);
}

#[test]
fn preview_sees_only_result_and_args() {
    check("unknown_preview_variable", &[("E032", TOOLS, 13, 18)]);
}

// --- tools.yaml ---------------------------------------------------------------------

#[test]
fn tool_args_schema_that_is_not_json_schema() {
    let d = check("bad_args_schema", &[("E040", TOOLS, 7, 24)]);
    assert_eq!(
        message(&d[0]),
        "args of tool \"find_people\" is not a valid JSON Schema: unknown type \"strin\" (did you mean \"string\"?); use one of: string, number, integer, boolean, array, object, null"
    );
}

#[test]
fn intent_that_is_not_a_regex_points_into_the_pattern() {
    let d = check("bad_intent_regex", &[("E041", TOOLS, 12, 21)]);
    assert!(message(&d[0]).contains("is not a valid regex: unclosed group;"));
}

#[test]
fn intent_capture_that_is_not_an_arg() {
    let d = check("capture_not_arg", &[("E042", TOOLS, 12, 25)]);
    assert_eq!(
        message(&d[0]),
        "capture \"skil\" of intent 0 of tool \"find_people\" is not one of its args (did you mean \"skill\"?); name the capture after a property in `args.properties` (args: skill)"
    );
}

#[test]
fn query_parameter_that_is_not_an_arg() {
    check("query_param", &[("E044", TOOLS, 10, 51)]);
}

#[test]
fn examples_and_slots_name_known_placeholders_and_args() {
    let d = check(
        "example_placeholders",
        &[
            ("E045", TOOLS, 14, 21),
            ("E046", TOOLS, 15, 34),
            ("E047", TOOLS, 16, 14),
        ],
    );
    assert_eq!(
        message(&d[0]),
        "example 0 of tool \"find_people\" has an unknown placeholder {skil} (did you mean \"skill\"?); use one of {person}, {team}, {service}, {skill}, {project}, {title}, {topic}, {window}, {age}, {top}"
    );
    assert_eq!(
        message(&d[1]),
        "example 1 of tool \"find_people\" names a {team}, but no argument of the tool takes one; add the argument (or a `slots:` entry) or drop the placeholder"
    );
    assert_eq!(
        message(&d[2]),
        "slot \"skil\" of tool \"find_people\" is not one of its args (did you mean \"skill\"?); name a property of `args.properties` (args: skill)"
    );
}

// --- files included by tools.yaml, and answer prompts ---------------------------------

#[test]
fn include_of_a_missing_file_points_at_the_entry() {
    // The tools it would define are unknown: delivery's tool node gets no "unknown tool".
    let d = check("include_missing", &[("E060", TOOLS, 4, 5)]);
    assert_eq!(
        message(&d[0]),
        "included file \"tools/delivry.yaml\" does not exist (did you mean \"tools/delivery.yaml\"?); create it or fix the path (relative to tools.yaml)"
    );
}

#[test]
fn tools_yaml_including_itself() {
    let d = check("include_itself", &[("E061", TOOLS, 5, 5)]);
    assert_eq!(
        message(&d[0]),
        "tools.yaml includes itself; remove this entry (list only the files under it)"
    );
}

#[test]
fn a_file_included_twice_under_another_spelling() {
    let d = check("include_twice", &[("E061", TOOLS, 5, 5)]);
    assert_eq!(
        message(&d[0]),
        "\"tools/people.yaml\" is already included at line 3; list each file once"
    );
}

#[test]
fn only_tools_yaml_includes_files() {
    let d = check("include_nested", &[("E002", DELIVERY_TOOLS, 9, 1)]);
    assert_eq!(
        message(&d[0]),
        "unknown field \"include\" in an included file; only tools.yaml includes files, so list these in its `include:`"
    );
}

#[test]
fn tool_defined_in_two_included_files() {
    let d = check("duplicate_tool", &[("E062", DELIVERY_TOOLS, 9, 3)]);
    assert_eq!(
        message(&d[0]),
        "duplicate tool \"find_people\", already defined in tools/people.yaml:2:3; define each tool once (rename or remove one)"
    );
}

#[test]
fn tool_defined_in_tools_yaml_and_an_included_file() {
    // tools.yaml is read first, so the included file's definition is the second.
    let d = check("duplicate_tool_top", &[("E062", DELIVERY_TOOLS, 2, 3)]);
    assert_eq!(
        message(&d[0]),
        "duplicate tool \"dora_metrics\", already defined in tools.yaml:6:3; define each tool once (rename or remove one)"
    );
}

#[test]
fn schema_findings_point_into_the_included_file() {
    check("tools_partial_include", &[("E004", DELIVERY_TOOLS, 2, 3)]);
}

#[test]
fn tool_answer_names_an_unknown_prompt() {
    let d = check("unknown_answer_prompt", &[("E013", PEOPLE_TOOLS, 14, 13)]);
    assert_eq!(
        message(&d[0]),
        "unknown prompt \"answers/find_peple\" (did you mean \"answers/find_people\"?); add prompts/<name>.j2 or fix the name (a path under prompts/, without .j2)"
    );
}

#[test]
fn agent_without_answer_needs_the_default_answer_prompt() {
    let d = check("agent_without_answer", &[("E013", MAIN, 25, 3)]);
    assert_eq!(
        message(&d[0]),
        "agent node \"agent\" has no `answer:` and there is no prompt \"answers/default\" to answer with; add prompts/answers/default.j2 or give the node an `answer:`"
    );
}

#[test]
fn tool_answer_prompt_sees_what_an_agent_answer_sees() {
    let d = check(
        "unknown_variable_answer",
        &[("E032", "prompts/answers/find_people.j2", 1, 38)],
    );
    assert_eq!(
        message(&d[0]),
        "prompt \"answers/find_people\" (used by node \"agent\" in graphs/main.yaml) uses \"arg\", which no state key, input or node output provides (did you mean \"args\"?); declare it under `state:` or fix the name"
    );
}

// --- one run, every problem; stable output; could not run ----------------------------

#[test]
fn every_problem_is_reported_in_one_run() {
    check(
        "many_problems",
        &[
            ("E015", MAIN, 12, 15),
            ("E012", MAIN, 28, 13),
            ("E011", MAIN, 38, 17),
            ("E032", AGENT_PROMPT, 2, 33),
            ("E044", TOOLS, 10, 51),
        ],
    );
}

#[test]
fn json_output_has_a_fixed_shape_and_is_deterministic() {
    let dir = corpus("many_problems");
    let (_, first) = validate(&dir, &[]);
    let (_, second) = validate(&dir, &[]);
    assert_eq!(first.to_string(), second.to_string());
    let keys =
        |v: &Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
    assert_eq!(keys(&first), ["diagnostics", "errors", "ok", "warnings"]);
    for d in first["diagnostics"].as_array().expect("array") {
        assert_eq!(
            keys(d),
            ["code", "col", "file", "line", "message", "severity"]
        );
    }
}

#[test]
fn text_output_is_file_line_col_severity_code_message() {
    let out = Command::new(BIN)
        .arg("validate")
        .arg(corpus("unknown_start"))
        .output()
        .expect("eng-intel runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "graphs/main.yaml:5:8: error[E011]: start node \"clasify\" is not defined (did you mean \"classify\"?); name one of the nodes"
    );
    assert!(lines[1].starts_with("FAILED:"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_missing_project_dir_could_not_run() {
    for case in ["does_not_exist", "no_graphs_dir"] {
        let (code, json) = validate(&corpus(case), &[]);
        assert_eq!(code, 2, "{case}");
        assert_eq!(json["ok"], false, "{case}");
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("cannot read project at ")),
            "{case}: {json}"
        );
    }
}

#[test]
fn every_code_the_corpus_produces_is_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/CONFIG.md")).expect("docs/CONFIG.md");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus(""))
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("graphs").is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 24, "the corpus has {} cases", cases.len());
    for dir in cases {
        let (_, json) = validate(&dir, &[]);
        for d in json["diagnostics"].as_array().expect("array") {
            let code = d["code"].as_str().expect("code");
            assert!(
                doc.contains(&format!("| {code} |")),
                "{code} (from {}) has no row in the table of docs/CONFIG.md",
                dir.display()
            );
        }
    }
}

#[test]
fn pipeline_tool_with_an_unknown_graph_an_arg_its_graph_lacks_and_no_graph() {
    let d = check(
        "pipeline_tool",
        &[
            ("E014", TOOLS, 28, 12),
            ("E016", TOOLS, 35, 9),
            ("E004", TOOLS, 38, 3),
        ],
    );
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \"delivery\"")
    );
}

#[test]
fn a_builtin_tool_must_name_a_builtin() {
    let d = check("unknown_builtin", &[("E048", TOOLS, 14, 3)]);
    assert!(
        message(&d[0]).starts_with(
            "tool \"dora_metric\" has `store: builtin`, but no builtin is named \"dora_metric\" (did you mean \"dora_metrics\"?); builtins are dora_metrics, lead_time_trend,"
        ),
        "{}",
        message(&d[0])
    );
}

#[test]
fn vocabulary_names_tools_and_tables_that_exist() {
    let d = check(
        "bad_references",
        &[
            ("E063", TOOLS, 25, 43),
            ("E064", TOOLS, 26, 29),
            ("E065", TOOLS, 28, 16),
            ("E065", TOOLS, 29, 65),
        ],
    );
    assert_eq!(
        message(&d[0]),
        "reference 0 names tool \"team_member\", which is not defined"
    );
    assert_eq!(
        message(&d[1]),
        "reference 1 finds its person with tool \"find_people\", which takes no service; name a tool with a service argument"
    );
    assert_eq!(
        message(&d[2]),
        "table \"pull_request\" is not one generated SQL may read (did you mean \"pull_requests\"?)"
    );
    assert_eq!(
        message(&d[3]),
        "table \"commits\" has no readable column \"committed_at\""
    );
}
