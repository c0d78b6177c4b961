//! Request pagination (issue 18, point 3): a Request or Integration Request
//! step with `pagination` sends its request once per page, the next page's
//! token where it says `{{self.pageToken}}` (a parameter, a header, the
//! body), until its stop condition holds; its output is every page's
//! results in order, and each page is a task. A later page that fails
//! leaves the step successful with the results so far and an `error` later
//! steps can test; a rate-limited page is sent again after a backoff; a
//! repeated token and `workflows.max_pages` stop it. The mock's
//! `/api/pages/{key}/{mode}` serves the pages (tests/src/mock_api.rs).

use crate::proxy::fixture::ProxyFixture;
use crate::workflows_run::{deploy, enable, ended, fixture, start_event, step_output};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use weft_tests::mock_api as mock;

/// The `pagination` of the mock's pages, stopping when `operator` holds of
/// the page's `next`.
fn pagination(operator: &str) -> String {
    format!(
        "    pagination:\n      outputPath: \"{{{{self.output.response.body.data}}}}\"\n      \
         pageToken: \"{{{{self.output.response.body.next}}}}\"\n      \
         stopCondition: {{left: \"{{{{self.output.response.body.next}}}}\", operator: {operator}}}\n"
    )
}

/// Deploys `steps` (YAML list items) as a workflow of the test-proxy
/// integration triggered by `event`, enables it for `u1` and starts it;
/// the ended execution's Task History record.
pub(crate) async fn run(f: &ProxyFixture, event: &str, steps: &str) -> Value {
    let yaml = format!(
        "name: {event}\nintegration: test-proxy\ntrigger: {{type: appEvent, event: \"{event}\"}}\nsteps:\n{steps}"
    );
    let workflow = deploy(f, &yaml).await;
    enable(f, "u1", &workflow).await;
    let execution = start_event(f, "u1", event, json!({})).await;
    ended(f, &execution).await
}

/// The stored input and output of step `id` of the execution `record`.
pub(crate) async fn step(f: &ProxyFixture, record: &Value, id: &str) -> Value {
    let steps = record["stepExecutions"].as_array().unwrap();
    let found = steps.iter().find(|s| s["stepId"] == id).unwrap_or_else(|| panic!("no step {id}: {record}"));
    assert_eq!(found["status"], "SUCCEEDED", "{record}");
    step_output(f, record["id"].as_str().unwrap(), found).await
}

/// The requests the mock received for `/api/pages/{key}/…`.
pub(crate) fn pages_hit(f: &ProxyFixture, key: &str) -> Vec<mock::Hit> {
    let prefix = format!("/api/pages/{key}/");
    f.mock.hits().into_iter().filter(|h| h.uri.starts_with(&prefix)).collect()
}

