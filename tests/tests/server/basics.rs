//! Probes, the plugin catalogue, the error shape, CORS and OpenAPI.

use crate::support::*;
use serde_json::Value;
#[allow(unused_imports)]
use std::time::{Duration, Instant};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app(&[]).await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn lists_installed_plugins_with_actions_and_skips_refused_ones() {
    let app = spawn_app(&["test_echo", "example_step", "test_fs_import"]).await;
    let r = app.get("/plugins").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let plugins = body["plugins"].as_array().unwrap();
    let ids: Vec<_> = plugins.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["example-step", "test-echo"], "the filesystem plugin must be refused");
    let echo = &plugins[1];
    assert_eq!(echo["world"], "integration");
    assert_eq!(echo["metadata"]["name"], "Test Echo");
    let action = echo["actions"].as_array().unwrap().iter().find(|a| a["key"] == "ECHO").unwrap();
    assert_eq!(action["inputSchema"]["type"], "object");
    let one: Value = app.get("/plugins/test-echo").await.json().await.unwrap();
    assert_eq!(one["id"], "test-echo");
}

#[tokio::test]
async fn errors_have_one_shape_with_the_request_id() {
    let app = spawn_app(&[]).await;
    let r = app.get("/plugins/nope").await;
    assert_eq!(r.status(), 404);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!request_id.is_empty());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["code"], "NOT_FOUND");
    assert!(body["message"].as_str().unwrap().contains("nope"));
    assert_eq!(body["meta"]["requestId"], request_id);
    let r = app.get("/no/such/route").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    let r = app.client.post(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "METHOD_NOT_ALLOWED");
    // A caller-supplied request id is kept, so logs can be correlated.
    let r = app.client.get(format!("{}/plugins/x", app.base)).header("x-request-id", "req-abc").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["meta"]["requestId"], "req-abc");
}

#[tokio::test]
async fn sdk_routes_answer_cors_preflights_with_the_sdk_headers() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        // As Chromium asks for the browser SDK's DELETE of one account.
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-paragon-credential,x-paragon-sdk-version",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("PATCH"));
    assert!(h.get("access-control-allow-credentials").is_none(), "bearer tokens only, never cookies");
    let allowed: Vec<String> =
        h["access-control-allow-headers"].to_str().unwrap().split(',').map(|n| n.trim().to_ascii_lowercase()).collect();
    for name in
        ["authorization", "content-type", "x-paragon-credential", "x-paragon-sdk-version", "x-paragon-configuration-id"]
    {
        assert!(allowed.iter().any(|a| a == name), "{name} not in {allowed:?}");
    }
    assert!(!allowed.iter().any(|a| a == "*" || a == "cookie"), "{allowed:?}");
    // An actual cross-origin call carries the CORS header even when refused.
    let r = app
        .client
        .get(format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

/// `server.allowed_origins` narrows the pages that may call: a listed
/// origin gets its own origin back, another one's preflight is refused and
/// its answers carry no grant; admin routes never answer CORS.
#[tokio::test]
async fn allowed_origins_narrow_which_pages_may_call() {
    let app = spawn_app_with(&[], |s| s.server.allowed_origins = vec!["https://app.example.com".into()]).await;
    let me = format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base);
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, &me)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization,x-paragon-sdk-version")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
    let refused = preflight("https://elsewhere.example.com").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "ORIGIN_NOT_ALLOWED");
    // The call itself is still answered (the token decides), without a grant.
    let r = app.client.get(&me).header("origin", "https://elsewhere.example.com").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(r.headers()["vary"].to_str().unwrap().contains("origin"));
}

/// `/openapi.json` documents every route of the route table, with its path
/// parameters and the credential it takes.
#[tokio::test]
async fn openapi_covers_every_route() {
    let app = spawn_app(&[]).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let table = weft_api::route_table();
    assert!(table.iter().any(|r| r.path == "/openapi.json"), "the document covers itself");
    for route in &table {
        let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing from /openapi.json", route.method, route.path);
        assert_eq!(op["summary"], route.summary);
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        for name in route.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))) {
            assert!(params.contains(&name), "{} {}: parameter {name} undocumented", route.method, route.path);
        }
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(secured, route.access != weft_api::Access::Public, "{} {}", route.method, route.path);
    }
    for scheme in ["userToken", "apiKey", "operatorKey"] {
        assert_eq!(doc["components"]["securitySchemes"][scheme]["scheme"], "bearer", "{scheme}");
    }
}
