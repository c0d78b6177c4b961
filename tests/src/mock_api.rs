//! A provider API for the Proxy API tests, on a chosen loopback address,
//! recording every request (method, URI, headers, body, arrival time).
//!
//! [`MockApi`] serves well-formed HTTP with behaviours picked by path;
//! [`FaultServer`] speaks raw TCP for the faults a real HTTP server cannot
//! produce on purpose (a reset, a truncated body, a black hole, a flood of
//! headers). Both count what reaches them, so a test can assert that a
//! refused call never left Weft.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the provider saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Method.
    pub method: String,
    /// Path and query, as received.
    pub uri: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Hit {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    /// `/api/once-401`: answers 401 this many more times.
    unauthorized: AtomicUsize,
    /// `/api/flaky/{key}/{fails}`: requests so far per key.
    flaky: Mutex<std::collections::HashMap<String, u32>>,
    /// `/api/gauge/{key}/{ms}`: (in flight now, most in flight at once) per key.
    gauges: Mutex<std::collections::HashMap<String, (u32, u32)>>,
}

/// A running provider API.
pub struct MockApi {
    /// `http://<ip>:<port>`.
    pub origin: String,
    /// The bound address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// The deterministic content of `/api/bytes/{n}`: byte `i` is `i % 251`.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

impl MockApi {
    /// Starts the API on `ip` (any 127.x address works on Linux). Routes,
    /// all under `/api`:
    /// - `echo` (any method): `{method, uri, headers, body}` of the request;
    /// - `me`: an account (`test-apikey`'s connection test);
    /// - `json`: `{"ok": true}` with `Set-Cookie` and a custom header; `text`: plain text;
    /// - `bytes/{n}`: `n` pattern bytes ([`pattern_byte`]) in 64 KiB chunks, with a length;
    /// - `stream/{n}`: the same, chunked without a length;
    /// - `slow/{ms}`: answers after `ms`; `trickle`: one byte a second, forever;
    /// - `status/{code}`: that status (429 and 503 carry `Retry-After: 2`);
    /// - `limited`: 200 with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset: 3`;
    /// - `redirect?to=<url>`: 302 to `url`;
    /// - `once-401`: 401 while [`MockApi::fail_auth`] says so, then the echo;
    /// - `flaky/{key}/{fails}`: 503 for the first `fails` requests naming `key`, then
    ///   200 `{"attempt": n}` (the n-th request);
    /// - `throttled/{key}/{fails}`: as `flaky`, with 429 and `Retry-After: 1`;
    /// - `gauge/{key}/{ms}`: answers after `ms`, counting how many requests naming `key`
    ///   are in flight at once ([`MockApi::most_in_flight`]);
    /// - `gzip-bomb`: 64 MiB of zeros gzipped, `Content-Encoding: gzip`;
    /// - `pages/{key}/{mode}`: a paginated list (see [`pages`]).
    pub async fn start_on(ip: Ipv4Addr) -> Self {
        let shared: Arc<Shared> = Arc::default();
        let app = Router::new()
            .route("/api/echo", any(echo))
            .route("/api/me", any(|| async { axum::Json(json!({"id": "acct-1", "name": "Mock account"})) }))
            .route(
                "/api/json",
                any(|| async {
                    ([("set-cookie", "sid=provider; Path=/"), ("x-provider", "1")], axum::Json(json!({"ok": true})))
                }),
            )
            .route("/api/text", any(|| async { "plain text" }))
            .route("/api/bytes/{n}", any(|Path(n): Path<u64>| async move { pattern_body(n, true) }))
            .route("/api/stream/{n}", any(|Path(n): Path<u64>| async move { pattern_body(n, false) }))
            .route(
                "/api/slow/{ms}",
                any(|Path(ms): Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    axum::Json(json!({"late": true}))
                }),
            )
            .route("/api/trickle", any(trickle))
            .route("/api/status/{code}", any(status))
            .route(
                "/api/limited",
                any(|| async {
                    ([("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "3")], axum::Json(json!({"ok": true})))
                }),
            )
            .route("/api/redirect", any(redirect))
            .route("/api/once-401", any(once_401))
            .route("/api/flaky/{key}/{fails}", any(flaky))
            .route("/api/gauge/{key}/{ms}", any(gauge))
            .route("/api/throttled/{key}/{fails}", any(throttled))
            .route("/api/gzip-bomb", any(gzip_bomb))
            .route("/api/pages/{key}/{mode}", any(pages))
            .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind mock API");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("mock API") });
        static PREPARING: std::sync::Once = std::sync::Once::new();
        PREPARING.call_once(|| {
            std::thread::spawn(bomb);
        });
        Self { origin: format!("http://{addr}"), addr, shared }
    }

    /// The base URL an integration points at: `origin` + `/api`.
    pub fn api_base(&self) -> String {
        format!("{}/api", self.origin)
    }

    /// `origin` + `path`.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Everything received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.shared.hits.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The most requests to `/api/gauge/{key}/…` that were in flight at once.
    pub fn most_in_flight(&self, key: &str) -> u32 {
        self.shared.gauges.lock().unwrap_or_else(|p| p.into_inner()).get(key).map_or(0, |g| g.1)
    }

    /// `/api/once-401` answers 401 the next `times` times.
    pub fn fail_auth(&self, times: usize) {
        self.shared.unauthorized.store(times, Ordering::SeqCst);
    }
}

async fn record(State(shared): State<Arc<Shared>>, req: Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let hit = Hit {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: bytes.to_vec(),
        at: Instant::now(),
    };
    shared.hits.lock().unwrap_or_else(|p| p.into_inner()).push(hit);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn echo(req: Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), Value::String(v.to_str().unwrap_or("").to_owned())))
        .collect();
    let body = serde_json::from_slice::<Value>(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    axum::Json(json!({"method": parts.method.as_str(), "uri": parts.uri.to_string(), "headers": headers, "body": body}))
}

fn pattern_body(n: u64, with_length: bool) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunks = futures::stream::unfold(0u64, move |sent| async move {
        if sent >= n {
            return None;
        }
        let len = CHUNK.min(n - sent);
        let chunk: Vec<u8> = (sent..sent + len).map(pattern_byte).collect();
        Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), sent + len))
    });
    let mut resp = Response::new(Body::from_stream(chunks));
    resp.headers_mut().insert("content-type", "application/octet-stream".parse().expect("header"));
    if with_length {
        resp.headers_mut().insert("content-length", n.to_string().parse().expect("header"));
    }
    resp
}

