//! Slow and greedy clients (issue 24, defect 4): half a header block, a
//! declared body far over the cap, a body that stalls, many connections
//! from one address, and stalled connections open at shutdown. Each is
//! bounded by a setting; the tests set it short and check the outcome
//! (closed, refused, answered), never how fast.

use crate::proxy::fixture::{ProxyFixture, parse_answer};
use crate::support::*;
use reqwest::Method;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any of these waits for the server: far beyond every limit the
/// tests set, so only a missing limit reaches it.
const BOUND: Duration = Duration::from_secs(20);

/// The server's address in `base` (`http://host:port`).
fn addr_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

/// A connection to `server` from the local address `from`.
async fn connect_from(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// A connection from 127.0.0.1 that has sent `bytes`.
async fn sent(server: SocketAddr, bytes: &str) -> TcpStream {
    let mut stream = connect_from([127, 0, 0, 1], server).await;
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes the connection; `None` if
/// it is still open after [`BOUND`]. A reset counts as closed.
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, read).await.ok()?;
    Some(bytes)
}

/// `GET /healthz` on `stream`, closing after: the status, or 0 when the
/// connection was closed unanswered.
async fn health_status(mut stream: TcpStream) -> u16 {
    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: weft\r\nconnection: close\r\n\r\n").await;
    until_closed(&mut stream).await.map_or(0, |bytes| parse_answer(&bytes).status)
}

/// A proxy call's head with `Content-Length: declared` and the start of
/// its body (`sent_bytes` of it).
fn proxy_post(f: &ProxyFixture, declared: u64, sent_bytes: usize) -> String {
    format!(
        "POST {} HTTP/1.1\r\nhost: weft\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: {declared}\r\n\r\n{}",
        f.target("test-proxy/echo"),
        f.token("u1"),
        "x".repeat(sent_bytes)
    )
}

