//! The canary sweep at the end of `cargo xtask test` (TESTING.md C7-98).
//!
//! The test processes register every secret they hand the server as a
//! canary, and leave their captured log lines and the servers' data
//! directories (SQLite files, PostgreSQL dumps) in the sweep directory
//! (`tests/src/sweep.rs`). Here every one of those files is scanned for every
//! canary at once; one found anywhere fails the run, naming the file.

use aho_corasick::AhoCorasick;
use anyhow::{Context, bail};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the sweep does not read: plugin components copied into data
/// directories and compiled-component caches hold no secrets and are large.
fn skipped(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm" || e == "cwasm")
        || path.components().any(|c| c.as_os_str() == "plugin-cache" || c.as_os_str() == "cache")
}

fn files_under(dir: &Path, into: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            files_under(&path, into)?;
        } else if !skipped(&path) {
            into.push(path);
        }
    }
    Ok(())
}

/// Scans the sweep directory `dir`; fails when a canary turns up, or, with
/// `whole_suite`, when none was registered (the sweep would prove nothing).
pub(crate) fn check(dir: &Path, whole_suite: bool) -> anyhow::Result<()> {
    let mut canary_files = Vec::new();
    files_under(&dir.join("canaries"), &mut canary_files)?;
    let mut canaries = BTreeSet::new();
    for file in &canary_files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        canaries.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
    if canaries.is_empty() {
        if whole_suite {
            bail!("canary sweep: no canary was registered in {}; the sweep would prove nothing", dir.display());
        }
        eprintln!("canary sweep: no canary registered by the tests run");
        return Ok(());
    }
    let canaries: Vec<String> = canaries.into_iter().collect();
    let matcher = AhoCorasick::new(&canaries).context("building the canary matcher")?;
    let mut files = Vec::new();
    files_under(&dir.join("logs"), &mut files)?;
    files_under(&dir.join("data"), &mut files)?;
    let (mut bytes, mut found) = (0u64, Vec::new());
    for file in &files {
        let content = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        bytes += content.len() as u64;
        let hits: BTreeSet<usize> = matcher.find_iter(&content).map(|m| m.pattern().as_usize()).collect();
        found.extend(hits.into_iter().map(|i| (file.clone(), canaries[i].clone())));
    }
    eprintln!(
        "canary sweep: {} canaries, {} files, {} MiB scanned, {} found",
        canaries.len(),
        files.len(),
        bytes >> 20,
        found.len()
    );
    if !found.is_empty() {
        let list: Vec<String> =
            found.iter().take(20).map(|(file, canary)| format!("  {canary} in {}", file.display())).collect();
        bail!("canary sweep: secrets found in logs or stored unsealed:\n{}", list.join("\n"));
    }
    Ok(())
}
