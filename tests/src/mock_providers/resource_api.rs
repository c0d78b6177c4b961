//! A strict made-up internal API for API Resources, with its own OAuth
//! token endpoint and a webhook API. Everything but the token endpoint
//! lives under a region segment (`/eu/...`), so a base URL built from a
//! user's input is seen to be used.
//!
//! - `POST /oauth/token`: `grant_type=refresh_token` (a refresh token it
//!   issued, else 400 `invalid_grant`) or `client_credentials`; the client
//!   authenticates as configured ([`ResourceApi::client`]: a Basic header,
//!   or `client_id`/`client_secret` in the form; 401 `invalid_client`
//!   otherwise). Each answer is a new access token valid an hour.
//! - Under `/{region}/`: a request carries either `Authorization: Bearer`
//!   with a live access token, or `X-Ledger-Key` with a key and the
//!   `account` query parameter it belongs to (401 otherwise). `GET /me`
//!   names the account; `/echo` (any method) answers what it got; `POST
//!   /hooks` registers a hook (`url`, an http(s) URL; 422 otherwise) and
//!   `DELETE /hooks/{id}` removes one of the account's.
//! - With handshakes on ([`ResourceApi::handshakes`]), `POST /hooks` first
//!   POSTs to the new hook's URL with a fresh `X-Hook-Secret` and registers
//!   the hook only if the answer is 2xx and echoes it (400 otherwise); that
//!   hook's deliveries are signed with the secret ([`Hook::secret`]), and
//!   removing it takes the secret in `X-Hook-Secret` (403 otherwise).

