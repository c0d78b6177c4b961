//! A project's concurrency limit (issue 18, point 6): at most so many of
//! its steps run at once, across every process on the database; the others
//! wait in the queue, shown as "Not Started" in the Task History, and none
//! is lost. The mock provider measures the requests in flight at once (the
//! workflow's steps are all requests to it, so that is the running steps).

use crate::support::settled_executions;
use crate::workflows_run::{deploy, enable, fixture, start_event};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_projects_running_steps_stay_within_its_limit_on_sqlite() {
    limited(false).await;
}

/// Two engines (two servers) on one database share the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_a_projects_limit_on_postgresql() {
    limited(true).await;
}

/// Two slow requests per execution, all counted on the mock's `key` gauge.
fn workflow(f: &crate::proxy::fixture::ProxyFixture, event: &str, key: &str) -> String {
    let slow = f.mock.url_of(&format!("/api/gauge/{key}/150"));
    format!(
        "name: {event}\nintegration: test-proxy\ntrigger: {{type: appEvent, event: {event}}}\nsteps:\n  \
         - {{id: first, type: request, method: GET, url: \"{slow}\"}}\n  \
         - {{id: second, type: request, method: GET, url: \"{slow}\"}}\n"
    )
}

async fn limited(postgres: bool) {
    let (f, pg) = fixture(postgres, |s| s.workflows.workers = 3).await;
    // On PostgreSQL a second server, with its own engine and pool, on the
    // same database and data directory.
    let _second = match &pg {
        Some(pg) => Some(f.second_server(pg, |s| s.workflows.workers = 3).await),
        None => None,
    };
    f.connect("u1", "key-of-u1-limits").await;
    let path = format!("/admin/projects/{}/concurrency-limit", f.project);
    let op = f.app.operator_key.clone();
    let (status, project) = f.app.call(Method::PUT, &path, Some(&op), Some(json!({"concurrencyLimit": 3}))).await;
    assert_eq!((status, &project["concurrencyLimit"]), (200, &json!(3)), "{project}");

    let busy = deploy(&f, &workflow(&f, "Busy", "busy")).await;
    enable(&f, "u1", &busy).await;
    let started = Instant::now();
    let mut executions = Vec::new();
    for i in 0..12 {
        executions.push(start_event(&f, "u1", "Busy", json!({"n": i})).await);
    }
    // While they run, some wait for a slot: their first step is queued and
    // shows as Not Started, their execution as executing.
    let waiting = waiting_execution(&f, &executions).await;
    assert_eq!(waiting["status"], "EXECUTING", "{waiting}");
    let all = settled_executions(&f.app, &f.project, &f.admin_key, &busy, 12).await;
    let elapsed = started.elapsed();
    assert_eq!(f.mock.most_in_flight("busy"), 3, "never more than the limit, and the limit used");
    assert!(all.iter().all(|e| e["status"] == "SUCCEEDED" && e["taskCount"] == 2), "{all:?}");
    // 24 requests of 150 ms, three at a time: at least eight rounds.
    assert!(elapsed >= Duration::from_millis(8 * 150), "{elapsed:?}");
    let usage = format!("/admin/projects/{}/usage", f.project);
    let (_, counted) = f.app.call(Method::GET, &usage, Some(&f.admin_key), None).await;
    assert_eq!(counted["workflowTasks"], 24, "every step counted once: {counted}");

    // Lifted: the engines' own bounds apply again (three workers each).
    let (status, project) = f.app.call(Method::PUT, &path, Some(&op), Some(json!({"concurrencyLimit": null}))).await;
    assert_eq!((status, &project["concurrencyLimit"]), (200, &Value::Null), "{project}");
    let free = deploy(&f, &workflow(&f, "Free", "free")).await;
    enable(&f, "u1", &free).await;
    for i in 0..12 {
        start_event(&f, "u1", "Free", json!({"n": i})).await;
    }
    let all = settled_executions(&f.app, &f.project, &f.admin_key, &free, 12).await;
    assert!(all.iter().all(|e| e["status"] == "SUCCEEDED"), "{all:?}");
    assert!(f.mock.most_in_flight("free") > 3, "no limit: {}", f.mock.most_in_flight("free"));
}

/// Polls the executions' Task History until one shows a step waiting for a
/// slot (`NOT_STARTED`); that execution's record.
async fn waiting_execution(f: &crate::proxy::fixture::ProxyFixture, executions: &[String]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for id in executions.iter().rev() {
            let path = format!("/projects/{}/task-history/workflow-executions/{id}", f.project);
            let (_, record) = f.app.call(Method::GET, &path, Some(&f.admin_key), None).await;
            let steps = record["stepExecutions"].as_array().cloned().unwrap_or_default();
            if steps.iter().any(|s| s["stepId"] == "first" && s["status"] == "NOT_STARTED") {
                return record;
            }
        }
    }
    panic!("no execution was seen waiting for a slot");
}

#[tokio::test]
async fn the_limit_is_an_operators_setting() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let path = format!("/admin/projects/{}/concurrency-limit", f.project);
    let op = f.app.operator_key.clone();
    let (status, body) =
        f.app.call(Method::PUT, &path, Some(&f.admin_key), Some(json!({"concurrencyLimit": 50}))).await;
    assert_eq!(status, 403, "a project's own admin key cannot raise it: {body}");
    let (status, body) = f.app.call(Method::PUT, &path, Some(&op), Some(json!({"concurrencyLimit": 0}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("at least 1"), "{body}");
    let (status, body) = f.app.call(Method::PUT, &path, Some(&op), Some(json!({"concurrencyLimit": "ten"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = f.app.call(Method::PUT, &path, Some(&op), Some(json!({"limit": 3}))).await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let unknown = format!("/admin/projects/{}/concurrency-limit", uuid::Uuid::new_v4());
    let (status, body) = f.app.call(Method::PUT, &unknown, Some(&op), Some(json!({"concurrencyLimit": 3}))).await;
    assert_eq!(status, 404, "{body}");
    // The project's keys see it.
    f.app.call(Method::PUT, &path, Some(&op), Some(json!({"concurrencyLimit": 7}))).await;
    let (_, project) =
        f.app.call(Method::GET, &format!("/admin/projects/{}", f.project), Some(&f.admin_key), None).await;
    assert_eq!(project["concurrencyLimit"], 7, "{project}");
}
