//! ActionKit logs end to end: every ActionKit call (REST, SDK route, MCP)
//! answers a trace id in `x-trace-id` and leaves one entry, read back
//! through the admin API with each filter; only error entries keep the
//! request's parameters, with the account's secrets taken out; another
//! project's key sees nothing; entries past the retention are deleted.

use crate::proxy::fixture::ProxyFixture;
use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use weft_store::{ActionCallKind, ActionCallSource, ActionLog, ActionLogQuery, ActionLogStatus, ProjectId};

const SECRET: &str = "key-of-u1-actionkit-logs";

/// `method path` as `user` with an optional JSON body (and extra headers):
/// the status, the trace id header and the JSON answer.
async fn call(
    f: &ProxyFixture,
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, String, Value) {
    let mut req = f.app.client.request(method, format!("{}/projects/{}{path}", f.app.base, f.project));
    req = req.bearer_auth(f.token(user));
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let trace = resp.headers().get("x-trace-id").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, trace, resp.json().await.unwrap_or(Value::Null))
}

async fn run(f: &ProxyFixture, user: &str, path: &str, body: Value) -> (u16, String, Value) {
    call(f, user, Method::POST, path, Some(body), &[]).await
}

/// The admin API's listing of `project` with `query`, as `key`.
async fn logs(f: &ProxyFixture, project: &str, key: &str, query: &str) -> (u16, Value) {
    f.app.call(Method::GET, &format!("/admin/projects/{project}/action-logs{query}"), Some(key), None).await
}