async fn trickle() -> Response {
    let drip = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
    });
    Response::new(Body::from_stream(drip))
}

async fn status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let mut headers = HeaderMap::new();
    if code == 429 || code == 503 {
        headers.insert("retry-after", "2".parse().expect("header"));
    }
    (status, headers, axum::Json(json!({"status": code}))).into_response()
}

async fn flaky(State(shared): State<Arc<Shared>>, Path((key, fails)): Path<(String, u32)>) -> Response {
    let attempt = {
        let mut counts = shared.flaky.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    if attempt <= fails {
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"attempt": attempt}))).into_response();
    }
    axum::Json(json!({"attempt": attempt})).into_response()
}

async fn throttled(State(shared): State<Arc<Shared>>, Path((key, fails)): Path<(String, u32)>) -> Response {
    let attempt = {
        let mut counts = shared.flaky.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(format!("throttled:{key}")).or_insert(0);
        *n += 1;
        *n
    };
    if attempt <= fails {
        let limited = json!({"status": "error", "message": "You have reached your limit.", "errorType": "RATE_LIMIT"});
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(limited)).into_response();
    }
    axum::Json(json!({"attempt": attempt})).into_response()
}

/// A paginated list: the page a request asks for is its cursor, read from
/// the `cursor` parameter, else the `x-cursor` header, else the JSON body's
/// `cursor` (none: the first page). Pages are `{"data": [...], "cursor":
/// <the cursor received>, "next": <the next page's cursor>}`, `next` left
/// out on the last. By `mode`:
/// - `three`: `[1, 2]` then `p2`, `[3, 4]` then `p3`, `[5]` and the end;
/// - `fail401`: the same, but `p3` answers 401;
/// - `throttled`: the same, but `p2` answers 429 twice (first with
///   `Retry-After: 1`, then without) before its page (counted per `key`);
/// - `repeat`: every page is `[1, 2]` with `next` `same`;
/// - `endless`: page `pN` is `[N]` with `next` `p(N+1)`, for ever.
async fn pages(State(shared): State<Arc<Shared>>, Path((key, mode)): Path<(String, String)>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let from_query = parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned())
    });
    let from_header = || parts.headers.get("x-cursor").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let from_body = || serde_json::from_slice::<Value>(&bytes).ok()?.get("cursor")?.as_str().map(str::to_owned);
    let cursor = from_query.or_else(from_header).or_else(from_body);
    let number = cursor.as_deref().map_or(1, |c| c.trim_start_matches('p').parse::<u64>().unwrap_or(0));
    let tries = {
        let mut counts = shared.flaky.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(format!("pages:{key}:{cursor:?}")).or_insert(0);
        *n += 1;
        *n
    };
    let (data, next) = match (mode.as_str(), number) {
        ("repeat", _) => (json!([1, 2]), Some("same".to_owned())),
        ("endless", n) => (json!([n]), Some(format!("p{}", n + 1))),
        ("fail401", 3) => return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "expired"}))).into_response(),
        ("throttled", 2) if tries <= 2 => {
            let mut headers = HeaderMap::new();
            if tries == 1 {
                headers.insert("retry-after", "1".parse().expect("header"));
            }
            return (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(json!({"error": "slow down"}))).into_response();
        }
        (_, 1) => (json!([1, 2]), Some("p2".to_owned())),
        (_, 2) => (json!([3, 4]), Some("p3".to_owned())),
        (_, 3) => (json!([5]), None),
        _ => return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "no such page"}))).into_response(),
    };
    let mut page = json!({"data": data, "cursor": cursor});
    if let Some(next) = next {
        page["next"] = json!(next);
    }
    axum::Json(page).into_response()
}

