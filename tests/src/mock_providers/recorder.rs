//! What every provider mock shares: who may call it (tokens a
//! [`MockAuthServer`](crate::mock_auth::MockAuthServer) issued, or one fixed
//! token for plugin-host tests), a request read in full, and the record of
//! every call with the status it got.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use serde_json::Value;

use crate::mock_auth::TokenCheck;

/// Who a bearer token acts for.
#[derive(Clone)]
pub enum Tokens {
    /// Access tokens a mock authorization server issued (and has not expired).
    Issued(TokenCheck),
    /// One token, acting for one account.
    Fixed {
        /// The token.
        token: String,
        /// Its account.
        account: String,
    },
}

impl Tokens {
    /// One fixed token for `account`.
    pub fn fixed(token: &str, account: &str) -> Self {
        Self::Fixed { token: token.into(), account: account.into() }
    }

    /// The account of the request's `Authorization: Bearer` token.
    pub fn account_of(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get("authorization")?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        match self {
            Self::Issued(check) => check.account(token.trim()),
            Self::Fixed { token: t, account } => (t == token.trim()).then(|| account.clone()),
        }
    }
}

/// One request as a provider mock saw it, with the status it answered.
#[derive(Debug, Clone)]
pub struct Call {
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`null` when empty, a string when not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

impl Call {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A query parameter's value.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A request read in full.
pub struct Incoming {
    /// Method, upper case.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Incoming {
    /// Reads `req` (bodies up to 1 MiB).
    pub async fn read(req: Request) -> Self {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
        let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
        Self {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query,
            headers: parts.headers,
            body,
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter's value.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The media type of `Content-Type`, lower case, without parameters.
    pub fn media_type(&self) -> String {
        self.header("content-type").and_then(|v| v.split(';').next()).unwrap_or_default().trim().to_ascii_lowercase()
    }

    /// The record of this request answered with `status`.
    pub fn call(&self, status: u16) -> Call {
        let body = if self.body.is_empty() {
            Value::Null
        } else {
            self.json().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
        };
        Call {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body,
            status,
        }
    }
}

/// Every call a mock received, in order.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    /// Records one call.
    pub fn push(&self, call: Call) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }

    /// Every call so far.
    pub fn all(&self) -> Vec<Call> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many calls so far.
    pub fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The calls whose path ends with `suffix`.
    pub fn to(&self, suffix: &str) -> Vec<Call> {
        self.all().into_iter().filter(|c| c.path.ends_with(suffix)).collect()
    }
}

/// Serves `app` on a free port of 127.0.0.1; returns `http://127.0.0.1:<port>`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a provider mock");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("provider mock") });
    base
}
