//! A strict Slack Web API on loopback: `/api/<method>` with a bearer token,
//! JSON bodies (with a charset) for write methods and query arguments for
//! read methods, Slack's cursor pagination, and Slack's failure form
//! (HTTP 200, `"ok": false`, an error code). Also Slack's documented
//! `oauth.v2.access` answer, for [`MockAuthServer`](crate::mock_auth::MockAuthServer),
//! and request signing, for deliveries to Weft.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::recorder::{Calls, Incoming, Tokens, serve};
use crate::mock_auth::TokenDialect;

/// The team (workspace) the mock's accounts belong to, unless a token acts
/// for another account id (the OAuth mock's account is the team id).
pub const TEAM: &str = "T9TK3CUKW";
/// The bot user of the app.
pub const BOT_USER: &str = "U0KRQLJ9H";

/// Slack's `oauth.v2.access` answer (api.slack.com/methods/oauth.v2.access)
/// around the mock's tokens: `"token_type": "bot"`, the team, the app and
/// an `authed_user` block with a user token; refusals as `"ok": false`.
pub fn token_dialect() -> TokenDialect {
    TokenDialect::answering(|standard, team| {
        let mut answer = json!({
            "ok": true,
            "access_token": standard["access_token"],
            "token_type": "bot",
            "scope": "chat:write,channels:read,channels:history,groups:read,im:write,users:read,users:read.email,reactions:write,app_mentions:read",
            "bot_user_id": BOT_USER,
            "app_id": "A0KRD7HC3",
            "team": { "name": "Slack Softball Team", "id": team },
            "enterprise": null,
            "is_enterprise_install": false,
            "authed_user": { "id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user" },
        });
        // With token rotation on, Slack adds these two.
        for key in ["expires_in", "refresh_token"] {
            if let Some(v) = standard.get(key) {
                answer[key] = v.clone();
            }
        }
        answer
    })
    .refusing(|code, _status| {
        let slack = match code {
            "invalid_grant" => "invalid_code",
            "invalid_client" => "bad_client_secret",
            other => other,
        };
        (200, json!({ "ok": false, "error": slack }))
    })
}

/// `X-Slack-Signature` for `body` sent at `timestamp`: `v0=` and the hex
/// HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret.
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

struct Channel {
    id: String,
    name: String,
    archived: bool,
}

struct Message {
    channel: String,
    ts: String,
    text: String,
    reactions: Vec<String>,
}

struct Workspace {
    channels: Vec<Channel>,
    users: Vec<Value>,
    messages: Vec<Message>,
    next_ts: u64,
    /// Error codes the next calls of a method answer, in order.
    failures: Vec<(String, String)>,
}

/// A running Slack mock.
pub struct SlackMock {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Every call received.
    pub calls: Calls,
    state: Arc<Mutex<Workspace>>,
}

#[derive(Clone)]
struct Shared {
    tokens: Tokens,
    calls: Calls,
    state: Arc<Mutex<Workspace>>,
}

impl SlackMock {
    /// Starts the mock: five public channels, one archived, three members.
    pub async fn start(tokens: Tokens) -> Self {
        let channel =
            |i: usize, name: &str, archived: bool| Channel { id: format!("C0{i:08}"), name: name.into(), archived };
        let names = ["general", "random", "eng", "sales", "support"];
        let mut channels: Vec<Channel> = names.iter().enumerate().map(|(i, n)| channel(i, n, false)).collect();
        channels.push(channel(9, "old-news", true));
        let user = |id: &str, name: &str, email: &str| json!({ "id": id, "team_id": TEAM, "name": name, "real_name": name, "profile": { "email": email } });
        let users = vec![
            user("U0G9QF9C6", "ada", "ada@example.com"),
            user("U0G9QF9C7", "grace", "grace@example.com"),
            user("U0G9QF9C8", "linus", "linus@example.com"),
        ];
        let workspace = Workspace { channels, users, messages: Vec::new(), next_ts: 1, failures: Vec::new() };
        let state = Arc::new(Mutex::new(workspace));
        let calls = Calls::default();
        let shared = Shared { tokens, calls: calls.clone(), state: state.clone() };
        let base = serve(Router::new().fallback(handle).with_state(shared)).await;
        Self { base, calls, state }
    }

