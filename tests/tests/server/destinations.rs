//! Event destinations end to end: a workflow that fails and a credential
//! that turns INVALID reach a webhook receiver (a mock on loopback) in the
//! reference's shapes, through templates and with the configured headers;
//! a receiver that keeps answering 500 gets retries until the destination
//! is disabled; the test-event endpoint; the admin API's refusals. Each on
//! SQLite and PostgreSQL.

use crate::connect::Fixture;
use crate::proxy::fixture::ProxyFixture;
use crate::support::*;
use crate::workflows_run::{deploy, ended, fixture};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::mock_api::{Hit, MockApi};
use weft_tests::mock_auth::Fault;

/// Fast retries, a short poll, disabled after three failures in a row.
fn fast(s: &mut weft_server::config::Settings) {
    s.events.retry_base_ms = 20;
    s.events.max_retry_wait_ms = 100;
    s.events.poll_ms = 20;
    s.events.max_attempts = 10;
    s.events.disable_after = 3;
}

fn destinations_path(project: &str) -> String {
    format!("/admin/projects/{project}/event-destinations")
}

/// Creates a destination; its answer.
async fn create(app: &TestApp, project: &str, key: &str, body: Value) -> Value {
    let (status, created) = app.call(Method::POST, &destinations_path(project), Some(key), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// The requests `mock` received on paths starting with `prefix`, waiting
/// (at most 10 s) until there are `n`.
async fn received(mock: &MockApi, prefix: &str, n: usize) -> Vec<Hit> {
    for _ in 0..400 {
        let hits: Vec<Hit> = mock.hits().into_iter().filter(|h| h.uri.starts_with(prefix)).collect();
        if hits.len() >= n {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{prefix}: fewer than {n} requests: {:?}", mock.hits().iter().map(|h| &h.uri).collect::<Vec<_>>());
}

fn body(hit: &Hit) -> Value {
    serde_json::from_slice(&hit.body).unwrap_or(Value::Null)
}

/// Deploys a workflow whose one step fails, enables it for `u1` and runs it
/// once; the execution's id once it has ended.
async fn fail_a_workflow(f: &ProxyFixture) -> (String, String) {
    f.connect("u1", "key-of-u1-destinations").await;
    let yaml = format!(
        "name: Nightly sync\nintegration: test-proxy\ntrigger: {{type: appEvent, event: Go}}\nsteps:\n  \
         - {{id: bad, type: request, method: GET, url: {}}}\n",
        f.mock.url_of("/api/status/404")
    );
    let workflow = deploy(f, &yaml).await;
    let enable = format!("/projects/{}/sdk/workflows/{workflow}", f.project);
    assert_eq!(f.app.call(Method::POST, &enable, Some(&f.token("u1")), None).await.0, 200);
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(json!({"name": "Go"}))).await;
    let execution = started["executions"][0].as_str().expect("an execution").to_owned();
    assert_eq!(ended(f, &execution).await["status"], "FAILED");
    (workflow, execution)
}

#[tokio::test]
async fn a_failing_workflow_delivers_workflow_failure_on_sqlite() {
    workflow_failure_is_delivered(false).await;
}

#[tokio::test]
async fn a_failing_workflow_delivers_workflow_failure_on_postgresql() {
    workflow_failure_is_delivered(true).await;
}

async fn workflow_failure_is_delivered(postgres: bool) {
    let (f, _pg) = fixture(postgres, fast).await;
    let (app, project, key) = (&f.app, f.project.as_str(), f.admin_key.as_str());
    // A canary: the sweep fails the suite if it is stored unsealed.
    let token = format!("cnry-destination-header-{}", uuid::Uuid::new_v4().simple());
    weft_tests::sweep::register(&token);
    create(
        app,
        project,
        key,
        json!({"url": f.mock.url_of("/api/echo?to=whole"), "events": ["workflow_failure"],
               "headers": {"X-Team": "ops", "Authorization": format!("Bearer {token}")}}),
    )
    .await;
    create(
        app,
        project,
        key,
        json!({"url": f.mock.url_of("/api/echo?to=slack"), "events": ["workflow_failure"],
               "payload": {"text": "{{$.event.message}} ({{$.event.data.error}})", "workflow": "{{$.event.workflow}}"}}),
    )
    .await;
    let (workflow, execution) = fail_a_workflow(&f).await;

    let hit = received(&f.mock, "/api/echo?to=whole", 1).await.remove(0);
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.header("x-team"), Some("ops"));
    assert_eq!(hit.header("authorization"), Some(format!("Bearer {token}").as_str()), "the operator's own header");
    assert_eq!(hit.header("content-type"), Some("application/json"));
    let e = body(&hit);
    assert_eq!(e["type"], "workflow_failure", "{e}");
    assert!(e["timestamp"].as_i64().is_some_and(|t| t > 1_700_000_000_000), "{e}");
    assert!(e["timestampISO"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24), "{e}");
    assert!(e["message"].as_str().unwrap().contains("Nightly sync") && e["message"].as_str().unwrap().contains("u1"));
    assert_eq!(e["user"], json!({"id": "u1", "metadata": {}}), "{e}");
    assert_eq!(e["project"], json!({"id": project, "name": "Proxy"}));
    assert_eq!(e["integration"], json!({"id": f.integration, "type": "test-proxy"}));
    assert_eq!(e["workflow"], json!({"id": workflow, "name": "Nightly sync"}));
    let data = &e["data"];
    assert_eq!((data["type"].as_str(), data["projectId"].as_str()), (Some("workflow_failure"), Some(project)));
    assert_eq!(data["workflowId"], workflow.as_str());
    assert_eq!(data["workflowExecution"], json!({"id": execution}));
    assert_eq!(data["stepExecution"]["stepId"], "bad", "{e}");
    assert!(data["stepExecution"]["startTime"].is_i64() && data["stepExecution"]["endTime"].is_i64(), "{e}");
    assert!(data["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    assert!(data["executionUrl"].as_str().unwrap().ends_with(&format!("/workflow-executions/{execution}")));

    // The templated destination got its own body from the same event.
    let slack = body(&received(&f.mock, "/api/echo?to=slack", 1).await[0]);
    let message = e["message"].as_str().unwrap();
    assert_eq!(slack["text"], format!("{message} ({})", data["error"].as_str().unwrap()));
    assert_eq!(slack["workflow"], e["workflow"]);
    // Delivered once each; the answers show it.
    let listed = app.call(Method::GET, &destinations_path(project), Some(key), None).await.1;
    let id = listed["destinations"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["destinations"][0]["headers"]["Authorization"], "********", "{listed}");
    assert!(!listed.to_string().contains(&token), "header values are never answered");
    // Stored sealed: the database holds the names, not the values.
    let stored = f.app.store.get_destination(project.parse().unwrap(), id.parse().unwrap()).await.unwrap();
    assert_eq!(stored.headers["Authorization"], "", "only the name in clear");
    assert!(stored.sealed_headers.as_ref().is_some_and(|s| !s.windows(token.len()).any(|w| w == token.as_bytes())));
    let path = format!("{}/{id}/deliveries", destinations_path(project));
    let deliveries = app.call(Method::GET, &path, Some(key), None).await.1;
    let d = &deliveries["deliveries"][0];
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_u64(), d["lastStatus"].as_u64()),
        (Some("delivered"), Some(1), Some(200))
    );
    assert_eq!(d["eventId"], e["id"], "the event's id is the receiver's dedupe key");
}

#[tokio::test]
async fn a_receiver_answering_500_gets_retries_then_is_disabled_on_sqlite() {
    failing_receiver_is_disabled(false).await;
}

#[tokio::test]
async fn a_receiver_answering_500_gets_retries_then_is_disabled_on_postgresql() {
    failing_receiver_is_disabled(true).await;
}

async fn failing_receiver_is_disabled(postgres: bool) {
    let (f, _pg) = fixture(postgres, fast).await;
    let (app, project, key) = (&f.app, f.project.as_str(), f.admin_key.as_str());
    let dest = create(app, project, key, json!({"url": f.mock.url_of("/api/status/500?to=down")})).await;
    let path = format!("{}/{}", destinations_path(project), dest["id"].as_str().unwrap());
    fail_a_workflow(&f).await;

    // Disabled after the third failure in a row (`events.disable_after`).
    let mut disabled = Value::Null;
    for _ in 0..400 {
        disabled = app.call(Method::GET, &path, Some(key), None).await.1;
        if disabled["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert_eq!(disabled["consecutiveFailures"], 3, "{disabled}");
    let reason = disabled["disabledReason"].as_str().unwrap();
    assert!(reason.contains("3 failed deliveries") && reason.contains("HTTP 500"), "{reason}");
    let hits = received(&f.mock, "/api/status/500?to=down", 3).await;
    assert_eq!(hits.len(), 3, "three attempts, then no more");
    let ids: Vec<Value> = hits.iter().map(|h| body(h)["id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0] && id.is_string()), "retries of one event: {ids:?}");
    assert!(hits.windows(2).all(|w| w[1].at > w[0].at));
    let deliveries = app.call(Method::GET, &format!("{path}/deliveries"), Some(key), None).await.1;
    let d = &deliveries["deliveries"][0];
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_u64(), d["lastStatus"].as_u64()),
        (Some("dropped"), Some(3), Some(500))
    );

    // Enabled again, its count starts from 0.
    let (status, enabled) = app.call(Method::POST, &format!("{path}/enable"), Some(key), None).await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!((enabled["enabled"].as_bool(), enabled["consecutiveFailures"].as_u64()), (Some(true), Some(0)));
    assert_eq!(enabled["disabledReason"], Value::Null);
}

#[tokio::test]
async fn an_invalid_credential_delivers_credentials_failure_on_sqlite() {
    credentials_failure_is_delivered(false).await;
}

#[tokio::test]
async fn an_invalid_credential_delivers_credentials_failure_on_postgresql() {
    credentials_failure_is_delivered(true).await;
}

async fn credentials_failure_is_delivered(postgres: bool) {
    let receiver = MockApi::start_on(std::net::Ipv4Addr::LOCALHOST).await;
    let f = Fixture::new("test_oauth", json!({}), fast, postgres).await;
    create(
        &f.app,
        &f.project,
        &f.admin_key,
        json!({"url": receiver.url_of("/api/echo?to=creds"), "events": ["credentials_failure"]}),
    )
    .await;
    let id = f.connect("u1", "acct-1", json!({})).await["id"].as_str().unwrap().to_owned();
    f.advance(3600);
    f.mock.push_fault(Fault::InvalidGrant);
    assert!(f.whoami(&id).await.is_err());
    assert_eq!(f.stored(&id).await.status, weft_store::CredentialStatus::Invalid);

    let e = body(&received(&receiver, "/api/echo?to=creds", 1).await[0]);
    assert_eq!(e["type"], "credentials_failure", "{e}");
    assert!(e["timestamp"].is_i64() && e["timestampISO"].is_string(), "{e}");
    assert!(e["message"].as_str().is_some_and(|m| m.contains("u1") && m.contains("test-oauth")), "{e}");
    assert_eq!(e["user"], json!({"id": "u1", "metadata": {}}), "{e}");
    assert_eq!(e["project"], json!({"id": f.project, "name": "Connect"}), "{e}");
    assert_eq!(e["integration"], json!({"id": f.integration, "type": "test-oauth"}), "{e}");
    assert_eq!((e["data"]["userId"].as_str(), e["data"]["error"].as_str()), (Some("u1"), Some("invalid_grant")));
    // A workflow_failure destination would not have been sent it: one hit.
    assert_eq!(receiver.count(), 1);
}

#[tokio::test]
async fn the_test_endpoint_sends_a_sample_event_now_on_sqlite() {
    test_endpoint(false).await;
}

#[tokio::test]
async fn the_test_endpoint_sends_a_sample_event_now_on_postgresql() {
    test_endpoint(true).await;
}

async fn test_endpoint(postgres: bool) {
    let (app, _pg) = spawn_app_on(postgres).await;
    let (project, key) = app.create_project(json!({"name": "Monitored"})).await;
    let receiver = MockApi::start_on(std::net::Ipv4Addr::LOCALHOST).await;
    let good = create(&app, &project, &key, json!({"url": receiver.url_of("/api/echo?to=test")})).await;
    let path = format!("{}/{}/test", destinations_path(&project), good["id"].as_str().unwrap());
    let (status, answer) = app.call(Method::POST, &path, Some(&key), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"delivered": true, "status": 200, "error": null}));
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1, "sent at once");
    let e = body(&hits[0]);
    assert_eq!((e["type"].as_str(), e["test"].as_bool()), (Some("workflow_failure"), Some(true)), "{e}");
    assert_eq!(e["project"], json!({"id": project, "name": "Monitored"}));

    let bad = create(&app, &project, &key, json!({"url": receiver.url_of("/api/status/500")})).await;
    let path = format!("{}/{}", destinations_path(&project), bad["id"].as_str().unwrap());
    let (status, answer) = app.call(Method::POST, &format!("{path}/test"), Some(&key), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["delivered"].as_bool(), answer["status"].as_u64()), (Some(false), Some(500)));
    let after = app.call(Method::GET, &path, Some(&key), None).await.1;
    assert_eq!((after["enabled"].as_bool(), after["consecutiveFailures"].as_u64()), (Some(true), Some(0)), "{after}");
}

