//! Workflows triggering workflows (issue 18, point 11), as the reference's
//! recipe does it: a Function step signs a user token with the project's
//! signing key (an environment secret) using `libraries.jsonwebtoken`, and a
//! Request step sends it to another workflow's Request trigger URL. The
//! second workflow runs for the same user, with what the first sent.

use crate::proxy::fixture::ProxyFixture;
use crate::support::PgDatabase;
use crate::workflows_run::{deploy, enable, ended, start_event};
use reqwest::Method;
use serde_json::{Value, json};

async fn fixture(postgres: bool) -> (ProxyFixture, Option<PgDatabase>) {
    let pg = postgres.then(PgDatabase::create);
    let url = pg.as_ref().map(PgDatabase::url);
    let f = ProxyFixture::with_plugins(&["test_proxy", "js_function"], move |s| s.database.url = url).await;
    (f, pg)
}

#[tokio::test]
async fn a_workflow_triggers_another_with_a_token_it_signs_on_sqlite() {
    chained(false).await;
}

#[tokio::test]
async fn a_workflow_triggers_another_with_a_token_it_signs_on_postgresql() {
    chained(true).await;
}

async fn chained(postgres: bool) {
    let (f, _pg) = fixture(postgres).await;
    f.connect("u1", "key-of-u1-chained").await;
    crate::support::set_secret(&f.app, &f.project, &f.admin_key, "SIGNING_KEY", f.signing_key_pem()).await;
    crate::support::set_secret(&f.app, &f.project, &f.admin_key, "WEFT_URL", &f.app.base).await;

    let child = format!(
        r#"name: Child
integration: test-proxy
trigger: {{type: request, allowArbitraryPayload: true}}
steps:
  - id: note
    type: request
    method: POST
    url: "{echo}"
    bodyType: json
    body: {{parent: "{{{{trigger.output.request.body.parent}}}}", user: "{{{{user.userId}}}}"}}
"#,
        echo = f.mock.url_of("/api/echo?from=child"),
    );
    let child = deploy(&f, &child).await;
    enable(&f, "u1", &child).await;
    let parent = format!(
        r#"name: Parent
integration: test-proxy
trigger: {{type: appEvent, event: Parent}}
steps:
  - id: token
    type: function
    parameters: {{userId: "{{{{user.userId}}}}", signingKey: "{{{{secrets.SIGNING_KEY}}}}"}}
    code: |
      function yourFunction(parameters, libraries) {{
        const {{ jsonwebtoken }} = libraries;
        const key = parameters.signingKey.replaceAll("\\n", "\n");
        const currentTime = Math.floor(Date.now() / 1000);
        return jsonwebtoken.sign(
          {{ sub: parameters.userId, iat: currentTime, exp: currentTime + 60 * 60 }},
          key,
          {{ algorithm: "RS256" }},
        );
      }}
  - id: trigger_child
    type: request
    method: POST
    url: "{{{{secrets.WEFT_URL}}}}/projects/{project}/sdk/triggers/{child}"
    authorization: {{type: bearer, token: "{{{{token.output.result}}}}"}}
    bodyType: json
    body: {{parent: "{{{{trigger.output.run}}}}"}}
"#,
        project = f.project,
    );
    let parent = deploy(&f, &parent).await;
    enable(&f, "u1", &parent).await;

    let execution = start_event(&f, "u1", "Parent", json!({"run": "run-7"})).await;
    let record = ended(&f, &execution).await;
    let sent = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "trigger_child").cloned();
    let sent = crate::workflows_run::step_output(&f, &execution, &sent.unwrap_or_default()).await;
    assert_eq!(record["status"], "SUCCEEDED", "{sent}");
    assert_eq!(sent["output"]["response"]["statusCode"], 202, "the child was started: {sent}");

    // The child ran for u1 with what the parent sent.
    let list = format!("/projects/{}/task-history/workflow-executions?workflowId={child}", f.project);
    let mut children = Value::Null;
    for _ in 0..200 {
        children = f.app.call(Method::GET, &list, Some(&f.admin_key), None).await.1;
        if children["workflowExecutions"].as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let runs = children["workflowExecutions"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{children}");
    assert_eq!(runs[0]["userId"], "u1");
    let child_run = ended(&f, runs[0]["id"].as_str().unwrap()).await;
    assert_eq!(child_run["status"], "SUCCEEDED", "{child_run}");
    let noted: Vec<Value> = f
        .mock
        .hits()
        .iter()
        .filter(|h| h.uri.ends_with("from=child"))
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    assert_eq!(noted, vec![json!({"parent": "run-7", "user": "u1"})]);
    // The signing key never reaches the history.
    let token_step = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "token").unwrap();
    let detail = crate::workflows_run::step_output(&f, &execution, token_step).await;
    assert!(!detail.to_string().contains("PRIVATE KEY"), "{detail}");
}
