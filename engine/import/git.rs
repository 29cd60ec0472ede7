//! Reading a local clone's history with the `git` CLI, streamed: one `git log` whose
//! records are parsed as they arrive, so memory follows the commits kept, not the output.
//!
//! `%aN`/`%aE` make git apply the repository's `.mailmap` (and `mailmap.file`), which is
//! what a team already maintains; `--no-renames` keeps line counts plain (a move is a
//! deletion and an addition) and `--numstat` gives lines per file (binary files: `-`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A person as a commit names them (after `.mailmap`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    pub name: String,
    pub email: String,
}

/// One file a commit changed; lines are None for a binary file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    pub added: Option<i64>,
    pub deleted: Option<i64>,
}

/// One commit as read: what the dataset is built from, kept in the import cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawCommit {
    pub sha: String,
    pub parents: Vec<String>,
    pub author: Signature,
    pub authored_at: DateTime<Utc>,
    pub committer: Signature,
    pub committed_at: DateTime<Utc>,
    pub subject: String,
    /// `Co-authored-by:` trailers of the message, in order.
    pub co_authors: Vec<Signature>,
    pub files: Vec<FileChange>,
}

/// Fields of a record, separated by US; records start with RS. Neither occurs in text.
const FORMAT: &str = "--format=%x1e%H%x1f%P%x1f%aN%x1f%aE%x1f%aI%x1f%cN%x1f%cE%x1f%cI%x1f%B%x1f";