fn assert_error_shape(body: &Value, status: u16, code: &str) {
    assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(status.into()), Some(code)), "{body}");
    assert!(body["meta"]["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
}

#[tokio::test]
async fn half_a_header_block_is_cut_after_the_header_timeout() {
    let app = spawn_app_with(&[], |s| s.server.header_read_timeout_ms = 300).await;
    let server = addr_of(&app.base);
    let mut stalled = sent(server, "GET /healthz HTTP/1.1\r\nhost: weft\r\nx-slow: ").await;
    let answer = until_closed(&mut stalled).await.expect("the connection is closed");
    assert_ne!(parse_answer(&answer).status, 200, "a half-sent request is never served");
    // The server serves everyone else meanwhile and after.
    assert_eq!(health_status(connect_from([127, 0, 0, 1], server).await).await, 200);
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_at_once_in_the_error_shape() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-declared").await;
    let provider_calls = f.mock.count();
    let declared = [("content-type", "application/json"), ("content-length", "1000000000000")];
    // On the proxy's fast path, and on a routed JSON route; no body byte
    // is ever sent, so only an answer given up front arrives.
    for (method, target) in
        [("POST", f.target("test-proxy/echo")), ("PATCH", format!("/projects/{}/sdk/me", f.project))]
    {
        let answer = tokio::time::timeout(BOUND, f.raw(method, &target, "u1", &declared)).await.expect("answered");
        assert_eq!(answer.status, 413, "{method} {target}");
        assert_error_shape(&answer.json(), 413, "PAYLOAD_TOO_LARGE");
    }
    assert_eq!(f.mock.count(), provider_calls, "nothing reached the provider");
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_and_cut_after_the_body_timeout() {
    let f = ProxyFixture::with(|s| s.server.body_read_timeout_ms = 300).await;
    f.connect("u1", "key-stalled-body").await;
    let provider_calls = f.mock.count();
    let mut stalled = sent(addr_of(&f.app.base), &proxy_post(&f, 100, 10)).await;
    let answer = until_closed(&mut stalled).await.expect("the connection is closed");
    let answer = parse_answer(&answer);
    assert_eq!(answer.status, 408);
    assert_error_shape(&answer.json(), 408, "REQUEST_TIMEOUT");
    assert_eq!(f.mock.count(), provider_calls, "nothing reached the provider");
    // A body that arrives is served as before.
    let (status, _) = f.app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
    let resp = f.proxy(Method::POST, "u1", "test-proxy/echo").json(&serde_json::json!({"a": 1})).send().await;
    assert_eq!(resp.unwrap().status(), 200);
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_closed_and_other_addresses_are_served() {
    let app = spawn_app_with(&[], |s| s.server.max_connections_per_address = 2).await;
    let server = addr_of(&app.base);
    // Two open connections from 127.0.0.1, idle but counted.
    let first = connect_from([127, 0, 0, 1], server).await;
    let _second = connect_from([127, 0, 0, 1], server).await;
    // A third from the same address is closed unanswered.
    assert_eq!(health_status(connect_from([127, 0, 0, 1], server).await).await, 0);
    // Another address has its own allowance.
    assert_eq!(health_status(connect_from([127, 0, 0, 2], server).await).await, 200);
    // Once one closes, the address may open another (the server notices
    // the close on its own time).
    drop(first);
    let mut status = 0;
    for _ in 0..100 {
        status = health_status(connect_from([127, 0, 0, 1], server).await).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "a closed connection frees its place");
}

/// At shutdown, connections still open after the grace (a half-sent head,
/// a stalled body, a call waiting on a slow provider) are closed, the
/// server stops, and every finished call's task record is stored.
#[tokio::test]
async fn a_shutdown_closes_stalled_connections_after_the_grace_and_keeps_every_task_record() {
    let mut f = ProxyFixture::with(|s| {
        s.server.shutdown_grace_ms = 300;
        // Long enough that only the grace can end the stalled connections.
        s.server.header_read_timeout_ms = 600_000;
        s.server.body_read_timeout_ms = 600_000;
    })
    .await;
    f.connect("u1", "key-grace").await;
    for _ in 0..5 {
        let resp = f.proxy(Method::GET, "u1", "test-proxy/echo").send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    let server = addr_of(&f.app.base);
    let mut half_head = sent(server, "GET /healthz HTTP/1.1\r\nhost: weft\r\n").await;
    let mut half_body = sent(server, &proxy_post(&f, 100, 10)).await;
    let provider_calls = f.mock.count();
    let slow = tokio::spawn(f.proxy(Method::GET, "u1", "test-proxy/slow/600000").send());
    let reached = async {
        while f.mock.count() == provider_calls {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(BOUND, reached).await.expect("the slow call reaches the provider");

    tokio::time::timeout(BOUND, f.app.shutdown()).await.expect("the server stops despite its stalled clients");

    assert!(until_closed(&mut half_head).await.is_some(), "the half-sent head's connection is closed");
    assert!(until_closed(&mut half_body).await.is_some(), "the stalled body's connection is closed");
    assert!(slow.await.unwrap().is_err(), "the call still waiting on its provider is cut off");
    let db = f.app._dir.path().join("weft.db").display().to_string();
    let store = weft_store::open(&db).await.unwrap();
    assert_eq!(store.count_task_records(f.project.parse().unwrap()).await.unwrap(), 5, "every finished call's record");
}

/// The real binary: SIGTERM with a client stalled mid-request still ends
/// the process, cleanly, once the grace is over.
#[tokio::test]
async fn sigterm_with_a_stalled_client_stops_the_binary_after_the_grace() {
    let dir = data_dir_with(&[]);
    let env = [("WEFT__SERVER__SHUTDOWN_GRACE_MS", "300".to_owned())];
    let (mut child, _, base) = start_binary_env(dir.path(), &env).await;
    let server = addr_of(&base);
    let mut stalled = sent(server, "GET /healthz HTTP/1.1\r\nhost: weft\r\n").await;
    // The stalled connection is being served (the server answers others).
    assert_eq!(health_status(connect_from([127, 0, 0, 1], server).await).await, 200);
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(BOUND, child.wait()).await.expect("the binary stops").unwrap();
    assert!(status.success(), "{status:?}");
    assert!(until_closed(&mut stalled).await.is_some());
}
