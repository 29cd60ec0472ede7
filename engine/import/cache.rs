//! What makes a second import incremental: the commits already read, per repository, as
//! JSON lines under `DATA_DIR/import/`, and the commit each read stopped at. The next
//! import reads `last..head` only; a history rewritten under it (a force-push, another
//! branch or path in import.yaml) is read again from scratch. The dataset is rebuilt from
//! all the commits kept, so the same history always gives the same rows.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::git::RawCommit;

/// Where one repository's read stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoState {
    pub path: String,
    pub branch: String,
    /// The last commit read (the branch's head then).
    pub head: String,
    pub commits: usize,
}

/// The cache directory of a data dir.
pub struct Cache {
    dir: PathBuf,
}

pub(super) fn file_name(repo: &str) -> String {
    repo.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Cache {
    pub fn new(data_dir: &Path) -> Cache {
        Cache {
            dir: data_dir.join("import"),
        }
    }

    fn commits_path(&self, repo: &str) -> PathBuf {
        self.dir.join(format!("{}.commits.jsonl", file_name(repo)))
    }

    fn state_path(&self, repo: &str) -> PathBuf {
        self.dir.join(format!("{}.state.json", file_name(repo)))
    }

    /// Where the last read of `repo` stopped, if any.
    pub fn state(&self, repo: &str) -> Option<RepoState> {
        let text = std::fs::read_to_string(self.state_path(repo)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The commits kept for `repo` (none without a state: a half-written cache is ignored).
    pub fn commits(&self, repo: &str) -> anyhow::Result<Vec<RawCommit>> {
        if self.state(repo).is_none() {
            return Ok(Vec::new());
        }
        let path = self.commits_path(repo);
        let Ok(f) = std::fs::File::open(&path) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(&line).map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}: unreadable cached commit ({e}); delete the file to read the history again",
                    path.display(),
                    i + 1
                )
            })?);
        }
        Ok(out)
    }

    /// Records `new` commits of `repo` (replacing what was kept when `replace`), then the
    /// state: a crash in between leaves the old state, and the next run reads again.
    pub fn save(
        &self,
        repo: &str,
        new: &[RawCommit],
        replace: bool,
        state: &RepoState,
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.commits_path(repo);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(!replace)
            .truncate(replace)
            .open(&path)?;
        let mut buf = Vec::new();
        for c in new {
            serde_json::to_writer(&mut buf, c)?;
            buf.push(b'\n');
        }
        f.write_all(&buf)?;
        f.sync_all()?;
        let tmp = self.state_path(repo).with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(state)?)?;
        std::fs::rename(tmp, self.state_path(repo))?;
        Ok(())
    }
}
