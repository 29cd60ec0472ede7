//! The layer order of engine's top-level modules, pinned: no module may refer to a
//! module in a higher layer (same layer or lower is fine). The table below is the one
//! place the order lives; docs/ARCHITECTURE.md mirrors it.

use std::path::{Path, PathBuf};

/// Lowest first. Modules on one row share a layer.
const LAYERS: &[&[&str]] = &[
    &["core"],
    &["error"],
    &["resilience"],
    &["settings"],
    &["embed"],
    &["store"],
    &["analytics"],
    &["dataset"],
    &["config"],
    &["understand"],
    &["import"],
    &["validate"],
    &["compile"],
    &["model"],
    &["tools"],
    &["toolbox"],
    &["run"],
    &["threads"],
    &[
        "graph_tests",
        "reload",
        "watch",
        "api",
        "cli",
        "main",
        "lib",
    ],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("engine/ is readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a line names: `crate::x` and each head of `crate::{x, y::z}`.
fn referenced(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut name, mut head) = (0, String::new(), true);
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => head = true,
                    c if head && (c.is_alphanumeric() || c == '_') => {
                        name.push(c);
                        continue;
                    }
                    _ => {}
                }
                if !name.is_empty() {
                    out.push(std::mem::take(&mut name));
                    head = c == ',' && depth == 0;
                }
            }
            if !name.is_empty() {
                out.push(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn no_module_uses_a_higher_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut upward = Vec::new();
    let mut unlisted = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "core/layers.rs" {
            continue;
        }
        let module = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = layer(&module) else {
            unlisted.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in referenced(line) {
                let Some(theirs) = layer(&target) else {
                    unlisted.push(target);
                    continue;
                };
                if theirs > own {
                    upward.push(format!("engine/{rel}:{}: {module} uses {target}", n + 1));
                }
            }
        }
    }
    unlisted.sort();
    unlisted.dedup();
    assert!(
        unlisted.is_empty(),
        "modules missing from LAYERS: {unlisted:?}"
    );
    assert!(
        upward.is_empty(),
        "references to a higher layer (move the shared item down):\n{}",
        upward.join("\n")
    );
}

#[test]
fn referenced_reads_groups_and_paths() {
    assert_eq!(referenced("use crate::a::{B, C};"), ["a"]);
    assert_eq!(referenced("use crate::{a, b::{C, D}, e};"), ["a", "b", "e"]);
    assert_eq!(referenced("x(crate::f::g(), crate::h::I)"), ["f", "h"]);
}
