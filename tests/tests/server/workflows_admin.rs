//! The workflow admin API: drafts from JSON or YAML, precise refusals,
//! deploys that freeze versions, restores, the published schema, and the
//! project's own workflows only.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

const YAML: &str = "name: Greet new users\nintegration: slack\ntrigger: {type: appEvent, event: User Signed Up}\n\
steps:\n  - id: wait\n    type: delay\n    value: 5\n    unit: SECONDS\n";

async fn send(app: &TestApp, method: Method, path: &str, key: &str, content_type: &str, body: &str) -> (u16, Value) {
    let resp = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn workflows_are_drafted_deployed_and_restored() {
    let app = spawn_app(&[]).await;
    let (project, _) = project_with_key(app.store.as_ref(), "Flows").await;
    let key = api_key(app.store.as_ref(), &project, weft_store::Role::Member).await;
    let base = format!("/admin/projects/{project}/workflows");

    let (status, created) = send(&app, Method::POST, &base, &key, "application/yaml", YAML).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["name"].as_str(), created["integration"].as_str()), (Some("Greet new users"), Some("slack")));
    assert_eq!((created["versions"].as_u64(), created["deployedVersion"].clone()), (Some(0), Value::Null));
    let id = created["id"].as_str().unwrap().to_owned();
    let one = format!("{base}/{id}");

    let (status, deployed) = app.call(Method::POST, &format!("{one}/deploy"), Some(&key), None).await;
    assert_eq!(status, 200, "{deployed}");
    assert_eq!(deployed["deployedVersion"], 1);
    assert_eq!(deployed["trigger"], json!({"type": "appEvent", "key": "User Signed Up"}));

    // A new draft (JSON this time) leaves version 1 deployed.
    let mut draft = created["definition"].clone();
    draft["steps"][0]["value"] = json!(9);
    let (status, replaced) = send(&app, Method::PUT, &one, &key, "application/json", &draft.to_string()).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (replaced["deployedVersion"].as_u64(), replaced["definition"]["steps"][0]["value"].as_f64()),
        (Some(1), Some(9.0))
    );
    let (_, deployed) = app.call(Method::POST, &format!("{one}/deploy"), Some(&key), None).await;
    assert_eq!(deployed["deployedVersion"], 2);
    let (_, v1) = app.call(Method::GET, &format!("{one}/versions/1"), Some(&key), None).await;
    assert_eq!(v1["definition"]["steps"][0]["value"].as_f64(), Some(5.0), "versions never change");

    // Restoring version 1 writes version 3 as the draft; 2 stays deployed.
    let (status, restored) = app.call(Method::POST, &format!("{one}/versions/1/restore"), Some(&key), None).await;
    assert_eq!(status, 201, "{restored}");
    assert_eq!((restored["version"].as_u64(), restored["kind"].as_str()), (Some(3), Some("restored")));
    let (_, now) = app.call(Method::GET, &one, Some(&key), None).await;
    assert_eq!(
        (now["deployedVersion"].as_u64(), now["definition"]["steps"][0]["value"].as_f64()),
        (Some(2), Some(5.0))
    );
    let (_, versions) = app.call(Method::GET, &format!("{one}/versions"), Some(&key), None).await;
    let kinds: Vec<&str> = versions.as_array().unwrap().iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["restored", "deployed", "deployed"]);

    let (status, undeployed) = app.call(Method::POST, &format!("{one}/undeploy"), Some(&key), None).await;
    assert_eq!((status, undeployed["deployedVersion"].clone()), (200, Value::Null));
    let (status, _) = app.call(Method::DELETE, &one, Some(&key), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.call(Method::GET, &one, Some(&key), None).await.0, 404);
}