    /// The Web API base URL (`{base}/api`).
    pub fn api_base(&self) -> String {
        format!("{}/api", self.base)
    }

    /// The next call of `method` answers `"ok": false` with `error`.
    pub fn fail_next(&self, method: &str, error: &str) {
        self.lock().failures.push((method.into(), error.into()));
    }

    /// The texts posted in `channel`, oldest first.
    pub fn messages_in(&self, channel: &str) -> Vec<String> {
        self.lock().messages.iter().filter(|m| m.channel == channel).map(|m| m.text.clone()).collect()
    }

    /// The reactions on the message `ts`.
    pub fn reactions_on(&self, ts: &str) -> Vec<String> {
        self.lock().messages.iter().find(|m| m.ts == ts).map(|m| m.reactions.clone()).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Workspace> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let req = Incoming::read(req).await;
    let (status, body) = answer(&shared, &req);
    shared.calls.push(req.call(status));
    (axum::http::StatusCode::from_u16(status).unwrap_or_default(), axum::Json(body)).into_response()
}

fn failed(error: &str) -> (u16, Value) {
    (200, json!({ "ok": false, "error": error }))
}

/// The method's arguments: a JSON body (with its charset) for POST, the
/// query for GET. Slack also takes forms; Weft's plugin never sends them.
fn arguments(req: &Incoming) -> Result<Value, &'static str> {
    match req.method.as_str() {
        "GET" => Ok(Value::Object(req.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect())),
        "POST" if req.body.is_empty() => Ok(json!({})),
        "POST" => {
            let charset = req.header("content-type").is_some_and(|v| v.to_ascii_lowercase().contains("charset=utf-8"));
            match (req.media_type().as_str(), req.json()) {
                ("application/json", Some(body @ Value::Object(_))) if charset => Ok(body),
                ("application/json", Some(_)) if !charset => Err("missing_charset"),
                _ => Err("invalid_arguments"),
            }
        }
        _ => Err("method_not_supported_for_channel_type"),
    }
}

