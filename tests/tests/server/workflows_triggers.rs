//! Integration triggers end to end in the real server, with the
//! `test-echo` plugin's three kinds of trigger: an app-wide webhook routed
//! by the team its events name, a per-subscription webhook registered when
//! a user enables the workflow and removed when they turn it off, and a
//! polling trigger. Deliveries are verified by the plugin with the
//! project's secret, stored before they are answered, de-duplicated by the
//! provider's event id, capped in size, and start exactly the workflows of
//! the users they are for.

use crate::proxy::fixture::ProxyFixture;
use crate::support::{PgDatabase, set_secret};
use crate::workflows_accounts::{executions_of, settled};
use crate::workflows_run::{create, deploy, enable};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;
use weft_store::{SubscriptionKind, SubscriptionStatus};

const SECRET: &str = "whsec-e2e-0123456789";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn fixture(postgres: bool) -> (ProxyFixture, Option<PgDatabase>) {
    let pg = postgres.then(PgDatabase::create);
    let url = pg.as_ref().map(PgDatabase::url);
    let f = ProxyFixture::with_plugins(&["test_proxy", "test_apikey", "test_echo"], move |s| {
        s.database.url = url;
        s.workflows.webhook_max_body_bytes = 4096;
    })
    .await;
    f.add_integration("test-echo", &f.mock.api_base()).await;
    set_secret(&f.app, &f.project, &f.admin_key, "webhook_secret", SECRET).await;
    (f, pg)
}

