//! Plugin state and secrets in the running server (issue 22, acceptance 3):
//! state is kept by the store, so a plugin's values survive a restart, and a
//! plugin reads the project's secrets set through the admin API, opened by
//! the vault; on SQLite and on PostgreSQL.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use weft_plugin_host::{ActionCall, CallOptions};

/// The server on `data` (kept across restarts), with `test-echo`.
async fn start(data: &Path, pg: Option<&PgDatabase>) -> TestApp {
    spawn_app_with(&["test_echo"], |s| {
        s.plugins.dir = Some(s.data_dir.join("plugins"));
        s.data_dir = data.to_owned();
        if let Some(pg) = pg {
            s.database.url = Some(pg.url());
        }
    })
    .await
}

async fn run(app: &TestApp, project: &str, connection: Option<&str>, action: &str, input: Value) -> Value {
    let mut opts = CallOptions::new(project.to_owned());
    if let Some(c) = connection {
        opts = opts.with_connection(c, json!({}));
    }
    let call = ActionCall { action: action.into(), input, page: None };
    app.plugins.run_action("test-echo", &opts, call).await.expect("the action runs").output
}

async fn state_survives_a_restart(postgres: bool) {
    let pg = postgres.then(PgDatabase::create);
    let data = tempfile::tempdir().unwrap();
    let mut app = start(data.path(), pg.as_ref()).await;
    let operator_key = app.operator_key.clone();
    let (project, _) = app.create_project(json!({"name": "State"})).await;
    let (other, _) = app.create_project(json!({"name": "Other"})).await;
    let set = |key: &str, value: &str| json!({"key": key, "value": value});
    assert_eq!(run(&app, &project, Some("conn-a"), "STATE_SET", set("cursor", "page-7")).await, json!({}));
    run(&app, &project, None, "STATE_SET", set("cursor", "app-level")).await;
    run(&app, &project, Some("conn-a"), "STATE_SET", set("gone", "soon")).await;
    run(&app, &project, Some("conn-a"), "STATE_DELETE", json!({"key": "gone"})).await;
    let too_big = run(&app, &project, Some("conn-a"), "STATE_SET", set("big", &"x".repeat(300 << 10))).await;
    assert_eq!(too_big["error"], "too-large", "{too_big}");
    app.shutdown().await;

    let mut app = start(data.path(), pg.as_ref()).await;
    app.operator_key = operator_key;
    let get = |key: &str| json!({"key": key});
    let read = run(&app, &project, Some("conn-a"), "STATE_GET", get("cursor")).await;
    assert_eq!(read, json!({"value": "page-7"}), "a connection's value survives the restart");
    assert_eq!(run(&app, &project, None, "STATE_GET", get("cursor")).await, json!({"value": "app-level"}));
    assert_eq!(run(&app, &project, Some("conn-b"), "STATE_GET", get("cursor")).await, json!({"value": null}));
    assert_eq!(run(&app, &other, Some("conn-a"), "STATE_GET", get("cursor")).await, json!({"value": null}));
    assert_eq!(run(&app, &project, Some("conn-a"), "STATE_GET", get("gone")).await, json!({"value": null}));
    app.shutdown().await;
}

#[tokio::test]
async fn plugin_state_survives_a_restart_on_sqlite() {
    state_survives_a_restart(false).await;
}

#[tokio::test]
async fn plugin_state_survives_a_restart_on_postgresql() {
    state_survives_a_restart(true).await;
}

async fn secrets_come_from_the_project(postgres: bool) {
    let pg = postgres.then(PgDatabase::create);
    let data = tempfile::tempdir().unwrap();
    let mut app = start(data.path(), pg.as_ref()).await;
    let (project, key) = app.create_project(json!({"name": "Secrets"})).await;
    let (other, other_key) = app.create_project(json!({"name": "Other"})).await;
    let value = format!("cnry-plugin-secret-{}", uuid_simple());
    for (project, key, value) in [(&project, &key, value.as_str()), (&other, &other_key, "cnry-other-project")] {
        let path = format!("/admin/projects/{project}/secrets");
        let (status, body) = app.call(Method::POST, &path, Some(key), Some(json!({"name": "api_token"}))).await;
        assert_eq!(status, 201, "{body}");
        let path = format!("{path}/api_token");
        let (status, body) = app.call(Method::PUT, &path, Some(key), Some(json!({"value": value}))).await;
        assert_eq!(status, 204, "{body}");
    }
    let read = |name: &str| json!({"name": name});
    let got = run(&app, &project, Some("conn-a"), "SECRET_GET", read("api_token")).await;
    assert_eq!(got, json!({"value": value}));
    // Declared by the plugin but not set in this project.
    assert_eq!(run(&app, &project, None, "SECRET_GET", read("webhook_secret")).await, json!({"error": "not-found"}));
    // Set in the project but not declared by the plugin.
    let path = format!("/admin/projects/{project}/secrets");
    app.call(Method::POST, &path, Some(&key), Some(json!({"name": "undeclared"}))).await;
    app.call(Method::PUT, &format!("{path}/undeclared"), Some(&key), Some(json!({"value": "cnry-undeclared"}))).await;
    assert_eq!(run(&app, &project, None, "SECRET_GET", read("undeclared")).await["error"], "denied");
    // Still there after a restart: the value is in the store, sealed.
    app.shutdown().await;
    let mut app = start(data.path(), pg.as_ref()).await;
    let got = run(&app, &project, None, "SECRET_GET", read("api_token")).await;
    assert_eq!(got, json!({"value": value}));
    assert!(!weft_tests::logs::all().contains(&value), "secret values are never logged");
    app.shutdown().await;
}

#[tokio::test]
async fn plugin_secrets_are_the_projects_on_sqlite() {
    secrets_come_from_the_project(false).await;
}

#[tokio::test]
async fn plugin_secrets_are_the_projects_on_postgresql() {
    secrets_come_from_the_project(true).await;
}
