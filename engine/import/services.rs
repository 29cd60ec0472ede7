//! Which service a file belongs to. Rules from import.yaml first (the first rule whose
//! pattern matches wins); without rules, one service per top-level directory holding a
//! package manifest (a Cargo.toml with `[package]`, package.json, go.mod, pyproject.toml,
//! …), or the whole repository when it has none. Files no rule covers go to the
//! repository's "other" service. Manifests are read at the imported revision, and their
//! dependencies give frameworks (skills) and dependencies between services.

use super::config::{Repository, ServiceRule};
use super::git::git;
use super::glob::Glob;

/// One service of a repository.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    pub name: String,
    pub rule: ServiceRule,
    /// What it is, for `services.description`.
    pub description: String,
    /// Dependency names its manifest declares (lower case).
    pub dependencies: Vec<String>,
    /// Declared by a rule of import.yaml: kept even when nobody committed to it.
    pub declared: bool,
}

/// A repository's services; the last one is the "other" service.
#[derive(Debug, Clone)]
pub struct ServiceMap {
    pub services: Vec<ServiceDef>,
}

/// Files that make a directory a package.
const MANIFESTS: &[&str] = &[
    "Cargo.toml",
    "package.json",
    "go.mod",
    "pyproject.toml",
    "setup.py",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Package.swift",
    "composer.json",
    "mix.exs",
    "Gemfile",
];

