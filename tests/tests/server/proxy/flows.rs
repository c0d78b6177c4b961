//! The Proxy API's happy paths and its contract: credential injection,
//! `{"output": ...}` and raw answers, account selection, task records, and
//! one refresh + one retry after a provider 401 (C4-54).

use super::fixture::ProxyFixture;
use crate::connect::Fixture;
use reqwest::Method;
use serde_json::{Value, json};

/// C4-54: a call to the permitted host gets the credential exactly as the
/// integration defines it (an `X-API-Key` header), the caller's query and
/// body arrive, and the answer is `{"output": <provider JSON>}`.
#[tokio::test]
async fn the_credential_is_injected_and_the_answer_wrapped() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-u1-secret").await;
    let (status, body) = f.get("u1", "test-proxy/echo?page=2&q=a%20b").await;
    assert_eq!(status, 200, "{body}");
    let output = &body["output"];
    assert_eq!(output["method"], "GET");
    assert_eq!(output["uri"], "/api/echo?page=2&q=a%20b");
    assert_eq!(output["headers"]["x-api-key"], "key-u1-secret");
    assert!(output["headers"].get("authorization").is_none(), "the user token never reaches the provider: {output}");

    let resp = f
        .proxy(Method::POST, "u1", "test-proxy/echo")
        .json(&json!({"channel": "C1", "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["output"]["method"], "POST");
    assert_eq!(body["output"]["body"], json!({"channel": "C1", "text": "hi"}));
    assert_eq!(body["output"]["headers"]["content-type"], "application/json");

    // Text answers are wrapped as a string; every call is one task record,
    // with the request id and without the query.
    let (_, text) = f.get("u1", "test-proxy/text").await;
    assert_eq!(text, json!({"output": "plain text"}));
    let tasks = f.tasks(3).await;
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t.kind == "proxy" && t.user_id == "u1" && t.outcome == "ok"));
    let post = tasks.iter().find(|t| t.request_id == request_id).expect("the POST's record");
    assert_eq!((post.method.as_ref(), post.status), ("POST", 200));
    assert!(tasks.iter().all(|t| !t.target.contains('?')), "no query in records: {tasks:?}");
    assert_eq!(f.mock.count(), 3);
}

/// A call as the browser SDK sends it: `Content-Type: auto` (infer it)
/// reaches the provider as JSON for a body and not at all without one, and
/// the SDK's version header stays with Weft.
#[tokio::test]
async fn the_browser_sdks_call_shape_reaches_the_provider_as_plain_json() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-sdk-shape").await;
    let sdk = |method| {
        f.proxy(method, "u1", "test-proxy/echo")
            .header("content-type", "auto")
            .header("accept", "application/json")
            .header("x-paragon-sdk-version", "2.4.0")
    };
    let body: Value = sdk(Method::POST).body(r#"{"title":"x"}"#).send().await.unwrap().json().await.unwrap();
    let output = &body["output"];
    assert_eq!(output["headers"]["content-type"], "application/json", "{output}");
    assert_eq!(output["body"], json!({"title": "x"}));
    assert!(output["headers"].get("x-paragon-sdk-version").is_none(), "{output}");
    let body: Value = sdk(Method::GET).send().await.unwrap().json().await.unwrap();
    assert!(body["output"]["headers"].get("content-type").is_none(), "{body}");
}

/// Raw answers keep the provider's status, headers and bytes, minus
/// cookies; `{"output"}` answers drop the provider's headers but rate-limit
/// and retry hints. Custom integrations answer on `/custom/{id}/...`.
#[tokio::test]
async fn raw_answers_and_the_custom_route() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-raw").await;
    let resp =
        f.proxy(Method::GET, "u1", "test-proxy/json").header("X-Paragon-Use-Raw-Response", "1").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-provider"], "1");
    assert!(resp.headers().get("set-cookie").is_none(), "provider cookies are not set on Weft's origin");
    assert_eq!(resp.text().await.unwrap(), r#"{"ok":true}"#);

    let resp = f.proxy(Method::GET, "u1", "test-proxy/json").send().await.unwrap();
    assert!(resp.headers().get("x-provider").is_none() && resp.headers().get("set-cookie").is_none());
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"output": {"ok": true}}));

    let head = f.proxy(Method::HEAD, "u1", "test-proxy/json").send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(f.mock.hits().last().unwrap().method, "HEAD", "a HEAD goes out as a HEAD");

    let (status, body) = f.get("u1", "test-proxy/status/404").await;
    assert_eq!((status, body), (404, json!({"output": {"status": 404}})), "the provider's status passes through");

    let (status, body) = f.get("u1", &format!("custom/{}/echo", f.integration)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["headers"]["x-api-key"], "key-raw");
}

