//! The slow provider of the `parked` benchmark: an HTTP server on loopback,
//! in the benchmark's process, that answers every call after a fixed delay
//! and holds as many calls open at once as arrive. It counts what it sees:
//! calls, the most open at once, calls that were not as the workflow sends
//! them, and calls that repeated an idempotency key (a step that ran twice).

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The path the workflow's Request step calls.
pub const PATH: &str = "/slow";

/// Connections waiting to be accepted, at most (the kernel caps it at
/// `net.core.somaxconn`): thousands of steps connect within moments of
/// each other, and a full backlog would make them wait for a SYN retry.
const BACKLOG: u32 = 16_384;

/// What the provider saw.
#[derive(Default)]
pub struct Seen {
    calls: AtomicU64,
    open: AtomicU64,
    peak: AtomicU64,
    refused: AtomicU64,
    repeats: AtomicU64,
    hangups: AtomicU64,
    keys: Mutex<HashSet<String>>,
}

impl Seen {
    /// Calls received so far (each counted as it arrives).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The most calls open at once.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Calls not as the workflow sends them (another path or method, no
    /// idempotency key): answered 400 or 404.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Calls whose idempotency key an earlier call had: a step run again
    /// (its lease expired while it ran).
    pub fn repeats(&self) -> u64 {
        self.repeats.load(Ordering::Relaxed)
    }

    /// Calls whose caller hung up before the answer (a step that gave up:
    /// its request timed out, or it lost its lease).
    pub fn hangups(&self) -> u64 {
        self.hangups.load(Ordering::Relaxed)
    }
}

/// A running provider.
pub struct Provider {
    /// The URL the workflow calls.
    pub url: String,
    /// What it saw.
    pub seen: Arc<Seen>,
}

/// Starts the provider on 127.0.0.1:0 in the current runtime, answering
/// each call `delay` after it arrived.
pub async fn start(delay: Duration) -> anyhow::Result<Provider> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(([127, 0, 0, 1], 0).into()).context("binding the slow provider")?;
    let listener = socket.listen(BACKLOG)?;
    let url = format!("http://{}{PATH}", listener.local_addr()?);
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(PATH, post(call))
        .fallback(|State((seen, _)): State<(Arc<Seen>, Duration)>| async move {
            seen.refused.fetch_add(1, Ordering::Relaxed);
            StatusCode::NOT_FOUND
        })
        .with_state((seen.clone(), delay));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the slow provider stopped: {e}");
        }
    });
    Ok(Provider { url, seen })
}

/// Counts one open call while it lives (a call whose caller hung up is
/// dropped unanswered, and counted as a hang-up then).
struct Open {
    seen: Arc<Seen>,
    answered: bool,
}

impl Open {
    fn new(seen: &Arc<Seen>) -> Self {
        let now = seen.open.fetch_add(1, Ordering::Relaxed) + 1;
        seen.peak.fetch_max(now, Ordering::Relaxed);
        Self { seen: seen.clone(), answered: false }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.seen.open.fetch_sub(1, Ordering::Relaxed);
        if !self.answered {
            self.seen.hangups.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn call(State((seen, delay)): State<(Arc<Seen>, Duration)>, headers: HeaderMap) -> Response {
    seen.calls.fetch_add(1, Ordering::Relaxed);
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        seen.refused.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::BAD_REQUEST, "no Idempotency-Key").into_response();
    };
    let first = seen.keys.lock().map(|mut keys| keys.insert(key.to_owned())).unwrap_or(true);
    if !first {
        seen.repeats.fetch_add(1, Ordering::Relaxed);
    }
    let mut open = Open::new(&seen);
    tokio::time::sleep(delay).await;
    open.answered = true;
    ([(header::CONTENT_TYPE, "application/json")], r#"{"ok":true}"#).into_response()
}
