//! Workflows and the user's accounts, end to end in the real server: an
//! Integration Enabled workflow runs once per account when it is
//! connected; steps read the user settings saved in the account's
//! configuration; uninstalling the integration turns the user's workflows
//! off.

use crate::proxy::fixture::ProxyFixture;
use crate::workflows_run::{deploy, enable, ended, fixture, step_output};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// The executions of `workflow` in the task history, oldest first.
pub(crate) async fn executions_of(f: &ProxyFixture, workflow: &str) -> Vec<Value> {
    let path = format!("/projects/{}/task-history/workflow-executions?workflowId={workflow}&sortBy=ASC", f.project);
    let (status, body) = f.app.call(Method::GET, &path, Some(&f.admin_key), None).await;
    assert_eq!(status, 200, "{body}");
    body["workflowExecutions"].as_array().cloned().unwrap_or_default()
}

/// Waits until `workflow` has `n` executions and they all ended.
pub(crate) async fn settled(f: &ProxyFixture, workflow: &str, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let all = executions_of(f, workflow).await;
        if all.len() >= n && all.iter().all(|e| matches!(e["status"].as_str(), Some("SUCCEEDED" | "FAILED"))) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{workflow} did not reach {n} ended executions: {:?}", executions_of(f, workflow).await);
}

#[tokio::test]
async fn an_integration_enabled_workflow_runs_once_per_connected_account_on_sqlite() {
    integration_enabled(false).await;
}

#[tokio::test]
async fn an_integration_enabled_workflow_runs_once_per_connected_account_on_postgresql() {
    integration_enabled(true).await;
}

async fn integration_enabled(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    // Connected before the workflow is deployed: not started later by it.
    f.connect("u0", "key-of-u0-enabled").await;
    let workflow = deploy(
        &f,
        r#"name: Initial sync
integration: test-proxy
trigger: {type: integrationEnabled}
steps:
  - id: sync
    type: integrationRequest
    method: GET
    url: /echo
    params: {who: "{{trigger.output.userId}}", account: "{{trigger.output.credentialId}}"}
"#,
    )
    .await;
    // An app-event workflow of the same integration is not started by it.
    let other = deploy(
        &f,
        "name: Other\nintegration: test-proxy\ntrigger: {type: appEvent, event: E}\nsteps:\n  \
         - {id: d, type: delay, value: 1, unit: SECONDS}\n",
    )
    .await;

    let before = f.mock.count();
    let first = f.connect("u1", "key-of-u1-enabled").await;
    let runs = settled(&f, &workflow, 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!((run["status"].as_str(), run["userId"].as_str()), (Some("SUCCEEDED"), Some("u1")), "{run}");
    let record = ended(&f, run["id"].as_str().unwrap()).await;
    assert_eq!(record["stepExecutions"][0]["type"], "TRIGGER/INTEGRATION_ENABLED", "{record}");
    let trigger = step_output(&f, run["id"].as_str().unwrap(), &record["stepExecutions"][0]).await;
    assert_eq!(trigger["output"]["credentialId"], first.as_str(), "{trigger}");
    assert_eq!(trigger["output"]["integration"], "test-proxy", "{trigger}");
    // The step acted as the new account.
    let hits = f.mock.hits();
    let new = &hits[before..];
    assert_eq!(new.len(), 1, "one sync call");
    assert_eq!(new[0].header("x-api-key"), Some("key-of-u1-enabled"));
    assert!(new[0].uri.contains(&format!("account={first}")) && new[0].uri.contains("who=u1"), "{}", new[0].uri);

    // Saving the account's settings checks again, and it has run: nothing.
    let patch = format!("/projects/{}/sdk/credentials/{first}", f.project);
    let config = json!({"config": {"sharedSettings": {"team": "t1"}}});
    let (status, body) = f.app.call(Method::PATCH, &patch, Some(&f.token("u1")), Some(config)).await;
    assert_eq!(status, 200, "{body}");
    // A second account of u1, and u2's account: one run each.
    let second = f.connect_as("u1", "test-proxy", "key-of-u1-second", true).await;
    f.connect("u2", "key-of-u2-enabled").await;
    let runs = settled(&f, &workflow, 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let runs_after = executions_of(&f, &workflow).await;
    assert_eq!(runs_after.len(), 3, "one per account, never repeated: {runs_after:?}");
    let users: Vec<&str> = runs.iter().map(|r| r["userId"].as_str().unwrap()).collect();
    assert_eq!(users, ["u1", "u1", "u2"], "{runs:?}");
    let hits = f.mock.hits();
    assert!(hits[before..].iter().any(|h| h.uri.contains(&format!("account={second}"))), "the second account synced");
    assert!(executions_of(&f, &other).await.is_empty(), "other triggers are not started by a connection");
    assert!(
        !hits[before..].iter().any(|h| h.uri.contains("who=u0")),
        "accounts connected before the deployment are not started"
    );
}

#[tokio::test]
async fn steps_read_the_users_settings_and_uninstalling_turns_workflows_off() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let credential = f.connect("u1", "key-of-u1-settings").await;
    let yaml = format!(
        r#"name: Notify
integration: test-proxy
trigger: {{type: appEvent, event: Ping}}
steps:
  - id: post
    type: request
    method: GET
    url: {url}
    params: {{channel: "{{{{settings.channel}}}}", team: "{{{{settings.team}}}}", limit: "{{{{settings.limits.daily}}}}"}}
"#,
        url = f.mock.url_of("/api/echo")
    );
    let workflow = deploy(&f, &yaml).await;
    enable(&f, "u1", &workflow).await;
    // Integration-level settings, and this workflow's own over them.
    let config = json!({"config": {
        "sharedSettings": {"team": "t1", "channel": "general"},
        "workflowSettings": {(workflow.clone()): {"enabled": true, "settings": {"channel": "alerts", "limits": {"daily": 5}}}},
    }});
    let patch = format!("/projects/{}/sdk/credentials/{credential}", f.project);
    let (status, body) = f.app.call(Method::PATCH, &patch, Some(&f.token("u1")), Some(config)).await;
    assert_eq!(status, 200, "{body}");

    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let event = json!({"name": "Ping", "payload": {}});
    let before = f.mock.count();
    let (status, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event.clone())).await;
    assert_eq!(status, 201, "{started}");
    let execution = started["executions"][0].as_str().unwrap().to_owned();
    assert_eq!(ended(&f, &execution).await["status"], "SUCCEEDED");
    let hits = f.mock.hits();
    let uri = &hits[before].uri;
    assert!(uri.contains("channel=alerts") && uri.contains("team=t1") && uri.contains("limit=5"), "{uri}");

    // Uninstalled: the user's workflows of the integration are off, and the
    // event starts nothing.
    let uninstall = format!("/projects/{}/sdk/integrations/{}", f.project, f.integration);
    let (status, body) = f.app.call(Method::DELETE, &uninstall, Some(&f.token("u1")), None).await;
    assert_eq!(status, 200, "{body}");
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event.clone())).await;
    assert_eq!(started["executions"], json!([]), "{started}");
    // Connected again, the workflow stays off until the user enables it.
    f.connect("u1", "key-of-u1-settings-again").await;
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event)).await;
    assert_eq!(started["executions"], json!([]), "{started}");
    let me = format!("/projects/{}/sdk/me", f.project);
    let (_, me) = f.app.call(Method::GET, &me, Some(&f.token("u1")), None).await;
    assert_eq!(me["integrations"]["test-proxy"]["configuredWorkflows"], json!({}), "{me}");
}

