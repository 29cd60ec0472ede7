//! `import.yaml`: which clones to read, how identities merge, which paths make which
//! service, what to leave out. Checked like the rest of the configuration: YAML syntax
//! (E001), repeated keys (E010), shape against `docs/schema/import.schema.json` (E002–E005,
//! with "did you mean"), then what only the disk can tell (E080–E083), each finding at
//! `file:line:col`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use super::glob::Glob;
use crate::config::{Source, parse_yaml, read, schema};
use crate::core::{Diagnostic, Pos, Report};

const SCHEMA: &str = include_str!("../../docs/schema/import.schema.json");
static SCHEMA_JSON: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(SCHEMA).expect("import schema is JSON"));
static SCHEMA_V: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| jsonschema::validator_for(&SCHEMA_JSON).expect("import schema compiles"));

/// Patterns of bots every import knows; `identities.bots` adds to them.
pub const BUILTIN_BOTS: &[&str] = &[
    "*[bot]*",
    "dependabot*",
    "renovate*",
    "github-actions*",
    "*-bot@*",
    "noreply@github.com",
];

// ── The file as written (serde) ─────────────────────────────────────────────────────

#[derive(Debug, Deserialize)]
struct ImportSpec {
    repositories: Vec<RepoSpec>,
    roster: Option<String>,
    default_team: Option<String>,
    skill_half_life_days: Option<i64>,
    #[serde(default)]
    identities: IdentitySpec,
    #[serde(default)]
    exclude: ExcludeSpec,
    github: Option<GithubSpec>,
}

