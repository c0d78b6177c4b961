//! Rate-limit pauses (issue 18, point 4): a step answered 429, or refused
//! by the governor because the provider's budget is spent, waits for the
//! provider's window parked in the queue; its execution shows DELAYED with
//! the time it resumes; no retry attempt is used (the steps here have none);
//! then the suspended request is sent again and the workflow goes on. Past
//! `workflows.max_pauses` the rate limit fails the step like any error.

use crate::proxy::fixture::ProxyFixture;
use crate::workflows_run::{deploy, enable, ended, fixture, start_event, step_output};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_rate_limited_step_waits_for_the_window_then_goes_on_on_sqlite() {
    paused(false).await;
}

#[tokio::test]
async fn a_rate_limited_step_waits_for_the_window_then_goes_on_on_postgresql() {
    paused(true).await;
}

/// Deploys `yaml` (trigger event `event`), enables it for `u1` and starts
/// it; the execution's id.
async fn start(f: &ProxyFixture, yaml: &str, event: &str) -> String {
    let workflow = deploy(f, yaml).await;
    enable(f, "u1", &workflow).await;
    start_event(f, "u1", event, json!({})).await
}

/// Polls the execution until it ends; whether it was ever seen DELAYED
/// with a `resumesAt` and its waiting step shown running.
async fn watch(f: &ProxyFixture, execution: &str, step: &str) -> bool {
    let path = format!("/projects/{}/task-history/workflow-executions/{execution}", f.project);
    let mut seen = false;
    for _ in 0..600 {
        let (_, record) = f.app.call(Method::GET, &path, Some(&f.admin_key), None).await;
        match record["status"].as_str() {
            Some("SUCCEEDED" | "FAILED") => return seen,
            Some("DELAYED") => {
                let waiting = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == step);
                if record["resumesAt"].is_string() && waiting.is_some_and(|s| s["status"] == "EXECUTING") {
                    seen = true;
                }
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {execution} did not end");
}

/// Arrival times at the mock of requests whose URI ends with `path`.
fn arrivals(f: &ProxyFixture, path: &str) -> Vec<Instant> {
    f.mock.hits().iter().filter(|h| h.uri.ends_with(path)).map(|h| h.at).collect()
}

async fn paused(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| {
        s.workflows.max_retries = 0;
        s.workflows.max_pauses = 3;
    })
    .await;
    f.connect("u1", "key-of-u1-rate-limits").await;

    // A 429 with `Retry-After: 1`, twice, then an answer.
    let path = "/api/throttled/twice/2";
    let yaml = format!(
        "name: Throttled\nintegration: test-proxy\ntrigger: {{type: appEvent, event: Throttled}}\nsteps:\n  \
         - {{id: call, type: request, method: GET, url: \"{}\"}}\n",
        f.mock.url_of(path)
    );
    let execution = start(&f, &yaml, "Throttled").await;
    assert!(watch(&f, &execution, "call").await, "never seen DELAYED with its resume time");
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "paused, not failed, with no retries allowed: {record}");
    let times = arrivals(&f, path);
    assert_eq!(times.len(), 3, "the suspended request was sent again after each window");
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(900), "a window of 1 s was kept: {:?}", pair[1] - pair[0]);
    }
    assert_eq!(record["taskCount"], 1, "{record}");
    let call = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "call").unwrap().clone();
    assert_eq!(step_output(&f, &execution, &call).await["output"]["response"]["body"]["attempt"], 3);

    // The governor: `limited` spends the provider's budget for 3 s
    // (`X-RateLimit-Remaining: 0`), so the next call as that account waits
    // for the reset instead of being sent.
    let yaml = "name: Budget\nintegration: test-proxy\ntrigger: {type: appEvent, event: Budget}\nsteps:\n  \
         - {id: spend, type: integrationRequest, method: GET, url: /limited}\n  \
         - {id: next, type: integrationRequest, method: GET, url: /echo?after=budget}\n";
    let execution = start(&f, yaml, "Budget").await;
    assert!(watch(&f, &execution, "next").await, "never seen DELAYED waiting for the budget");
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let (spent, next) = (arrivals(&f, "/api/limited")[0], arrivals(&f, "/api/echo?after=budget"));
    assert_eq!(next.len(), 1, "refused by the governor, it was sent once, after the reset");
    assert!(next[0] - spent >= Duration::from_millis(2500), "sent {:?} after the budget was spent", next[0] - spent);

    // Past `max_pauses` (3) the rate limit is the step's error.
    let path = "/api/throttled/always/99";
    let yaml = format!(
        "name: Always\nintegration: test-proxy\ntrigger: {{type: appEvent, event: Always}}\nsteps:\n  \
         - {{id: call, type: request, method: GET, url: \"{}\"}}\n",
        f.mock.url_of(path)
    );
    let execution = start(&f, &yaml, "Always").await;
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    assert_eq!(arrivals(&f, path).len(), 4, "the first request and one per pause");
    let call = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "call").unwrap().clone();
    let error: Value = step_output(&f, &execution, &call).await["output"].clone();
    assert_eq!(error["response"]["statusCode"], 429, "{error}");
    assert_eq!(error["rateLimit"]["retryAfterMs"], 1000, "{error}");
}

