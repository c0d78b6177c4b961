//! The Task History API over executions stored by the queue: the list with
//! its filters and pages, one execution with its linked steps, one step's
//! input and output, and who may read them. (The workflow engine that
//! writes these rows through triggers has its own tests; here the rows are
//! written through the store the server uses.)

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use weft_store::{Completion, ExecutionId, NewExecution, NewStep, Outcome, ProjectId, Store, WorkflowId};

fn new_execution(project: ProjectId, workflow: WorkflowId, user: &str, integration: &str) -> NewExecution {
    NewExecution {
        project,
        workflow,
        version: 1,
        integration: integration.into(),
        user: Some(user.into()),
        credential: None,
        trigger_step: "trigger".into(),
        trigger_kind: "TRIGGER/APP_EVENT".into(),
        trigger_output: json!({"event": "Contact Created"}),
        first: vec![NewStep::new("request", "ACTION/REQUEST")],
    }
}

/// The server without workflow workers: these tests write and run the
/// queue's rows themselves, and a worker would claim them first.
async fn without_workers() -> TestApp {
    spawn_app_with(&[], |s| {
        s.auth.max_failures_per_minute = 100_000;
        s.workflows.workers = 0;
    })
    .await
}

/// Runs an execution's one step to `outcome` and ends the execution.
async fn run(store: &dyn Store, at: OffsetDateTime, outcome: Outcome, failed: bool) {
    let claimed =
        store.claim_steps(at, std::time::Duration::from_secs(30), std::time::Duration::from_secs(60), 1).await;
    let step = claimed.unwrap().remove(0);
    let status = if failed { weft_store::ExecutionStatus::Failed } else { weft_store::ExecutionStatus::Succeeded };
    let completion = Completion {
        project: step.project,
        id: step.id,
        token: step.lease.token,
        outcome,
        next: vec![],
        join: None,
        execution: Some(status),
        response: None,
        tasks: 1,
        follow: None,
    };
    store.complete_step(completion, at).await.unwrap();
}

