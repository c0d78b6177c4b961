//! Bad input on every route: the route walk over `/openapi.json` (issue 22).
//! Whatever a caller sends, the answer is the route's own or the error
//! shape with a stable code and the request id, never a framework's plain
//! text and never a server error.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;

/// One way of getting the input wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    /// A truncated JSON body sent as `application/json`.
    MalformedBody,
    /// A well-formed JSON body sent as `text/plain`.
    WrongContentType,
    /// A query whose `limit` is not a number and whose `state` is repeated.
    BadQuery,
}

const CASES: [Case; 3] = [Case::MalformedBody, Case::WrongContentType, Case::BadQuery];

/// A documented operation: method, path template, and the credential its
/// security requirement names (with the roles an API key needs).
struct Operation {
    method: Method,
    path: String,
    scheme: Option<String>,
    roles: Vec<String>,
}

/// Every operation of the OpenAPI document.
fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let scheme = op["security"]
                .as_array()
                .and_then(|s| s.first())
                .and_then(|s| s.as_object())
                .and_then(|requirement| requirement.keys().next().cloned());
            // "API key roles: admin, member"
            let roles = op["description"]
                .as_str()
                .and_then(|d| d.strip_prefix("API key roles: "))
                .map(|r| r.split(", ").map(str::to_owned).collect())
                .unwrap_or_default();
            let method = method.to_ascii_uppercase().parse().expect("method");
            ops.push(Operation { method, path: path.clone(), scheme, roles });
        }
    }
    ops
}

/// What the walk sends: a project with a user, keys of every role and an
/// integration, and the values its path parameters take.
struct Walk {
    app: TestApp,
    params: HashMap<&'static str, String>,
    user_token: String,
    keys: HashMap<&'static str, String>,
}

impl Walk {
    async fn arrange() -> Walk {
        use weft_store::Role;
        let app = spawn_app(&["test_echo"]).await;
        let store = app.store.clone();
        let (project, user_token) = project_with_token(store.as_ref(), "Walk").await;
        let mut keys = HashMap::new();
        for (name, role) in [("admin", Role::Admin), ("member", Role::Member), ("support", Role::Support)] {
            keys.insert(name, api_key(store.as_ref(), &project, role).await);
        }
        let (status, integration) = app
            .call(
                Method::POST,
                &format!("/admin/projects/{project}/integrations"),
                Some(&keys["admin"]),
                Some(json!({"type": "test-echo", "active": true})),
            )
            .await;
        assert_eq!(status, 201, "{integration}");
        let integration = integration["id"].as_str().expect("integration id").to_owned();
        let params = HashMap::from([
            ("{projectId}", project),
            ("{integrationId}", integration),
            ("{integrationType}", "test-echo".to_owned()),
            ("{integration}", "test-echo".to_owned()),
            ("{subscriptionId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c19".to_owned()),
            ("{id}", "test-echo".to_owned()),
            ("{*path}", "anything/at/all".to_owned()),
            // The token's user; made-up ids for what the walk may delete.
            ("{userId}", "matrix-user".to_owned()),
            ("{credentialId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15".to_owned()),
            ("{keyId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c11".to_owned()),
            ("{signingKeyId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c14".to_owned()),
            ("{name}", "NOTHING_DECLARED".to_owned()),
            ("{file}", "connect.js".to_owned()),
            ("{workflowId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c16".to_owned()),
            ("{version}", "1".to_owned()),
            ("{executionId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c17".to_owned()),
            ("{stepExecutionId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c18".to_owned()),
            ("{destinationId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c1a".to_owned()),
            ("{resourceId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c1b".to_owned()),
        ]);
        Walk { app, params, user_token, keys }
    }

    /// The path of `template` with every parameter filled in.
    fn fill(&self, template: &str) -> String {
        let path = self.params.iter().fold(template.to_owned(), |p, (name, value)| p.replace(name, value));
        assert!(!path.contains('{'), "{template}: give the walk a value for this path parameter");
        path
    }

    /// The credential `op` takes, as an `Authorization` value.
    fn credential(&self, op: &Operation) -> Option<String> {
        let secret = match op.scheme.as_deref()? {
            "userToken" => &self.user_token,
            "operatorKey" => &self.app.operator_key,
            "apiKey" => &self.keys[op.roles.first().map(String::as_str).expect("an API key route lists its roles")],
            other => panic!("{} {}: unknown security scheme {other}", op.method, op.path),
        };
        Some(format!("Bearer {secret}"))
    }

