//! `test-query-key`: a provider that takes its API key as the `key` query
//! parameter, on 127.0.0.2 like `test-proxy`. Its action sends a GET with
//! the query pairs it is given, so tests can make the outbound URL long or
//! name the key's parameter themselves; a refusal is logged and returned as
//! the output, which is what a plugin could learn from it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::{Action, Auth, Ctx, Integration, Metadata, Result};

#[derive(Deserialize, schemars::JsonSchema)]
struct Get {
    /// A path under the base URL, or a full URL.
    url: String,
    /// Query pairs added to the URL's own.
    #[serde(default)]
    query: BTreeMap<String, String>,
}

/// `GET <url>?<query>` with the connection's key: the status and the
/// provider's JSON, or the host's refusal.
fn get(cx: &Ctx, input: Get) -> Result<Value> {
    let mut req = cx.http().get(input.url).connection_auth();
    for (name, value) in input.query {
        req = req.query(name, value);
    }
    match req.send_raw() {
        Ok(answer) => Ok(json!({ "status": answer.status, "body": answer.json::<Value>().unwrap_or(Value::Null) })),
        Err(e) => {
            weft_sdk::warn!("request refused: {}", e.message(); kind = e.kind());
            Ok(json!({ "error": { "kind": e.kind(), "message": e.message() } }))
        }
    }
}

struct TestQueryKey;

impl Integration for TestQueryKey {
    fn metadata() -> Metadata {
        Metadata::new("test-query-key", "Test Query Key", "0.1.0")
            .description("A provider whose API key travels in the query string")
            .base_url("http://127.0.0.2/api")
            .allowed_hosts(["127.0.0.2"])
            .auth(Auth::api_key_query("key"))
    }

    fn actions() -> Vec<Action> {
        vec![Action::new("TEST_QUERY_KEY_GET", "Get", get).description("GET a path with query pairs and the key")]
    }
}

weft_sdk::export_integration!(TestQueryKey);