#[tokio::test]
async fn invalid_workflows_are_refused_with_every_problem() {
    let app = spawn_app(&[]).await;
    let (project, _) = project_with_key(app.store.as_ref(), "Flows").await;
    let key = api_key(app.store.as_ref(), &project, weft_store::Role::Admin).await;
    let base = format!("/admin/projects/{project}/workflows");
    let bad = json!({
        "name": "Broken",
        "integration": "slack",
        "trigger": {"type": "appEvent", "event": "Signed Up"},
        "steps": [
            {"id": "first", "type": "request", "method": "FETCH", "url": "https://x.example"},
            {"id": "first", "type": "delay", "value": -1},
            {"id": "third", "type": "request", "method": "GET", "url": "https://x.example/{{nowhere.output}}"}
        ]
    });
    let (status, body) = send(&app, Method::POST, &base, &key, "application/json", &bad.to_string()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_WORKFLOW")), "{body}");
    let problems = body["meta"]["problems"].as_array().expect("meta.problems");
    assert!(!problems.is_empty(), "{body}");
    assert!(
        problems.iter().all(|p| p["path"].as_str().is_some_and(|p| p.starts_with('/')) && p["reason"].is_string()),
        "{body}"
    );
    assert!(body["meta"]["requestId"].is_string());
    assert!(body["message"].as_str().unwrap().contains("at /"), "{body}");

    // Semantic mistakes, once the schema is satisfied: each named by path.
    let bad = json!({
        "name": "Broken",
        "integration": "slack",
        "trigger": {"type": "appEvent", "event": "Signed Up"},
        "steps": [
            {"id": "a", "type": "delay", "value": 1},
            {"id": "a", "type": "delay", "value": 2},
            {"id": "c", "type": "request", "method": "GET", "url": "https://x.example/{{nowhere.output}}"}
        ]
    });
    let (status, body) = send(&app, Method::POST, &base, &key, "application/json", &bad.to_string()).await;
    assert_eq!(status, 400, "{body}");
    let paths: Vec<&str> =
        body["meta"]["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/steps/1/id"), "{body}");
    assert!(paths.iter().any(|p| p.starts_with("/steps/2/url")), "{body}");

    let (status, body) = send(&app, Method::POST, &base, &key, "application/yaml", "name: [unclosed").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_WORKFLOW")), "{body}");
    let no_integration = YAML.replace("integration: slack\n", "");
    let (status, body) = send(&app, Method::POST, &base, &key, "application/yaml", &no_integration).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["meta"]["problems"][0]["path"], "/integration");
    let (status, body) = send(&app, Method::POST, &base, &key, "text/plain", YAML).await;
    assert_eq!((status, body["code"].as_str()), (415, Some("UNSUPPORTED_MEDIA_TYPE")), "{body}");

    // The schema is published; nothing was stored.
    let schema = app.get("/schemas/workflow.json").await;
    assert_eq!(schema.status(), 200);
    let schema: Value = schema.json().await.unwrap();
    assert!(schema["$schema"].is_string(), "{schema}");
    let (_, listed) = app.call(Method::GET, &base, Some(&key), None).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn workflows_are_the_projects_own_and_support_keys_only_read() {
    let app = spawn_app(&[]).await;
    let (project, _) = project_with_key(app.store.as_ref(), "A").await;
    let (other, _) = project_with_key(app.store.as_ref(), "B").await;
    let key = api_key(app.store.as_ref(), &project, weft_store::Role::Admin).await;
    let support = api_key(app.store.as_ref(), &project, weft_store::Role::Support).await;
    let other_key = api_key(app.store.as_ref(), &other, weft_store::Role::Admin).await;
    let base = format!("/admin/projects/{project}/workflows");
    let (_, created) = send(&app, Method::POST, &base, &key, "application/yaml", YAML).await;
    let id = created["id"].as_str().unwrap();
    let theirs = format!("/admin/projects/{other}/workflows/{id}");
    assert_eq!(app.call(Method::GET, &theirs, Some(&other_key), None).await.0, 404);
    assert_eq!(app.call(Method::POST, &format!("{theirs}/deploy"), Some(&other_key), None).await.0, 404);
    assert_eq!(app.call(Method::GET, &format!("{base}/{id}"), Some(&other_key), None).await.0, 404);
    assert_eq!(app.call(Method::GET, &format!("{base}/{id}"), Some(&support), None).await.0, 200);
    assert_eq!(app.call(Method::POST, &format!("{base}/{id}/deploy"), Some(&support), None).await.0, 403);
    assert_eq!(app.call(Method::GET, &format!("{base}/not-an-id"), Some(&key), None).await.0, 404);
    assert_eq!(app.call(Method::GET, &format!("{base}/{id}/versions/7"), Some(&key), None).await.0, 404);
}

