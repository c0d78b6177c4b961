//! Provider faults through the proxy (acceptance 3, C4-65, C8-103): added
//! latency, a reset, a truncated body, a black hole, a header flood, a
//! trickle, an endless body and a decompression bomb each end in 502 or 504
//! within the configured time, and the server stays healthy.

use super::fixture::{PERMITTED, ProxyFixture};
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};
use weft_tests::mock_api::{Fault, FaultServer};

const TIMEOUT_MS: u64 = 1_500;

async fn fixture() -> ProxyFixture {
    ProxyFixture::with(|s| {
        s.proxy.timeout_ms = TIMEOUT_MS;
        s.proxy.max_response_bytes = 1024 * 1024;
        s.proxy.max_raw_response_bytes = 8 * 1024 * 1024;
    })
    .await
}

/// Status, code and how long the call took.
async fn timed(f: &ProxyFixture, rest: &str, raw: bool) -> (u16, Value, Duration) {
    let started = Instant::now();
    let mut req = f.proxy(Method::GET, "u1", rest);
    if raw {
        req = req.header("X-Paragon-Use-Raw-Response", "1");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[tokio::test]
async fn faults_end_in_502_or_504_within_the_timeout() {
    let f = fixture().await;
    f.connect("u1", "key-faults").await;
    let bound = Duration::from_millis(TIMEOUT_MS + 1_000);

    // Added latency: under the timeout it passes, over it 504.
    let (status, _, _) = timed(&f, "test-proxy/slow/200", false).await;
    assert_eq!(status, 200);
    let (status, body, took) = timed(&f, "test-proxy/slow/5000", false).await;
    assert_eq!((status, body["code"].as_str()), (504, Some("PROVIDER_TIMEOUT")), "{body}");
    assert!(took < bound, "{took:?}");
    // A trickle of one byte a second never completes: 504 at the deadline.
    let (status, _, took) = timed(&f, "test-proxy/trickle", false).await;
    assert_eq!(status, 504);
    assert!(took < bound, "{took:?}");

    for (fault, expected, code) in [
        (Fault::Reset, 502, "PROVIDER_UNREACHABLE"),
        (Fault::Truncated, 502, "PROVIDER_UNREACHABLE"),
        (Fault::HeaderFlood, 502, "PROVIDER_UNREACHABLE"),
        (Fault::BlackHole, 504, "PROVIDER_TIMEOUT"),
    ] {
        let server = FaultServer::start_on(PERMITTED, fault).await;
        f.set_base(&f.integration, &server.api_base()).await;
        let (status, body, took) = timed(&f, "test-proxy/anything", false).await;
        assert_eq!((status, body["code"].as_str()), (expected, Some(code)), "{fault:?}: {body}");
        assert!(took < bound, "{fault:?} took {took:?}");
        // A generic message and the request id; the detail is in the log.
        let message = body["message"].as_str().unwrap_or_default().to_ascii_lowercase();
        for internal in ["127.0.0.2", "os error", "hyper", "reset by peer", "error sending request", "tcp"] {
            assert!(!message.contains(internal), "{fault:?}: internals ({internal}) in the answer: {body}");
        }
        assert!(body["meta"]["requestId"].is_string(), "{body}");
        // No retry storm: a failed call is not repeated behind the caller's back.
        assert_eq!(server.accepted(), 1, "{fault:?}");
    }

    // The server is healthy and serves the next call.
    f.set_base(&f.integration, &f.mock.api_base()).await;
    assert_eq!(f.app.get("/readyz").await.status(), 200);
    let (status, _, _) = timed(&f, "test-proxy/echo", false).await;
    assert_eq!(status, 200);
}

/// C4-65: bodies over the caps are cut with 502, counting decoded bytes
/// for a compressed answer.
#[tokio::test]
async fn oversized_answers_are_cut() {
    let f = fixture().await;
    f.connect("u1", "key-size").await;
    // 1 GiB without a length, wrapped as JSON: cut at 1 MiB.
    let (status, body, took) = timed(&f, "test-proxy/stream/1073741824", false).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("RESPONSE_TOO_LARGE")), "{body}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // A declared length over the raw cap: refused before streaming.
    let (status, body, _) = timed(&f, "test-proxy/bytes/1073741824", true).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("RESPONSE_TOO_LARGE")), "{body}");
    // 64 MiB of zeros in a small gzip: the cap applies to what it decodes to.
    let (status, body, _) = timed(&f, "test-proxy/gzip-bomb", false).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("RESPONSE_TOO_LARGE")), "{body}");
    // A raw stream without a length is cut mid-way: the caller never gets
    // more than the cap.
    let resp = f
        .proxy(Method::GET, "u1", "test-proxy/stream/1073741824")
        .header("X-Paragon-Use-Raw-Response", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut received = 0usize;
    let mut stream = resp.bytes_stream();
    let mut ended_in_error = false;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        match chunk {
            Ok(c) => received += c.len(),
            Err(_) => {
                ended_in_error = true;
                break;
            }
        }
    }
    assert!(ended_in_error, "a cut stream must not look complete");
    assert!(received <= 8 * 1024 * 1024, "{received} bytes passed the 8 MiB cap");
    assert_eq!(f.app.get("/readyz").await.status(), 200);
}
