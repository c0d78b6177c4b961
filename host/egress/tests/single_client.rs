//! C4-68: the egress client is the only place in Weft's host crates that
//! opens an outbound connection. Any other (a `reqwest::Client::new()`, a
//! hyper client connection, a bare TCP connect) would bypass the network
//! policy, the redirect rule and the size caps, so this test fails the
//! build of such a change.

use std::path::{Path, PathBuf};

/// The one file allowed to open connections.
const ALLOWED: &str = "egress/src/conn.rs";

/// Spellings that build an outbound HTTP client or open a connection.
const FORBIDDEN: [&str; 10] = [
    "reqwest::",
    "Client::builder()",
    "hyper_util::client",
    "client::conn",
    "http1::Builder",
    "TcpStream::connect",
    "TlsConnector",
    "ureq::",
    "isahc::",
    "surf::",
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
        // The client's own module wires the connector it is handed.
        if relative == ALLOWED || relative == "egress/src/client.rs" {
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
    for spelling in ["http1::Builder", "TcpStream::connect"] {
        assert!(allowed.contains(spelling), "the scan looks for {spelling}, which the egress client uses");
    }
}
