//! The size limit of a step's input and output (issue 18, points 9 and
//! 11): a step whose resolved input, or whose output, is over
//! `workflows.max_step_bytes` fails its execution with an error naming the
//! step and the limit; what fits runs as usual.

use crate::workflows_run::{deploy, enable, ended, fixture, start_event, step_output};
use serde_json::{Value, json};

#[tokio::test]
async fn a_step_over_the_size_limit_fails_naming_itself_on_sqlite() {
    limits(false).await;
}

#[tokio::test]
async fn a_step_over_the_size_limit_fails_naming_itself_on_postgresql() {
    limits(true).await;
}

async fn limits(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| s.workflows.max_step_bytes = 64 * 1024).await;
    f.connect("u1", "key-of-u1-limits").await;
    let yaml = format!(
        r#"name: Sizes
integration: test-proxy
trigger: {{type: appEvent, event: Sizes}}
steps:
  - id: send
    type: request
    method: POST
    url: "{echo}"
    bodyType: json
    body: {{text: "{{{{trigger.output.text}}}}"}}
  - {{id: fetch, type: request, method: GET, url: "{bytes}{{{{trigger.output.n}}}}"}}
"#,
        echo = f.mock.url_of("/api/echo"),
        bytes = f.mock.url_of("/api/bytes/"),
    );
    let workflow = deploy(&f, &yaml).await;
    enable(&f, "u1", &workflow).await;
    let run = |payload: Value| {
        let f = &f;
        async move {
            let execution = start_event(f, "u1", "Sizes", payload).await;
            (ended(f, &execution).await, execution)
        }
    };
    let error_of = |record: &Value, execution: String, id: &'static str| {
        let step = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == id).unwrap().clone();
        assert_eq!(step["status"], "FAILED", "{record}");
        let f = &f;
        async move { step_output(f, &execution, &step).await["output"]["message"].as_str().unwrap().to_owned() }
    };

    // Within the limit: both steps run.
    let (record, _) = run(json!({"text": "small", "n": 1000})).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");

    // An input over it: `send` fails before anything is sent.
    let sent_before = f.mock.hits().iter().filter(|h| h.uri == "/api/echo").count();
    let (record, execution) = run(json!({"text": "x".repeat(70 * 1024), "n": 1000})).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let message = error_of(&record, execution, "send").await;
    assert!(message.starts_with("step `send`: its input is"), "{message}");
    assert!(message.contains("over the limit of 65536 bytes"), "{message}");
    assert_eq!(f.mock.hits().iter().filter(|h| h.uri == "/api/echo").count(), sent_before, "nothing was sent");

    // An output over it: 40 KiB of bytes come back as 80 KiB of hex.
    let (record, execution) = run(json!({"text": "small", "n": 40 * 1024})).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let message = error_of(&record, execution, "fetch").await;
    assert!(message.starts_with("step `fetch`: its output is"), "{message}");
    assert_eq!(record["taskCount"], 1, "only `send` did its work: {record}");
}