#[derive(Debug, Deserialize)]
struct GithubSpec {
    api: Option<String>,
    incident_label: Option<String>,
    production: Option<String>,
    deploy_workflow: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RepoSpec {
    path: String,
    name: Option<String>,
    branch: Option<String>,
    #[serde(default)]
    services: Vec<ServiceSpec>,
    other_service: Option<String>,
    github: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ServiceSpec {
    name: String,
    paths: Vec<String>,
    team: Option<String>,
    owner: Option<String>,
    tier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct IdentitySpec {
    merge_same_name: Option<bool>,
    #[serde(default)]
    people: Vec<PersonRule>,
    #[serde(default)]
    bots: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ExcludeSpec {
    #[serde(default)]
    people: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
}

// ── The checked configuration ───────────────────────────────────────────────────────

/// A person known under several e-mails or spellings.
#[derive(Debug, Clone, Deserialize)]
pub struct PersonRule {
    pub name: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Which files make a service.
#[derive(Debug, Clone)]
pub struct ServiceRule {
    pub name: String,
    pub paths: Vec<Glob>,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub tier: Option<String>,
}

/// One clone to read.
#[derive(Debug, Clone)]
pub struct Repository {
    pub name: String,
    pub path: PathBuf,
    pub branch: String,
    /// Empty: the default (a service per top-level directory with a package manifest).
    pub services: Vec<ServiceRule>,
    pub other_service: Option<String>,
    /// `owner/name` on GitHub, whose pull requests, reviews, deployments, incidents and
    /// releases are read too.
    pub github: Option<String>,
}

/// How GitHub's API is read (`github:`), for the repositories that name a GitHub one.
#[derive(Debug, Clone)]
pub struct Github {
    /// The REST API's base URL, without a trailing slash.
    pub api: String,
    /// Issues with this label are incidents.
    pub incident_label: String,
    /// Environments of production deployments.
    pub production: Glob,
    /// Workflow runs with a matching name are deployments too.
    pub deploy_workflow: Option<Glob>,
}

impl Default for Github {
    fn default() -> Github {
        Github {
            api: "https://api.github.com".into(),
            incident_label: "incident".into(),
            production: Glob::new("prod*").expect("a valid pattern"),
            deploy_workflow: None,
        }
    }
}

/// import.yaml, checked, paths resolved against its directory.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    pub file: PathBuf,
    /// The file's text: part of the import's fingerprint.
    pub text: String,
    pub repositories: Vec<Repository>,
    pub roster: Option<PathBuf>,
    pub default_team: String,
    pub half_life_days: i64,
    pub merge_same_name: bool,
    pub people: Vec<PersonRule>,
    pub bots: Vec<Glob>,
    pub exclude_people: Vec<String>,
    pub exclude_paths: Vec<Glob>,
    pub github: Github,
}

/// Reads and checks `file`. Ok holds the config and its warnings; Err every finding.
pub fn load(file: &Path) -> Result<(ImportConfig, Report), Report> {
    let mut report = Report::default();
    let rel = file.display().to_string();
    let Some(text) = read(&rel, file, &mut report) else {
        return Err(report);
    };
    let Some((value, source)) = parse_yaml(rel.clone(), &text, &mut report) else {
        return Err(report);
    };
    if !schema::check_against(&SCHEMA_V, &SCHEMA_JSON, &value, &source, &mut report).is_empty() {
        report.sort();
        return Err(report);
    }
    let spec: ImportSpec = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            report.push(Diagnostic::error(
                "E005",
                &rel,
                Pos { line: 1, col: 1 },
                format!("does not match the import format: {e}; compare with docs/DATA.md"),
            ));
            return Err(report);
        }
    };
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let config = resolve(spec, &base, file, &text, &source, &mut report);
    report.sort();
    if report.has_errors() {
        Err(report)
    } else {
        Ok((config, report))
    }
}

fn resolve(
    spec: ImportSpec,
    base: &Path,
    file: &Path,
    text: &str,
    source: &Source,
    report: &mut Report,
) -> ImportConfig {
    let at = |pointer: &str| source.spans().value(pointer);
    let mut err = |code: &'static str, pointer: &str, message: String| {
        report.push(Diagnostic::error(code, &source.path, at(pointer), message));
    };
    let globs = |patterns: &[String], pointer: &str, err: &mut dyn FnMut(&str, String)| {
        let mut out = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            match Glob::new(p) {
                Ok(g) => out.push(g),
                Err(e) => err(&format!("{pointer}/{i}"), format!("bad pattern {p:?}: {e}")),
            }
        }
        out
    };
    let mut repositories = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in spec.repositories.iter().enumerate() {
        let ptr = format!("/repositories/{i}");
        let path = base.join(&r.path);
        let branch = r.branch.clone().unwrap_or_else(|| "HEAD".into());
        if !path.is_dir() {
            err(
                "E080",
                &format!("{ptr}/path"),
                format!(
                    "repository {:?} does not exist ({}); clone it first, the path is relative to {}",
                    r.path,
                    path.display(),
                    file.display()
                ),
            );
        } else if let Err(e) = super::git::resolve(&path, &branch) {
            let (field, what) = if r.branch.is_some() {
                (
                    "branch",
                    format!("branch {branch:?} is not in {:?}", r.path),
                )
            } else {
                (
                    "path",
                    format!("{:?} is not a git clone with commits", r.path),
                )
            };
            err(
                "E080",
                &format!("{ptr}/{field}"),
                format!("{what}: {}", e.to_string().lines().last().unwrap_or("")),
            );
        }
        let name = r.name.clone().unwrap_or_else(|| {
            std::fs::canonicalize(&path)
                .unwrap_or(path.clone())
                .file_name()
                .map(|n| n.to_string_lossy().trim_end_matches(".git").to_string())
                .unwrap_or_else(|| format!("repo{}", i + 1))
        });
        if let Some(first) = names.insert(name.clone(), i) {
            err(
                "E083",
                &ptr,
                format!(
                    "two repositories are named {name:?} (the first is repositories[{first}]); give one a `name:`"
                ),
            );
        }
        let mut services = Vec::new();
        let mut service_names: BTreeMap<&str, usize> = BTreeMap::new();
        for (j, s) in r.services.iter().enumerate() {
            let sptr = format!("{ptr}/services/{j}");
            if let Some(first) = service_names.insert(&s.name, j) {
                err(
                    "E083",
                    &format!("{sptr}/name"),
                    format!(
                        "service {:?} is declared twice (first at services[{first}]); list all its paths under one entry",
                        s.name
                    ),
                );
            }
            let paths = globs(&s.paths, &format!("{sptr}/paths"), &mut |p, m| {
                err("E081", p, m)
            });
            services.push(ServiceRule {
                name: s.name.clone(),
                paths,
                team: s.team.clone(),
                owner: s.owner.clone(),
                tier: s.tier.clone(),
            });
        }
        repositories.push(Repository {
            name,
            path,
            branch,
            services,
            other_service: r.other_service.clone(),
            github: r.github.clone(),
        });
    }
    let roster = spec.roster.as_ref().map(|r| base.join(r));
    if let (Some(path), Some(written)) = (&roster, &spec.roster)
        && !path.is_file()
    {
        err(
            "E082",
            "/roster",
            format!(
                "roster {written:?} does not exist ({}); the path is relative to {}",
                path.display(),
                file.display()
            ),
        );
    }
    let mut bot_patterns: Vec<String> = BUILTIN_BOTS.iter().map(|s| s.to_string()).collect();
    let builtin = bot_patterns.len();
    bot_patterns.extend(spec.identities.bots.iter().cloned());
    let mut bots = Vec::new();
    for (i, p) in bot_patterns.iter().enumerate() {
        match Glob::new(p) {
            Ok(g) => bots.push(g),
            Err(e) => err(
                "E081",
                &format!("/identities/bots/{}", i - builtin),
                format!("bad pattern {p:?}: {e}"),
            ),
        }
    }
    let exclude_paths = globs(&spec.exclude.paths, "/exclude/paths", &mut |p, m| {
        err("E081", p, m)
    });
    let mut github = Github::default();
    if let Some(g) = &spec.github {
        if let Some(api) = &g.api {
            github.api = api.trim_end_matches('/').to_string();
        }
        if let Some(l) = &g.incident_label {
            github.incident_label = l.clone();
        }
        let mut pattern = |p: &Option<String>, field: &str| {
            let p = p.as_ref()?;
            Glob::new(p)
                .map_err(|e| {
                    err(
                        "E081",
                        &format!("/github/{field}"),
                        format!("bad pattern {p:?}: {e}"),
                    )
                })
                .ok()
        };
        if let Some(p) = pattern(&g.production, "production") {
            github.production = p;
        }
        github.deploy_workflow = pattern(&g.deploy_workflow, "deploy_workflow");
    }
    ImportConfig {
        file: file.to_path_buf(),
        text: text.to_string(),
        repositories,
        roster,
        default_team: spec
            .default_team
            .unwrap_or_else(|| "Contributors".to_string()),
        half_life_days: spec.skill_half_life_days.unwrap_or(365),
        merge_same_name: spec.identities.merge_same_name.unwrap_or(true),
        people: spec.identities.people,
        bots,
        exclude_people: spec.exclude.people,
        exclude_paths,
        github,
    }
}
