//! ActionKit end to end: the project's plugin actions listed as JSON-Schema
//! tools for a user (only the integrations they connected, unless asked for
//! all), filtered, and run as the user's account through the real plugin,
//! with parameter problems named by path and provider failures passed
//! through in the error shape.

use crate::proxy::fixture::ProxyFixture;
use reqwest::Method;
use serde_json::{Value, json};

async fn list(f: &ProxyFixture, user: &str, query: &str) -> (u16, Value) {
    let path = format!("/projects/{}/actions{query}", f.project);
    f.app.call(Method::GET, &path, Some(&f.token(user)), None).await
}

async fn run(f: &ProxyFixture, user: &str, sdk: bool, body: Value) -> (u16, Value) {
    let path = format!("/projects/{}/{}actions", f.project, if sdk { "sdk/" } else { "" });
    f.app.call(Method::POST, &path, Some(&f.token(user)), Some(body)).await
}

#[tokio::test]
async fn actions_are_listed_as_tools_and_run_as_the_users_account() {
    let f = ProxyFixture::new().await;
    // Nothing connected: nothing available, everything when asked.
    let (status, body) = list(&f, "u1", "").await;
    assert_eq!((status, &body), (200, &json!({"actions": {}, "errors": []})));
    let (_, all) = list(&f, "u1", "?limit_to_available=false").await;
    let tools = all["actions"]["test-proxy"].as_array().expect("test-proxy's tools");
    let names: Vec<&str> = tools.iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["TEST_PROXY_ECHO", "TEST_PROXY_GET", "TEST_PROXY_FETCH", "TEST_PROXY_FETCH_UNPAUSED"]);
    let get = &tools[1];
    assert_eq!(get["type"], "function");
    assert_eq!(get["function"]["parameters"]["required"], json!(["url"]), "{get}");
    assert_eq!(get["function"]["parameters"]["$schema"], "http://json-schema.org/draft-07/schema#", "{get}");
    assert!(get["function"]["description"].as_str().unwrap().contains("GET"), "{get}");
    assert!(all["actions"].get("test-apikey").is_none(), "an integration without actions lists none");

    f.connect("u1", "key-of-u1-actionkit").await;
    let (_, mine) = list(&f, "u1", "").await;
    assert_eq!(mine["actions"]["test-proxy"], all["actions"]["test-proxy"]);
    let (_, filtered) = list(&f, "u1", "?integrations=test-apikey,other").await;
    assert_eq!(filtered["actions"], json!({}));
    let (_, by_category) = list(&f, "u1", "?categories=crm").await;
    assert_eq!(by_category["actions"], json!({}), "test-proxy declares no category");
    let (_, reloaded) = list(&f, "u1", "?reload_fields=true&format=json_schema").await;
    assert_eq!(reloaded["actions"], mine["actions"]);
    let (status, body) = list(&f, "u1", "?format=xml").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_QUERY")), "{body}");
    // u2 has no account: nothing available for them.
    assert_eq!(list(&f, "u2", "").await.1["actions"], json!({}));

    // Run: the provider is called with the account's key; the answer comes
    // back without it.
    let before = f.mock.count();
    let (status, out) =
        run(&f, "u1", false, json!({"action": "TEST_PROXY_GET", "parameters": {"url": "/echo?x=1"}})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"]["uri"], "/api/echo?x=1", "{out}");
    assert_eq!(out["body"]["headers"]["x-api-key"], weft_credentials::REDACTED, "{out}");
    let hits = f.mock.hits();
    assert_eq!(hits[before..].len(), 1);
    assert_eq!(hits[before].header("x-api-key"), Some("key-of-u1-actionkit"));
    // The browser SDK's route runs the same.
    let (status, out) = run(&f, "u1", true, json!({"action": "TEST_PROXY_ECHO"})).await;
    assert_eq!((status, out["method"].as_str()), (200, Some("GET")), "{out}");

    // Parameters that do not match the schema: each problem by path.
    let (status, body) = run(&f, "u1", false, json!({"action": "TEST_PROXY_GET", "parameters": {}})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert!(body["meta"]["problems"][0]["reason"].as_str().unwrap().contains("url"), "{body}");
    let (_, body) = run(&f, "u1", false, json!({"action": "TEST_PROXY_GET", "parameters": {"url": 5}})).await;
    assert_eq!(body["meta"]["problems"][0]["path"], "/url", "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    let before = f.mock.count();
    let (status, body) = run(&f, "u1", false, json!({"action": "NO_SUCH_ACTION"})).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("ACTION_NOT_FOUND")), "{body}");
    let (status, body) = run(&f, "u1", false, json!({"parameters": {}})).await;
    assert_eq!(status, 400, "{body}");
    // A user without an account of the integration.
    let (status, body) = run(&f, "u2", false, json!({"action": "TEST_PROXY_ECHO"})).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(f.mock.count(), before, "refused runs never reach the provider");

    // A provider failure comes back in the error shape with its status.
    f.set_base(&f.integration, &f.mock.url_of("/api/status/404")).await;
    let (status, body) = run(&f, "u1", false, json!({"action": "TEST_PROXY_ECHO"})).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PROVIDER_ERROR")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("404"), "{body}");
    assert_eq!(body["status"], 404);
}