/// Proxy calls skip the router's matching and layers, and keep its
/// contract: the caller's request id (or a new one) on the answer and the
/// task record, CORS headers for browsers, a preflight answered, the error
/// shape, and a body cap.
#[tokio::test]
async fn proxy_calls_keep_the_routers_contract() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-contract").await;
    let resp = f
        .proxy(Method::GET, "u1", "test-proxy/echo")
        .header("X-Request-Id", "req-from-the-caller")
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["x-request-id"], "req-from-the-caller");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-expose-headers"], "x-request-id");
    assert!(h["vary"].to_str().unwrap().contains("origin"));
    let tasks = f.tasks(1).await;
    assert_eq!(tasks[0].request_id, "req-from-the-caller");

    // Without an id, one is made; without an Origin, no CORS grant.
    let resp = f.proxy(Method::GET, "u1", "test-proxy/echo").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"].len(), 36);
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    let preflight = f
        .unauthenticated(Method::OPTIONS, "test-proxy/echo")
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));

    let before = f.mock.count();
    let refused = f
        .unauthenticated(Method::GET, "test-proxy/echo")
        .header("Authorization", "Bearer not-a-token")
        .header("X-Request-Id", "req-refused")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["x-request-id"], "req-refused");
    let body: Value = refused.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["status"].as_u64()), (Some("UNAUTHORIZED"), Some(401)));
    assert_eq!(body["meta"]["requestId"], "req-refused");

    let big = vec![b'x'; 16 * 1024 * 1024 + 1];
    let resp = f.proxy(Method::POST, "u1", "test-proxy/echo").body(big).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");
    assert!(body["meta"]["requestId"].is_string());
    assert_eq!(f.mock.count(), before, "refused calls never reach the provider");
}

/// `X-Paragon-Credential` picks one of the user's accounts; another
/// user's account, an unknown id and a user without an account are refused
/// without calling the provider.
#[tokio::test]
async fn the_account_is_the_users_own() {
    let f = ProxyFixture::new().await;
    let first = f.connect("u1", "key-first").await;
    let second = f.connect_as("u1", "test-proxy", "key-second", true).await;
    let other = f.connect("u2", "key-of-u2").await;
    let with =
        |id: &str| f.proxy(Method::GET, "u1", "test-proxy/echo").header("X-Paragon-Credential", id.to_owned()).send();
    let body: Value = with(&second).await.unwrap().json().await.unwrap();
    assert_eq!(body["output"]["headers"]["x-api-key"], "key-second");
    let body: Value = with(&first).await.unwrap().json().await.unwrap();
    assert_eq!(body["output"]["headers"]["x-api-key"], "key-first");
    let before = f.mock.count();
    for id in [other.as_str(), "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15", "not-an-id"] {
        let resp = with(id).await.unwrap();
        assert_eq!(resp.status(), 404, "{id}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "NOT_FOUND");
        assert!(body["meta"]["requestId"].is_string());
    }
    let (status, body) = f.get("u3", "test-proxy/echo").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("connect"), "{body}");
    let (status, _) = f.get("u1", "unknown-integration/echo").await;
    assert_eq!(status, 404);
    assert_eq!(f.mock.count(), before, "refused calls never reach the provider");
    let anonymous = f.unauthenticated(Method::GET, "test-proxy/echo").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// Forged user tokens count against the caller's address on the proxy's
/// own path too: past the budget that address is refused (429) even with a
/// valid token, while other addresses go on.
#[tokio::test]
async fn token_guessing_on_the_proxy_is_throttled_by_address() {
    let f = ProxyFixture::with(|s| s.auth.max_failures_per_minute = 5).await;
    f.connect("u1", "key-u1-secret").await;
    let from = |ip: [u8; 4]| reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap();
    let (attacker, url) = (from([127, 0, 0, 3]), format!("{}{}", f.app.base, f.target("test-proxy/echo")));
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = attacker.get(&url).bearer_auth(format!("forged.{i}.token")).send().await.unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    let valid = attacker.get(&url).bearer_auth(f.token("u1")).send().await.unwrap();
    assert_eq!(valid.status(), 429, "the address is throttled whatever it sends");
    assert!(valid.headers().contains_key("retry-after"));
    let other = from([127, 0, 0, 4]).get(&url).bearer_auth(f.token("u1")).send().await.unwrap();
    assert_eq!(other.status(), 200, "another address is not");
}

/// Task records are written off the request path, and a clean shutdown
/// stores every one of them before the database closes.
#[tokio::test]
async fn a_clean_shutdown_keeps_every_task_record() {
    let mut f = ProxyFixture::new().await;
    f.connect("u1", "key-records").await;
    f.connect("u2", "key-records-2").await;
    let calls = (0..15).flat_map(|_| ["u1", "u2"]).map(|u| f.proxy(Method::GET, u, "test-proxy/echo").send());
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|r| r.as_ref().is_ok_and(|r| r.status() == 200)));
    f.app.shutdown().await;
    let db = f.app._dir.path().join("weft.db").display().to_string();
    let store = weft_store::open(&db).await.unwrap();
    let project = f.project.parse().unwrap();
    assert_eq!(store.count_task_records(project).await.unwrap(), 30, "a task record was lost at shutdown");
    let users: std::collections::BTreeSet<_> =
        store.list_task_records(project, 100).await.unwrap().into_iter().map(|t| t.user_id).collect();
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["u1", "u2"]);
}

