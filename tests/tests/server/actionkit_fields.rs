//! ActionKit's per-account fields against the strict Salesforce mock, on
//! SQLite and PostgreSQL: a connected user's Opportunity tool carries the
//! org's custom fields from describe, cached (a second listing asks no
//! more) until `reload_fields=true`, and MCP's `tools/list` offers the
//! same schema; a run is checked against the merged
//! schema and its custom fields reach Salesforce's create; a failing
//! describe lists the static schema and says so in `errors`.

use reqwest::Method;
use serde_json::{Value, json};
use weft_tests::mock_providers::salesforce::{self, SalesforceMock, custom_field};

use crate::connect::Fixture;
use crate::provider_cases::{authorization_server, project_on, run};

const OPPORTUNITY: &str = "SALESFORCE_CREATE_RECORD_OPPORTUNITY";

async fn list(f: &Fixture, user: &str, query: &str) -> Value {
    let path = format!("/projects/{}/actions{query}", f.project);
    let (status, body) = f.app.call(Method::GET, &path, Some(&f.token(user)), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The parameters of `action`'s tool in a listing.
fn parameters<'a>(listing: &'a Value, action: &str) -> &'a Value {
    let tools = listing["actions"]["salesforce"].as_array().unwrap_or_else(|| panic!("no tools: {listing}"));
    let tool = tools.iter().find(|t| t["function"]["name"] == action).unwrap_or_else(|| panic!("no {action}"));
    &tool["function"]["parameters"]
}

async fn connected(postgres: bool) -> (Fixture, SalesforceMock) {
    let (auth, tokens) = authorization_server().await;
    let mock = SalesforceMock::start(tokens).await;
    let f = project_on("salesforce", auth, salesforce::token_dialect(&mock.base), &mock.api_base(), postgres).await;
    f.connect("u1", "005B0000005Bk90IAC", json!({})).await;
    (f, mock)
}

async fn custom_fields_are_listed_cached_reloaded_and_accepted(postgres: bool) {
    let (f, mock) = connected(postgres).await;

    // The org's custom field joins the typed ones; a formula field (not
    // createable) and the standard fields do not.
    let first = list(&f, "u1", "").await;
    assert_eq!(first["errors"], json!([]), "{first}");
    let schema = parameters(&first, OPPORTUNITY);
    assert_eq!(
        schema["properties"]["field-Priority__c"],
        json!({ "type": "string", "enum": ["High", "Low"], "description": "Priority" }),
        "{schema}"
    );
    assert!(schema["properties"]["field-Name"].is_object(), "the static fields stay: {schema}");
    assert!(schema["properties"].get("field-Score_Formula__c").is_none(), "{schema}");
    assert!(schema["properties"].get("field-Id").is_none(), "{schema}");
    assert_eq!(mock.describe_calls("Opportunity"), 1);
    // An action without fields lists its static schema.
    let soql = parameters(&first, "SALESFORCE_SEARCH_RECORDS_BY_SOQL");
    let static_soql = &f
        .app
        .plugins
        .get("salesforce")
        .unwrap()
        .actions
        .iter()
        .find(|a| a.key == "SALESFORCE_SEARCH_RECORDS_BY_SOQL")
        .unwrap()
        .input_schema
        .clone();
    assert_eq!(soql, static_soql);

    // Cached: the second listing asks Salesforce nothing.
    let second = list(&f, "u1", "").await;
    assert_eq!(second, first);
    assert_eq!(mock.describe_calls("Opportunity"), 1, "the fields are cached");

    // A field added since shows once the user reloads.
    mock.add_custom_field("Opportunity", custom_field("Score__c", "Score", "double"));
    assert!(parameters(&list(&f, "u1", "").await, OPPORTUNITY)["properties"].get("field-Score__c").is_none());
    let reloaded = list(&f, "u1", "?reload_fields=true").await;
    assert_eq!(mock.describe_calls("Opportunity"), 2, "reload_fields asks again");
    let score = &parameters(&reloaded, OPPORTUNITY)["properties"]["field-Score__c"];
    assert_eq!(score["type"], "number", "{reloaded}");
    // The reloaded answer replaced the cached one.
    list(&f, "u1", "").await;
    assert_eq!(mock.describe_calls("Opportunity"), 2);

    // MCP's tools/list offers the same schema, from the same cache.
    let rpc = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let path = format!("/projects/{}/mcp", f.project);
    let (status, answer) = f.app.call(Method::POST, &path, Some(&f.token("u1")), Some(rpc)).await;
    assert_eq!(status, 200, "{answer}");
    let tools = answer["result"]["tools"].as_array().unwrap_or_else(|| panic!("{answer}"));
    let mcp_tool = tools.iter().find(|t| t["name"] == OPPORTUNITY).unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(&mcp_tool["inputSchema"], parameters(&reloaded, OPPORTUNITY), "{answer}");
    assert_eq!(mock.describe_calls("Opportunity"), 2, "MCP read the cached fields");

    // A run with custom fields reaches Salesforce's create with them.
    let params = json!({
        "field-Name": "Big deal", "field-StageName": "Prospecting", "field-CloseDate": "2024-12-31",
        "field-Priority__c": "High", "field-Score__c": 7.5,
    });
    let (status, out) = run(&f, "u1", OPPORTUNITY, params).await;
    assert_eq!(status, 200, "{out}");
    let record = mock.record("Opportunity", out["id"].as_str().unwrap()).expect("stored");
    assert_eq!((record["Priority__c"].as_str(), record["Score__c"].as_f64()), (Some("High"), Some(7.5)), "{record}");
    let create = mock.calls.to("/sobjects/Opportunity").pop().expect("the create call");
    assert_eq!(create.body["Score__c"], 7.5, "{}", create.body);
    assert_eq!(mock.describe_calls("Opportunity"), 2, "the run used the cached fields");

    // A custom field of the wrong type is refused by path and reason,
    // before Salesforce.
    let before = mock.calls.count();
    let wrong = json!({
        "field-Name": "Bad", "field-StageName": "Prospecting", "field-CloseDate": "2024-12-31",
        "field-Score__c": "seven",
    });
    let (status, body) = run(&f, "u1", OPPORTUNITY, wrong).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert_eq!(body["meta"]["problems"][0]["path"], "/field-Score__c", "{body}");
    assert!(body["meta"]["problems"][0]["reason"].as_str().unwrap().contains("number"), "{body}");
    let (status, body) = run(
        &f,
        "u1",
        OPPORTUNITY,
        json!({
            "field-Name": "Bad", "field-StageName": "Prospecting", "field-CloseDate": "2024-12-31",
            "field-Priority__c": "Urgent",
        }),
    )
    .await;
    assert_eq!(status, 400, "a value outside the picklist: {body}");
    assert_eq!(mock.calls.count(), before, "refused runs never reach Salesforce");
}

