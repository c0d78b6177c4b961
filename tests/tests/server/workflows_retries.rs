//! Auto-retry end to end (issue 18, point 2): a step with `autoRetry` that
//! fails with a transient error is tried again on the reference's schedule
//! (a base of milliseconds here), shows as running in the Task History
//! while it waits, and counts one task however many attempts it took; one
//! that keeps failing fails its execution after the last retry; a step
//! without `autoRetry`, or failing in a way another attempt cannot mend, is
//! not retried.

use crate::workflows_run::{deploy, enable, ended, fixture, start_event, step_output};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The base of the retry schedule in these tests.
const BASE_MS: u64 = 150;

#[tokio::test]
async fn a_flaky_step_is_retried_on_the_schedule_and_counts_one_task_on_sqlite() {
    flaky_step(false).await;
}

#[tokio::test]
async fn a_flaky_step_is_retried_on_the_schedule_and_counts_one_task_on_postgresql() {
    flaky_step(true).await;
}

/// Deploys a one-step workflow whose Request step GETs `path` of the mock,
/// enables it for `u1` and starts it; the execution's id.
async fn start(f: &crate::proxy::fixture::ProxyFixture, path: &str, auto_retry: bool) -> String {
    let yaml = format!(
        "name: Retries {path}\nintegration: test-proxy\ntrigger: {{type: appEvent, event: \"Go {path}\"}}\nsteps:\n  \
         - {{id: call, type: request, method: GET, url: {}, autoRetry: {auto_retry}}}\n",
        f.mock.url_of(path)
    );
    let workflow = deploy(f, &yaml).await;
    enable(f, "u1", &workflow).await;
    start_event(f, "u1", &format!("Go {path}"), json!({})).await
}

/// The mock's arrival times of requests whose path ends with `path`.
fn arrivals(f: &crate::proxy::fixture::ProxyFixture, path: &str) -> Vec<Instant> {
    f.mock.hits().iter().filter(|h| h.uri.ends_with(path)).map(|h| h.at).collect()
}

async fn flaky_step(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| s.workflows.retry_base_ms = BASE_MS).await;
    f.connect("u1", "key-of-u1-retries").await;
    let path = "/api/flaky/three/3";
    let execution = start(&f, path, true).await;

    // While it waits between attempts, the execution runs and the step
    // shows as running: never DELAYED, never "not started" once tried.
    let record_path = format!("/projects/{}/task-history/workflow-executions/{execution}", f.project);
    let mut seen_waiting = false;
    for _ in 0..400 {
        // Counted before the record is read: an attempt that arrived had
        // been claimed, so the record read after it must show it.
        let tried = arrivals(&f, path).len();
        let (_, record) = f.app.call(Method::GET, &record_path, Some(&f.admin_key), None).await;
        if matches!(record["status"].as_str(), Some("SUCCEEDED" | "FAILED")) {
            break;
        }
        assert_eq!(record["status"], "EXECUTING", "a retrying execution is not delayed: {record}");
        if (1..4).contains(&tried) {
            let call = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "call").cloned();
            if let Some(call) = call {
                assert_eq!(call["status"], "EXECUTING", "a step between attempts shows as running: {record}");
                seen_waiting = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_waiting, "the step was never seen between two attempts");

    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    // Three failures, then the fourth attempt answered.
    let times = arrivals(&f, path);
    assert_eq!(times.len(), 4, "one request per attempt");
    // Each wait is at least four fifths of the schedule's (1, 2, 3 × base).
    for (i, nominal) in [1u64, 2, 3].into_iter().enumerate() {
        let gap = times[i + 1] - times[i];
        let floor = Duration::from_millis(BASE_MS * nominal * 8 / 10);
        assert!(gap >= floor, "retry {} came after {gap:?}, before {floor:?}", i + 1);
    }
    // All attempts count as one task.
    assert_eq!(record["taskCount"], 1, "{record}");
    let call = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "call").unwrap().clone();
    assert_eq!(call["status"], "SUCCEEDED");
    let out = step_output(&f, &execution, &call).await;
    assert_eq!(out["output"]["response"]["statusCode"], 200, "{out}");
    assert_eq!(out["output"]["response"]["body"]["attempt"], 4, "{out}");
}

#[tokio::test]
async fn retries_end_after_the_last_attempt_and_only_transient_failures_retry_on_sqlite() {
    retries_end(false).await;
}

#[tokio::test]
async fn retries_end_after_the_last_attempt_and_only_transient_failures_retry_on_postgresql() {
    retries_end(true).await;
}

async fn retries_end(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| {
        s.workflows.retry_base_ms = 20;
        s.workflows.max_retries = 2;
    })
    .await;
    f.connect("u1", "key-of-u1-retries-end").await;

    // Always failing: the first attempt and two retries, then FAILED with
    // the last attempt's error and no task.
    let always = "/api/flaky/always/99";
    let execution = start(&f, always, true).await;
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    assert_eq!(arrivals(&f, always).len(), 3);
    assert_eq!(record["taskCount"], 0, "{record}");
    let call = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "call").unwrap().clone();
    assert_eq!(call["status"], "FAILED");
    let out: Value = step_output(&f, &execution, &call).await;
    assert_eq!(out["output"]["response"]["statusCode"], 503, "{out}");
    assert_eq!(out["output"]["response"]["body"]["attempt"], 3, "{out}");

    // Without autoRetry a transient failure fails at once.
    let once = "/api/flaky/unretried/1";
    let execution = start(&f, once, false).await;
    assert_eq!(ended(&f, &execution).await["status"], "FAILED");
    assert_eq!(arrivals(&f, once).len(), 1);

    // A 404 would fail the same way again: not retried.
    let missing = "/api/status/404";
    let execution = start(&f, missing, true).await;
    assert_eq!(ended(&f, &execution).await["status"], "FAILED");
    assert_eq!(arrivals(&f, missing).len(), 1);
}