/// Connects `user`'s test-echo account `account` (its routing key is
/// `team-<account>`); the credential id.
async fn connect_echo(f: &ProxyFixture, user: &str, account: &str) -> String {
    let path = format!("/projects/{}/sdk/connect/test-echo/credentials", f.project);
    let body = json!({"fields": {"token": format!("tok-{user}-{account}")}, "inputs": {"account": account}});
    let (status, created) = f.app.call(Method::POST, &path, Some(&f.token(user)), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Delivers `body` to `path`, signed when `signed`; the status and body.
async fn deliver(f: &ProxyFixture, path: &str, body: &str, signed: bool) -> (u16, String) {
    let mut req = f.app.client.post(format!("{}{path}", f.app.base)).header("content-type", "application/json");
    if signed {
        req = req.header("x-echo-signature", sign(body.as_bytes()));
    }
    let resp = req.body(body.to_owned()).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// What the workflows' request steps posted to the mock: `(workflow tag,
/// user, n)`.
fn posted(f: &ProxyFixture) -> Vec<(String, String, String)> {
    f.mock
        .hits()
        .iter()
        .filter(|h| h.uri.starts_with("/api/echo") && h.method == "POST")
        .filter_map(|h| serde_json::from_slice::<Value>(&h.body).ok())
        .map(|b| {
            // Whole-value templates keep the value's type (the poll's `n`
            // is a number).
            let s = |k: &str| b[k].as_str().map_or_else(|| b[k].to_string(), str::to_owned);
            (s("wf"), s("user"), s("n"))
        })
        .collect()
}

fn workflow(f: &ProxyFixture, tag: &str, event: &str) -> String {
    format!(
        r#"name: On {event}
integration: test-echo
trigger: {{type: integration, event: {event}}}
steps:
  - id: record
    type: request
    method: POST
    url: {url}
    bodyType: json
    body: {{wf: {tag}, user: "{{{{user.userId}}}}", n: "{{{{trigger.output.n}}}}"}}
"#,
        url = f.mock.url_of("/api/echo")
    )
}

#[tokio::test]
async fn integration_triggers_start_the_right_users_workflows_on_sqlite() {
    integration_triggers(false).await;
}

#[tokio::test]
async fn integration_triggers_start_the_right_users_workflows_on_postgresql() {
    integration_triggers(true).await;
}

async fn integration_triggers(postgres: bool) {
    let (f, _pg) = fixture(postgres).await;
    let project: weft_store::ProjectId = f.project.parse().unwrap();
    let store = f.app.store.clone();
    let u1 = connect_echo(&f, "u1", "acme").await;
    connect_echo(&f, "u2", "beta").await;

    // A trigger the plugin does not have cannot be deployed.
    let path = format!("/admin/projects/{}/workflows", f.project);
    let bad = "name: Bad\nintegration: test-echo\ntrigger: {type: integration, event: NOPE}\nsteps:\n  - {id: d, type: delay, value: 1, unit: SECONDS}\n";
    let id = create(&f, bad).await;
    let (status, refused) = f.app.call(Method::POST, &format!("{path}/{id}/deploy"), Some(&f.admin_key), None).await;
    assert_eq!((status, refused["meta"]["problems"][0]["path"].as_str()), (400, Some("/trigger/event")), "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("ECHO_APP_EVENT"),
        "the known triggers are listed: {refused}"
    );

    let app_wide = deploy(&f, &workflow(&f, "app", "ECHO_APP_EVENT")).await;
    let hooked = deploy(&f, &workflow(&f, "hook", "ECHO_EVENT")).await;
    let polled = deploy(&f, &workflow(&f, "poll", "TICK")).await;
    for w in [&app_wide, &hooked, &polled] {
        enable(&f, "u1", w).await;
    }
    enable(&f, "u2", &app_wide).await;

    // Enabling subscribed: the webhook one at the plugin (its state kept),
    // the others without a provider call.
    let mine = store.list_subscriptions(project, Some("u1")).await.unwrap();
    assert_eq!(mine.len(), 3, "{mine:?}");
    let hook = mine.iter().find(|s| s.kind == SubscriptionKind::Webhook).unwrap();
    assert_eq!(hook.status, SubscriptionStatus::Active, "{hook:?}");
    assert!(hook.state.as_ref().unwrap()["hook_id"].as_str().unwrap().starts_with("hook-"), "{hook:?}");
    assert_eq!(hook.credential.to_string(), u1);
    assert!(mine.iter().all(|s| s.status == SubscriptionStatus::Active));

    // The app-wide URL: u1's team only.
    let hooks = format!("/webhooks/{}/test-echo", f.project);
    let event = r#"{"id":"evt-1","team":"team-acme","n":"1"}"#;
    assert_eq!(deliver(&f, &hooks, event, true).await.0, 200);
    let runs = settled(&f, &app_wide, 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("u1"), Some("SUCCEEDED")), "{runs:?}");
    // The same event again: acknowledged, not run again.
    assert_eq!(deliver(&f, &hooks, event, true).await.0, 200);
    // Forged or unsigned: 401 in the error shape, nothing run.
    let forged = r#"{"id":"evt-2","team":"team-acme","n":"2"}"#;
    let (status, body) = deliver(&f, &hooks, forged, false).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, body["code"].as_str()), (401, Some("WEBHOOK_REJECTED")), "{body}");
    assert!(body["meta"]["requestId"].is_string());
    // Over the cap: 413 and nothing kept (the same id later is new).
    let big = format!(r#"{{"id":"evt-big","team":"team-acme","n":"big","pad":"{}"}}"#, "x".repeat(5000));
    let (status, body) = deliver(&f, &hooks, &big, true).await;
    assert_eq!(status, 413, "{body}");
    // u2's team.
    assert_eq!(deliver(&f, &hooks, r#"{"id":"evt-3","team":"team-beta","n":"3"}"#, true).await.0, 200);
    // A team nobody connected: acknowledged, nothing run.
    assert_eq!(deliver(&f, &hooks, r#"{"id":"evt-4","team":"team-gone","n":"4"}"#, true).await.0, 200);
    let small_big = r#"{"id":"evt-big","team":"team-acme","n":"5"}"#;
    assert_eq!(deliver(&f, &hooks, small_big, true).await.0, 200);
    let runs = settled(&f, &app_wide, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let runs_after = executions_of(&f, &app_wide).await;
    assert_eq!(runs_after.len(), 3, "evt-1 once, evt-3, evt-big once: {runs_after:?}");
    // Routing runs after each answer, so runs of deliveries sent close
    // together may start in either order.
    let mut users: Vec<&str> = runs.iter().map(|r| r["userId"].as_str().unwrap()).collect();
    users.sort();
    assert_eq!(users, ["u1", "u1", "u2"]);
    let mut app_posts: Vec<_> = posted(&f).into_iter().filter(|p| p.0 == "app").collect();
    app_posts.sort();
    let expected: Vec<(String, String, String)> =
        [("u1", "1"), ("u1", "5"), ("u2", "3")].iter().map(|(u, n)| ("app".into(), (*u).into(), (*n).into())).collect();
    assert_eq!(app_posts, expected);

    // A challenge is answered with what the plugin replies.
    let (status, reply) = deliver(&f, &hooks, r#"{"challenge":"c-123"}"#, true).await;
    assert_eq!((status, reply.as_str()), (200, "c-123"));

    // The subscription's own URL: u1's webhook workflow.
    let own = format!("{hooks}/{}", hook.id);
    assert_eq!(deliver(&f, &own, r#"{"id":"evt-10","n":"10"}"#, true).await.0, 200);
    let runs = settled(&f, &hooked, 1).await;
    assert_eq!(runs[0]["userId"], "u1");
    let (status, _) = deliver(&f, &format!("{hooks}/{}", uuid::Uuid::new_v4()), r#"{"id":"x","n":"0"}"#, true).await;
    assert_eq!(status, 404, "an unknown subscription");
    let (status, _) = deliver(&f, &format!("/webhooks/{}/test-nope", f.project), "{}", true).await;
    assert_eq!(status, 404, "an integration the project does not have");

    // The polling trigger polled at once after the subscription: n = 1.
    let runs = settled(&f, &polled, 1).await;
    assert_eq!(runs[0]["userId"], "u1");
    assert!(posted(&f).contains(&("poll".into(), "u1".into(), "1".into())), "{:?}", posted(&f));
    let poll_sub = store.list_subscriptions(project, Some("u1")).await.unwrap();
    let poll_sub = poll_sub.iter().find(|s| s.kind == SubscriptionKind::Polling).unwrap();
    assert_eq!(poll_sub.cursor.as_deref(), Some("1"), "the cursor is kept");

    // Turned off: unsubscribed, and its URL answers 404.
    let path = format!("/projects/{}/sdk/workflows/{hooked}", f.project);
    assert_eq!(f.app.call(Method::DELETE, &path, Some(&f.token("u1")), None).await.0, 200);
    let left = store.list_subscriptions(project, Some("u1")).await.unwrap();
    assert!(left.iter().all(|s| s.workflow.is_none_or(|w| w.to_string() != hooked)), "{left:?}");
    assert_eq!(deliver(&f, &own, r#"{"id":"evt-11","n":"11"}"#, true).await.0, 404);
    // Undeployed: its subscriptions go.
    let path = format!("/admin/projects/{}/workflows/{app_wide}/undeploy", f.project);
    assert_eq!(f.app.call(Method::POST, &path, Some(&f.admin_key), None).await.0, 200);
    assert!(store.list_subscriptions(project, Some("u2")).await.unwrap().is_empty());
    assert_eq!(deliver(&f, &hooks, r#"{"id":"evt-20","team":"team-beta","n":"20"}"#, true).await.0, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(executions_of(&f, &app_wide).await.len(), 3, "an undeployed workflow starts nothing");
}
