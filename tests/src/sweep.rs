//! The canary sweep (TESTING.md C7-98): every secret a test hands the
//! server (an account's API key, an access or refresh token a mock
//! authorization server issues, an app's client secret) is registered
//! here as a canary; at the end of the suite, `cargo xtask test` scans every
//! log line the suite captured and every data directory it left for every
//! canary, and fails if one is found: secrets are only ever stored sealed
//! and never logged.
//!
//! The sweep is on when `WEFT_SWEEP_DIR` is set (`cargo xtask test` sets
//! it). Then each test process appends its canaries to
//! `canaries/<pid>.txt`, its captured log lines to `logs/<pid>.jsonl`
//! (`crate::logs`), and server data directories are made under `data/`
//! and left in place. Without it (a plain `cargo test`) registering costs
//! nothing and data directories are removed as usual.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The variable naming the sweep directory.
pub const SWEEP_DIR_VAR: &str = "WEFT_SWEEP_DIR";

/// The sweep directory, when the sweep is on.
pub fn dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os(SWEEP_DIR_VAR).filter(|v| !v.is_empty()).map(PathBuf::from)).as_deref()
}

/// A file of this process under `sub/` of the sweep directory.
pub(crate) fn process_file(sub: &str, extension: &str) -> Option<std::fs::File> {
    let dir = dir()?.join(sub);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{}.{extension}", std::process::id()));
    std::fs::OpenOptions::new().create(true).append(true).open(path).ok()
}

/// Registers `secret` as a canary: it must never be found in a log line or,
/// unsealed, in a data directory. Values shorter than 12 characters are
/// refused: they could turn up by chance.
pub fn register(secret: &str) {
    assert!(secret.len() >= 12, "a canary must be at least 12 characters, got {secret:?}");
    assert!(!secret.contains('\n'), "a canary is one line");
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    let Some(file) = FILE.get_or_init(|| process_file("canaries", "txt").map(Mutex::new)) else {
        return;
    };
    let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(file, "{secret}");
}

/// A fresh canary secret for `label` (`wcanary-<label>-<32 hex digits>`),
/// registered.
pub fn canary(label: &str) -> String {
    let secret = format!("wcanary-{label}-{}", uuid::Uuid::new_v4().simple());
    register(&secret);
    secret
}

/// A directory for a server's data: kept for the sweep when it is on,
/// removed on drop otherwise.
pub fn data_dir() -> tempfile::TempDir {
    match dir() {
        Some(sweep) => {
            let parent = sweep.join("data");
            std::fs::create_dir_all(&parent).expect("creating the sweep's data directory");
            let mut dir = tempfile::Builder::new().prefix("app-").tempdir_in(parent).expect("a data directory");
            dir.disable_cleanup(true);
            dir
        }
        None => tempfile::tempdir().expect("a data directory"),
    }
}