use super::server::{Callback, CallbackAnswer, MockServer, Provider, Reply, Request};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)`.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// A registered hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// Its id (`hook-1`).
    pub id: String,
    /// The account that registered it.
    pub account: String,
    /// Where events go.
    pub url: String,
    /// The secret its handshake handed over (handshakes on).
    pub secret: Option<String>,
}

/// The mock's state.
pub struct ResourceApi {
    region: String,
    client: (String, String, ClientAuth),
    refresh_tokens: HashMap<String, String>,
    access_tokens: HashMap<String, String>,
    keys: HashMap<String, String>,
    issued: usize,
    /// Live hooks, oldest first.
    pub hooks: Vec<Hook>,
    /// Ids of the hooks removed, in order.
    pub removed: Vec<String>,
    handshakes: bool,
    /// The secret of the handshake in flight, and whether it was echoed.
    pending: Option<(String, bool)>,
    /// Secrets handed over, in order (a refused handshake's too).
    pub handed: Vec<String>,
}

/// Starts the API on a free port of 127.0.0.1, serving `region`.
pub async fn start(region: &str) -> MockServer<ResourceApi> {
    MockServer::start(ResourceApi {
        region: region.to_owned(),
        client: ("client".into(), "secret".into(), ClientAuth::Basic),
        refresh_tokens: HashMap::new(),
        access_tokens: HashMap::new(),
        keys: HashMap::new(),
        issued: 0,
        hooks: Vec::new(),
        removed: Vec::new(),
        handshakes: false,
        pending: None,
        handed: Vec::new(),
    })
    .await
}

fn error(status: u16, code: &str) -> Reply {
    Reply::json(status, json!({ "error": code }))
}

impl ResourceApi {
    /// The OAuth client the token endpoint accepts, and how it must authenticate.
    pub fn client(&mut self, id: &str, secret: &str, auth: ClientAuth) {
        self.client = (id.to_owned(), secret.to_owned(), auth);
    }

    /// Issues `access` and `refresh` tokens of `account` (as the API's own
    /// login would have, before the user connects them).
    pub fn issue(&mut self, account: &str, access: &str, refresh: &str) {
        self.access_tokens.insert(access.to_owned(), account.to_owned());
        self.refresh_tokens.insert(refresh.to_owned(), account.to_owned());
    }

    /// Accepts `key` as the API key of `account`.
    pub fn accept_key(&mut self, key: &str, account: &str) {
        self.keys.insert(key.to_owned(), account.to_owned());
    }

    /// Sends a handshake to each new hook's URL before registering it.
    pub fn handshakes(&mut self, on: bool) {
        self.handshakes = on;
    }

    /// Stops honouring every access token issued so far.
    pub fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
    }

    fn token(&mut self, req: &Request) -> Reply {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body).into_owned().collect();
        let (id, secret, auth) = self.client.clone();
        let authenticated = match auth {
            ClientAuth::Basic => {
                let expected = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
                req.header("authorization") == Some(&format!("Basic {expected}")) && !form.contains_key("client_secret")
            }
            ClientAuth::Post => {
                req.header("authorization").is_none()
                    && form.get("client_id") == Some(&id)
                    && form.get("client_secret") == Some(&secret)
            }
        };
        if !authenticated {
            return error(401, "invalid_client");
        }
        let account = match form.get("grant_type").map(String::as_str) {
            Some("refresh_token") => {
                match form.get("refresh_token").and_then(|t| self.refresh_tokens.get(t)).cloned() {
                    Some(account) => account,
                    None => return error(400, "invalid_grant"),
                }
            }
            Some("client_credentials") => format!("app-{id}"),
            _ => return error(400, "unsupported_grant_type"),
        };
        self.issued += 1;
        let access = format!("issued-{}", self.issued);
        self.access_tokens.insert(access.clone(), account);
        Reply::json(200, json!({ "access_token": access, "token_type": "Bearer", "expires_in": 3600 }))
    }

    fn account(&self, req: &Request) -> Option<String> {
        if let Some(token) = req.bearer() {
            return self.access_tokens.get(token).cloned();
        }
        let account = self.keys.get(req.header("x-ledger-key")?)?;
        (req.query_value("account") == Some(account)).then(|| account.clone())
    }
}

fn hook_url(req: &Request) -> Option<String> {
    let url = req.json().and_then(|b| b["url"].as_str().map(str::to_owned))?;
    (url.starts_with("http://") || url.starts_with("https://")).then_some(url)
}

impl Provider for ResourceApi {
    fn callback(&mut self, req: &Request) -> Option<Callback> {
        let registering = req.method == "POST" && req.segments().get(1).map(String::as_str) == Some("hooks");
        if !self.handshakes || !registering || self.account(req).is_none() {
            return None;
        }
        let url = hook_url(req)?;
        let secret = format!("hs-{}", self.handed.len() + 1);
        self.handed.push(secret.clone());
        self.pending = Some((secret.clone(), false));
        Some(Callback { url, headers: vec![("x-hook-secret".into(), secret)] })
    }

    fn answered(&mut self, answer: CallbackAnswer) {
        if let Some((secret, echoed)) = &mut self.pending {
            let header = answer.headers.iter().find(|(n, _)| n == "x-hook-secret").map(|(_, v)| v.as_str());
            *echoed = (200..300).contains(&answer.status) && header == Some(secret.as_str());
        }
    }

    fn handle(&mut self, req: &Request, _base: &str) -> Reply {
        if req.method == "POST" && req.path == "/oauth/token" {
            return self.token(req);
        }
        let segments = req.segments();
        let Some((region, rest)) = segments.split_first() else { return Reply::json(404, Value::Null) };
        if *region != self.region {
            return error(404, "no such region");
        }
        let Some(account) = self.account(req) else { return error(401, "unauthorized") };
        match (req.method.as_str(), rest.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
            ("GET", ["me"]) => {
                Reply::json(200, json!({ "id": account, "email": format!("{account}@example.test"), "plan": "pro" }))
            }
            (method, ["echo"]) => Reply::json(
                200,
                json!({
                    "account": account, "method": method, "query": req.query.iter().cloned().collect::<HashMap<_, _>>(),
                    "trace": req.header("x-trace"), "body": req.json(),
                }),
            ),
            ("POST", ["hooks"]) => {
                let Some(url) = hook_url(req) else {
                    return error(422, "url must be an http(s) URL");
                };
                let secret = match (self.handshakes, self.pending.take()) {
                    (false, _) => None,
                    (true, Some((secret, true))) => Some(secret),
                    (true, _) => return error(400, "the handshake was not answered with the secret"),
                };
                let id = format!("hook-{}", self.hooks.len() + self.removed.len() + 1);
                let hook = Hook { id, account, url, secret };
                self.hooks.push(hook.clone());
                Reply::json(201, json!({ "id": hook.id }))
            }
            ("DELETE", ["hooks", id]) => match self.hooks.iter().position(|h| h.id == *id && h.account == account) {
                Some(at)
                    if self.hooks[at].secret.as_deref().is_some_and(|s| req.header("x-hook-secret") != Some(s)) =>
                {
                    error(403, "removing this hook takes its secret in X-Hook-Secret")
                }
                Some(at) => {
                    let hook = self.hooks.remove(at);
                    self.removed.push(hook.id);
                    Reply::empty(204)
                }
                None => error(404, "no such hook"),
            },
            _ => Reply::json(404, Value::Null),
        }
    }
}
