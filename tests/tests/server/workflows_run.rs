//! Workflows running end to end in the real server: an app event starts
//! the deployed workflow the user enabled; its steps (an integration
//! request as the user's account, a conditional, a fan-out of request
//! steps, a delay, an integration action, a function step) run through the queue, reach the
//! mock provider as they should, and the task history shows every step.

use crate::proxy::fixture::ProxyFixture;
use crate::support::PgDatabase;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// What the workflow helpers need of a fixture: its server, its project,
/// the project's admin key and user tokens (the Proxy API's fixture, and the
/// connect fixture of the provider tests).
pub(crate) trait Project {
    fn app(&self) -> &crate::support::TestApp;
    fn project(&self) -> &str;
    fn admin_key(&self) -> &str;
    fn user_token(&self, user: &str) -> String;
}

impl Project for ProxyFixture {
    fn app(&self) -> &crate::support::TestApp {
        &self.app
    }
    fn project(&self) -> &str {
        &self.project
    }
    fn admin_key(&self) -> &str {
        &self.admin_key
    }
    fn user_token(&self, user: &str) -> String {
        self.token(user)
    }
}

impl Project for crate::connect::Fixture {
    fn app(&self) -> &crate::support::TestApp {
        &self.app
    }
    fn project(&self) -> &str {
        &self.project
    }
    fn admin_key(&self) -> &str {
        &self.admin_key
    }
    fn user_token(&self, user: &str) -> String {
        self.token(user)
    }
}

/// Posts `yaml` as a new workflow of the fixture's project: the status and
/// the answer.
pub(crate) async fn post_workflow(f: &impl Project, yaml: &str) -> (u16, Value) {
    let app = f.app();
    let resp = app
        .client
        .post(format!("{}/admin/projects/{}/workflows", app.base, f.project()))
        .bearer_auth(f.admin_key())
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap())
}