async fn gauge(State(shared): State<Arc<Shared>>, Path((key, ms)): Path<(String, u64)>) -> Response {
    let now = {
        let mut gauges = shared.gauges.lock().unwrap_or_else(|p| p.into_inner());
        let g = gauges.entry(key.clone()).or_insert((0, 0));
        g.0 += 1;
        g.1 = g.1.max(g.0);
        g.0
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    if let Some(g) = shared.gauges.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key) {
        g.0 -= 1;
    }
    axum::Json(json!({"inFlight": now})).into_response()
}

async fn redirect(req: Request) -> Response {
    let to = req
        .uri()
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "to").map(|(_, v)| v.into_owned()))
        .unwrap_or_else(|| "/api/json".into());
    (StatusCode::FOUND, [("location", to)], "").into_response()
}

async fn once_401(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let left = shared.unauthorized.load(Ordering::SeqCst);
    if left > 0 {
        shared.unauthorized.store(left - 1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "expired"}))).into_response();
    }
    echo(req).await.into_response()
}

/// The gzip bomb's body: compressed once per test process, on a thread of
/// its own started with the first mock, so that the answer comes faster
/// than the proxy's timeout however busy the machine is.
fn bomb() -> Bytes {
    static BOMB: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..64 {
            gz.write_all(&zeros).expect("gzip");
        }
        Bytes::from(gz.finish().expect("gzip"))
    })
    .clone()
}

async fn gzip_bomb() -> Response {
    let body = tokio::task::spawn_blocking(bomb).await.expect("gzip");
    ([("content-encoding", "gzip"), ("content-type", "application/json")], body).into_response()
}

/// What a [`FaultServer`] does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reads the request and never answers, never closes.
    BlackHole,
    /// Reads the request and resets the connection.
    Reset,
    /// Declares 1000 bytes, sends 10, closes.
    Truncated,
    /// Answers with 10 000 headers.
    HeaderFlood,
}

/// A raw TCP peer that misbehaves in one way.
pub struct FaultServer {
    /// `http://<ip>:<port>`.
    pub origin: String,
    accepted: Arc<AtomicUsize>,
}

impl FaultServer {
    /// Starts a peer on `ip` doing `fault` to every connection.
    pub async fn start_on(ip: Ipv4Addr, fault: Fault) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind fault server");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(misbehave(socket, fault));
            }
        });
        Self { origin: format!("http://{addr}"), accepted }
    }

    /// The base URL an integration points at.
    pub fn api_base(&self) -> String {
        format!("{}/api", self.origin)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn misbehave(mut socket: tokio::net::TcpStream, fault: Fault) {
    // Read the request head (bodies are not sent to these paths).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    match fault {
        Fault::BlackHole => {
            // Hold the connection open, silent, until the peer gives up.
            let _ = socket.read(&mut buf).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Fault::Reset => {
            // Linger 0 makes the close a reset; it does not block with 0.
            #[allow(deprecated)]
            let _ = socket.set_linger(Some(Duration::ZERO));
            drop(socket);
        }
        Fault::Truncated => {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"partial\":",
                )
                .await;
            let _ = socket.shutdown().await;
        }
        Fault::HeaderFlood => {
            let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n".to_vec();
            for i in 0..10_000 {
                answer.extend_from_slice(format!("x-flood-{i}: {}\r\n", "v".repeat(90)).as_bytes());
            }
            answer.extend_from_slice(b"\r\n{}");
            let _ = socket.write_all(&answer).await;
            let _ = socket.shutdown().await;
        }
    }
}
