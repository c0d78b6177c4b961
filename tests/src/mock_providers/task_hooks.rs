//! A strict made-up provider with a webhook API, for custom integrations'
//! declarative webhooks: API keys in `X-Tasks-Key` (401 otherwise), each
//! key one account; `GET /me` names the account; `POST /hooks` registers a
//! hook for the key's account (`url` must be an http(s) URL, `events` a
//! list of strings; 422 otherwise) and answers its id; `DELETE
//! /hooks/{id}` removes one of the account's hooks (404 for another
//! account's). [`sign`] signs a delivery as the provider does
//! (HMAC-SHA256 of the raw body, hex, after `sha256=`).

use super::server::{MockServer, Provider, Reply, Request};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;

/// A registered hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// Its id (`hook-1`).
    pub id: String,
    /// The account that registered it.
    pub account: String,
    /// Where events go.
    pub url: String,
    /// The events it asked for.
    pub events: Vec<String>,
}

/// The mock's state.
#[derive(Default)]
pub struct TaskHooks {
    keys: HashMap<String, String>,
    /// Live hooks, oldest first.
    pub hooks: Vec<Hook>,
    /// Ids of the hooks removed, in order.
    pub removed: Vec<String>,
    made: usize,
}

/// Starts the provider on a free port of 127.0.0.1, accepting no key yet.
pub async fn start() -> MockServer<TaskHooks> {
    MockServer::start(TaskHooks::default()).await
}

/// The provider's signature header value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn error(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({ "error": message }))
}

impl TaskHooks {
    /// Accepts `key` as an API key of `account`.
    pub fn accept(&mut self, key: &str, account: &str) {
        self.keys.insert(key.to_owned(), account.to_owned());
    }

    fn register(&mut self, account: String, req: &Request) -> Reply {
        let Some(body) = req.json() else { return error(400, "send JSON as application/json") };
        let url = body["url"].as_str().filter(|u| u.starts_with("http://") || u.starts_with("https://"));
        let events: Option<Vec<String>> =
            body["events"].as_array().and_then(|e| e.iter().map(|v| v.as_str().map(str::to_owned)).collect());
        let (Some(url), Some(events)) = (url, events) else {
            return error(422, "`url` (an http(s) URL) and `events` (strings) are required");
        };
        self.made += 1;
        let hook = Hook { id: format!("hook-{}", self.made), account, url: url.to_owned(), events };
        self.hooks.push(hook.clone());
        Reply::json(201, json!({ "id": hook.id, "url": hook.url, "events": hook.events }))
    }

    fn remove(&mut self, account: &str, id: &str) -> Reply {
        match self.hooks.iter().position(|h| h.id == id && h.account == account) {
            Some(at) => {
                self.hooks.remove(at);
                self.removed.push(id.to_owned());
                Reply::empty(204)
            }
            None => error(404, "no such hook"),
        }
    }
}

impl Provider for TaskHooks {
    fn handle(&mut self, req: &Request, _base: &str) -> Reply {
        let Some(account) = req.header("x-tasks-key").and_then(|k| self.keys.get(k)).cloned() else {
            return error(401, "send your API key in X-Tasks-Key");
        };
        let segments = req.segments();
        match (req.method.as_str(), segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
            ("GET", ["me"]) => Reply::json(200, json!({ "id": account, "name": format!("Account {account}") })),
            ("POST", ["hooks"]) => self.register(account, req),
            ("DELETE", ["hooks", id]) => {
                let id = (*id).to_owned();
                self.remove(&account, &id)
            }
            _ => Reply::json(404, Value::Null),
        }
    }
}