/// Creates a workflow from `yaml` in the fixture's project; its id.
pub(crate) async fn create(f: &impl Project, yaml: &str) -> String {
    let (status, body) = post_workflow(f, yaml).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Creates and deploys `yaml` in the fixture's project; its id.
pub(crate) async fn deploy(f: &impl Project, yaml: &str) -> String {
    let id = create(f, yaml).await;
    let path = format!("/admin/projects/{}/workflows/{id}/deploy", f.project());
    let (status, deployed) = f.app().call(Method::POST, &path, Some(f.admin_key()), None).await;
    assert_eq!(status, 200, "{deployed}");
    id
}

/// Waits for an execution to end; its Task History record with its steps.
pub(crate) async fn ended(f: &impl Project, execution: &str) -> Value {
    let path = format!("/projects/{}/task-history/workflow-executions/{execution}", f.project());
    for _ in 0..400 {
        let (status, body) = f.app().call(Method::GET, &path, Some(f.admin_key()), None).await;
        assert_eq!(status, 200, "{body}");
        if matches!(body["status"].as_str(), Some("SUCCEEDED" | "FAILED")) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("execution {execution} did not end in 10 s");
}

pub(crate) async fn step_output(f: &impl Project, execution: &str, step: &Value) -> Value {
    let path = format!(
        "/projects/{}/task-history/workflow-executions/{execution}/step-executions/{}",
        f.project(),
        step["id"].as_str().unwrap()
    );
    f.app().call(Method::GET, &path, Some(f.admin_key()), None).await.1
}

/// The fixture on SQLite, or on a fresh PostgreSQL database (kept alive
/// with it).
pub(crate) async fn fixture(
    postgres: bool,
    adjust: impl FnOnce(&mut weft_server::config::Settings),
) -> (ProxyFixture, Option<PgDatabase>) {
    let pg = postgres.then(PgDatabase::create);
    let url = pg.as_ref().map(PgDatabase::url);
    let f = ProxyFixture::with_plugins(&["test_proxy", "test_apikey", "example_step"], move |s| {
        s.database.url = url;
        adjust(s);
    })
    .await;
    (f, pg)
}

#[tokio::test]
async fn an_app_event_runs_the_enabled_workflow_through_every_step_on_sqlite() {
    app_event_runs_every_step(false).await;
}

#[tokio::test]
async fn an_app_event_runs_the_enabled_workflow_through_every_step_on_postgresql() {
    app_event_runs_every_step(true).await;
}

async fn app_event_runs_every_step(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-workflows").await;
    let yaml = format!(
        r#"name: On signup
integration: test-proxy
trigger: {{type: appEvent, event: Signed Up}}
steps:
  - id: look
    type: integrationRequest
    method: GET
    url: /echo
    params: {{email: "{{{{trigger.output.email}}}}"}}
  - id: check
    type: conditional
    if: {{and: [{{left: "{{{{look.output.response.statusCode}}}}", operator: numberEquals, right: 200}}]}}
    then:
      - id: each
        type: fanOut
        iterator: "{{{{trigger.output.items}}}}"
        steps:
          - id: ping
            type: request
            method: POST
            url: {ping}
            bodyType: json
            body: {{item: "{{{{each.output.instance}}}}", user: "{{{{user.userId}}}}"}}
    else:
      - {{id: never, type: delay, value: 1, unit: SECONDS}}
  - id: pause
    type: delay
    value: 1
    unit: SECONDS
  - id: act
    type: integrationAction
    action: TEST_PROXY_ECHO
  - id: stats
    type: function
    function: example-step
    parameters: {{numbers: [1, 2, "{{{{look.output.response.statusCode}}}}"]}}
"#,
        ping = f.mock.url_of("/api/echo?from=ping")
    );
    let workflow = deploy(&f, &yaml).await;
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let event = json!({"name": "Signed Up", "payload": {"email": "a@b.example", "items": ["x", "y", "z"]}});

    // Not enabled by the user yet: nothing starts.
    let (status, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event.clone())).await;
    assert_eq!((status, started["executions"].clone()), (201, json!([])), "{started}");

    let enable = format!("/projects/{}/sdk/workflows/{workflow}", f.project);
    let (status, body) = f.app.call(Method::POST, &enable, Some(&f.token("u1")), None).await;
    assert_eq!(status, 200, "{body}");
    let before = f.mock.count();
    let (status, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(event)).await;
    assert_eq!(status, 201, "{started}");
    let execution = started["executions"][0].as_str().expect("one execution").to_owned();

    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let steps = record["stepExecutions"].as_array().unwrap();
    let ran: Vec<&str> = steps.iter().map(|s| s["stepId"].as_str().unwrap()).collect();
    for expected in ["trigger", "look", "check", "each", "ping", "pause", "act", "stats"] {
        assert!(ran.contains(&expected), "{expected} missing from {ran:?}");
    }
    assert!(!ran.contains(&"never"), "the branch not taken did not run");
    assert_eq!(ran.iter().filter(|s| **s == "ping").count(), 3, "one ping per item");
    assert!(steps.iter().all(|s| s["status"] == "SUCCEEDED"), "{record}");
    // The integration request, three pings, the action and the function
    // are tasks.
    assert_eq!(record["taskCount"], 6, "{record}");

    // The provider saw the user's key on the integration request and the
    // action, never on the plain requests; each ping carries its item and
    // its own idempotency key.
    let hits = f.mock.hits();
    let new = &hits[before..];
    assert_eq!(new.len(), 5, "look, three pings and the action");
    let keyed: Vec<_> = new.iter().filter(|h| h.header("x-api-key") == Some("key-of-u1-workflows")).collect();
    assert_eq!(keyed.len(), 2, "the integration request and the action act as the account");
    // The action's plugin got the step's idempotency key (its invocation id).
    let acted = format!("{execution}:act");
    assert!(keyed.iter().any(|h| h.header("idempotency-key") == Some(acted.as_str())), "{keyed:?}");
    let pings: Vec<_> = new.iter().filter(|h| h.uri.contains("from=ping")).collect();
    assert_eq!(pings.len(), 3);
    assert!(pings.iter().all(|h| h.header("x-api-key").is_none()), "a plain request carries no account key");
    let keys: std::collections::HashSet<_> = pings.iter().filter_map(|h| h.header("idempotency-key")).collect();
    assert_eq!(keys.len(), 3, "one idempotency key per instance");
    let items: std::collections::HashSet<String> = pings
        .iter()
        .map(|h| serde_json::from_slice::<Value>(&h.body).unwrap()["item"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(items, ["x", "y", "z"].into_iter().map(String::from).collect());

    // Step data: the integration request's output is the provider's answer,
    // the conditional chose Yes.
    let look = steps.iter().find(|s| s["stepId"] == "look").unwrap();
    let out = step_output(&f, &execution, look).await;
    assert_eq!(out["output"]["response"]["statusCode"], 200, "{out}");
    assert!(out["output"]["response"]["body"]["uri"].as_str().unwrap().contains("email=a%40b.example"), "{out}");
    // The provider echoed the account's key back; the history keeps it out.
    assert_eq!(out["output"]["response"]["body"]["headers"]["x-api-key"], weft_credentials::REDACTED, "{out}");
    let act = steps.iter().find(|s| s["stepId"] == "act").unwrap();
    let acted = step_output(&f, &execution, act).await;
    assert!(!acted.to_string().contains("key-of-u1-workflows"), "{acted}");
    assert!(acted.to_string().contains(weft_credentials::REDACTED), "{acted}");
    // The function step ran the example-step component on its resolved
    // parameters (the single reference kept its number type).
    let stats = steps.iter().find(|s| s["stepId"] == "stats").unwrap();
    let computed = step_output(&f, &execution, stats).await;
    assert_eq!(computed["output"], json!({"result": {"count": 3, "sum": 203.0, "mean": 203.0 / 3.0}}), "{computed}");
    let check = steps.iter().find(|s| s["stepId"] == "check").unwrap();
    assert_eq!(step_output(&f, &execution, check).await["output"], json!({"selectedChoice": "Yes"}));

    // Disabled, the event starts nothing again.
    let (status, _) = f.app.call(Method::DELETE, &enable, Some(&f.token("u1")), None).await;
    assert_eq!(status, 200);
    let again = json!({"name": "Signed Up", "payload": {}});
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(again)).await;
    assert_eq!(started["executions"], json!([]));
}

#[tokio::test]
async fn a_failing_step_fails_the_execution_and_stops_it_on_sqlite() {
    failing_step(false).await;
}

#[tokio::test]
async fn a_failing_step_fails_the_execution_and_stops_it_on_postgresql() {
    failing_step(true).await;
}

async fn failing_step(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-failing").await;
    let yaml = format!(
        "name: Fails\nintegration: test-proxy\ntrigger: {{type: appEvent, event: Go}}\nsteps:\n  \
         - {{id: bad, type: request, method: GET, url: {}}}\n  - {{id: after, type: delay, value: 1, unit: SECONDS}}\n",
        f.mock.url_of("/api/status/404")
    );
    let workflow = deploy(&f, &yaml).await;
    let enable = format!("/projects/{}/sdk/workflows/{workflow}", f.project);
    assert_eq!(f.app.call(Method::POST, &enable, Some(&f.token("u1")), None).await.0, 200);
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let (_, started) = f.app.call(Method::POST, &trigger, Some(&f.token("u1")), Some(json!({"name": "Go"}))).await;
    let execution = started["executions"][0].as_str().unwrap().to_owned();
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let steps = record["stepExecutions"].as_array().unwrap();
    let bad = steps.iter().find(|s| s["stepId"] == "bad").unwrap();
    assert_eq!(bad["status"], "FAILED");
    assert!(steps.iter().all(|s| s["stepId"] != "after"), "nothing runs after a failure: {record}");
    let out = step_output(&f, &execution, bad).await;
    assert_eq!(out["output"]["response"]["statusCode"], 404, "{out}");
    // A failed step did no work: no task.
    assert_eq!(record["taskCount"], 0, "{record}");
}

#[tokio::test]
async fn enabling_checks_the_workflow_and_the_account() {
    let f = ProxyFixture::new().await;
    let other = f.connect("u2", "key-of-u2-enable").await;
    let yaml = "name: W\nintegration: test-proxy\ntrigger: {type: appEvent, event: E}\nsteps:\n  - {id: d, type: delay, value: 1, unit: SECONDS}\n";
    let base = format!("/admin/projects/{}/workflows", f.project);
    let id = create(&f, yaml).await;
    let enable = format!("/projects/{}/sdk/workflows/{id}", f.project);
    let (status, body) = f.app.call(Method::POST, &enable, Some(&f.token("u1")), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("WORKFLOW_NOT_DEPLOYED")), "{body}");
    f.app.call(Method::POST, &format!("{base}/{id}/deploy"), Some(&f.admin_key), None).await;
    // Another user's account is not found.
    let resp = f
        .app
        .client
        .post(format!("{}{enable}", f.app.base))
        .bearer_auth(f.token("u1"))
        .header("X-Paragon-Credential", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let unknown = format!("/projects/{}/sdk/workflows/7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15", f.project);
    assert_eq!(f.app.call(Method::POST, &unknown, Some(&f.token("u1")), None).await.0, 404);
}

/// Sends a request to a Request-triggered workflow as `user`.
pub(crate) async fn send_request(
    f: &ProxyFixture,
    user: &str,
    workflow: &str,
    query: &str,
    body: Value,
) -> (u16, Value) {
    let url = format!("{}/projects/{}/sdk/triggers/{workflow}{query}", f.app.base, f.project);
    let resp = f.app.client.post(url).bearer_auth(f.token(user)).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Sends app event `event` with `payload` for `user`: the one execution it
/// started.
pub(crate) async fn start_event(f: &impl Project, user: &str, event: &str, payload: Value) -> String {
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project());
    let body = json!({"name": event, "payload": payload});
    let (status, started) = f.app().call(Method::POST, &trigger, Some(&f.user_token(user)), Some(body)).await;
    assert_eq!(status, 201, "{started}");
    let executions = started["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 1, "{started}");
    executions[0].as_str().unwrap().to_owned()
}

pub(crate) async fn enable(f: &impl Project, user: &str, workflow: &str) {
    let path = format!("/projects/{}/sdk/workflows/{workflow}", f.project());
    assert_eq!(f.app().call(Method::POST, &path, Some(&f.user_token(user)), None).await.0, 200);
}

#[tokio::test]
async fn a_request_trigger_answers_with_the_response_step_or_202_or_542_on_sqlite() {
    request_trigger(false).await;
}

#[tokio::test]
async fn a_request_trigger_answers_with_the_response_step_or_202_or_542_on_postgresql() {
    request_trigger(true).await;
}

async fn request_trigger(postgres: bool) {
    let (f, _pg) = fixture(postgres, |s| s.workflows.response_timeout_ms = 400).await;
    let responding = deploy(
        &f,
        r#"name: Lookup
integration: test-proxy
trigger:
  type: request
  allowArbitraryPayload: false
  bodyValidations: [{key: email, dataType: STRING, required: true}]
  paramValidations: [{key: x, required: true}]
steps:
  - id: answer
    type: response
    statusCode: 201
    body: {got: "{{trigger.output.request.body.email}}", q: "{{trigger.output.request.params.x}}", h: "{{trigger.output.request.headers.x-app}}"}
"#,
    )
    .await;
    let (status, body) = send_request(&f, "u1", &responding, "?x=1", json!({"email": "a@b.example"})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("WORKFLOW_NOT_RUNNABLE")), "not enabled yet: {body}");
    enable(&f, "u1", &responding).await;

    let url = format!("{}/projects/{}/sdk/triggers/{responding}?x=1", f.app.base, f.project);
    let resp = f
        .app
        .client
        .post(&url)
        .bearer_auth(f.token("u1"))
        .header("x-app", "tasklab")
        .json(&json!({"email": "a@b.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"got": "a@b.example", "q": "1", "h": "tasklab"}));

    // Validations: each broken rule is named; nothing runs.
    let (status, body) = send_request(&f, "u1", &responding, "", json!({"email": 7})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_REQUEST")), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("email must be STRING") && message.contains("query parameter x"), "{message}");

    // Without a Response step: 202 at once, with the execution id.
    let fire = deploy(
        &f,
        "name: Fire\nintegration: test-proxy\ntrigger: {type: request}\nsteps:\n  - {id: d, type: delay, value: 1, unit: SECONDS}\n",
    )
    .await;
    enable(&f, "u1", &fire).await;
    let (status, body) = send_request(&f, "u1", &fire, "", json!({"any": "thing"})).await;
    assert_eq!(status, 202, "{body}");
    let execution = body["executionId"].as_str().unwrap().to_owned();
    assert_eq!(ended(&f, &execution).await["status"], "SUCCEEDED");
    // The trigger's output holds the request, never the caller's token.
    let record = ended(&f, &execution).await;
    let trigger = &record["stepExecutions"][0];
    let out = step_output(&f, &execution, trigger).await;
    assert_eq!(out["output"]["request"]["body"], json!({"any": "thing"}), "{out}");
    assert!(out["output"]["request"]["headers"].get("authorization").is_none(), "{out}");
    assert!(!out.to_string().contains(&f.token("u1")), "{out}");

    // The Response step comes after a 2 s delay; the limit is 400 ms: 542
    // with the execution id, and the execution still completes.
    let slow = deploy(
        &f,
        "name: Slow\nintegration: test-proxy\ntrigger: {type: request}\nsteps:\n  \
         - {id: d, type: delay, value: 2, unit: SECONDS}\n  - {id: r, type: response, statusCode: 200, body: {late: true}}\n",
    )
    .await;
    enable(&f, "u1", &slow).await;
    let (status, body) = send_request(&f, "u1", &slow, "", json!({})).await;
    assert_eq!(status, 542, "{body}");
    assert_eq!(body["message"], "Workflow has been enqueued but has not completed.");
    assert_eq!(
        (body["projectId"].as_str(), body["workflowId"].as_str()),
        (Some(f.project.as_str()), Some(slow.as_str()))
    );
    assert!(body["dateSubmitted"].is_string(), "{body}");
    let execution = body["executionId"].as_str().unwrap().to_owned();
    assert_eq!(ended(&f, &execution).await["status"], "SUCCEEDED", "the execution went on");
}

/// What the browser SDK reads of workflows: each integration's deployed
/// workflows in `/sdk/integrations`, and in `/sdk/me` the ones the user
/// enabled (`configuredWorkflows`, `workflowSettings`).
#[tokio::test]
async fn the_sdk_lists_deployed_and_enabled_workflows() {
    let (f, _pg) = fixture(false, |_| {}).await;
    f.connect("u1", "key-of-u1-listing").await;
    let deployed = deploy(
        &f,
        "name: Listed\nintegration: test-proxy\ntrigger: {type: appEvent, event: E}\nsteps:\n  - {id: d, type: delay, value: 1, unit: SECONDS}\n",
    )
    .await;
    let (_, integrations) =
        f.app.call(Method::GET, &format!("/projects/{}/sdk/integrations", f.project), Some(&f.token("u1")), None).await;
    let proxy = integrations.as_array().unwrap().iter().find(|i| i["type"] == "test-proxy").unwrap();
    let listed: Vec<&str> = proxy["workflows"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(listed, vec![deployed.as_str()], "{proxy}");
    assert_eq!(proxy["workflows"][0]["description"], "Listed");

    let me = format!("/projects/{}/sdk/me", f.project);
    let (_, before) = f.app.call(Method::GET, &me, Some(&f.token("u1")), None).await;
    assert_eq!(before["integrations"]["test-proxy"]["configuredWorkflows"], json!({}), "{before}");
    enable(&f, "u1", &deployed).await;
    let (_, after) = f.app.call(Method::GET, &me, Some(&f.token("u1")), None).await;
    let state = &after["integrations"]["test-proxy"];
    assert_eq!(state["configuredWorkflows"][&deployed], json!({"enabled": true, "settings": {}}), "{after}");
    assert_eq!(state["workflowSettings"], state["configuredWorkflows"]);
    // Another user sees nothing enabled.
    f.connect("u2", "key-of-u2-listing").await;
    let (_, other) = f.app.call(Method::GET, &me, Some(&f.token("u2")), None).await;
    assert_eq!(other["integrations"]["test-proxy"]["configuredWorkflows"], json!({}), "{other}");
}

/// A Request step's own `Authorization` header (here from a secret) is
/// sent: the egress client drops a caller's, so the engine injects it.
#[tokio::test]
async fn a_request_steps_own_authorization_header_is_sent() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let token = format!("cnry-header-token-{}", uuid::Uuid::new_v4().simple());
    crate::support::set_secret(&f.app, &f.project, &f.admin_key, "API_TOKEN", &token).await;
    let yaml = format!(
        "name: Own header\nintegration: test-proxy\ntrigger: {{type: appEvent, event: Own}}\nsteps:\n  \
         - {{id: call, type: request, method: GET, url: \"{}\", headers: {{Authorization: \"Bearer {{{{secrets.API_TOKEN}}}}\"}}}}\n",
        f.mock.url_of("/api/echo?from=own-header")
    );
    let workflow = deploy(&f, &yaml).await;
    enable(&f, "u1", &workflow).await;
    let execution = start_event(&f, "u1", "Own", json!({})).await;
    assert_eq!(ended(&f, &execution).await["status"], "SUCCEEDED");
    let hit = f.mock.hits().into_iter().find(|h| h.uri.ends_with("from=own-header")).expect("the call");
    let sent: Vec<_> = hit.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).collect();
    assert_eq!(sent.len(), 1, "{:?}", hit.headers);
    assert_eq!(sent[0].1, format!("Bearer {token}"));
}

/// A Request step with client-credentials authorization: the token comes
/// from the token endpoint (the client secret from an environment secret),
/// is sent as a bearer token, and appears nowhere in the history; a refused
/// client fails the step without quoting the secret.
#[tokio::test]
async fn a_request_step_authorizes_with_client_credentials() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let auth = weft_tests::mock_auth::MockAuthServer::start().await;
    let secret = format!("cnry-cc-secret-{}", uuid::Uuid::new_v4().simple());
    auth.register_client("wf-client", &secret, "http://127.0.0.1/unused");
    crate::support::set_secret(&f.app, &f.project, &f.admin_key, "CC_SECRET", &secret).await;
    let workflow = |client: &str| {
        format!(
            r#"name: Client {client}
integration: test-proxy
trigger: {{type: appEvent, event: "CC {client}"}}
steps:
  - id: call
    type: request
    method: GET
    url: {api}/me
    authorization: {{type: clientCredentials, tokenUrl: "{token}", clientId: {client}, clientSecret: "{{{{secrets.CC_SECRET}}}}", scope: read write}}
"#,
            api = auth.api_base(),
            token = auth.token_url(),
        )
    };
    for client in ["wf-client", "unknown-client"] {
        let id = deploy(&f, &workflow(client)).await;
        enable(&f, "u1", &id).await;
    }
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let run = |client: &'static str| {
        let body = json!({"name": format!("CC {client}"), "payload": {}});
        let (f, trigger) = (&f, &trigger);
        async move {
            let (_, started) = f.app.call(Method::POST, trigger, Some(&f.token("u1")), Some(body)).await;
            let execution = started["executions"][0].as_str().unwrap().to_owned();
            let record = ended(f, &execution).await;
            let call =
                record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == "call").unwrap().clone();
            (record, step_output(f, &execution, &call).await)
        }
    };
    let (record, out) = run("wf-client").await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    assert_eq!(out["output"]["response"]["body"]["id"], "wf-client", "the API saw the client's token: {out}");
    assert_eq!(auth.token_requests_with_grant("client_credentials"), 1);
    let token_form = auth.log().into_iter().find(|r| r.path == "/token").unwrap();
    assert_eq!(token_form.form_value("scope"), Some("read write"));
    assert!(!out.to_string().contains(&secret), "the secret stays out of the history: {out}");

    let (record, out) = run("unknown-client").await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let message = out["output"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("client-credentials token request failed"), "{out}");
    assert!(!out.to_string().contains(&secret), "{out}");
}
