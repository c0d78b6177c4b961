//! A provider API on loopback that records every request it receives.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the provider saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A running mock provider.
pub struct MockProvider {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl MockProvider {
    /// Starts the provider on a free loopback port. Routes:
    /// `/ok` (200 "hello"), `/status/{code}` (that status; 429 carries
    /// `Retry-After: 7`), `/big/{bytes}`, `/slow/{ms}`, `/redirect` (302).
    pub async fn start() -> Self {
        let log: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let app = Router::new()
            .route("/ok", any(|| async { "hello" }))
            .route("/status/{code}", any(status))
            .route("/big/{bytes}", any(|Path(n): Path<usize>| async move { "x".repeat(n) }))
            .route(
                "/slow/{ms}",
                any(|Path(ms): Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "late"
                }),
            )
            .route("/redirect", any(|| async { (StatusCode::FOUND, [("location", "http://127.0.0.1:9/sink")], "") }))
            .layer(axum::middleware::from_fn_with_state(log.clone(), record))
            .with_state(());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind mock provider");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("mock provider") });
        Self { base, log }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

async fn status(Path(code): Path<u16>) -> impl IntoResponse {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let mut headers = HeaderMap::new();
    if code == 429 {
        headers.insert("retry-after", "7".parse().expect("header"));
    }
    (status, headers, format!("status {code}"))
}

async fn record(
    State(log): State<Arc<Mutex<Vec<Recorded>>>>,
    req: Request,
    next: axum::middleware::Next,
) -> impl IntoResponse {
    let rec = Recorded {
        method: req.method().to_string(),
        uri: req.uri().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    };
    log.lock().unwrap_or_else(|p| p.into_inner()).push(rec);
    next.run(req).await
}