    async fn send(&self, op: &Operation, case: Case) -> reqwest::Response {
        let mut url = format!("{}{}", self.app.base, self.fill(&op.path));
        let mut req = match case {
            Case::MalformedBody => self.app.client.request(op.method.clone(), &url).body(r#"{"name": "#),
            Case::WrongContentType => self.app.client.request(op.method.clone(), &url).body(r#"{"name": "x"}"#),
            Case::BadQuery => {
                url.push_str("?limit=not-a-number&state=one&state=two");
                self.app.client.request(op.method.clone(), &url)
            }
        };
        req = match case {
            Case::MalformedBody => req.header("content-type", "application/json"),
            Case::WrongContentType => req.header("content-type", "text/plain"),
            Case::BadQuery => req,
        };
        if let Some(auth) = self.credential(op) {
            req = req.header("authorization", auth);
        }
        req.send().await.expect("request")
    }
}

/// What is wrong with an answer to `case` on `op`, if anything.
async fn problems(op: &Operation, case: Case, resp: reqwest::Response) -> Vec<String> {
    let status = resp.status().as_u16();
    let header_id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = resp.text().await.unwrap_or_default();
    let mut found = Vec::new();
    let mut problem = |what: String| found.push(format!("{} {} ({case:?}): {status} {what}", op.method, op.path));
    if status >= 500 {
        problem(format!("is a server error: {text}"));
    }
    // A webhook is refused when the plugin cannot verify it, whatever the
    // walk sends: the walk has no provider's signature.
    let webhook = op.path.starts_with("/webhooks/");
    if (status == 401 || status == 403) && !webhook {
        problem(format!("refused the walk's credential: {text}"));
    }
    if status >= 400 {
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = body["code"].as_str().unwrap_or_default();
        let stable = !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        if !stable || body["status"] != status || body["message"].as_str().is_none_or(str::is_empty) {
            problem(format!("is not the error shape: {text:?}"));
        } else if header_id.is_empty() || body["meta"]["requestId"] != header_id.as_str() {
            problem(format!("has no request id matching x-request-id {header_id:?}: {text}"));
        }
    }
    // Routes that read a JSON body (every body-carrying method but the
    // proxy's, which forwards bytes, a Request trigger's, which takes
    // any body and reads JSON only when it says it is JSON, and a webhook's,
    // which its plugin reads) name the mistake; so do the routes that read
    // a query.
    let any_body = op.path.contains("/sdk/proxy/") || op.path.contains("/sdk/triggers/") || webhook;
    let reads_body = matches!(op.method, Method::POST | Method::PUT | Method::PATCH) && !any_body;
    let reads_query = op.path.ends_with("/users") || op.path.ends_with("/oauth/callback");
    let expected = match case {
        Case::MalformedBody if reads_body => Some((400, "INVALID_JSON")),
        Case::WrongContentType if reads_body => Some((415, "UNSUPPORTED_MEDIA_TYPE")),
        Case::BadQuery if reads_query => Some((400, "INVALID_QUERY")),
        _ => None,
    };
    if let Some((want_status, want_code)) = expected {
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != want_status || body["code"] != want_code {
            found.push(format!(
                "{} {} ({case:?}): want {want_status} {want_code}, got {status} {text}",
                op.method, op.path
            ));
        }
    }
    found
}

/// Acceptance (issue 22): every documented route is sent a malformed JSON
/// body, a wrong content type and a bad query value. Each answer is the
/// route's normal one (it ignores that input) or the error shape with a
/// stable code and the request id; none is a server error, and routes that
/// read a body or a query say which mistake was made.
#[tokio::test]
async fn malformed_input_on_every_documented_route_is_answered_in_the_error_shape() {
    let walk = Walk::arrange().await;
    let doc: Value = walk.app.get("/openapi.json").await.json().await.expect("the OpenAPI document");
    let ops = operations(&doc);
    assert_eq!(ops.len(), weft_api::route_table().len(), "the document lists every route");
    let mut found = Vec::new();
    for op in &ops {
        for case in CASES {
            let resp = walk.send(op, case).await;
            found.extend(problems(op, case, resp).await);
        }
    }
    assert!(found.is_empty(), "{} bad answers:\n{}", found.len(), found.join("\n"));
    assert_eq!(walk.app.get("/healthz").await.status(), 200);
}
