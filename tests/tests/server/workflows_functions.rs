//! JavaScript Function steps end to end in the real server: the code runs
//! in the bundled `js-function` component with the step's resolved
//! parameters and the bundled libraries; its result feeds later steps; its
//! console lines, thrown errors and non-JSON results show in the task
//! history; a syntax error is refused at deploy with its line and column;
//! a runaway step fails alone.

use crate::proxy::fixture::ProxyFixture;
use crate::support::PgDatabase;
use crate::workflows_run::{deploy, enable, ended, send_request, step_output};
use reqwest::Method;
use serde_json::{Value, json};

/// The fixture with the JavaScript runtime installed, on SQLite or on a
/// fresh PostgreSQL database (kept alive with it).
async fn fixture(
    postgres: bool,
    adjust: impl FnOnce(&mut weft_server::config::Settings),
) -> (ProxyFixture, Option<PgDatabase>) {
    let pg = postgres.then(PgDatabase::create);
    let url = pg.as_ref().map(PgDatabase::url);
    let f = ProxyFixture::with_plugins(&["test_proxy", "js_function"], move |s| {
        s.database.url = url;
        adjust(s);
    })
    .await;
    (f, pg)
}

/// Starts the app-event workflow `event` for `user`; the execution's id.
async fn start(f: &ProxyFixture, user: &str, event: &str, payload: Value) -> String {
    let trigger = format!("/projects/{}/sdk/events/trigger", f.project);
    let body = json!({"name": event, "payload": payload});
    let (status, started) = f.app.call(Method::POST, &trigger, Some(&f.token(user)), Some(body)).await;
    assert_eq!(status, 201, "{started}");
    started["executions"][0].as_str().unwrap_or_else(|| panic!("no execution started: {started}")).to_owned()
}

/// The step `id` of an ended execution, with its input and output.
async fn step(f: &ProxyFixture, execution: &str, record: &Value, id: &str) -> Value {
    let steps = record["stepExecutions"].as_array().unwrap();
    let s = steps.iter().find(|s| s["stepId"] == id).unwrap_or_else(|| panic!("no step {id}: {record}"));
    step_output(f, execution, s).await
}

const CHAIN: &str = r#"name: Shape a contact
integration: test-proxy
trigger:
  type: request
  allowArbitraryPayload: true
steps:
  - id: shape
    type: function
    parameters:
      name: "{{trigger.output.request.body.name}}"
      nums: [3, 4, 5]
    code: |
      function yourFunction(parameters, libraries) {
        console.log("shaping", parameters.name);
        console.warn("careful");
        const id = libraries.uuid.v4();
        return {
          greeting: "hello " + parameters.name,
          total: libraries.lodash.sum(parameters.nums),
          idLength: id.length,
          day: libraries.dateFns.format(new Date(2024, 0, 15), "yyyy-MM-dd"),
        };
      }
  - id: later
    type: function
    parameters:
      shaped: "{{shape.output.result}}"
    code: |
      async function execute(params, libraries) {
        const loud = await new Promise((resolve) => resolve(params.shaped.greeting.toUpperCase()));
        return { loud, doubled: params.shaped.total * 2 };
      }
      module.exports = execute;
  - id: answer
    type: response
    statusCode: 200
    body: {shape: "{{shape.output.result}}", later: "{{later.output.result}}"}
"#;

#[tokio::test]
async fn javascript_function_steps_run_end_to_end_on_sqlite() {
    function_steps(false).await;
}

#[tokio::test]
async fn javascript_function_steps_run_end_to_end_on_postgresql() {
    function_steps(true).await;
}