/// The trace ids the listing answers.
async fn traces(f: &ProxyFixture, query: &str) -> Vec<String> {
    let (status, body) = logs(f, &f.project, &f.admin_key, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    let mut ids: Vec<String> =
        body["logs"].as_array().unwrap().iter().map(|e| e["traceId"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&String>) -> Vec<String> {
    ids.sort();
    ids.into_iter().cloned().collect()
}

#[tokio::test]
async fn every_actionkit_call_is_logged_with_a_trace_id_and_filterable() {
    let f = ProxyFixture::new().await;
    f.connect("u1", SECRET).await;
    let started = OffsetDateTime::now_utc() - time::Duration::seconds(1);

    // Arrange: successes and errors of each kind, through each door.
    let (status, list_ok, _) = call(&f, "u1", Method::GET, "/actions", None, &[]).await;
    assert_eq!(status, 200);
    let (status, list_bad, _) = call(&f, "u2", Method::GET, "/actions?format=xml", None, &[]).await;
    assert_eq!(status, 400);
    let (status, run_ok, out) =
        run(&f, "u1", "/actions", json!({"action": "TEST_PROXY_GET", "parameters": {"url": "/echo?x=1"}})).await;
    assert_eq!(status, 200, "{out}");
    // The account's key among the parameters: kept on the error entry, redacted.
    let bad = json!({"action": "TEST_PROXY_GET", "parameters": {"url": 5, "note": format!("mine is {SECRET}")}});
    let (status, run_bad, refused) = run(&f, "u1", "/actions", bad).await;
    assert_eq!(status, 400, "{refused}");
    let request_id = refused["meta"]["requestId"].as_str().unwrap().to_owned();
    // A trace id the caller sends is not honoured: each call gets its own.
    let (status, sdk_ok, out) = call(
        &f,
        "u1",
        Method::POST,
        "/sdk/actions",
        Some(json!({"action": "TEST_PROXY_ECHO"})),
        &[("x-trace-id", "caller-chosen")],
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_ne!(sdk_ok, "caller-chosen");
    let (status, unknown, _) = run(&f, "u1", "/sdk/actions", json!({"action": "NO_SUCH_ACTION"})).await;
    assert_eq!(status, 404);
    f.set_base(&f.integration, &f.mock.url_of("/api/status/404")).await;
    let (status, provider_bad, _) = run(&f, "u1", "/actions", json!({"action": "TEST_PROXY_ECHO"})).await;
    assert_eq!(status, 404);
    // MCP's tools/list and tools/call are ActionKit calls too.
    let rpc =
        |id: u32, method: &str, params: Value| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let (status, mcp_list, _) = run(&f, "u1", "/mcp", rpc(1, "tools/list", json!({}))).await;
    assert_eq!(status, 200);
    let (status, mcp_bad, out) =
        run(&f, "u1", "/mcp", rpc(2, "tools/call", json!({"name": "TEST_PROXY_GET", "arguments": {"url": 7}}))).await;
    assert_eq!((status, &out["result"]["isError"]), (200, &json!(true)), "{out}");
    let (_, no_trace, _) = run(&f, "u1", "/mcp", rpc(3, "ping", json!({}))).await;
    assert_eq!(no_trace, "", "only ActionKit calls are traced");

    let all = [&list_ok, &list_bad, &run_ok, &run_bad, &sdk_ok, &unknown, &provider_bad, &mcp_list, &mcp_bad];
    for t in all {
        assert!(uuid::Uuid::parse_str(t).is_ok(), "a trace id on every ActionKit answer: {t:?}");
    }
    let mut unique: Vec<_> = all.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "each call its own trace id");

    // Entries are written off the request path: wait until all are there.
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = logs(&f, &f.project, &f.admin_key, "").await.1;
        if listed["logs"].as_array().is_some_and(|l| l.len() >= all.len()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let entries = listed["logs"].as_array().expect("logs");
    assert_eq!(entries.len(), all.len(), "one entry per ActionKit call: {listed}");
    assert_eq!(entries[0]["traceId"], mcp_bad, "newest first");
    let by_trace = |t: &str| entries.iter().find(|e| e["traceId"] == t).unwrap().clone();

    // Success entries carry no parameters; error entries do, redacted.
    let ok = by_trace(&run_ok);
    assert_eq!(
        (&ok["status"], &ok["action"], &ok["integration"], &ok["source"], &ok["type"]),
        (&json!("success"), &json!("TEST_PROXY_GET"), &json!("test-proxy"), &json!("api"), &json!("run")),
        "{ok}"
    );
    assert_eq!((&ok["parameters"], &ok["error"], &ok["userId"]), (&Value::Null, &Value::Null, &json!("u1")), "{ok}");
    assert!(ok["durationMs"].as_f64().unwrap() > 0.0, "{ok}");
    assert_eq!(by_trace(&list_ok)["parameters"], Value::Null);
    let failed = by_trace(&run_bad);
    assert_eq!(failed["status"], "error", "{failed}");
    assert_eq!(failed["requestId"], request_id.as_str());
    assert_eq!(failed["error"]["code"], "INVALID_PARAMETERS", "{failed}");
    assert_eq!(failed["error"]["status"], 400, "{failed}");
    assert_eq!(failed["parameters"]["url"], 5, "{failed}");
    assert_eq!(failed["parameters"]["note"], format!("mine is {}", weft_credentials::REDACTED), "{failed}");
    assert!(!listed.to_string().contains(SECRET), "the account's key is never logged");
    assert_eq!(by_trace(&list_bad)["parameters"], json!({"format": "xml"}));
    assert_eq!(
        (by_trace(&list_bad)["type"].as_str(), by_trace(&list_bad)["userId"].as_str()),
        (Some("list"), Some("u2"))
    );
    let provider = by_trace(&provider_bad);
    assert_eq!(
        (provider["error"]["code"].as_str(), provider["httpStatus"].as_u64()),
        (Some("PROVIDER_ERROR"), Some(404))
    );
    assert_eq!(provider["parameters"], json!({"action": "TEST_PROXY_ECHO"}), "a body without parameters is kept whole");
    let mcp = by_trace(&mcp_bad);
    assert_eq!((mcp["source"].as_str(), mcp["status"].as_str()), (Some("mcp"), Some("error")), "{mcp}");
    assert_eq!(mcp["parameters"], json!({"url": 7}), "{mcp}");
    assert_eq!(by_trace(&mcp_list)["type"], "list");
    assert_eq!(by_trace(&sdk_ok)["source"], "sdk");

    // Each filter.
    assert_eq!(traces(&f, "?userId=u2").await, [list_bad.as_str()]);
    let runs_of_test_proxy = sorted(vec![&run_ok, &run_bad, &sdk_ok, &provider_bad, &mcp_bad]);
    assert_eq!(traces(&f, "?integration=test-proxy").await, runs_of_test_proxy);
    let errors = sorted(vec![&list_bad, &run_bad, &unknown, &provider_bad, &mcp_bad]);
    assert_eq!(traces(&f, "?status=error").await, errors);
    assert_eq!(traces(&f, "?status=Errored").await, errors, "the reference's word works too");
    assert_eq!(traces(&f, "?status=success").await, sorted(vec![&list_ok, &run_ok, &sdk_ok, &mcp_list]));
    assert_eq!(traces(&f, "?action=TEST_PROXY_ECHO").await, sorted(vec![&sdk_ok, &provider_bad]));
    assert_eq!(traces(&f, "?action=NO_SUCH_ACTION").await, [unknown.as_str()]);
    assert_eq!(traces(&f, &format!("?traceId={run_bad}")).await, [run_bad.as_str()], "the header's trace id finds it");
    assert_eq!(traces(&f, &format!("?traceId={request_id}")).await, [run_bad.as_str()], "so does meta.requestId");
    assert_eq!(traces(&f, "?userId=u1&status=error&action=TEST_PROXY_GET").await, sorted(vec![&run_bad, &mcp_bad]));
    let fmt = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let (since, later) = (fmt(started), fmt(OffsetDateTime::now_utc() + time::Duration::hours(1)));
    assert_eq!(traces(&f, &format!("?since={since}&until={later}")).await.len(), all.len());
    assert!(traces(&f, &format!("?since={later}")).await.is_empty());
    assert!(traces(&f, &format!("?until={since}")).await.is_empty());
    assert!(traces(&f, "?until=2020-01-01").await.is_empty(), "a bare date works");
    // Pages.
    let (_, page) = logs(&f, &f.project, &f.admin_key, "?limit=4&offset=4").await;
    assert_eq!(page["logs"][0]["traceId"], entries[4]["traceId"]);
    assert_eq!(page["nextOffset"], 8);
    let (status, body) = logs(&f, &f.project, &f.admin_key, "?status=maybe").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_QUERY")), "{body}");

    // Another project's key sees nothing of this project.
    let (other, other_key) = f.app.create_project(json!({"name": "Other"})).await;
    let (status, _) = logs(&f, &f.project, &other_key, "").await;
    assert!(status == 403 || status == 404, "{status}");
    let (status, body) = logs(&f, &other, &other_key, &format!("?traceId={run_bad}")).await;
    assert_eq!((status, &body["logs"]), (200, &json!([])), "{body}");
    assert_eq!(logs(&f, &other, &other_key, "").await.1["logs"], json!([]));
    // A user token is not an admin credential.
    assert_eq!(logs(&f, &f.project, &f.token("u1"), "").await.0, 401);
}

/// An entry at `days` ago.
fn old_entry(project: ProjectId, days: i64, trace: &str) -> ActionLog {
    ActionLog {
        id: uuid::Uuid::new_v4(),
        project_id: project,
        created_at: OffsetDateTime::now_utc() - time::Duration::days(days),
        trace_id: trace.into(),
        request_id: format!("req-{trace}"),
        user_id: "u1".into(),
        kind: ActionCallKind::Run,
        source: ActionCallSource::Api,
        integration: Some("test-proxy".into()),
        action: Some("TEST_PROXY_ECHO".into()),
        status: ActionLogStatus::Success,
        http_status: 200,
        error_code: None,
        error_message: None,
        duration_us: 10,
        parameters: None,
    }
}

/// Retention: at start (and then hourly) entries older than
/// `actions.log_retention_days` (30 by default) are deleted; newer stay;
/// with 0 they are kept.
#[tokio::test]
async fn entries_older_than_the_retention_are_deleted() {
    let data = weft_tests::sweep::data_dir();
    let start = |days: Option<u32>| {
        let dir = data.path().to_owned();
        spawn_app_with(&[], move |s| {
            s.data_dir = dir;
            if let Some(days) = days {
                s.actions.log_retention_days = days;
            }
        })
    };
    let mut app = start(Some(0)).await;
    let store = app.store.clone();
    let (project, _) = project_with_key(store.as_ref(), "Logs").await;
    let p: ProjectId = project.parse().unwrap();
    let entries = [old_entry(p, 40, "forty"), old_entry(p, 31, "thirty-one"), old_entry(p, 29, "twenty-nine")];
    store.insert_action_logs(&entries).await.unwrap();
    let kept = |store: std::sync::Arc<dyn weft_store::Store>| async move {
        let q = ActionLogQuery { limit: 100, ..Default::default() };
        let mut t: Vec<String> = store.list_action_logs(p, &q).await.unwrap().into_iter().map(|e| e.trace_id).collect();
        t.sort();
        t
    };
    app.shutdown().await;
    drop(store);

    // Kept for ever with 0: a restart deletes nothing.
    let mut app = start(Some(0)).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(kept(app.store.clone()).await.len(), 3);
    app.shutdown().await;

    // The default, 30 days: the two older entries go at start.
    let app = start(None).await;
    let mut left = Vec::new();
    for _ in 0..200 {
        left = kept(app.store.clone()).await;
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(left, ["twenty-nine"]);
}
