//! Bounded fan-outs (issue 18, point 1): a fan-out runs at most
//! `maxParallel` items at once (else `workflows.fan_out_parallel`), starts
//! the next as one ends, reads each item as `{{<id>.output.instance}}`,
//! goes on once every item ended, nests, and counts each item's steps as
//! tasks. The mock provider measures how many requests were in flight at
//! once.

use crate::workflows_run::{deploy, enable, ended, fixture, post_workflow, start_event, step_output};
use serde_json::{Value, json};

#[tokio::test]
async fn a_fan_out_runs_at_most_its_bound_at_once_on_sqlite() {
    bounded(false).await;
}

#[tokio::test]
async fn a_fan_out_runs_at_most_its_bound_at_once_on_postgresql() {
    bounded(true).await;
}

/// Starts workflow `yaml` (trigger event `event`) for `u1` with `payload`;
/// the ended execution's record and id.
async fn run(f: &crate::proxy::fixture::ProxyFixture, yaml: &str, event: &str, payload: Value) -> (Value, String) {
    let workflow = deploy(f, yaml).await;
    enable(f, "u1", &workflow).await;
    let execution = start_event(f, "u1", event, payload).await;
    (ended(f, &execution).await, execution)
}

/// The items the mock's `/api/echo?item=…` requests named, sorted.
fn echoed_items(f: &crate::proxy::fixture::ProxyFixture, tag: &str) -> Vec<String> {
    let mut items: Vec<String> = f
        .mock
        .hits()
        .iter()
        .filter_map(|h| h.uri.split_once(&format!("tag={tag}&item=")))
        .map(|(_, i)| i.to_owned())
        .collect();
    items.sort();
    items
}

async fn bounded(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| s.workflows.fan_out_parallel = 3).await;
    f.connect("u1", "key-of-u1-fan-out").await;
    let gauge = |key: &str| f.mock.url_of(&format!("/api/gauge/{key}/300"));
    let echo = |tag: &str| f.mock.url_of(&format!("/api/echo?tag={tag}&item="));

    // Six items, two at a time.
    let yaml = format!(
        r#"name: Two at a time
integration: test-proxy
trigger: {{type: appEvent, event: Two}}
steps:
  - id: each
    type: fanOut
    iterator: "{{{{trigger.output.items}}}}"
    maxParallel: 2
    steps:
      - {{id: slow, type: request, method: GET, url: "{slow}"}}
      - {{id: note, type: request, method: GET, url: "{note}{{{{each.output.instance}}}}"}}
  - {{id: after, type: request, method: GET, url: "{after}"}}
"#,
        slow = gauge("two"),
        note = echo("two"),
        after = f.mock.url_of("/api/echo?tag=two-after"),
    );
    let items = json!(["a", "b", "c", "d", "e", "f"]);
    let (record, execution) = run(&f, &yaml, "Two", json!({"items": items})).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(f.mock.most_in_flight("two"), 2, "two items at once, never more");
    assert_eq!(echoed_items(&f, "two"), ["a", "b", "c", "d", "e", "f"], "every item ran, reading its own item");
    let after: Vec<_> = f.mock.hits().into_iter().filter(|h| h.uri.ends_with("tag=two-after")).collect();
    assert_eq!(after.len(), 1);
    let last_note = f.mock.hits().iter().filter(|h| h.uri.contains("tag=two&item=")).map(|h| h.at).max().unwrap();
    assert!(after[0].at > last_note, "what follows runs after every item ended");
    // Twelve requests in the items and one after: thirteen tasks.
    assert_eq!(record["taskCount"], 13, "{record}");
    let each = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "each").unwrap().clone();
    assert_eq!(step_output(&f, &execution, &each).await["output"], items);

    // No maxParallel: the engine's bound (3 here).
    let yaml = format!(
        "name: Engine bound\nintegration: test-proxy\ntrigger: {{type: appEvent, event: Three}}\nsteps:\n  \
         - id: each\n    type: fanOut\n    iterator: [1, 2, 3, 4, 5, 6, 7]\n    steps:\n      \
         - {{id: slow, type: request, method: GET, url: \"{}\"}}\n",
        gauge("three")
    );
    let (record, _) = run(&f, &yaml, "Three", json!({})).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(f.mock.most_in_flight("three"), 3);
    assert_eq!(record["taskCount"], 7);

    // Nested: the outer one item at a time, the inner two at a time.
    let yaml = format!(
        r#"name: Nested
integration: test-proxy
trigger: {{type: appEvent, event: Nested}}
steps:
  - id: outer
    type: fanOut
    iterator: [[1, 2, 3], [4, 5, 6]]
    maxParallel: 1
    steps:
      - id: inner
        type: fanOut
        iterator: "{{{{outer.output.instance}}}}"
        maxParallel: 2
        steps:
          - {{id: slow, type: request, method: GET, url: "{slow}"}}
          - {{id: note, type: request, method: GET, url: "{note}{{{{inner.output.instance}}}}"}}
"#,
        slow = gauge("nested"),
        note = echo("nested"),
    );
    let (record, _) = run(&f, &yaml, "Nested", json!({})).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(f.mock.most_in_flight("nested"), 2, "one outer item, two inner items at once");
    assert_eq!(echoed_items(&f, "nested"), ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(record["taskCount"], 12, "{record}");
    // The outer items ran one after the other: every request of the first
    // ended before the first of the second arrived.
    let at = |item: &str| {
        f.mock
            .hits()
            .iter()
            .filter(|h| h.uri.ends_with(&format!("tag=nested&item={item}")))
            .map(|h| h.at)
            .next()
            .unwrap()
    };
    let first_done = ["1", "2", "3"].map(at).into_iter().max().unwrap();
    let second_started = ["4", "5", "6"].map(at).into_iter().min().unwrap();
    assert!(first_done < second_started, "outer items do not overlap");
}

#[tokio::test]
async fn a_fan_out_bound_of_zero_is_refused_with_its_path() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let yaml = "name: Zero\nintegration: test-proxy\ntrigger: {type: appEvent, event: Zero}\nsteps:\n  \
         - id: each\n    type: fanOut\n    iterator: [1]\n    maxParallel: 0\n    steps:\n      \
         - {id: wait, type: delay, value: 1, unit: SECONDS}\n";
    let (status, body) = post_workflow(&f, yaml).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("/steps/0/maxParallel"), "{body}");
}
