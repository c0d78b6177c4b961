//! The HTTP side of the mock providers: a loopback server that reads each
//! request in full, hands it to the provider's state machine under a lock,
//! and records it with the status it got.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request as AxumRequest, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// A request as a provider mock sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path as received (still percent-encoded).
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The path's segments after the leading `/`, each percent-decoded.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_decode(s).unwrap_or_else(|| s.to_owned()))
            .collect()
    }

    /// The bearer token of `Authorization: Bearer <token>`.
    pub fn bearer(&self) -> Option<&str> {
        let (scheme, token) = self.header("authorization")?.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }

    /// The body as JSON, when it is JSON sent as `application/json`.
    pub fn json(&self) -> Option<Value> {
        let json_type = self.header("content-type").is_some_and(|t| t.trim().starts_with("application/json"));
        if !json_type {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// `status` with no body (e.g. 204).
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// One request with the status the mock answered.
#[derive(Debug, Clone)]
pub struct Call {
    /// Method.
    pub method: String,
    /// Path as received.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The status answered.
    pub status: u16,
}

impl Call {
    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `"METHOD /path"`, for assertions on the sequence of calls.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A request a provider sends out before it answers one it got (the
/// handshake a webhook API sends to a new hook's URL before confirming it).
#[derive(Debug, Clone)]
pub struct Callback {
    /// Where it is POSTed.
    pub url: String,
    /// Its headers.
    pub headers: Vec<(String, String)>,
}

/// How a [`Callback`] was answered (status 0: it could not be sent).
#[derive(Debug, Clone)]
pub struct CallbackAnswer {
    /// Status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
}

/// A provider's behaviour: answers one request given the server's base URL
/// (for links such as GitHub's `Link` header).
pub trait Provider: Send + 'static {
    /// Answers `req`.
    fn handle(&mut self, req: &Request, base: &str) -> Reply;

    /// A request to send, with the lock released, before `req` is handled;
    /// its answer reaches [`Provider::answered`] before [`Provider::handle`].
    fn callback(&mut self, _req: &Request) -> Option<Callback> {
        None
    }

    /// The answer to the callback of the request about to be handled.
    fn answered(&mut self, _answer: CallbackAnswer) {}
}

struct Inner<P> {
    provider: P,
    calls: Vec<Call>,
}

/// A running mock provider.
pub struct MockServer<P> {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    inner: Arc<Mutex<Inner<P>>>,
}

impl<P: Provider> MockServer<P> {
    /// Serves `provider` on a free port of 127.0.0.1.
    pub async fn start(provider: P) -> Self {
        Self::start_on(provider, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves `provider` on `addr`.
    pub async fn start_on(provider: P, addr: SocketAddr) -> Self {
        let inner = Arc::new(Mutex::new(Inner { provider, calls: Vec::new() }));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind mock provider");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().fallback(handle::<P>).with_state((inner.clone(), base.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("mock provider") });
        Self { base, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<P>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the provider's state (to seed it or look at it).
    pub fn with<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut self.lock().provider)
    }

    /// Every request so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The number of requests so far.
    pub fn count(&self) -> usize {
        self.lock().calls.len()
    }

    /// The requests after the first `from`.
    pub fn calls_since(&self, from: usize) -> Vec<Call> {
        self.lock().calls.get(from..).map(<[Call]>::to_vec).unwrap_or_default()
    }
}

type Shared<P> = (Arc<Mutex<Inner<P>>>, String);

async fn handle<P: Provider>(State((inner, base)): State<Shared<P>>, req: AxumRequest) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 8 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body,
    };
    let callback = inner.lock().unwrap_or_else(|p| p.into_inner()).provider.callback(&request);
    if let Some(callback) = callback {
        let mut out = reqwest::Client::new().post(&callback.url);
        for (name, value) in &callback.headers {
            out = out.header(name, value);
        }
        let answer = match out.send().await {
            Ok(r) => CallbackAnswer {
                status: r.status().as_u16(),
                headers: r
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect(),
            },
            Err(_) => CallbackAnswer { status: 0, headers: Vec::new() },
        };
        inner.lock().unwrap_or_else(|p| p.into_inner()).provider.answered(answer);
    }
    let reply = {
        let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
        let reply = inner.provider.handle(&request, &base);
        let Request { method, path, query, headers, body } = request;
        inner.calls.push(Call { method, path, query, headers, body, status: reply.status });
        reply
    };
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().append(n, v);
        }
    }
    response.into_response()
}

/// The bearer tokens a provider accepts, each acting as an account.
#[derive(Debug, Default, Clone)]
pub struct Tokens(HashMap<String, String>);

impl Tokens {
    /// Accepts `token` as `account`.
    pub fn accept(&mut self, token: &str, account: &str) {
        self.0.insert(token.to_owned(), account.to_owned());
    }

    /// Stops accepting `token` (expired or revoked).
    pub fn revoke(&mut self, token: &str) {
        self.0.remove(token);
    }

    /// The account a request's bearer token acts as.
    pub fn account(&self, req: &Request) -> Option<String> {
        req.bearer().and_then(|t| self.0.get(t)).cloned()
    }
}

/// Formats Unix epoch seconds as RFC 3339 in UTC with milliseconds, e.g.
/// `2024-05-01T12:00:00.000Z`.
pub fn rfc3339(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_epoch_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_296_068_803), "2011-01-26T19:06:43.000Z");
        assert_eq!(rfc3339(1_709_164_800), "2024-02-29T00:00:00.000Z");
    }
}