/// Runs `git` in `repo`, returning its trimmed stdout, or an error with its stderr.
pub fn git(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run git (is it installed?): {e}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "git {} in {}: {}",
            args.join(" "),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit `rev` names in `repo` (a full sha).
pub fn resolve(repo: &Path, rev: &str) -> anyhow::Result<String> {
    git(
        repo,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )
}

/// Whether `ancestor` is reachable from `head` (a force-push makes it not).
pub fn is_ancestor(repo: &Path, ancestor: &str, head: &str) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["merge-base", "--is-ancestor", ancestor, head])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Streams the commits reachable from `head` and not from `since` (all of them without
/// `since`), newest first, to `each`. Returns how many were read.
pub fn read_commits(
    repo: &Path,
    head: &str,
    since: Option<&str>,
    each: &mut dyn FnMut(RawCommit),
) -> anyhow::Result<usize> {
    let range = match since {
        Some(s) => format!("{s}..{head}"),
        None => head.to_string(),
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "core.quotePath=false",
            "log",
            "--numstat",
            "--no-renames",
            "--no-color",
            FORMAT,
            &range,
            "--",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run git (is it installed?): {e}"))?;
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        if reader.read_until(0x1e, &mut buf)? == 0 {
            break;
        }
        if buf.last() == Some(&0x1e) {
            buf.pop();
        }
        let record = String::from_utf8_lossy(&buf);
        if record.trim().is_empty() {
            continue;
        }
        each(parse_record(&record)?);
        n += 1;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!(
            "git log {range} in {}: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(n)
}

/// Maps `Co-authored-by:` identities through the repository's `.mailmap` as `%aN`/`%aE`
/// map authors (git does not map trailers by itself): one `git check-mailmap --stdin`.
pub fn map_co_authors(repo: &Path, commits: &mut [RawCommit]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut seen: Vec<Signature> = commits
        .iter()
        .flat_map(|c| c.co_authors.iter().cloned())
        .filter(|s| {
            !s.email.is_empty() && !format!("{}{}", s.name, s.email).contains(['<', '>', '\n'])
        })
        .collect();
    seen.sort();
    seen.dedup();
    if seen.is_empty() {
        return Ok(());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["check-mailmap", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run git (is it installed?): {e}"))?;
    let mut input = String::new();
    for s in &seen {
        input.push_str(&format!("{} <{}>\n", s.name, s.email));
    }
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from a thread: git answers line by line, and a full pipe would block both.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to git check-mailmap"))??;
    if !out.status.success() {
        anyhow::bail!(
            "git check-mailmap in {}: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mapped: Vec<Signature> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.rsplit_once('<')?;
            Some(Signature {
                name: name.trim().to_string(),
                email: rest.trim_end_matches('>').trim().to_string(),
            })
        })
        .collect();
    if mapped.len() != seen.len() {
        anyhow::bail!(
            "git check-mailmap answered {} of {} identities",
            mapped.len(),
            seen.len()
        );
    }
    let map: std::collections::HashMap<&Signature, &Signature> = seen.iter().zip(&mapped).collect();
    for c in commits {
        for s in &mut c.co_authors {
            if let Some(m) = map.get(s) {
                *s = (*m).clone();
            }
        }
    }
    Ok(())
}

/// One record of [`FORMAT`] followed by its `--numstat` lines.
fn parse_record(record: &str) -> anyhow::Result<RawCommit> {
    let fields: Vec<&str> = record.splitn(10, '\x1f').collect();
    let [sha, parents, an, ae, ai, cn, ce, ci, body, numstat] = fields[..] else {
        anyhow::bail!("unexpected git log record: {:?}", truncate(record));
    };
    let time = |t: &str| {
        DateTime::parse_from_rfc3339(t.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| anyhow::anyhow!("bad date {t:?} in commit {sha}: {e}"))
    };
    Ok(RawCommit {
        sha: sha.trim().to_string(),
        parents: parents.split_whitespace().map(str::to_string).collect(),
        author: Signature {
            name: an.trim().to_string(),
            email: ae.trim().to_string(),
        },
        authored_at: time(ai)?,
        committer: Signature {
            name: cn.trim().to_string(),
            email: ce.trim().to_string(),
        },
        committed_at: time(ci)?,
        subject: body.lines().next().unwrap_or("").trim().to_string(),
        co_authors: co_authors(body),
        files: numstat.lines().filter_map(file_change).collect(),
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// `Co-authored-by: Name <email>` lines (any case), as GitHub writes them.
pub fn co_authors(body: &str) -> Vec<Signature> {
    body.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (key, value) = l.split_once(':')?;
            if !key.trim().eq_ignore_ascii_case("co-authored-by") {
                return None;
            }
            let (name, rest) = value.split_once('<')?;
            let email = rest.split_once('>')?.0.trim();
            let name = name.trim();
            (!name.is_empty() || !email.is_empty()).then(|| Signature {
                name: name.to_string(),
                email: email.to_string(),
            })
        })
        .collect()
}

/// One `--numstat` line: `added<TAB>deleted<TAB>path`.
fn file_change(line: &str) -> Option<FileChange> {
    let mut parts = line.splitn(3, '\t');
    let (a, d, path) = (parts.next()?, parts.next()?, parts.next()?);
    let count = |s: &str| s.trim().parse::<i64>().ok();
    Some(FileChange {
        path: unquote(path.trim_end_matches(['\r', '\n'])),
        added: count(a),
        deleted: count(d),
    })
}

/// A path git quoted C-style (it contains a quote, a backslash or a control character).
fn unquote(path: &str) -> String {
    let Some(inner) = path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) else {
        return path.to_string();
    };
    let mut bytes = Vec::new();
    let mut chars = inner.bytes().peekable();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match chars.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&o @ b'0'..=b'7') = chars.peek() {
                        v = v * 8 + u32::from(o - b'0');
                        chars.next();
                    }
                }
                bytes.push(v as u8);
            }
            Some(other) => bytes.push(other),
            None => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_trailers_and_numstat_parses() {
        let rec = "abc\x1fp1 p2\x1fAnn\x1fann@x.org\x1f2024-01-02T03:04:05+02:00\x1fGitHub\x1fnoreply@github.com\x1f2024-01-02T04:00:00Z\x1fFix it (#12)\n\nbody\n\nCo-authored-by: Bob B <bob@y.org>\nco-authored-by: Eve <eve@z.org>\n\x1f\n\n3\t1\tsrc/a.rs\n-\t-\timg.png\n";
        let c = parse_record(rec).unwrap();
        assert_eq!(c.parents, ["p1", "p2"]);
        assert_eq!(c.subject, "Fix it (#12)");
        assert_eq!(c.authored_at.to_rfc3339(), "2024-01-02T01:04:05+00:00");
        assert_eq!(c.co_authors.len(), 2);
        assert_eq!(c.co_authors[0].email, "bob@y.org");
        assert_eq!(c.files.len(), 2);
        assert_eq!(c.files[0].added, Some(3));
        assert_eq!(c.files[1].added, None);
    }

    #[test]
    fn quoted_paths_are_unquoted() {
        assert_eq!(unquote("\"a\\\"b\\303\\251\""), "a\"bé");
        assert_eq!(unquote("plain"), "plain");
    }
}