/// The `cursor` query parameter of a request, if it has one.
pub(crate) fn cursor_param(hit: &mock::Hit) -> Option<String> {
    let query = hit.uri.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn pages_are_fetched_with_their_tokens_and_aggregated_on_sqlite() {
    aggregated(false).await;
}

#[tokio::test]
async fn pages_are_fetched_with_their_tokens_and_aggregated_on_postgresql() {
    aggregated(true).await;
}

async fn aggregated(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-pages").await;

    // A Request step, the token in a query parameter; a later step reads
    // the aggregated results.
    let steps = format!(
        "  - id: list\n    type: request\n    method: GET\n    url: \"{}\"\n    \
         params: {{cursor: \"{{{{self.pageToken}}}}\", limit: 2}}\n{}  \
         - id: report\n    type: request\n    method: POST\n    url: \"{}\"\n    bodyType: json\n    \
         body: {{results: \"{{{{list.output.response.results}}}}\"}}\n",
        f.mock.url_of("/api/pages/query/three"),
        pagination("doesNotExist"),
        f.mock.url_of("/api/echo?from=report"),
    );
    let record = run(&f, "List by query", &steps).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let list = step(&f, &record, "list").await;
    let response = &list["output"]["response"];
    assert_eq!(response["results"], json!([1, 2, 3, 4, 5]), "{list}");
    assert_eq!(response["statusCode"], 200, "{list}");
    assert!(response.get("error").is_none(), "{list}");
    // The history records the first page's request, and how it pages.
    assert_eq!(list["input"]["params"], json!({"limit": 2}), "{list}");
    assert!(list["input"]["pagination"]["outputPath"].is_string(), "{list}");
    // One task per page, plus the report.
    assert_eq!(record["taskCount"], 4, "{record}");
    let hits = pages_hit(&f, "query");
    let cursors: Vec<Option<String>> = hits.iter().map(cursor_param).collect();
    assert_eq!(cursors, [None, Some("p2".into()), Some("p3".into())], "the first page asks for no cursor");
    let keys: std::collections::HashSet<_> = hits.iter().filter_map(|h| h.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 3, "each page has an idempotency key of its own");
    let report = f.mock.hits().into_iter().find(|h| h.uri.ends_with("from=report")).expect("the report was sent");
    assert_eq!(serde_json::from_slice::<Value>(&report.body).unwrap()["results"], json!([1, 2, 3, 4, 5]));

    // Integration Request steps as the user's account, the token in the
    // JSON body, then in a header; other stop conditions.
    let headed = "{or: [{and: [{left: \"{{self.output.response.body.data}}\", operator: arrayIsEmpty}]}, \
                  {and: [{left: \"{{self.output.response.body.next}}\", operator: doesNotExist}]}]}";
    let steps = format!(
        "  - id: posted\n    type: integrationRequest\n    method: POST\n    url: /pages/body/three\n    \
         bodyType: json\n    body: {{cursor: \"{{{{self.pageToken}}}}\", limit: 2}}\n{}  \
         - id: headed\n    type: integrationRequest\n    method: GET\n    url: /pages/header/three\n    \
         headers: {{X-Cursor: \"{{{{self.pageToken}}}}\"}}\n{}",
        pagination("isNull"),
        pagination("doesNotExist")
            .replace("{left: \"{{self.output.response.body.next}}\", operator: doesNotExist}", headed),
    );
    let record = run(&f, "List as the account", &steps).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(record["taskCount"], 6, "three pages each: {record}");
    for id in ["posted", "headed"] {
        let out = step(&f, &record, id).await;
        assert_eq!(out["output"]["response"]["results"], json!([1, 2, 3, 4, 5]), "{id}: {out}");
    }
    let hits = pages_hit(&f, "body");
    let bodies: Vec<Value> = hits.iter().map(|h| serde_json::from_slice(&h.body).unwrap()).collect();
    assert_eq!(bodies, [json!({"limit": 2}), json!({"cursor": "p2", "limit": 2}), json!({"cursor": "p3", "limit": 2})]);
    let hits = pages_hit(&f, "header");
    let cursors: Vec<Option<&str>> = hits.iter().map(|h| h.header("x-cursor")).collect();
    assert_eq!(cursors, [None, Some("p2"), Some("p3")]);
    for hit in pages_hit(&f, "body").iter().chain(&hits) {
        assert_eq!(hit.header("x-api-key"), Some("key-of-u1-pages"), "every page acts as the account");
    }

    // `{{self.pageToken}}` outside a paginated step is refused at create,
    // named by its path.
    let bad = json!({
        "name": "Bad", "integration": "test-proxy", "trigger": {"type": "appEvent", "event": "Bad"},
        "steps": [{"id": "a", "type": "integrationRequest", "method": "GET", "url": "/x",
                   "params": {"cursor": "{{self.pageToken}}"}}]
    });
    let path = format!("/admin/projects/{}/workflows", f.project);
    let (status, body) = f.app.call(Method::POST, &path, Some(&f.admin_key), Some(bad)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_WORKFLOW")), "{body}");
    assert_eq!(body["meta"]["problems"][0]["path"], "/steps/0/params/cursor", "{body}");
}

#[tokio::test]
async fn a_page_that_fails_leaves_the_results_so_far_and_an_error_on_sqlite() {
    partial(false).await;
}

#[tokio::test]
async fn a_page_that_fails_leaves_the_results_so_far_and_an_error_on_postgresql() {
    partial(true).await;
}

async fn partial(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| s.workflows.max_pages = 4).await;
    f.connect("u1", "key-of-u1-partial").await;

    // The third page answers 401: the step succeeds with the first two
    // pages and the error, which a conditional after it tests.
    let list = |key: &str, mode: &str| {
        format!(
            "  - id: list\n    type: request\n    method: GET\n    url: \"{}\"\n    \
             params: {{cursor: \"{{{{self.pageToken}}}}\"}}\n{}",
            f.mock.url_of(&format!("/api/pages/{key}/{mode}")),
            pagination("doesNotExist"),
        )
    };
    let steps = format!(
        "{}  - id: failed\n    type: conditional\n    if: {{left: \"{{{{list.output.response.error}}}}\", operator: exists}}\n    \
         then:\n      - id: report\n        type: request\n        method: POST\n        url: \"{}\"\n        \
         bodyType: json\n        body: {{error: \"{{{{list.output.response.error.message}}}}\", \
         status: \"{{{{list.output.response.error.response.statusCode}}}}\", \
         results: \"{{{{list.output.response.results}}}}\"}}\n",
        list("unauthorized", "fail401"),
        f.mock.url_of("/api/echo?from=partial"),
    );
    let record = run(&f, "Partial", &steps).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let out = step(&f, &record, "list").await;
    let response = &out["output"]["response"];
    assert_eq!(response["results"], json!([1, 2, 3, 4]), "{out}");
    assert_eq!(response["error"]["message"], "the request answered 401", "{out}");
    assert_eq!(response["error"]["response"]["statusCode"], 401, "{out}");
    assert_eq!(step(&f, &record, "failed").await["output"]["selectedChoice"], "Yes");
    let report = f.mock.hits().into_iter().find(|h| h.uri.ends_with("from=partial")).expect("the report was sent");
    let sent: Value = serde_json::from_slice(&report.body).unwrap();
    assert_eq!(sent, json!({"error": "the request answered 401", "status": 401, "results": [1, 2, 3, 4]}));
    // The two pages fetched and the report; the failed page counts none.
    assert_eq!(record["taskCount"], 3, "{record}");
    assert_eq!(pages_hit(&f, "unauthorized").len(), 3);

    // The same token again: stopped after the second page.
    let record = run(&f, "Repeat", &list("repeat", "repeat")).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let out = step(&f, &record, "list").await;
    assert_eq!(out["output"]["response"]["results"], json!([1, 2, 1, 2]), "{out}");
    let message = out["output"]["response"]["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("page token \"same\" again"), "{message}");
    assert_eq!((record["taskCount"].clone(), pages_hit(&f, "repeat").len()), (json!(2), 2));

    // Pages without end: stopped at `max_pages` (4).
    let record = run(&f, "Endless", &list("endless", "endless")).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let out = step(&f, &record, "list").await;
    assert_eq!(out["output"]["response"]["results"], json!([1, 2, 3, 4]), "{out}");
    let message = out["output"]["response"]["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("after 4 pages (workflows.max_pages)"), "{message}");
    assert_eq!((record["taskCount"].clone(), pages_hit(&f, "endless").len()), (json!(4), 4));

    // The first page's failure is the step's, as without pagination.
    let steps = format!(
        "  - id: list\n    type: request\n    method: GET\n    url: \"{}\"\n    \
         params: {{cursor: \"{{{{self.pageToken}}}}\"}}\n{}",
        f.mock.url_of("/api/status/404"),
        pagination("doesNotExist"),
    );
    let yaml =
        format!("name: First\nintegration: test-proxy\ntrigger: {{type: appEvent, event: First}}\nsteps:\n{steps}");
    let workflow = deploy(&f, &yaml).await;
    enable(&f, "u1", &workflow).await;
    let record = ended(&f, &start_event(&f, "u1", "First", json!({})).await).await;
    assert_eq!((record["status"].as_str(), record["taskCount"].as_u64()), (Some("FAILED"), Some(0)), "{record}");
}

#[tokio::test]
async fn a_rate_limited_page_is_sent_again_after_a_backoff_on_sqlite() {
    throttled(false).await;
}

#[tokio::test]
async fn a_rate_limited_page_is_sent_again_after_a_backoff_on_postgresql() {
    throttled(true).await;
}

/// The backoff's base in this test.
const BASE_MS: u64 = 200;

async fn throttled(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| {
        s.workflows.retry_base_ms = BASE_MS;
        s.workflows.rate_limit_wait_ms = 50;
    })
    .await;
    f.connect("u1", "key-of-u1-throttled").await;

    // Page 2 answers 429 with `Retry-After: 1`, then 429 without, then
    // its page: the step waits out both and succeeds with every page.
    let steps = format!(
        "  - id: list\n    type: integrationRequest\n    method: GET\n    url: /pages/slow/throttled\n    \
         params: {{cursor: \"{{{{self.pageToken}}}}\"}}\n{}",
        pagination("doesNotExist"),
    );
    let record = run(&f, "Throttled pages", &steps).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let out = step(&f, &record, "list").await;
    assert_eq!(out["output"]["response"]["results"], json!([1, 2, 3, 4, 5]), "{out}");
    assert!(out["output"]["response"].get("error").is_none(), "{out}");
    assert_eq!(record["taskCount"], 3, "rate-limited attempts count no task: {record}");
    let second: Vec<_> =
        pages_hit(&f, "slow").into_iter().filter(|h| cursor_param(h).as_deref() == Some("p2")).map(|h| h.at).collect();
    assert_eq!(second.len(), 3, "two 429s, then the page");
    // The first wait honours `Retry-After: 1`; the second is the backoff's
    // (twice the base, give or take a fifth), longer than the 50 ms window.
    assert!(second[1] - second[0] >= Duration::from_millis(900), "{:?}", second[1] - second[0]);
    assert!(second[2] - second[1] >= Duration::from_millis(BASE_MS * 2 * 8 / 10), "{:?}", second[2] - second[1]);
}
