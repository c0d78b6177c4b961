//! A strict Hello API, the made-up provider of the README's walkthrough
//! (`plugins/hello`): `GET /v1/account` and `POST /v1/greetings`, for one
//! API key sent as `Authorization: Bearer <key>` (401 otherwise), JSON
//! bodies with the required fields (400 and 422 otherwise); and [`sign`],
//! Hello's webhook signature. `cargo run -p weft-tests --bin hello-mock`
//! serves it for a running server.

use super::server::{MockServer, Provider, Reply, Request};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::SocketAddr;

/// The account every accepted key belongs to.
pub const ACCOUNT: &str = "acct_42";
/// Its name.
pub const ACCOUNT_NAME: &str = "Ada's team";

/// The mock's state.
pub struct Hello {
    api_key: String,
    /// Greetings sent, oldest first.
    pub greetings: Vec<Value>,
    /// Prints each request and its status (for the binary).
    pub verbose: bool,
}

/// Starts a Hello API on a free port of 127.0.0.1 that accepts `api_key`.
pub async fn start(api_key: &str) -> MockServer<Hello> {
    start_on(api_key, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts a Hello API on `addr` that accepts `api_key`.
pub async fn start_on(api_key: &str, addr: SocketAddr) -> MockServer<Hello> {
    let hello = Hello { api_key: api_key.to_owned(), greetings: Vec::new(), verbose: false };
    MockServer::start_on(hello, addr).await
}

/// Hello's `X-Hello-Signature`: HMAC-SHA256 of the raw body, hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({ "error": { "code": code, "message": message } }))
}

impl Hello {
    fn answer(&mut self, req: &Request) -> Reply {
        if req.bearer() != Some(self.api_key.as_str()) {
            return error(401, "invalid_api_key", "send your API key as `Authorization: Bearer <key>`");
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v1/account") => Reply::json(200, json!({ "id": ACCOUNT, "name": ACCOUNT_NAME })),
            ("POST", "/v1/greetings") => self.greet(req),
            _ => error(404, "not_found", "no such endpoint"),
        }
    }

    fn greet(&mut self, req: &Request) -> Reply {
        let Some(body) = req.json() else {
            return error(400, "invalid_json", "the body must be JSON sent as application/json");
        };
        let (Some(to), Some(text)) = (body["to"].as_str(), body["text"].as_str()) else {
            return error(422, "missing_field", "`to` and `text` are required strings");
        };
        let greeting = json!({ "id": format!("grt_{}", self.greetings.len() + 1), "to": to, "text": text });
        self.greetings.push(greeting.clone());
        Reply::json(201, greeting)
    }
}

impl Provider for Hello {
    fn handle(&mut self, req: &Request, _base: &str) -> Reply {
        let reply = self.answer(req);
        if self.verbose {
            let body = String::from_utf8_lossy(&req.body);
            println!("{} {} -> {} {body}", req.method, req.path, reply.status);
        }
        reply
    }
}
