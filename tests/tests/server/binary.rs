//! The real `weft` binary: serve, the CLI, first start.

use crate::support::*;
use serde_json::Value;
#[allow(unused_imports)]
use std::time::{Duration, Instant};
use weft_server::Application;
use weft_server::config::Settings;

#[tokio::test]
async fn the_binary_serves_its_plugins_and_stops_gracefully_on_sigterm() {
    let dir = data_dir_with(&["test_echo"]);
    let (mut child, printed, base) = start_binary(dir.path()).await;
    // It prints what it serves, and the operator key of its first start.
    assert!(printed.iter().any(|l| l.contains("test-echo")), "{printed:?}");
    assert!(printed.iter().any(|l| l.trim_start().starts_with("weft_op_")), "{printed:?}");
    let body: Value = reqwest::get(format!("{base}/plugins")).await.unwrap().json().await.unwrap();
    assert_eq!(body["plugins"][0]["id"], "test-echo");
    let pid = child.id().unwrap() as i32;
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("stops within 10 s").unwrap();
    assert!(status.success(), "{status:?}");
}

/// The README's path for a newcomer: create a project, mint a token, call
/// `/sdk/me` with it.
#[tokio::test]
async fn cli_creates_a_project_and_mints_a_token_that_sdk_me_accepts() {
    let dir = data_dir_with(&[]);
    let created = weft_cli(dir.path(), &["project", "create", "--name", "Demo"]);
    let project = created.split_whitespace().nth(2).expect("project id").to_owned();
    assert_eq!(project.len(), 36, "{created}");
    let token = weft_cli(dir.path(), &["token", "mint", "--project", &project, "--user", "user-42"]).trim().to_owned();
    let other = weft_cli(dir.path(), &["project", "create", "--name", "Other"]);
    let other = other.split_whitespace().nth(2).unwrap().to_owned();
    let other_token =
        weft_cli(dir.path(), &["token", "mint", "--project", &other, "--user", "user-42"]).trim().to_owned();
    let (_child, _, base) = start_binary(dir.path()).await;
    let client = reqwest::Client::new();
    let me = format!("{base}/projects/{project}/sdk/me");

    let r = client.get(&me).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "authenticated": true, "userId": "user-42", "integrations": {}, "meta": {}, "resources": [],
            "project": {"id": project, "accessibleFeatures": ["headless-cp", "user-metadata", "byo", "th-api", "workflow-permissions"]},
        })
    );

    let r = client
        .patch(&me)
        .bearer_auth(&token)
        .json(&serde_json::json!({"meta": {"Email": "a@b.c"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = client.get(&me).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["meta"], serde_json::json!({"Email": "a@b.c"}));
    // The reference also accepts the token without the Bearer scheme.
    let r = client.get(&me).header("authorization", &token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    for (auth, why) in
        [(None, "no token"), (Some("garbage"), "garbage"), (Some(other_token.as_str()), "other project's token")]
    {
        let mut req = client.get(&me);
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{why}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHORIZED", "{why}");
        assert!(body["meta"]["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{why}");
    }
    let r = client.patch(&me).bearer_auth(&token).json(&serde_json::json!({"meta": "nope"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    for path in ["sdk/metadata", "sdk/integrations"] {
        let r = client.get(format!("{base}/projects/{project}/{path}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!([]), "{path}");
    }
}

#[tokio::test]
async fn first_start_creates_the_database_and_an_operator_key_shown_once() {
    let dir = data_dir_with(&[]);
    let settings = || {
        let mut s = Settings::default();
        s.server.port = 0;
        s.data_dir = dir.path().to_owned();
        s
    };
    let mut first = Application::build(settings()).await.unwrap();
    let key = first.take_first_operator_key().expect("first start creates the operator key");
    let key = secrecy::ExposeSecret::expose_secret(&key).to_owned();
    assert!(key.starts_with("weft_op_"), "{key}");
    assert!(first.take_first_operator_key().is_none(), "shown once");
    drop(first);
    assert!(dir.path().join("weft.db").is_file());
    let mut second = Application::build(settings()).await.unwrap();
    assert!(second.take_first_operator_key().is_none(), "a restart keeps the existing key");
    // Only the hash is stored.
    let db = std::fs::read(dir.path().join("weft.db")).unwrap();
    let wal = std::fs::read(dir.path().join("weft.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "plaintext operator key on disk");
    }
}

/// `weft workflow validate` says what a good file holds and lists every
/// problem of a bad one (exit status 1, nothing changed); `weft workflow
/// deploy` creates the workflow, then deploys the next version of the same
/// one.
#[tokio::test]
async fn cli_validates_and_deploys_workflow_files() {
    let dir = data_dir_with(&[]);
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("greet.yaml");
    std::fs::write(
        &good,
        "name: Greet\nintegration: slack\ntrigger: {type: appEvent, event: Signed Up}\n\
         steps:\n  - {id: wait, type: delay, value: 1}\n",
    )
    .unwrap();
    let said = weft_cli(dir.path(), &["workflow", "validate", good.to_str().unwrap()]);
    assert!(said.contains("a valid workflow") && said.contains("appEvent \"Signed Up\""), "{said}");

    let bad = files.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "Bad", "trigger": {"type": "appEvent", "event": "x"},
            "steps": [{"id": "a", "type": "delay", "value": 1}, {"id": "a", "type": "delay", "value": 2}]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(weft_binary())
        .args(["workflow", "validate", bad.to_str().unwrap()])
        .env("WEFT__DATA_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("at /steps/1/id"), "{stderr}");

    let created = weft_cli(dir.path(), &["project", "create", "--name", "Flows"]);
    let project = created.split_whitespace().nth(2).unwrap().to_owned();
    let first = weft_cli(dir.path(), &["workflow", "deploy", good.to_str().unwrap(), "--project", &project]);
    assert!(first.contains("as version 1 of workflow"), "{first}");
    let again = weft_cli(dir.path(), &["workflow", "deploy", good.to_str().unwrap(), "--project", &project]);
    assert!(again.contains("as version 2 of workflow"), "{again}");
    let id = |s: &str| s.split_whitespace().last().unwrap().to_owned();
    assert_eq!(id(&first), id(&again), "the same workflow, a new version");
}