/// Workflow Permissions, enforced by the server: a user whose metadata does
/// not meet them does not see the workflow, cannot enable it, and it does
/// not start for them; a user who stops meeting them (new metadata, a new
/// version) has it turned off.
#[tokio::test]
async fn workflow_permissions_decide_who_sees_enables_and_runs_a_workflow() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let me = format!("/projects/{}/sdk/me", f.project);
    let set_plan = |user: &'static str, plan: &'static str| {
        let (f, me) = (&f, &me);
        async move {
            let body = json!({"meta": {"plan": plan}});
            let (status, answer) = f.app.call(Method::PATCH, me, Some(&f.token(user)), Some(body)).await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    for (user, plan) in [("u1", "free"), ("u2", "enterprise")] {
        f.connect(user, &format!("key-of-{user}-permissions")).await;
        set_plan(user, plan).await;
    }
    let definition = |plan: &str| {
        format!(
            "name: Enterprise sync\nintegration: test-proxy\n\
             permissions: {{left: \"{{{{user.meta.plan}}}}\", operator: stringExactlyMatches, right: {plan}}}\n\
             trigger: {{type: appEvent, event: Sync}}\nsteps:\n  - {{id: d, type: delay, value: 1, unit: SECONDS}}\n"
        )
    };
    let workflow = deploy(&f, &definition("enterprise")).await;
    let listed = |user: &'static str| {
        let f = &f;
        async move {
            let path = format!("/projects/{}/sdk/integrations", f.project);
            let (_, all) = f.app.call(Method::GET, &path, Some(&f.token(user)), None).await;
            let proxy = all.as_array().unwrap().iter().find(|i| i["type"] == "test-proxy").unwrap().clone();
            proxy["workflows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(listed("u1").await.is_empty(), "u1 does not meet the permissions");
    assert_eq!(listed("u2").await, vec![workflow.clone()]);
    let enable_path = format!("/projects/{}/sdk/workflows/{workflow}", f.project);
    let (status, body) = f.app.call(Method::POST, &enable_path, Some(&f.token("u1")), None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("WORKFLOW_NOT_PERMITTED")), "{body}");
    enable(&f, "u2", &workflow).await;
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let event = json!({"name": "Sync", "payload": {}});
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u2")), Some(event.clone())).await;
    assert_eq!(started["executions"].as_array().unwrap().len(), 1, "{started}");

    // u2 moves to the free plan: the workflow is off and does not start.
    let answer = set_plan("u2", "free").await;
    assert_eq!(answer["integrations"]["test-proxy"]["configuredWorkflows"], json!({}), "{answer}");
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u2")), Some(event.clone())).await;
    assert_eq!(started["executions"], json!([]), "{started}");

    // u1 upgrades and enables it; a new version for "gold" plans only
    // turns it off for u1.
    set_plan("u1", "enterprise").await;
    enable(&f, "u1", &workflow).await;
    let path = format!("/admin/projects/{}/workflows/{workflow}", f.project);
    let resp = f
        .app
        .client
        .put(format!("{}{path}", f.app.base))
        .bearer_auth(&f.admin_key)
        .header("content-type", "application/yaml")
        .body(definition("gold"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let (status, body) = f.app.call(Method::POST, &format!("{path}/deploy"), Some(&f.admin_key), None).await;
    assert_eq!(status, 200, "{body}");
    let (_, mine) = f.app.call(Method::GET, &me, Some(&f.token("u1")), None).await;
    assert_eq!(mine["integrations"]["test-proxy"]["configuredWorkflows"], json!({}), "{mine}");
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event)).await;
    assert_eq!(started["executions"], json!([]), "{started}");
}
