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

/// The numbered lines of `text` that are built into Weft: all but the
/// bodies of top-level `#[cfg(test)] mod ... { ... }` blocks (unit tests
/// may open loopback connections to the code under test).
fn shipped_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let opens_test_module = lines[i] == "#[cfg(test)]"
            && lines.get(i + 1).is_some_and(|next| next.starts_with("mod ") && next.ends_with('{'));
        if opens_test_module {
            // rustfmt closes a top-level module with `}` alone on a line.
            while i < lines.len() && lines[i] != "}" {
                i += 1;
            }
        } else {
            out.push((i, lines[i]));
        }
        i += 1;
    }
    out
}

#[test]
fn test_modules_are_skipped_and_nothing_else() {
    let text =
        "use a;\n#[cfg(test)]\nmod tests {\n    TcpStream::connect(x);\n}\nfn after() { TcpStream::connect(y) }\n";
    let kept: Vec<&str> = shipped_lines(text).into_iter().map(|(_, l)| l).collect();
    assert_eq!(kept, ["use a;", "fn after() { TcpStream::connect(y) }"]);
    // A test attribute on anything but a module hides nothing.
    let text = "#[cfg(test)]\nfn helper() {}\nTcpStream::connect(z);\n";
    assert_eq!(shipped_lines(text).len(), 3);
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
        for (n, line) in shipped_lines(&text) {
            // Serving HTTP (hyper's server side) opens no outbound connection.
            let serving = line.contains("server::conn::http1::Builder");
            if !serving && FORBIDDEN.iter().any(|f| line.contains(f)) {
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