async fn function_steps(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-functions").await;

    // Parameters from the trigger and from an earlier step, libraries, an
    // async function in the `module.exports` form; the Response step
    // answers with both results.
    let chain = deploy(&f, CHAIN).await;
    enable(&f, "u1", &chain).await;
    let (status, body) = send_request(&f, "u1", &chain, "", json!({"name": "Ada"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "shape": {"greeting": "hello Ada", "total": 12, "idLength": 36, "day": "2024-01-15"},
            "later": {"loud": "HELLO ADA", "doubled": 24},
        })
    );

    // Thrown errors, a result that is not JSON, and the console, in the
    // task history.
    let failing = r#"name: Fails
integration: test-proxy
trigger: {type: appEvent, event: Go}
steps:
  - id: first
    type: function
    parameters: {n: "{{trigger.output.n}}"}
    code: |
      function check(parameters) {
        console.error("checking", parameters.n);
        if (parameters.n > 5) {
          throw new Error("too big: " + parameters.n);
        }
        return parameters.n;
      }
  - id: second
    type: function
    code: |
      function nothing() { return undefined; }
"#;
    let workflow = deploy(&f, failing).await;
    enable(&f, "u1", &workflow).await;

    let thrown = start(&f, "u1", "Go", json!({"n": 7})).await;
    let record = ended(&f, &thrown).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let first = step(&f, &thrown, &record, "first").await;
    let error = &first["output"];
    let message = error["message"].as_str().unwrap_or_else(|| panic!("{first}"));
    assert!(message.contains("too big: 7"), "{first}");
    assert_eq!((error["line"].as_u64(), error["kind"].as_str()), (Some(4), Some("thrown")), "{first}");
    assert!(error["column"].as_u64().is_some(), "{first}");
    assert_eq!(error["logs"], json!([{"level": "error", "message": "checking 7"}]), "{first}");
    assert_eq!(first["input"]["parameters"], json!({"n": 7}), "{first}");
    assert!(record["stepExecutions"].as_array().unwrap().iter().all(|s| s["stepId"] != "second"), "{record}");

    let not_json = start(&f, "u1", "Go", json!({"n": 2})).await;
    let record = ended(&f, &not_json).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let first = step(&f, &not_json, &record, "first").await;
    assert_eq!(first["output"]["result"], 2, "{first}");
    let second = step(&f, &not_json, &record, "second").await;
    assert_eq!(second["output"]["kind"], "notJson", "{second}");
    assert!(second["output"]["message"].as_str().unwrap().contains("undefined"), "{second}");

    // The console lines of a step that succeeded are in its output.
    let executions = format!("/projects/{}/task-history/workflow-executions?workflowId={chain}", f.project);
    let (status, listed) = f.app.call(Method::GET, &executions, Some(&f.admin_key), None).await;
    assert_eq!(status, 200, "{listed}");
    let execution = listed["workflowExecutions"][0]["id"].as_str().map(str::to_owned);
    let execution = execution.unwrap_or_else(|| panic!("the chain's execution is listed: {listed}"));
    let record = ended(&f, &execution).await;
    let shape = step(&f, &execution, &record, "shape").await;
    assert_eq!(
        shape["output"]["logs"],
        json!([{"level": "info", "message": "shaping Ada"}, {"level": "warn", "message": "careful"}]),
        "{shape}"
    );
}

#[tokio::test]
async fn a_syntax_error_is_refused_at_deploy_with_its_line_and_column() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let yaml = "name: Broken\nintegration: test-proxy\ntrigger: {type: appEvent, event: Go}\nsteps:\n  \
                - {id: fine, type: delay, value: 1, unit: SECONDS}\n  \
                - id: broken\n    type: function\n    code: |\n      function f(p) {\n        return p.a +;\n      }\n";
    let id = crate::workflows_run::create(&f, yaml).await;
    let path = format!("/admin/projects/{}/workflows/{id}/deploy", f.project);
    let (status, body) = f.app.call(Method::POST, &path, Some(&f.admin_key), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_WORKFLOW")), "{body}");
    let problems = body["meta"]["problems"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(problems.len(), 1, "{body}");
    assert_eq!(problems[0]["path"], "/steps/1/code", "{body}");
    let reason = problems[0]["reason"].as_str().unwrap();
    assert!(reason.contains("line 2, column"), "{reason}");
    // Nothing was deployed.
    let workflow = format!("/admin/projects/{}/workflows/{id}", f.project);
    let (_, w) = f.app.call(Method::GET, &workflow, Some(&f.admin_key), None).await;
    assert!(w["deployedVersion"].is_null(), "{w}");
}

#[tokio::test]
async fn a_runaway_function_step_fails_alone_within_its_project_limit() {
    let (f, _pg) = fixture(false, |s| s.workflows.function_timeout_ms = 1_500).await;
    f.connect("u1", "key-of-u1-runaway").await;
    let spin = deploy(
        &f,
        "name: Spins\nintegration: test-proxy\ntrigger: {type: appEvent, event: Spin}\nsteps:\n  \
         - id: spin\n    type: function\n    code: |\n      function forever() { while (true) {} }\n",
    )
    .await;
    let fine = deploy(
        &f,
        "name: Fine\nintegration: test-proxy\ntrigger: {type: appEvent, event: Fine}\nsteps:\n  \
         - id: add\n    type: function\n    parameters: {a: 2}\n    code: |\n      function add(p) { return p.a + 40; }\n",
    )
    .await;
    enable(&f, "u1", &spin).await;
    enable(&f, "u1", &fine).await;
    let spinning = start(&f, "u1", "Spin", json!({})).await;
    let running = start(&f, "u1", "Fine", json!({})).await;
    let record = ended(&f, &running).await;
    assert_eq!(record["status"], "SUCCEEDED", "the other step is unharmed: {record}");
    assert_eq!(step(&f, &running, &record, "add").await["output"]["result"], 42);
    let record = ended(&f, &spinning).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    let spin = step(&f, &spinning, &record, "spin").await;
    let message = spin["output"]["message"].as_str().unwrap_or_else(|| panic!("{spin}"));
    // The CPU budget or, on a loaded machine, the wall-clock limit: either
    // way the error names the project's limit.
    assert_eq!(spin["output"]["code"], "FUNCTION_STOPPED", "{spin}");
    assert!(message.contains("1.5s"), "a clear limit error naming the limit: {spin}");
    // The server still runs JavaScript afterwards.
    let again = start(&f, "u1", "Fine", json!({})).await;
    assert_eq!(ended(&f, &again).await["status"], "SUCCEEDED");
}