#[tokio::test]
async fn custom_fields_are_listed_cached_reloaded_and_accepted_on_sqlite() {
    custom_fields_are_listed_cached_reloaded_and_accepted(false).await;
}

#[tokio::test]
async fn custom_fields_are_listed_cached_reloaded_and_accepted_on_postgres() {
    custom_fields_are_listed_cached_reloaded_and_accepted(true).await;
}

async fn a_failing_describe_lists_the_static_schema_with_an_error(postgres: bool) {
    let (f, mock) = connected(postgres).await;
    mock.fail_describe(Some(500));
    let listing = list(&f, "u1", "").await;
    let statics = f.app.plugins.get("salesforce").unwrap();
    let opportunity = statics.actions.iter().find(|a| a.key == OPPORTUNITY).unwrap();
    assert_eq!(parameters(&listing, OPPORTUNITY), &opportunity.input_schema, "the static schema");
    let errors = listing["errors"].as_array().expect("errors");
    let entry = errors.iter().find(|e| e["action"] == OPPORTUNITY).unwrap_or_else(|| panic!("{listing}"));
    assert_eq!(entry["integration"], "salesforce");
    let message = entry["message"].as_str().unwrap();
    assert!(message.contains(OPPORTUNITY) && message.contains("could not be loaded"), "{message}");
    assert!(!message.contains("127.0.0.1") && !message.contains("wasm"), "no internals: {message}");
    assert_eq!(errors.len(), 4, "one per create action: {listing}");

    // Failures are not cached: once describe works, the fields come.
    mock.fail_describe(None);
    let listing = list(&f, "u1", "").await;
    assert_eq!(listing["errors"], json!([]), "{listing}");
    assert!(parameters(&listing, OPPORTUNITY)["properties"]["field-Priority__c"].is_object(), "{listing}");

    // Without an account (all actions asked for), static schemas and no call.
    let calls = mock.describe_calls("Opportunity");
    let all = list(&f, "u2", "?limit_to_available=false").await;
    assert_eq!(parameters(&all, OPPORTUNITY), &opportunity.input_schema);
    assert_eq!(all["errors"], json!([]), "{all}");
    assert_eq!(mock.describe_calls("Opportunity"), calls, "no account, no describe");
}

#[tokio::test]
async fn a_failing_describe_lists_the_static_schema_with_an_error_on_sqlite() {
    a_failing_describe_lists_the_static_schema_with_an_error(false).await;
}

#[tokio::test]
async fn a_failing_describe_lists_the_static_schema_with_an_error_on_postgres() {
    a_failing_describe_lists_the_static_schema_with_an_error(true).await;
}