/// A call in flight when the server is told to stop is still answered
/// (and recorded); the server then stops.
#[tokio::test]
async fn a_call_in_flight_at_shutdown_is_answered() {
    let mut f = ProxyFixture::new().await;
    f.connect("u1", "key-in-flight").await;
    let call = tokio::spawn(f.proxy(Method::GET, "u1", "test-proxy/slow/500").send());
    // Let it reach the provider, then stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while f.mock.count() == 0 {
        assert!(std::time::Instant::now() < deadline, "the call never reached the provider");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    f.app.shutdown().await;
    let answer = call.await.unwrap().expect("answered, not cut off");
    assert_eq!(answer.status(), 200);
    let db = f.app._dir.path().join("weft.db").display().to_string();
    let store = weft_store::open(&db).await.unwrap();
    assert_eq!(store.count_task_records(f.project.parse().unwrap()).await.unwrap(), 1);
}

/// A provider 401 on an OAuth account: one refresh at the token endpoint,
/// one retry with the new token, and the caller sees only the success.
#[tokio::test]
async fn a_provider_401_refreshes_once_and_retries_once() {
    let f = Fixture::oauth().await;
    f.connect("u1", "acct-1", json!({})).await;
    let api_calls = || f.mock.log().iter().filter(|r| r.path.starts_with("/api/")).count();
    let connected = api_calls();
    let call = || async {
        let url = format!("{}/projects/{}/sdk/proxy/test-oauth/items", f.app.base, f.project);
        let resp = f.app.client.get(url).bearer_auth(f.token("u1")).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = call().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["account"], "acct-1");
    let refreshes = f.mock.token_requests_with_grant("refresh_token");
    f.mock.expire_access_tokens();
    let (status, body) = call().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), refreshes + 1);
    assert_eq!(api_calls() - connected, 3, "first call, the refused call, the one retry");
}

/// Acceptance 2 of the groundwork issue, on the proxy's side (the plugin's
/// side is `connect::refresh::a_provider_401_triggers_one_refresh_and_one_retry`):
/// 30 concurrent calls all meet a 401; one refresh serves them all, each
/// retries once and succeeds.
#[tokio::test]
async fn concurrent_401s_share_one_refresh() {
    let f = Fixture::oauth().await;
    f.connect("u1", "acct-1", json!({})).await;
    let token = f.token("u1");
    let url = format!("{}/projects/{}/sdk/proxy/test-oauth/items", f.app.base, f.project);
    let refreshes = f.mock.token_requests_with_grant("refresh_token");
    f.mock.expire_access_tokens();
    let calls = (0..30).map(|_| async {
        let resp = f.app.client.get(&url).bearer_auth(&token).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
    });
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["output"]["account"], "acct-1");
    }
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), refreshes + 1, "one refresh for 30 callers");
}
