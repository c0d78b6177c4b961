//! One provider API standing in for every catalog provider at once, for the
//! generated catalog test: `/p/{providerId}/…` is that provider's API (an
//! integration's base URL override points there).
//!
//! Each provider is told which credential to expect where (what its
//! definition's auth scheme sends) and which path its connection test asks
//! for. A request without exactly that credential is answered 401; the
//! connection test's path answers a profile holding the account's id and
//! name at the definition's JSON Pointers ([`profile_document`]); any other
//! path answers an echo naming the provider and the path. Every request is
//! recorded.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use crate::mock_auth::MockAuthServer;

/// Where a provider expects the account's credential.
#[derive(Debug, Clone)]
pub enum Expect {
    /// `Authorization: Bearer <token>` with a token that the mock
    /// authorization server issued and still honours.
    IssuedBearer,
    /// This header (name in lower case) with exactly this value.
    Header {
        /// Header name.
        name: String,
        /// Its whole value.
        value: String,
    },
    /// This query parameter, once, with exactly this value.
    Query {
        /// Parameter name.
        name: String,
        /// Its decoded value.
        value: String,
    },
}

/// What one provider's stand-in does.
#[derive(Debug, Clone)]
pub struct Stand {
    /// The credential it expects.
    pub expect: Expect,
    /// The connection test's path under the base URL (its query ignored).
    pub profile_path: Option<String>,
    /// The answer to the connection test.
    pub profile: Value,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct CatalogHit {
    /// The provider id of the path.
    pub provider: String,
    /// Method.
    pub method: String,
    /// Path under the provider's base URL, without the query.
    pub path: String,
    /// Whether it carried the expected credential.
    pub authorized: bool,
    /// Its headers (names in lower case).
    pub headers: Vec<(String, String)>,
}

impl CatalogHit {
    /// The value of a header, if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct Shared {
    auth: Arc<MockAuthServer>,
    stands: Mutex<HashMap<String, Stand>>,
    hits: Mutex<Vec<CatalogHit>>,
}

/// The running stand-in.
pub struct CatalogApi {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    shared: Arc<Shared>,
}

impl CatalogApi {
    /// Starts it on a free port of 127.0.0.1; bearer tokens are checked
    /// with `auth`.
    pub async fn start(auth: Arc<MockAuthServer>) -> Self {
        let shared = Arc::new(Shared { auth, stands: Mutex::new(HashMap::new()), hits: Mutex::new(Vec::new()) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind catalog mock");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("catalog mock") });
        Self { origin: format!("http://{addr}"), shared }
    }

    /// The base URL that stands in for `provider`'s.
    pub fn base_of(&self, provider: &str) -> String {
        format!("{}/p/{provider}", self.origin)
    }

    /// Sets what `provider`'s stand-in expects and answers.
    pub fn stand(&self, provider: &str, stand: Stand) {
        self.shared.stands.lock().unwrap_or_else(|p| p.into_inner()).insert(provider.to_owned(), stand);
    }

    /// The requests made to `provider`'s stand-in, in arrival order.
    pub fn hits_of(&self, provider: &str) -> Vec<CatalogHit> {
        let hits = self.shared.hits.lock().unwrap_or_else(|p| p.into_inner());
        hits.iter().filter(|h| h.provider == provider).cloned().collect()
    }
}

/// A document with `id` at the JSON Pointer `id_at` and `name` at `name_at`
/// (objects, or arrays for numeric tokens, created along the way). Where
/// both pointers name one place, it holds the id.
pub fn profile_document(id_at: Option<&str>, id: &str, name_at: Option<&str>, name: &str) -> Value {
    let mut doc = Value::Object(Map::new());
    for (pointer, value) in [(name_at, name), (id_at, id)] {
        if let Some(pointer) = pointer.filter(|p| !p.is_empty()) {
            let tokens: Vec<String> =
                pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
            put(&mut doc, &tokens, Value::String(value.to_owned()));
        }
    }
    doc
}

fn put(at: &mut Value, tokens: &[String], value: Value) {
    let Some((first, rest)) = tokens.split_first() else {
        *at = value;
        return;
    };
    let slot = match first.parse::<usize>() {
        Ok(index) => {
            if !at.is_array() {
                *at = Value::Array(Vec::new());
            }
            let items = at.as_array_mut().expect("just made an array");
            while items.len() <= index {
                items.push(Value::Object(Map::new()));
            }
            &mut items[index]
        }
        Err(_) => {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            at.as_object_mut().expect("just made an object").entry(first.clone()).or_insert(Value::Null)
        }
    };
    put(slot, rest, value);
}

fn authorized(shared: &Shared, expect: &Expect, headers: &HeaderMap, query: Option<&str>) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match expect {
        Expect::IssuedBearer => header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| shared.auth.is_access_token_valid(token)),
        Expect::Header { name, value } => {
            headers.get_all(name.as_str()).iter().map(|v| v.to_str().ok()).collect::<Vec<_>>() == [Some(value.as_str())]
        }
        Expect::Query { name, value } => {
            let pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
            let named: Vec<&String> = pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v).collect();
            named == [value]
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (method, headers, uri) = (req.method().to_string(), req.headers().clone(), req.uri().clone());
    let Some(rest) = uri.path().strip_prefix("/p/") else {
        return (StatusCode::NOT_FOUND, "no such route").into_response();
    };
    let (provider, path) = match rest.split_once('/') {
        Some((provider, path)) => (provider.to_owned(), format!("/{path}")),
        None => (rest.to_owned(), "/".to_owned()),
    };
    let Some(stand) = shared.stands.lock().unwrap_or_else(|p| p.into_inner()).get(&provider).cloned() else {
        return (StatusCode::NOT_FOUND, "no such provider").into_response();
    };
    let ok = authorized(&shared, &stand.expect, &headers, uri.query());
    let sent = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let hit = CatalogHit {
        provider: provider.clone(),
        method: method.clone(),
        path: path.clone(),
        authorized: ok,
        headers: sent,
    };
    shared.hits.lock().unwrap_or_else(|p| p.into_inner()).push(hit);
    if !ok {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "unauthorized"}))).into_response();
    }
    if stand.profile_path.as_deref() == Some(path.as_str()) {
        return axum::Json(stand.profile).into_response();
    }
    axum::Json(json!({"provider": provider, "method": method, "path": path})).into_response()
}
