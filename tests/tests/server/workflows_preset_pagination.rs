//! Pre-configured pagination (issue 18, point 3, with the reference's
//! pre-configured strategies): an Integration Request step of Salesforce
//! with `pagination: {}` pages a SOQL answer by its `nextRecordsUrl` until
//! `done`, as the plugin declares, with `limit`, `skip` and `previousPage`;
//! each page is a task; `test-proxy` declares cursor pagination, which the
//! mock's lists follow. An integration without a declared strategy is
//! refused at deploy, naming the step.

use reqwest::Method;
use serde_json::{Value, json};
use weft_tests::mock_providers::salesforce::{self, SalesforceMock};

use crate::connect::Fixture;
use crate::provider_cases::{authorization_server, project_on};
use crate::workflows_pagination::{cursor_param, pages_hit, run, step};
use crate::workflows_run::{create, deploy, enable, ended, fixture, post_workflow, start_event, step_output};

#[tokio::test]
async fn salesforce_queries_page_by_their_next_records_url_on_sqlite() {
    salesforce_pages(false).await;
}

#[tokio::test]
async fn salesforce_queries_page_by_their_next_records_url_on_postgresql() {
    salesforce_pages(true).await;
}

/// The output of step `id` of the ended execution `record`.
async fn output(f: &Fixture, record: &Value, id: &str) -> Value {
    let step = record["stepExecutions"].as_array().unwrap().iter().find(|s| s["stepId"] == id).unwrap();
    step_output(f, record["id"].as_str().unwrap(), step).await["output"].clone()
}

fn names(output: &Value) -> Vec<&str> {
    output["response"]["results"].as_array().unwrap().iter().map(|r| r["Name"].as_str().unwrap()).collect()
}

async fn salesforce_pages(postgres: bool) {
    let (auth, tokens) = authorization_server().await;
    let mock = SalesforceMock::start(tokens).await;
    let f = project_on("salesforce", auth, salesforce::token_dialect(&mock.base), &mock.api_base(), postgres).await;
    f.connect("u1", "005B0000005Bk90IAC", json!({})).await;
    mock.set_batch_size(2);
    for n in 1..=5 {
        mock.insert("Account", json!({ "Name": format!("A{n}") }));
    }
    let query = "params: {q: \"SELECT Id, Name FROM Account\"}";
    let step = |id: &str, pagination: &str| {
        format!(
            "  - {{id: {id}, type: integrationRequest, method: GET, url: /query, {query}, pagination: {pagination}}}\n"
        )
    };
    let yaml = format!(
        "name: Every account\nintegration: salesforce\ntrigger: {{type: appEvent, event: List}}\nsteps:\n{}{}{}{}",
        step("all", "{}"),
        step("some", "{limit: 2}"),
        step("rest", "{previousPage: \"{{some.output.response.nextPage}}\", skip: 1}"),
        step("few", "{limit: 3}"),
    );
    let workflow = deploy(&f, &yaml).await;
    enable(&f, "u1", &workflow).await;
    let execution = start_event(&f, "u1", "List", json!({})).await;
    let record = ended(&f, &execution).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");

    // Every page, in order, by Salesforce's query locators.
    let all = output(&f, &record, "all").await;
    assert_eq!(names(&all), ["A1", "A2", "A3", "A4", "A5"], "{all}");
    assert_eq!(all["response"]["statusCode"], 200);
    assert!(all["response"].get("error").is_none() && all["response"].get("nextPage").is_none(), "{all}");
    // `limit` ending on a page's end: where a later step goes on.
    let some = output(&f, &record, "some").await;
    assert_eq!(names(&some), ["A1", "A2"]);
    let next = some["response"]["nextPage"].as_str().expect("the next page");
    assert!(next.starts_with("/services/data/v62.0/query/01gMOCK"), "{some}");
    // Going on from it, one result left out.
    let rest = output(&f, &record, "rest").await;
    assert_eq!(names(&rest), ["A4", "A5"], "{rest}");
    // A limit inside a page: no next page, which would lose the rest of it.
    let few = output(&f, &record, "few").await;
    assert_eq!(names(&few), ["A1", "A2", "A3"]);
    assert!(few["response"].get("nextPage").is_none(), "{few}");

    // A task per page: 3 + 1 + 2 + 2.
    assert_eq!(record["taskCount"], 8, "{record}");
    let locators = mock.calls.all().iter().filter(|c| c.path.contains("/query/01gMOCK")).count();
    assert_eq!(locators, 2 + 2 + 1, "the next pages were asked for by their locators");
}