/// Fifteen distinct mistakes, each refused through the admin API with the
/// path of the offending field and a reason, and the same files refused by
/// `weft workflow validate` with the same path.
#[tokio::test]
async fn fifteen_distinct_mistakes_are_named_by_the_api_and_the_cli() {
    let app = spawn_app(&[]).await;
    let (project, _) = project_with_key(app.store.as_ref(), "Mistakes").await;
    let key = api_key(app.store.as_ref(), &project, weft_store::Role::Admin).await;
    let base = format!("/admin/projects/{project}/workflows");
    let head = "name: M\nintegration: slack\ntrigger: {type: appEvent, event: E}\nsteps:\n";
    let delay = "  - {id: ok, type: delay, value: 1}\n";
    let cases: Vec<(&str, String, &str)> = vec![
        ("duplicate id", format!("{head}{delay}{delay}"), "/steps/1/id"),
        ("bad id", format!("{head}  - {{id: 'no spaces', type: delay, value: 1}}\n"), "/steps/0/id"),
        ("reserved id", format!("{head}  - {{id: user, type: delay, value: 1}}\n"), "/steps/0/id"),
        (
            "unknown step",
            format!("{head}  - {{id: r, type: request, method: GET, url: 'https://x.example/{{{{nope.output}}}}'}}\n"),
            "/steps/0/url",
        ),
        (
            "a later step",
            format!("{head}  - {{id: r, type: request, method: GET, url: 'https://x.example/{{{{later.output}}}}'}}\n  - {{id: later, type: delay, value: 1}}\n"),
            "/steps/0/url",
        ),
        ("bad method", format!("{head}  - {{id: r, type: request, method: FETCH, url: 'https://x.example'}}\n"), "/steps/0"),
        (
            "body without bodyType",
            format!("{head}  - {{id: r, type: request, method: POST, url: 'https://x.example', body: {{a: 1}}}}\n"),
            "/steps/0",
        ),
        ("negative delay", format!("{head}  - {{id: d, type: delay, value: -1}}\n"), "/steps/0/value"),
        ("unknown unit", format!("{head}  - {{id: d, type: delay, value: 1, unit: WEEKS}}\n"), "/steps/0"),
        (
            "unknown operator",
            format!("{head}  - {{id: c, type: conditional, if: {{left: a, operator: isPurple}}, then: [{{id: t, type: delay, value: 1}}]}}\n"),
            "/steps/0",
        ),
        ("empty fan-out", format!("{head}  - {{id: f, type: fanOut, iterator: [1], steps: []}}\n"), "/steps/0"),
        (
            "unterminated template",
            format!("{head}  - {{id: r, type: request, method: GET, url: 'https://x.example/{{{{oops'}}\n"),
            "/steps/0/url",
        ),
        (
            "response without request trigger",
            format!("{head}  - {{id: r, type: response, statusCode: 200, body: {{}}}}\n"),
            "/steps/0",
        ),
        ("app event without event", "name: M\nintegration: slack\ntrigger: {type: appEvent, event: ''}\nsteps:\n  - {id: d, type: delay, value: 1}\n".to_owned(), "/trigger"),
        ("not http", format!("{head}  - {{id: r, type: request, method: GET, url: 'ftp://x.example'}}\n"), "/steps/0/url"),
        ("unknown field", format!("{head}  - {{id: d, type: delay, value: 1, colour: blue}}\n"), "/steps/0"),
    ];
    let files = tempfile::tempdir().unwrap();
    let mut reasons = std::collections::HashSet::new();
    for (name, yaml, path) in &cases {
        let resp = app
            .client
            .post(format!("{}{base}", app.base))
            .bearer_auth(&key)
            .header("content-type", "application/yaml")
            .body(yaml.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_WORKFLOW")), "{name}: {body}");
        let problems = body["meta"]["problems"].as_array().unwrap();
        let hit = problems.iter().find(|p| p["path"].as_str().is_some_and(|p| p.starts_with(path)));
        let hit = hit.unwrap_or_else(|| panic!("{name}: no problem at {path}: {body}"));
        let reason = hit["reason"].as_str().unwrap();
        assert!(reason.len() > 10, "{name}: a reason that says what to change: {reason}");
        reasons.insert(reason.to_owned());

        let file = files.path().join(format!("{}.yaml", name.replace(' ', "-")));
        std::fs::write(&file, yaml).unwrap();
        let out = std::process::Command::new(weft_binary())
            .args(["workflow", "validate", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(&format!("at {path}")), "{name}: {stderr}");
    }
    assert!(cases.len() >= 15);
    assert!(reasons.len() >= 15, "distinct reasons: {reasons:?}");
    let (_, listed) = app.call(Method::GET, &base, Some(&key), None).await;
    assert_eq!(listed, json!([]), "nothing refused was stored");
}
