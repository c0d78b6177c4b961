//! Replay (issue 18, point 7): `POST …/workflow-executions/{id}/replay`
//! answers 201 with no body and runs the execution again on its original
//! version with its trigger's recorded input, even after a newer version
//! was deployed; `?from=failed` takes a failed execution up at its failed
//! step, reusing what the steps before it recorded (they do not run
//! again). Refusals: an unknown execution, a bad `from`, resuming one that
//! did not fail, a support key.

use crate::proxy::fixture::ProxyFixture;
use crate::workflows_run::{deploy, ended, fixture, step_output};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn replays_run_the_original_version_whole_or_from_the_failed_step_on_sqlite() {
    replays(false).await;
}

#[tokio::test]
async fn replays_run_the_original_version_whole_or_from_the_failed_step_on_postgresql() {
    replays(true).await;
}

/// How many requests reached the mock at a path ending with `path`.
fn hits(f: &ProxyFixture, path: &str) -> usize {
    f.mock.hits().iter().filter(|h| h.uri.ends_with(path)).count()
}

/// The record of a step of an ended execution.
fn step<'a>(record: &'a Value, id: &str) -> &'a Value {
    record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == id).unwrap()
}

/// POSTs a replay; status, `Location` and body text.
async fn replay(f: &ProxyFixture, execution: &str, query: &str, key: &str) -> (u16, Option<String>, String) {
    let url =
        format!("{}/projects/{}/task-history/workflow-executions/{execution}/replay{query}", f.app.base, f.project);
    let resp = f.app.client.post(url).bearer_auth(key).send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    (status, location, resp.text().await.unwrap())
}

/// The execution id a replay's `Location` names.
fn replayed(location: Option<String>) -> String {
    location.expect("a Location header").rsplit('/').next().unwrap().to_owned()
}

async fn replays(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-replays").await;
    // `first` always answers; `shaky` fails on its first request of a run
    // and answers after; `last` echoes what it was given.
    let yaml = |shaky: &str| {
        format!(
            r#"name: Replays
integration: test-proxy
trigger: {{type: appEvent, event: Replay}}
steps:
  - {{id: first, type: request, method: GET, url: "{first}"}}
  - {{id: shaky, type: request, method: GET, url: "{shaky}"}}
  - id: last
    type: request
    method: POST
    url: "{echo}"
    bodyType: json
    body: {{run: "{{{{trigger.output.run}}}}", first: "{{{{first.output.response.body.attempt}}}}"}}
"#,
            first = f.mock.url_of("/api/flaky/first-{{trigger.output.run}}/0"),
            echo = f.mock.url_of("/api/echo?from=last"),
        )
    };
    let v1 = yaml(&f.mock.url_of("/api/flaky/shaky-{{trigger.output.run}}/1"));
    let workflow = deploy(&f, &v1).await;
    let enable = format!("/projects/{}/sdk/workflows/{workflow}", f.project);
    assert_eq!(f.app.call(Method::POST, &enable, Some(&f.token("u1")), None).await.0, 200);
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let mut failed = Vec::new();
    for run in ["a", "b"] {
        let event = json!({"name": "Replay", "payload": {"run": run}});
        let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event)).await;
        let execution = started["executions"][0].as_str().unwrap().to_owned();
        let record = ended(&f, &execution).await;
        assert_eq!(record["status"], "FAILED", "{record}");
        assert_eq!(step(&record, "shaky")["status"], "FAILED");
        failed.push(execution);
    }

    // Version 2 would fail every time at `shaky`: replays must not run it.
    let v2 = yaml(&f.mock.url_of("/api/status/500"));
    let one = format!("/admin/projects/{}/workflows/{workflow}", f.project);
    let resp = f
        .app
        .client
        .put(format!("{}{one}", f.app.base))
        .bearer_auth(&f.admin_key)
        .header("content-type", "application/yaml")
        .body(v2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, deployed) = f.app.call(Method::POST, &format!("{one}/deploy"), Some(&f.admin_key), None).await;
    assert_eq!(deployed["deployedVersion"], 2, "{deployed}");

    // Whole: every step runs again, with run a's input, on version 1.
    let (status, location, body) = replay(&f, &failed[0], "", &f.admin_key).await;
    assert_eq!((status, body.as_str()), (201, ""));
    let again = replayed(location);
    assert_ne!(again, failed[0]);
    let record = ended(&f, &again).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(hits(&f, "/api/flaky/first-a/0"), 2, "`first` ran again");
    assert_eq!(hits(&f, "/api/flaky/shaky-a/1"), 2, "version 1's `shaky` ran again");
    assert_eq!(hits(&f, "/api/status/500"), 0, "version 2 never ran");
    let last = step_output(&f, &again, step(&record, "last")).await;
    assert_eq!(last["output"]["response"]["body"]["body"], json!({"run": "a", "first": 2}), "{last}");
    // The replayed execution is as it was.
    let old = format!("/projects/{}/task-history/workflow-executions/{}", f.project, failed[0]);
    let (_, old) = f.app.call(Method::GET, &old, Some(&f.admin_key), None).await;
    assert_eq!(old["status"], "FAILED");

    // From the failed step: `first` does not run again, and `last` reads
    // its recorded output (attempt 1).
    let (status, location, body) = replay(&f, &failed[1], "?from=failed", &f.admin_key).await;
    assert_eq!((status, body.as_str()), (201, ""));
    let resumed = replayed(location);
    let record = ended(&f, &resumed).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(hits(&f, "/api/flaky/first-b/0"), 1, "`first` was reused, not run");
    assert_eq!(hits(&f, "/api/flaky/shaky-b/1"), 2);
    let last = step_output(&f, &resumed, step(&record, "last")).await;
    assert_eq!(last["output"]["response"]["body"]["body"], json!({"run": "b", "first": 1}), "{last}");
    // Only the steps that ran count tasks: `shaky` and `last`.
    assert_eq!(record["taskCount"], 2, "{record}");

    // Refusals, each naming what to do.
    let (status, _, body) = replay(&f, &resumed, "?from=failed", &f.admin_key).await;
    assert_eq!(status, 409, "only a failed execution resumes: {body}");
    assert!(body.contains("FAILED"), "{body}");
    let (status, _, body) = replay(&f, &failed[1], "?from=start", &f.admin_key).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("from must be"), "{body}");
    let (status, _, _) = replay(&f, "7a0d4c56-0000-4000-8000-000000000000", "", &f.admin_key).await;
    assert_eq!(status, 404);
    let support = crate::support::api_key(f.app.store.as_ref(), &f.project, weft_store::Role::Support).await;
    let (status, _, body) = replay(&f, &failed[1], "", &support).await;
    assert_eq!(status, 403, "a support key reads history but does not run workflows: {body}");
}