impl ServiceMap {
    /// The service of each rule and the "other" one, for `repo` at its revision.
    pub fn of(repo: &Repository) -> anyhow::Result<ServiceMap> {
        let files = git(&repo.path, &["ls-tree", "-r", "--name-only", &repo.branch])?;
        let files: Vec<&str> = files.lines().collect();
        let show = |path: &str| git(&repo.path, &["show", &format!("{}:{path}", repo.branch)]);
        let mut services = Vec::new();
        if repo.services.is_empty() {
            // Top-level directories with a package manifest, in name order.
            let mut dirs: Vec<(String, String)> = files
                .iter()
                .filter_map(|f| {
                    let (dir, file) = f.split_once('/')?;
                    (MANIFESTS.contains(&file)).then(|| (dir.to_string(), f.to_string()))
                })
                .filter(|(_, manifest)| is_package(manifest, &show))
                .collect();
            dirs.sort();
            dirs.dedup_by(|a, b| a.0 == b.0);
            for (dir, _) in dirs {
                let rule = ServiceRule {
                    name: dir.clone(),
                    paths: vec![Glob::new(&format!("{dir}/**")).expect("a valid pattern")],
                    team: None,
                    owner: None,
                    tier: None,
                };
                services.push(ServiceDef {
                    description: format!("{dir}/ of the {} repository", repo.name),
                    dependencies: dependencies_under(&files, &dir, &show),
                    name: dir,
                    rule,
                    declared: false,
                });
            }
        } else {
            for rule in &repo.services {
                // The manifests directly under each pattern's fixed prefix.
                let mut deps = Vec::new();
                for g in &rule.paths {
                    let prefix = g.text.split(['*', '?']).next().unwrap_or("");
                    let dir = prefix.trim_end_matches('/');
                    deps.extend(dependencies_under(&files, dir, &show));
                }
                deps.sort();
                deps.dedup();
                services.push(ServiceDef {
                    name: rule.name.clone(),
                    description: format!(
                        "{} of the {} repository",
                        rule.paths
                            .iter()
                            .map(|g| g.text.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        repo.name
                    ),
                    dependencies: deps,
                    rule: rule.clone(),
                    declared: true,
                });
            }
        }
        let whole = services.is_empty();
        let other = repo.other_service.clone().unwrap_or_else(|| {
            if whole {
                repo.name.clone()
            } else {
                format!("{}-other", repo.name)
            }
        });
        services.push(ServiceDef {
            declared: false,
            description: if whole {
                format!("the {} repository", repo.name)
            } else {
                format!("files of the {} repository outside its services", repo.name)
            },
            dependencies: if whole {
                dependencies_under(&files, "", &show)
            } else {
                Vec::new()
            },
            rule: ServiceRule {
                name: other.clone(),
                paths: Vec::new(),
                team: None,
                owner: None,
                tier: None,
            },
            name: other,
        });
        Ok(ServiceMap { services })
    }

    /// The index of the service `path` belongs to.
    pub fn service_of(&self, path: &str) -> usize {
        let last = self.services.len() - 1;
        self.services[..last]
            .iter()
            .position(|s| s.rule.paths.iter().any(|g| g.matches(path)))
            .unwrap_or(last)
    }
}

/// A Cargo.toml only counts with `[package]` (a workspace's is no service).
fn is_package(manifest: &str, show: &dyn Fn(&str) -> anyhow::Result<String>) -> bool {
    if !manifest.ends_with("Cargo.toml") {
        return true;
    }
    show(manifest).is_ok_and(|t| t.lines().any(|l| l.trim() == "[package]"))
}

/// Dependency names of the manifests directly in `dir` ("" the root).
fn dependencies_under(
    files: &[&str],
    dir: &str,
    show: &dyn Fn(&str) -> anyhow::Result<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for m in MANIFESTS {
        let path = if dir.is_empty() {
            m.to_string()
        } else {
            format!("{dir}/{m}")
        };
        if files.contains(&path.as_str())
            && let Ok(text) = show(&path)
        {
            out.extend(manifest_dependencies(m, &text));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The names a manifest depends on, lower case (best effort, no full parsers).
pub fn manifest_dependencies(kind: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    match kind {
        "Cargo.toml" => {
            let mut in_deps = false;
            for l in text.lines().map(str::trim) {
                if let Some(h) = l.strip_prefix('[') {
                    let h = h.trim_end_matches(']');
                    // What it builds with; dev-dependencies (tests, examples) would make
                    // crates of one workspace depend on each other in circles.
                    if let Some(name) = h.strip_prefix("dependencies.") {
                        out.push(name.trim().to_string());
                        in_deps = false;
                    } else {
                        in_deps = h == "dependencies"
                            || h == "workspace.dependencies"
                            || (h.starts_with("target.") && h.ends_with(".dependencies"));
                    }
                } else if in_deps && let Some((k, _)) = l.split_once('=') {
                    let k = k.trim().trim_matches('"');
                    if !k.is_empty() && !k.starts_with('#') {
                        out.push(k.split('.').next().unwrap_or(k).to_string());
                    }
                }
            }
        }
        "package.json" => {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
                for section in ["dependencies", "peerDependencies"] {
                    if let Some(m) = v.get(section).and_then(|d| d.as_object()) {
                        out.extend(m.keys().cloned());
                    }
                }
            }
        }
        "go.mod" => {
            for l in text.lines().map(str::trim) {
                let l = l.strip_prefix("require").unwrap_or(l).trim();
                let module = l
                    .trim_start_matches('(')
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                if module.contains('/') {
                    out.push(module.to_string());
                }
            }
        }
        _ => {
            // pyproject.toml, pom.xml, Gemfile, …: words that look like package names.
            for w in text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_')) {
                if w.len() > 1 {
                    out.push(w.to_string());
                }
            }
        }
    }
    out.into_iter().map(|s| s.to_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_dependencies_in_every_form_are_read() {
        let t = "[package]\nname = \"x\"\n[dependencies]\naxum-core = { path = \"../axum-core\" }\nserde.workspace = true\n[dev-dependencies]\ntokio = \"1\"\n[dependencies.hyper]\nversion = \"1\"\n[features]\ndefault = []\n";
        let d = manifest_dependencies("Cargo.toml", t);
        assert_eq!(d, ["axum-core", "serde", "hyper"]);
    }
}
