//! Refused custom-integration definitions (issue 19, acceptance 4): each
//! mistake is answered 400 `INVALID_DEFINITION` with its JSON Pointer and a
//! reason in `meta.problems`, nothing is stored, and URLs the egress policy
//! would refuse are refused when the definition is given, not when a user
//! first connects.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use weft_store::Role;

fn good() -> Value {
    json!({
        "id": "custom.tasklab", "name": "TaskLab", "baseUrl": "https://api.tasklab.example/v1",
        "allowedHosts": ["files.tasklab.example"],
        "auth": {
            "type": "oauth2", "authorizeUrl": "https://tasklab.example/oauth/authorize",
            "tokenUrl": "https://tasklab.example/oauth/token", "scopes": ["read"],
        },
        "connectionTest": {"path": "/me", "accountId": "/id"},
    })
}

/// `good()` with the value at `pointer` replaced (or, for `None`, removed).
fn with(pointer: &str, value: Option<Value>) -> Value {
    let mut d = good();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() { &mut d } else { d.pointer_mut(parent).unwrap() };
    match (parent, value) {
        (Value::Array(items), Some(v)) => items[key.parse::<usize>().unwrap()] = v,
        (Value::Object(fields), Some(v)) => drop(fields.insert(key.to_owned(), v)),
        (Value::Object(fields), None) => drop(fields.remove(key)),
        (other, _) => panic!("{pointer} in {other}"),
    }
    d
}

#[tokio::test]
async fn each_mistake_in_a_definition_is_named_by_path_and_reason() {
    let app = spawn_app(&[]).await;
    let (project, _) = project_with_key(app.store.as_ref(), "Invalid").await;
    let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let path = format!("/admin/projects/{project}/integrations");
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("id of another integration", with("/id", Some(json!("custom.other"))), "/id", "integration's type"),
        ("no base URL", with("/baseUrl", None), "", "baseUrl"),
        ("unknown auth type", with("/auth/type", Some(json!("oauth3"))), "/auth", "type"),
        ("misspelt field", with("/auth/tokenUrI", Some(json!("https://x.example"))), "/auth", "tokenUrI"),
        (
            "token URL over http",
            with("/auth/tokenUrl", Some(json!("http://tasklab.example/t"))),
            "/auth/tokenUrl",
            "https",
        ),
        ("token URL private", with("/auth/tokenUrl", Some(json!("https://10.0.0.7/t"))), "/auth/tokenUrl", "private"),
        (
            "token URL metadata",
            with("/auth/tokenUrl", Some(json!("https://169.254.169.254/t"))),
            "/auth/tokenUrl",
            "cloud metadata",
        ),
        ("base URL private", with("/baseUrl", Some(json!("https://192.168.1.20/api"))), "/baseUrl", "private"),
        (
            "base URL with credentials",
            with("/baseUrl", Some(json!("https://me:pw@api.tasklab.example"))),
            "/baseUrl",
            "user name",
        ),
        ("authorize URL not a URL", with("/auth/authorizeUrl", Some(json!("tasklab"))), "/auth/authorizeUrl", "URL"),
        (
            "host pattern with a path",
            with("/allowedHosts/0", Some(json!("files.example/x"))),
            "/allowedHosts/0",
            "host",
        ),
        ("host pattern too broad", with("/allowedHosts/0", Some(json!("*.com"))), "/allowedHosts/0", "top-level"),
        (
            "test request not a GET",
            with("/connectionTest/method", Some(json!("POST"))),
            "/connectionTest/method",
            "GET",
        ),
        (
            "test request elsewhere",
            with("/connectionTest/path", Some(json!("https://evil.example/me"))),
            "/connectionTest/path",
            "permitted",
        ),
        (
            "account id not a pointer",
            with("/connectionTest/accountId", Some(json!("id"))),
            "/connectionTest/accountId",
            "Pointer",
        ),
        ("scopes not a list", with("/auth/scopes", Some(json!("read"))), "/auth/scopes", "array"),
        ("custom refresh", with("/auth/customRefresh", Some(json!(true))), "/auth/customRefresh", "plugin"),
    ];
    assert!(cases.len() >= 10);
    for (what, definition, at, word) in cases {
        let body = json!({"type": "custom.tasklab", "definition": definition});
        let (status, answer) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("INVALID_DEFINITION")), "{what}: {answer}");
        let problems = answer["meta"]["problems"].as_array().unwrap_or_else(|| panic!("{what}: {answer}"));
        assert!(
            problems.iter().any(|p| p["path"] == at && p["reason"].as_str().is_some_and(|r| r.contains(word))),
            "{what}: expected {at:?} with {word:?} in {answer}"
        );
        assert!(answer["message"].as_str().unwrap().contains("custom.tasklab definition"), "{answer}");
    }
    let (_, listed) = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(listed, json!([]), "nothing was stored");

    // A definition file's text is checked the same way.
    let text = "id: custom.tasklab\nname: T\nbaseUrl: https://127.0.0.1.nip.io\nauth: {type: bearer}\nfoo: 1\n";
    let body = json!({"type": "custom.tasklab", "definition": text});
    let (status, answer) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["meta"]["problems"].as_array().unwrap().iter().any(|p| p["reason"].as_str().unwrap().contains("foo"))
    );

    // A good definition is stored; a bad change to it is refused and changes nothing.
    let body = json!({"type": "custom.tasklab", "definition": good()});
    let (status, created) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let one = format!("{path}/{}", created["id"].as_str().unwrap());
    let change = json!({"definition": with("/baseUrl", Some(json!("https://[::ffff:10.0.0.1]:8080")))});
    let (status, answer) = app.call(Method::PATCH, &one, Some(&admin), Some(change)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["meta"]["problems"][0]["path"], "/baseUrl", "{answer}");
    let (_, got) = app.call(Method::GET, &one, Some(&admin), None).await;
    assert_eq!(got["definition"]["baseUrl"], "https://api.tasklab.example/v1");

    // Only a custom integration has its own definition.
    let body = json!({"type": "slack", "definition": good()});
    let (status, answer) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
}

/// Loopback destinations are the operator's to open: with the default
/// egress policy a definition pointing at this machine is refused.
#[tokio::test]
async fn loopback_is_refused_unless_the_server_allows_it() {
    let app = spawn_app_with(&[], |s| s.egress.allow_loopback = false).await;
    let (project, _) = project_with_key(app.store.as_ref(), "Strict").await;
    let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let path = format!("/admin/projects/{project}/integrations");
    for (at, url) in [("/auth/tokenUrl", "http://127.0.0.1:9000/token"), ("/baseUrl", "https://localhost/api")] {
        let body = json!({"type": "custom.tasklab", "definition": with(at, Some(json!(url)))});
        let (status, answer) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        let problems = answer["meta"]["problems"].as_array().unwrap();
        assert!(
            problems.iter().any(|p| p["path"] == at && p["reason"].as_str().unwrap().contains("loopback")),
            "{answer}"
        );
    }
}
