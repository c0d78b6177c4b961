//! `test-proxy`: the provider of the Proxy API tests. It takes an API key
//! in `X-API-Key`, may reach only 127.0.0.2 (tests point the integration's
//! base URL at a mock there), and declares a limit of 20 calls per second
//! per connected account, which the governor enforces for proxy calls and
//! for this plugin's own action alike. Its actions but one use Smart Rate
//! Limits in workflows, and its lists page by cursor (pre-configured
//! pagination).

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::{Action, Auth, Ctx, Empty, Error, Integration, Metadata, RateLimit, Result};

#[derive(Deserialize, schemars::JsonSchema)]
struct Target {
    /// A path under the base URL, or a full URL.
    url: String,
}

/// `GET /echo` with the connection's key and the invocation id as its
/// idempotency key (a workflow step's, stable across its retries): the
/// provider's JSON.
fn echo(cx: &Ctx, _input: Empty) -> Result<Value> {
    let answer = cx.http().get("/echo").header("Idempotency-Key", cx.invocation_id()).connection_auth().send_raw()?;
    match answer.status {
        200 => answer.json(),
        status => Err(Error::upstream(status, format!("GET /echo: upstream answered {status}"), None)),
    }
}

/// `GET <url>` with the connection's key: the status and the provider's
/// JSON, or the host's refusal as the error.
fn get(cx: &Ctx, input: Target) -> Result<Value> {
    let answer = cx.http().get(input.url).connection_auth().send_raw()?;
    Ok(json!({ "status": answer.status, "body": answer.json::<Value>().unwrap_or(Value::Null) }))
}

/// `GET <url>` with the connection's key: the provider's JSON, or its
/// failure as the plugin error of its status (a 429 is `rate-limited`,
/// timed by its `Retry-After`).
fn fetch(cx: &Ctx, input: Target) -> Result<Value> {
    cx.http().get(input.url).connection_auth().send_raw()?.error_for_status()?.json()
}

struct TestProxy;

impl Integration for TestProxy {
    fn metadata() -> Metadata {
        Metadata::new("test-proxy", "Test Proxy", "0.1.0")
            .description("A provider reached through the Proxy API in tests")
            .base_url("http://127.0.0.2/api")
            .allowed_hosts(["127.0.0.2"])
            .auth(Auth::api_key_header("X-API-Key"))
            .rate_limit(RateLimit::per_connection(20, 1))
            // Smart Rate Limits for all but the one action that shows a
            // rate limit failing its step.
            .extra(json!({
                "smartRateLimits": { "except": ["TEST_PROXY_FETCH_UNPAUSED"] },
                // The mock's lists page by cursor (`/pages/{key}/{mode}`).
                "pagination": { "results": "/data", "next": { "type": "cursor", "field": "/next", "param": "cursor" } },
            }))
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::new("TEST_PROXY_ECHO", "Echo", echo).description("GET /echo of the provider API"),
            Action::new("TEST_PROXY_GET", "Get", get).description("GET a path or URL with the connection's key"),
            Action::new("TEST_PROXY_FETCH", "Fetch", fetch).description("GET a path or URL; a non-2xx answer fails"),
            Action::new("TEST_PROXY_FETCH_UNPAUSED", "Fetch (no Smart Rate Limits)", fetch)
                .description("As Fetch, but a rate limit fails a workflow step at once"),
        ]
    }
}

weft_sdk::export_integration!(TestProxy);
