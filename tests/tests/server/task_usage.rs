//! Task usage (issue 18, point 9): `GET /admin/projects/{p}/usage` counts
//! per user the tasks workflow steps used (successful Integration, Request
//! and Function steps, every fan-out iteration's; no trigger, conditional,
//! fan-out, delay or failed step) and the Proxy API calls, over this month
//! by default or a given period, for one user when asked.

use crate::workflows_run::{deploy, enable, ended, fixture, start_event};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn usage_counts_workflow_steps_and_proxy_calls_per_user_on_sqlite() {
    usage(false).await;
}

#[tokio::test]
async fn usage_counts_workflow_steps_and_proxy_calls_per_user_on_postgresql() {
    usage(true).await;
}

async fn usage(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-usage").await;
    f.connect("u2", "key-of-u2-usage").await;
    // Per run: `look` (1), a conditional (0), a fan-out (0) of two items
    // with one request each (2), a delay (0), and a failing request (0).
    let yaml = format!(
        r#"name: Counted
integration: test-proxy
trigger: {{type: appEvent, event: Count}}
steps:
  - {{id: look, type: integrationRequest, method: GET, url: /echo}}
  - id: check
    type: conditional
    if: {{and: [{{left: "{{{{look.output.response.statusCode}}}}", operator: numberEquals, right: 200}}]}}
    then:
      - id: each
        type: fanOut
        iterator: [1, 2]
        steps:
          - {{id: ping, type: request, method: GET, url: "{ping}"}}
  - {{id: pause, type: delay, value: 1, unit: SECONDS}}
  - {{id: bad, type: request, method: GET, url: "{bad}"}}
"#,
        ping = f.mock.url_of("/api/echo?from=usage"),
        bad = f.mock.url_of("/api/status/404"),
    );
    let workflow = deploy(&f, &yaml).await;
    for user in ["u1", "u2"] {
        enable(&f, user, &workflow).await;
    }
    for user in ["u1", "u1", "u2"] {
        let record = ended(&f, &start_event(&f, user, "Count", json!({})).await).await;
        assert_eq!((record["status"].as_str(), record["taskCount"].as_u64()), (Some("FAILED"), Some(3)), "{record}");
    }
    // Two proxy calls for u2.
    for _ in 0..2 {
        assert_eq!(f.get("u2", "test-proxy/echo").await.0, 200);
    }
    f.tasks(2).await;

    let usage = format!("/admin/projects/{}/usage", f.project);
    let (status, all) = f.app.call(Method::GET, &usage, Some(&f.admin_key), None).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        (all["workflowTasks"].as_u64(), all["proxyTasks"].as_u64(), all["tasks"].as_u64()),
        (Some(9), Some(2), Some(11)),
        "{all}"
    );
    assert_eq!(
        all["users"],
        json!([
            {"userId": "u1", "workflowTasks": 6, "proxyTasks": 0, "tasks": 6},
            {"userId": "u2", "workflowTasks": 3, "proxyTasks": 2, "tasks": 5},
        ])
    );
    assert!(all["from"].as_str().unwrap().ends_with("-01T00:00:00.000Z"), "this month by default: {all}");

    let (_, one) = f.app.call(Method::GET, &format!("{usage}?userId=u2"), Some(&f.admin_key), None).await;
    assert_eq!((one["tasks"].as_u64(), one["users"].as_array().map(Vec::len)), (Some(5), Some(1)), "{one}");
    let (_, past) =
        f.app.call(Method::GET, &format!("{usage}?from=2020-01-01&to=2020-02-01"), Some(&f.admin_key), None).await;
    assert_eq!((past["tasks"].as_u64(), past["users"].clone()), (Some(0), json!([])), "{past}");
    let (status, bad) = f.app.call(Method::GET, &format!("{usage}?from=yesterday"), Some(&f.admin_key), None).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("INVALID_QUERY")), "{bad}");
    let (status, _) =
        f.app.call(Method::GET, &format!("{usage}?from=2026-02-01&to=2026-01-01"), Some(&f.admin_key), None).await;
    assert_eq!(status, 400);
}