#[tokio::test]
async fn destinations_are_managed_and_bad_ones_refused_on_sqlite() {
    crud_and_refusals(false).await;
}

#[tokio::test]
async fn destinations_are_managed_and_bad_ones_refused_on_postgresql() {
    crud_and_refusals(true).await;
}

async fn crud_and_refusals(postgres: bool) {
    let (app, _pg) = spawn_app_on(postgres).await;
    let (project, key) = app.create_project(json!({"name": "Ops"})).await;
    let (other, other_key) = app.create_project(json!({"name": "Other"})).await;
    let base = destinations_path(&project);
    let refused = |body: Value, field: &'static str| {
        let (app, base, key) = (&app, &base, &key);
        async move {
            let (status, e) = app.call(Method::POST, base, Some(key), Some(body.clone())).await;
            assert_eq!((status, e["code"].as_str()), (400, Some("INVALID_DESTINATION")), "{body}: {e}");
            let message = e["message"].as_str().unwrap();
            assert!(message.contains(&format!("`{field}`")), "{body}: {message}");
            assert_eq!(e["status"], 400);
            assert!(e["meta"]["requestId"].is_string(), "{e}");
            message.to_owned()
        }
    };
    let url = "https://hooks.example.com/weft";
    assert!(refused(json!({"url": "not a url"}), "url").await.contains("not a URL"));
    assert!(refused(json!({"url": "http://169.254.169.254/latest/"}), "url").await.contains("egress policy"));
    assert!(refused(json!({"url": "https://10.1.2.3/hook"}), "url").await.contains("egress policy"));
    assert!(refused(json!({"url": url, "payload": {"text": "{{message}}"}}), "payload").await.contains("$.event"));
    assert!(refused(json!({"url": url, "payload": "{{$.event.message"}), "payload").await.contains("never closed"));
    let unknown = refused(json!({"url": url, "events": ["workflow_started"]}), "events").await;
    assert!(unknown.contains("workflow_started") && unknown.contains("credentials_failure"), "{unknown}");
    refused(json!({"url": url, "events": []}), "events").await;
    refused(json!({"url": url, "headers": {"Host": "evil.example"}}), "headers").await;
    refused(json!({"url": url, "headers": {"X-Bad": "a\nb"}}), "headers").await;
    refused(json!({"type": "email", "url": url}), "type").await;
    let (status, e) = app.call(Method::POST, &base, Some(&key), Some(json!({"url": url, "colour": "red"}))).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("INVALID_BODY")), "{e}");
    assert!(app.call(Method::GET, &base, Some(&key), None).await.1["destinations"].as_array().unwrap().is_empty());

    // Create, read, change, disable, enable, delete.
    let created = create(&app, &project, &key, json!({"url": url, "headers": {"X-Key": "k1"}})).await;
    assert_eq!(created["type"], "webhook");
    assert_eq!(created["events"], json!(["workflow_failure", "credentials_failure"]), "both by default");
    assert_eq!((created["enabled"].as_bool(), created["payload"].clone()), (Some(true), Value::Null));
    let one = format!("{base}/{}", created["id"].as_str().unwrap());
    assert_eq!(app.call(Method::GET, &one, Some(&key), None).await.1, created);
    let change = json!({"url": "https://hooks.example.com/v2", "payload": {"msg": "{{$.event.message}}"}});
    let (status, changed) = app.call(Method::PATCH, &one, Some(&key), Some(change)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["url"], "https://hooks.example.com/v2");
    assert_eq!(changed["headers"], json!({"X-Key": "********"}), "kept, masked");
    let (status, e) = app.call(Method::PATCH, &one, Some(&key), Some(json!({"events": ["nope"]}))).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("INVALID_DESTINATION")), "{e}");
    let (_, cleared) = app.call(Method::PATCH, &one, Some(&key), Some(json!({"payload": null}))).await;
    assert_eq!(cleared["payload"], Value::Null, "back to the whole event");
    let (_, off) = app.call(Method::PATCH, &one, Some(&key), Some(json!({"enabled": false}))).await;
    assert_eq!((off["enabled"].as_bool(), off["disabledReason"].is_string()), (Some(false), true), "{off}");
    let (_, on) = app.call(Method::POST, &format!("{one}/enable"), Some(&key), None).await;
    assert_eq!(on["enabled"], true);
    let (_, off) = app.call(Method::POST, &format!("{one}/disable"), Some(&key), None).await;
    assert_eq!(off["enabled"], false);

    // Another project's key sees nothing of it.
    let theirs = one.replace(&project, &other);
    for (method, path) in [(Method::GET, theirs.clone()), (Method::DELETE, theirs.clone())] {
        let (status, _) = app.call(method, &path, Some(&other_key), None).await;
        assert_eq!(status, 404);
    }
    let (status, _) = app.call(Method::GET, &one, Some(&other_key), None).await;
    assert!(status == 401 || status == 404, "{status}");

    let (status, _) = app.call(Method::DELETE, &one, Some(&key), None).await;
    assert_eq!(status, 204);
    let (status, e) = app.call(Method::GET, &one, Some(&key), None).await;
    assert_eq!((status, e["code"].as_str()), (404, Some("NOT_FOUND")), "{e}");
    let (status, _) = app.call(Method::GET, &format!("{base}/not-an-id"), Some(&key), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn events_recorded_before_a_restart_are_delivered_after_it_on_sqlite() {
    delivered_after_a_restart(false).await;
}

#[tokio::test]
async fn events_recorded_before_a_restart_are_delivered_after_it_on_postgresql() {
    delivered_after_a_restart(true).await;
}

async fn delivered_after_a_restart(postgres: bool) {
    let receiver = MockApi::start_on(std::net::Ipv4Addr::LOCALHOST).await;
    let pg = postgres.then(PgDatabase::create);
    let (url, again) = (pg.as_ref().map(PgDatabase::url), pg.as_ref().map(PgDatabase::url));
    // A process that records events and delivers none.
    let mut first = spawn_app_with(&[], |s| {
        s.database.url = url;
        s.events.worker = false;
        fast(s);
    })
    .await;
    let (project, key) = first.create_project(json!({"name": "Durable"})).await;
    let to = receiver.url_of("/api/echo?to=later");
    create(&first, &project, &key, json!({"url": to, "events": ["credentials_failure"]})).await;
    let recorded = json!({"type": "credentials_failure", "user": {"id": "u9"}, "data": {"userId": "u9"}});
    let Value::Object(recorded) = recorded else { unreachable!("an object") };
    let event = first.store.insert_event(project.parse().unwrap(), "credentials_failure", recorded).await.unwrap();
    first.shutdown().await;
    assert_eq!(receiver.count(), 0, "nothing delivered by a process without the worker");

    // The next start on the same database delivers it.
    let dir = first._dir.path().to_owned();
    let _second = spawn_app_with(&[], |s| {
        s.database.url = again;
        s.data_dir = dir;
        fast(s);
    })
    .await;
    let e = body(&received(&receiver, "/api/echo?to=later", 1).await[0]);
    assert_eq!(e["id"], json!(event.id), "{e}");
    assert_eq!(e["project"], json!({"id": project, "name": "Durable"}));
    assert_eq!(e["user"], json!({"id": "u9", "metadata": {}}));
}