#[tokio::test]
async fn executions_steps_and_their_data_are_read_with_an_api_key() {
    let app = without_workers().await;
    let store = app.store.clone();
    let (project, _) = project_with_key(store.as_ref(), "History").await;
    let key = api_key(store.as_ref(), &project, weft_store::Role::Support).await;
    let p: ProjectId = project.parse().unwrap();
    let workflow = WorkflowId::new();
    let t0 = OffsetDateTime::now_utc() - time::Duration::hours(1);
    // One failed execution with a recorded input, then 104 succeeded ones.
    let failed: ExecutionId = store.start_execution(new_execution(p, workflow, "u1", "salesforce"), t0).await.unwrap();
    let error = json!({"message": "Error: no auth mechanism defined"});
    run(
        store.as_ref(),
        t0,
        Outcome::Failed { input: json!({"url": "https://x.example/api"}), error: error.clone() },
        true,
    )
    .await;
    for i in 0..104 {
        let at = t0 + time::Duration::seconds(i + 1);
        store.start_execution(new_execution(p, workflow, "u2", "hubspot"), at).await.unwrap();
        run(store.as_ref(), at, Outcome::Succeeded { input: json!({}), output: json!({"i": i}) }, false).await;
    }

    let base = format!("/projects/{project}/task-history/workflow-executions");
    let (status, page) = app.call(Method::GET, &base, Some(&key), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 105);
    let listed = page["workflowExecutions"].as_array().unwrap();
    assert_eq!(listed.len(), 100, "pages of 100");
    assert_eq!(listed[0]["userId"], "u2", "newest first by default");
    let next = page["nextLink"].as_str().expect("a next page");
    assert!(next.starts_with(&app.base), "{next}");
    assert!(next.contains("offset=100") && next.contains("sortBy=DESC"), "{next}");
    let (status, last) = app.call(Method::GET, next.trim_start_matches(&app.base), Some(&key), None).await;
    assert_eq!(status, 200, "{last}");
    assert_eq!(last["workflowExecutions"].as_array().unwrap().len(), 5);
    assert_eq!(last["nextLink"], Value::Null, "null on the last page");

    let (_, failures) =
        app.call(Method::GET, &format!("{base}?userId=u1&status=FAILED&sortBy=ASC"), Some(&key), None).await;
    assert_eq!(failures["total"], 1);
    let e = &failures["workflowExecutions"][0];
    assert_eq!((e["id"].as_str(), e["status"].as_str()), (Some(failed.to_string().as_str()), Some("FAILED")));
    assert_eq!((e["taskCount"].as_u64(), e["workflowId"].as_str()), (Some(1), Some(workflow.to_string().as_str())));
    assert!(e["dateStarted"].as_str().unwrap().ends_with('Z') && e["dateEnded"].is_string(), "{e}");
    assert!(e["runDuration"].as_i64().unwrap() >= 0);
    let (_, hubspot) = app.call(Method::GET, &format!("{base}?integration=hubspot"), Some(&key), None).await;
    assert_eq!(hubspot["total"], 104);
    let after = (t0 + time::Duration::seconds(100)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let (_, late) = app.call(Method::GET, &format!("{base}?afterDate={after}"), Some(&key), None).await;
    assert_eq!(late["total"], 4);

    // One execution: its steps linked trigger -> request.
    let (status, one) = app.call(Method::GET, &format!("{base}/{failed}"), Some(&key), None).await;
    assert_eq!(status, 200, "{one}");
    let steps = one["stepExecutions"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    let (trigger, request) = (&steps[0], &steps[1]);
    assert_eq!((trigger["type"].as_str(), trigger["prev"].clone()), (Some("TRIGGER/APP_EVENT"), Value::Null));
    assert_eq!(trigger["next"], json!([request["id"]]));
    assert_eq!((request["prev"].clone(), request["next"].clone()), (trigger["id"].clone(), json!([])));
    assert_eq!((request["status"].as_str(), request["stepId"].as_str()), (Some("FAILED"), Some("request")));
    assert_eq!(request["workflowExecutionId"], failed.to_string());
    assert!(request["inputSize"].as_str().unwrap().parse::<u64>().unwrap() > 0, "sizes are strings of bytes");

    // One step: its input, and its error as its output.
    let step_id = request["id"].as_str().unwrap();
    let (status, detail) =
        app.call(Method::GET, &format!("{base}/{failed}/step-executions/{step_id}"), Some(&key), None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail,
        json!({"isLargeInput": false, "isLargeOutput": false, "input": {"url": "https://x.example/api"}, "output": error})
    );
}

#[tokio::test]
async fn task_history_is_the_projects_own() {
    let app = without_workers().await;
    let store = app.store.clone();
    let (project, token) = project_with_token(store.as_ref(), "A").await;
    let (other, _) = project_with_key(store.as_ref(), "B").await;
    let other_key = api_key(store.as_ref(), &other, weft_store::Role::Admin).await;
    let key = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    let p: ProjectId = project.parse().unwrap();
    let id = store
        .start_execution(new_execution(p, WorkflowId::new(), "u1", "slack"), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let base = format!("/projects/{project}/task-history/workflow-executions");
    // Another project's key: as if nothing were there.
    let (status, body) = app.call(Method::GET, &format!("{base}/{id}"), Some(&other_key), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    let (status, _) = app.call(Method::GET, &base, Some(&other_key), None).await;
    assert_eq!(status, 404);
    // A user token is not an API key; no credential is 401.
    assert_eq!(app.call(Method::GET, &base, Some(&token), None).await.0, 401);
    assert_eq!(app.call(Method::GET, &base, None, None).await.0, 401);
    // Unknown and malformed ids, bad filters.
    let (status, body) = app.call(Method::GET, &format!("{base}/not-an-id"), Some(&key), None).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("execution not found")));
    let (status, _) = app.call(Method::GET, &format!("{base}/{}", ExecutionId::new()), Some(&key), None).await;
    assert_eq!(status, 404);
    let (status, body) = app.call(Method::GET, &format!("{base}?status=DONE"), Some(&key), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_QUERY")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("EXECUTING"), "{body}");
    let (status, body) = app.call(Method::GET, &format!("{base}?beforeDate=yesterday"), Some(&key), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_QUERY")), "{body}");
    let (status, body) = app.call(Method::GET, &format!("{base}?colour=blue"), Some(&key), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_QUERY")), "{body}");
    // The execution is there for the project's own key.
    let (status, body) = app.call(Method::GET, &format!("{base}/{id}"), Some(&key), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("EXECUTING")), "{body}");
    assert_eq!(body["stepExecutions"][1]["status"], "NOT_STARTED");
    assert_eq!(body["dateEnded"], Value::Null);
}

/// The API's quota per project (1,000 per 10 minutes by default): past it,
/// 429 with `Retry-After` in the error shape; another project is not
/// affected.
#[tokio::test]
async fn the_task_history_api_has_a_quota_per_project() {
    let app = spawn_app_with(&[], |s| {
        s.workflows.workers = 0;
        s.workflows.task_history_requests = 3;
    })
    .await;
    let store = app.store.clone();
    let (a, _) = project_with_key(store.as_ref(), "A").await;
    let (b, _) = project_with_key(store.as_ref(), "B").await;
    let key_a = api_key(store.as_ref(), &a, weft_store::Role::Support).await;
    let key_b = api_key(store.as_ref(), &b, weft_store::Role::Support).await;
    let list = |p: &str| format!("/projects/{p}/task-history/workflow-executions");
    for _ in 0..3 {
        assert_eq!(app.call(Method::GET, &list(&a), Some(&key_a), None).await.0, 200);
    }
    let resp = app.client.get(format!("{}{}", app.base, list(&a))).bearer_auth(&key_a).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "TOO_MANY_REQUESTS", "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    // One execution's page counts too; the other project does not.
    let one = format!("{}/{}", list(&a), ExecutionId::new());
    assert_eq!(app.call(Method::GET, &one, Some(&key_a), None).await.0, 429);
    assert_eq!(app.call(Method::GET, &list(&b), Some(&key_b), None).await.0, 200);
}

/// Retention: at start (and then hourly) executions that ended longer ago
/// than `workflows.retention_days` are deleted; newer and running ones stay.
#[tokio::test]
async fn executions_older_than_the_retention_are_deleted() {
    let data = weft_tests::sweep::data_dir();
    let start = |retention: u32, workers: usize| {
        let dir = data.path().to_owned();
        spawn_app_with(&[], move |s| {
            s.data_dir = dir;
            s.workflows.workers = workers;
            s.workflows.retention_days = retention;
        })
    };
    let mut app = start(0, 0).await;
    let store = app.store.clone();
    let (project, _) = project_with_key(store.as_ref(), "Kept").await;
    let p: ProjectId = project.parse().unwrap();
    let workflow = WorkflowId::new();
    let days_ago = |d: i64| OffsetDateTime::now_utc() - time::Duration::days(d);
    let ended = |at| {
        let mut new = new_execution(p, workflow, "u1", "salesforce");
        new.first = vec![];
        store.start_execution(new, at)
    };
    let old = ended(days_ago(3)).await.unwrap();
    let recent = ended(days_ago(1) + time::Duration::hours(1)).await.unwrap();
    // Started long ago and still running (its step is queued for later).
    let mut running = new_execution(p, workflow, "u1", "salesforce");
    running.first = vec![NewStep::new("request", "ACTION/REQUEST").after(days_ago(-30))];
    let running = store.start_execution(running, days_ago(5)).await.unwrap();
    app.shutdown().await;
    drop(store);

    let app = start(2, 1).await;
    let store = app.store.clone();
    let mut gone = false;
    for _ in 0..200 {
        if matches!(store.get_execution(p, old).await, Err(weft_store::Error::NotFound(_))) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(gone, "the execution that ended 3 days ago is deleted with a 2-day retention");
    assert!(store.get_execution(p, recent).await.is_ok(), "one that ended 23 hours ago stays");
    assert_eq!(store.get_execution(p, running).await.unwrap().status, weft_store::ExecutionStatus::Executing);
}
