//! C4-68: the egress client is the only place in Weft's host crates that
//! builds an HTTP client. Any other (a `reqwest::Client::new()`, a builder,
//! hyper's client) would bypass the network policy, the redirect rule and
//! the size caps, so this test fails the build of such a change.

use std::path::{Path, PathBuf};

/// The one file allowed to build a client.
const ALLOWED: &str = "egress/src/client.rs";

/// Spellings that build an outbound HTTP client.
const FORBIDDEN: [&str; 6] = [
    "reqwest::Client::new",
    "reqwest::Client::builder",
    "reqwest::ClientBuilder",
    "Client::builder()",
    "hyper_util::client",
    "ureq::",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target" && n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_egress_client_builds_an_http_client() {
    let host = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    rust_files(host, &mut files);
    assert!(files.len() > 50, "the scan found the host crates ({} files)", files.len());
    let mut offenders = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(host).unwrap().to_string_lossy().replace('\\', "/");
        if relative == ALLOWED {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if FORBIDDEN.iter().any(|f| line.contains(f)) {
                offenders.push(format!("{relative}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "build outbound clients only in host/{ALLOWED}:\n{}", offenders.join("\n"));
    let allowed = std::fs::read_to_string(host.join(ALLOWED)).unwrap();
    assert!(allowed.contains("reqwest::Client::builder"), "the scan looks for the spelling the egress client uses");
}