#[tokio::test]
async fn a_plugin_action_with_smart_rate_limits_waits_for_the_window_on_sqlite() {
    action_paused(false).await;
}

#[tokio::test]
async fn a_plugin_action_with_smart_rate_limits_waits_for_the_window_on_postgresql() {
    action_paused(true).await;
}

/// An Integration Action step of a plugin that declares Smart Rate Limits
/// (`test-proxy`) waits out the provider's 429 and the governor's known
/// budget like a request step; its one action left out of them fails at
/// once, as an action of a plugin without them would.
async fn action_paused(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| {
        s.workflows.max_retries = 0;
        s.workflows.max_pauses = 3;
    })
    .await;
    f.connect("u1", "key-of-u1-action-limits").await;
    let workflow = |name: &str, steps: &str| {
        format!("name: {name}\nintegration: test-proxy\ntrigger: {{type: appEvent, event: {name}}}\nsteps:\n{steps}")
    };

    // The plugin's action gets 429 with `Retry-After: 1` twice, then an answer.
    let steps = "  - {id: act, type: integrationAction, action: TEST_PROXY_FETCH, input: {url: /throttled/act/2}}\n";
    let execution = start(&f, &workflow("Acting", steps), "Acting").await;
    assert!(watch(&f, &execution, "act").await, "never seen DELAYED with its resume time");
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "paused, not failed, with no retries allowed: {record}");
    let times = arrivals(&f, "/api/throttled/act/2");
    assert_eq!(times.len(), 3, "the action ran again after each window");
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(900), "a window of 1 s was kept: {:?}", pair[1] - pair[0]);
    }
    assert_eq!(record["taskCount"], 1, "{record}");
    let act = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "act").unwrap().clone();
    assert_eq!(step_output(&f, &execution, &act).await["output"]["attempt"], 3);

    // The governor: the budget spent by `limited`, the action's request is
    // refused before it is sent; the host tells the wait it knows, and the
    // step is run again after the reset.
    let steps = "  - {id: spend, type: integrationRequest, method: GET, url: /limited}\n  \
                 - {id: act, type: integrationAction, action: TEST_PROXY_FETCH, input: {url: /echo?after=action-budget}}\n";
    let execution = start(&f, &workflow("Budgeted", steps), "Budgeted").await;
    assert!(watch(&f, &execution, "act").await, "never seen DELAYED waiting for the budget");
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let spent = *arrivals(&f, "/api/limited").last().unwrap();
    let next = arrivals(&f, "/api/echo?after=action-budget");
    assert_eq!(next.len(), 1, "refused by the governor, it was sent once, after the reset");
    assert!(next[0] - spent >= Duration::from_millis(2500), "sent {:?} after the budget was spent", next[0] - spent);

    // Left out of Smart Rate Limits: the 429 is the step's error at once.
    let steps =
        "  - {id: act, type: integrationAction, action: TEST_PROXY_FETCH_UNPAUSED, input: {url: /throttled/now/2}}\n";
    let execution = start(&f, &workflow("Unpaused", steps), "Unpaused").await;
    assert!(!watch(&f, &execution, "act").await, "an action left out of Smart Rate Limits was DELAYED");
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    assert_eq!(arrivals(&f, "/api/throttled/now/2").len(), 1, "no pause, no second call");
    let act = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "act").unwrap().clone();
    let error = step_output(&f, &execution, &act).await["output"].clone();
    assert!(error.get("rateLimit").is_none(), "{error}");
    assert!(error["message"].as_str().unwrap().contains("rate"), "{error}");
}