fn answer(shared: &Shared, req: &Incoming) -> (u16, Value) {
    let Some(method) = req.path.strip_prefix("/api/") else {
        return (404, json!({ "ok": false, "error": "unknown_method" }));
    };
    if req.header("authorization").is_none() {
        return failed("not_authed");
    }
    let Some(team) = shared.tokens.account_of(&req.headers) else { return failed("invalid_auth") };
    let args = match arguments(req) {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    let mut ws = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(at) = ws.failures.iter().position(|(m, _)| m == method) {
        let (_, error) = ws.failures.remove(at);
        return failed(&error);
    }
    let text = |key: &str| args.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    match method {
        "auth.test" => (
            200,
            json!({
                "ok": true, "url": "https://softball.slack.com/", "team": "Slack Softball Team", "user": "weftbot",
                "team_id": team, "user_id": BOT_USER, "bot_id": "B0BOT0001", "is_enterprise_install": false,
            }),
        ),
        "chat.postMessage" => {
            let (Some(channel), Some(message)) = (text("channel"), text("text").or_else(|| text("blocks"))) else {
                return failed(if text("channel").is_none() { "channel_not_found" } else { "no_text" });
            };
            let Some(channel) = ws.find_channel(&channel) else { return failed("channel_not_found") };
            let ts = ws.post(&channel, &message);
            (
                200,
                json!({ "ok": true, "channel": channel, "ts": ts, "message": { "type": "message", "text": message, "user": BOT_USER, "ts": ts } }),
            )
        }
        "conversations.open" => match text("users") {
            Some(user) if ws.users.iter().any(|u| u["id"] == user.as_str()) => {
                let id = format!("D{}", &user[1..]);
                if ws.find_channel(&id).is_none() {
                    ws.channels.push(Channel { id: id.clone(), name: String::new(), archived: false });
                }
                (200, json!({ "ok": true, "channel": { "id": id } }))
            }
            Some(_) => failed("user_not_found"),
            None => failed("users_list_not_supplied"),
        },
        "conversations.list" => {
            let types = text("types").unwrap_or_else(|| "public_channel".into());
            if types.split(',').any(|t| !["public_channel", "private_channel", "mpim", "im"].contains(&t)) {
                return failed("invalid_types");
            }
            let exclude = text("exclude_archived").as_deref() == Some("true");
            let items: Vec<Value> = ws
                .channels
                .iter()
                .filter(|c| c.id.starts_with('C') && !(exclude && c.archived))
                .map(|c| json!({ "id": c.id, "name": c.name, "is_channel": true, "is_archived": c.archived }))
                .collect();
            page(&items, &args, "channels")
        }
        "users.list" => page(&ws.users.clone(), &args, "members"),
        "users.lookupByEmail" => {
            match ws.users.iter().find(|u| text("email").is_some_and(|e| u["profile"]["email"] == e.as_str())) {
                Some(user) => (200, json!({ "ok": true, "user": user })),
                None => failed("users_not_found"),
            }
        }
        "reactions.add" => {
            let (Some(channel), Some(ts), Some(name)) = (text("channel"), text("timestamp"), text("name")) else {
                return failed("invalid_arguments");
            };
            let Some(m) = ws.messages.iter_mut().find(|m| m.channel == channel && m.ts == ts) else {
                return failed("message_not_found");
            };
            if m.reactions.contains(&name) {
                return failed("already_reacted");
            }
            m.reactions.push(name);
            (200, json!({ "ok": true }))
        }
        "chat.update" | "chat.delete" => {
            let (Some(channel), Some(ts)) = (text("channel"), text("ts")) else { return failed("invalid_arguments") };
            let Some(at) = ws.messages.iter().position(|m| m.channel == channel && m.ts == ts) else {
                return failed("message_not_found");
            };
            if method == "chat.delete" {
                ws.messages.remove(at);
                return (200, json!({ "ok": true, "channel": channel, "ts": ts }));
            }
            let Some(new_text) = text("text") else { return failed("no_text") };
            ws.messages[at].text = new_text.clone();
            (200, json!({ "ok": true, "channel": channel, "ts": ts, "text": new_text }))
        }
        _ => (404, json!({ "ok": false, "error": "unknown_method" })),
    }
}

impl Workspace {
    /// A channel by id, `#name` or name.
    fn find_channel(&self, wanted: &str) -> Option<String> {
        let name = wanted.trim_start_matches('#');
        self.channels.iter().find(|c| c.id == wanted || (!c.name.is_empty() && c.name == name)).map(|c| c.id.clone())
    }

    fn post(&mut self, channel: &str, text: &str) -> String {
        let ts = format!("1700000000.{:06}", self.next_ts);
        self.next_ts += 1;
        self.messages.push(Message {
            channel: channel.into(),
            ts: ts.clone(),
            text: text.into(),
            reactions: Vec::new(),
        });
        ts
    }
}

/// One page of `items` as Slack pages: `limit` (1 to 1000) and an opaque
/// `cursor`; `response_metadata.next_cursor` is empty on the last page.
fn page(items: &[Value], args: &Value, key: &str) -> (u16, Value) {
    let limit = match args.get("limit").and_then(Value::as_str).map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return failed("invalid_limit"),
    };
    let start = match args.get("cursor").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(cursor) => match STANDARD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("at:")?.parse().ok())
        {
            Some(n) if n < items.len() => n,
            _ => return failed("invalid_cursor"),
        },
    };
    let end = (start + limit).min(items.len());
    let next = if end < items.len() { STANDARD.encode(format!("at:{end}")) } else { String::new() };
    let mut answer = json!({ "ok": true, "response_metadata": { "next_cursor": next } });
    answer[key] = Value::Array(items[start..end].to_vec());
    (200, answer)
}