#[tokio::test]
async fn a_cursor_integration_pages_with_limit_skip_and_previous_page_on_sqlite() {
    cursor_pages(false).await;
}

#[tokio::test]
async fn a_cursor_integration_pages_with_limit_skip_and_previous_page_on_postgresql() {
    cursor_pages(true).await;
}

async fn cursor_pages(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    f.connect("u1", "key-of-u1-preset-pages").await;
    let steps = "  - {id: all, type: integrationRequest, method: GET, url: /pages/c1/three, pagination: {}}\n  \
                 - {id: limited, type: integrationRequest, method: GET, url: /pages/c2/three, pagination: {limit: 2}}\n  \
                 - id: more\n    type: integrationRequest\n    method: GET\n    url: /pages/c2/three\n    \
                 pagination: {previousPage: \"{{limited.output.response.nextPage}}\", skip: 1}\n  \
                 - {id: failing, type: integrationRequest, method: GET, url: /pages/c3/fail401, pagination: {}}\n";
    let record = run(&f, "Preset pages", steps).await;
    assert_eq!(record["status"], "SUCCEEDED", "{record}");
    let results = |out: &Value| out["output"]["response"]["results"].clone();
    let all = step(&f, &record, "all").await;
    assert_eq!(results(&all), json!([1, 2, 3, 4, 5]), "{all}");
    let cursors: Vec<Option<String>> = pages_hit(&f, "c1").iter().map(cursor_param).collect();
    assert_eq!(cursors, [None, Some("p2".into()), Some("p3".into())], "the cursor went as `cursor`");
    let limited = step(&f, &record, "limited").await;
    assert_eq!(results(&limited), json!([1, 2]));
    assert_eq!(limited["output"]["response"]["nextPage"], "p2", "{limited}");
    let more = step(&f, &record, "more").await;
    assert_eq!(results(&more), json!([4, 5]), "from p2, one left out: {more}");
    assert_eq!(more["input"]["pagination"]["previousPage"], "p2", "recorded as resolved");
    let failing = step(&f, &record, "failing").await;
    assert_eq!(results(&failing), json!([1, 2, 3, 4]), "{failing}");
    assert_eq!(failing["output"]["response"]["error"]["response"]["statusCode"], 401, "{failing}");
    // A task per page fetched: 3 + 1 + 2 + 2.
    assert_eq!(record["taskCount"], 8, "{record}");
}

#[tokio::test]
async fn an_integration_without_a_pagination_strategy_is_refused_at_deploy() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let yaml = "name: No strategy\nintegration: test-apikey\ntrigger: {type: appEvent, event: E}\nsteps:\n  \
                - {id: list, type: integrationRequest, method: GET, url: /echo, pagination: {limit: 5}}\n";
    let id = create(&f, yaml).await;
    let path = format!("/admin/projects/{}/workflows/{id}/deploy", f.project);
    let (status, body) = f.app.call(Method::POST, &path, Some(&f.admin_key), None).await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("/steps/0/pagination") && text.contains("no pre-configured pagination"), "{body}");
    // A partial custom pagination is neither: refused when saved.
    let bad = "name: Partial\nintegration: test-apikey\ntrigger: {type: appEvent, event: E}\nsteps:\n  \
               - {id: list, type: integrationRequest, method: GET, url: /echo, pagination: {outputPath: x}}\n";
    assert_eq!(post_workflow(&f, bad).await.0, 400);
}
