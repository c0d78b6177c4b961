//! The provider the harness's workflow calls: a loopback HTTP server that
//! records every call (the step it names, the run, the idempotency key, which
//! `weft` process sent it, when it arrived and when it was answered) and
//! answers after a short delay, so that faults land while steps are in
//! flight. Its answer names the call, so the harness can tell which call a
//! stored step output came from.
//!
//! Step `b`'s first call with a key is answered 500 (the step auto-retries)
//! and step `c`'s 429 with `Retry-After: 1` (a rate-limit pause); every
//! later call with the same key succeeds.

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One call as the provider saw it.
#[derive(Debug, Clone)]
pub(super) struct Call {
    /// Its number, in arrival order (what the answer carries).
    pub(super) seq: u64,
    /// The step the path names.
    pub(super) step: String,
    /// The harness's number of the execution's event (`run` parameter).
    pub(super) run: String,
    /// The fan-out item (`item` parameter), empty outside the fan-out.
    pub(super) item: String,
    /// The `Idempotency-Key` header, empty when missing.
    pub(super) key: String,
    /// The local port of the `weft` process's connection.
    port: u16,
    /// When it arrived.
    pub(super) start: Instant,
    /// When the answer went out.
    pub(super) end: Option<Instant>,
}

struct Shared {
    /// The provider's port.
    port: u16,
    calls: Mutex<Vec<Call>>,
    /// The keys of `b` and `c` answered with an error once already, and
    /// how many 500 and 429 answers went out.
    refused: Mutex<(HashSet<String>, usize, usize)>,
}

/// The running provider.
pub(super) struct StepProvider {
    /// `http://127.0.0.1:<port>`.
    pub(super) base: String,
    shared: Arc<Shared>,
}

impl StepProvider {
    /// Starts it on a free loopback port: `/steps/{step}` (any method)
    /// answers `{"call": seq}` after 50 to 300 ms.
    pub(super) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the step provider");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared { port: addr.port(), calls: Mutex::default(), refused: Mutex::default() });
        let app = Router::new().route("/steps/{step}", any(step)).with_state(shared.clone());
        let base = format!("http://{addr}");
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.expect("the step provider") });
        Self { base, shared }
    }

    /// The 500 and 429 answers served so far.
    pub(super) fn refusals(&self) -> (usize, usize) {
        let refused = self.shared.refused.lock().unwrap_or_else(|p| p.into_inner());
        (refused.1, refused.2)
    }

    /// Every call so far.
    pub(super) fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The idempotency keys of the calls not answered yet, by the process
    /// among `pids` that sent them.
    pub(super) fn in_flight(&self, pids: &[u32]) -> HashMap<u32, Vec<String>> {
        let open: Vec<(u16, String)> = {
            let calls = self.shared.calls.lock().unwrap_or_else(|p| p.into_inner());
            calls.iter().filter(|c| c.end.is_none()).map(|c| (c.port, c.key.clone())).collect()
        };
        let mut by_owner: HashMap<u32, Vec<String>> = HashMap::new();
        if open.is_empty() {
            return by_owner;
        }
        let sockets = Sockets::read(self.shared.port, pids);
        for (port, key) in open {
            if let Some(owner) = sockets.owner(port) {
                by_owner.entry(owner).or_default().push(key);
            }
        }
        by_owner
    }
}

async fn step(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(step): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let seq = {
        let mut calls = shared.calls.lock().unwrap_or_else(|p| p.into_inner());
        let seq = calls.len() as u64;
        calls.push(Call {
            seq,
            step: step.clone(),
            run: query.get("run").cloned().unwrap_or_default(),
            item: query.get("item").cloned().unwrap_or_default(),
            key: key.clone(),
            port: peer.port(),
            start: Instant::now(),
            end: None,
        });
        seq
    };
    // 50 to 300 ms, spread by a hash of the call's number.
    let delay = 50 + seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 251;
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let first_of_key = {
        let mut refused = shared.refused.lock().unwrap_or_else(|p| p.into_inner());
        let failing = matches!(step.as_str(), "b" | "c") && refused.0.insert(key.clone());
        match (failing, step.as_str()) {
            (true, "b") => refused.1 += 1,
            (true, _) => refused.2 += 1,
            _ => {}
        }
        failing
    };
    shared.calls.lock().unwrap_or_else(|p| p.into_inner())[seq as usize].end = Some(Instant::now());
    match (first_of_key, step.as_str()) {
        (true, "b") => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": "try again"}))).into_response(),
        (true, _) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(json!({"error": "slow down"})))
            .into_response(),
        _ => axum::Json(json!({ "call": seq })).into_response(),
    }
}

/// Which process holds which client socket to the provider: the sockets
/// of `/proc/net/tcp` connected to its port, and the socket inodes among
/// each process's descriptors.
struct Sockets {
    /// Local port to socket inode.
    inodes: HashMap<u16, String>,
    /// Socket inode to pid.
    owners: HashMap<String, u32>,
}

impl Sockets {
    fn read(provider_port: u16, pids: &[u32]) -> Self {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let remote = format!(":{provider_port:04X}");
        let mut inodes = HashMap::new();
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, rem_address and inode are fields 1, 2 and 9.
            if fields.len() > 9 && fields[2].ends_with(&remote) {
                let port = fields[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
                if let Some(port) = port {
                    inodes.insert(port, fields[9].to_owned());
                }
            }
        }
        let mut owners = HashMap::new();
        for &pid in pids {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
            for fd in fds.flatten() {
                let Ok(link) = std::fs::read_link(fd.path()) else { continue };
                let link = link.to_string_lossy();
                if let Some(inode) = link.strip_prefix("socket:[").and_then(|l| l.strip_suffix(']')) {
                    owners.insert(inode.to_owned(), pid);
                }
            }
        }
        Self { inodes, owners }
    }

    fn owner(&self, port: u16) -> Option<u32> {
        self.owners.get(self.inodes.get(&port)?).copied()
    }
}
