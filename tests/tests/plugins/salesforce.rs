//! `salesforce` at the plugin host: calls go to the instance the token
//! answer named (`{token.instance_url}`), only when the allowed hosts
//! permit it; the connection test; SOQL pagination; both polling triggers
//! with persisted cursors against the strict Salesforce mock.

use serde_json::{Value, json};
use weft_plugin_host::{ActionCall, CallOptions};
use weft_tests::mock_providers::recorder::Tokens;
use weft_tests::mock_providers::salesforce::{ORG_ID, ORG_NAME, SalesforceMock};
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

/// An instance host under `*.my.salesforce.com`, resolved to the mock on loopback.
const INSTANCE_HOST: &str = "acme.my.salesforce.com";

async fn setup() -> (TestHost, String, SalesforceMock) {
    let mock = SalesforceMock::start(Tokens::fixed(TOKEN_CANARY, "005B0000005Bk90IAC")).await;
    let t = TestHost::with_names(&[INSTANCE_HOST, "evil.test"]);
    let id = t.install("salesforce").await;
    (t, id, mock)
}

/// A connection whose token answer named `instance_url` (kept by the
/// credential service under `token.instance_url`).
fn connection(t: &TestHost, id: &str, instance_url: &str) -> CallOptions {
    let settings = json!({ "token.instance_url": instance_url });
    t.granted(id, CallOptions::new("p1").with_connection(CONNECTION, settings))
}

fn instance(mock: &SalesforceMock, host: &str) -> String {
    mock.base.replace("127.0.0.1", host)
}

#[tokio::test]
async fn calls_go_to_the_instance_of_the_token_answer_if_it_is_permitted() {
    let (t, id, mock) = setup().await;
    let opts = connection(&t, &id, &instance(&mock, INSTANCE_HOST));
    let info = t.host.test_connection(&id, &opts).await.expect("test_connection");
    assert_eq!((info.account_id.as_str(), info.display_name.as_str()), (ORG_ID, ORG_NAME));
    let seen = mock.calls.all();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/services/data/v62.0/query");
    assert!(seen[0].header("host").is_some_and(|h| h.starts_with(INSTANCE_HOST)), "{:?}", seen[0].headers);
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()));
    // An instance the allowed hosts do not cover is never called, though it resolves.
    for refused in [instance(&mock, "evil.test"), format!("{}/steal", instance(&mock, INSTANCE_HOST))] {
        let opts = connection(&t, &id, &refused);
        let err = t.host.test_connection(&id, &opts).await.unwrap_err();
        assert!(!format!("{err:?}").is_empty());
    }
    assert_eq!(mock.calls.count(), 1, "nothing reached a refused instance");
}

#[tokio::test]
async fn soql_search_pages_through_next_records_urls() {
    let (t, id, mock) = setup().await;
    for i in 0..5 {
        mock.insert("Account", json!({ "Name": format!("Account {i}"), "Industry": "Energy" }));
    }
    mock.insert("Account", json!({ "Name": "Other", "Industry": "Retail" }));
    mock.set_batch_size(2);
    let opts = connection(&t, &id, &instance(&mock, INSTANCE_HOST));
    let mut page = None;
    let mut names = Vec::new();
    loop {
        let input = json!({ "query": "SELECT Id, Name FROM Account WHERE Industry = 'Energy'" });
        let call = ActionCall { action: "SALESFORCE_SEARCH_RECORDS_BY_SOQL".into(), input, page: page.take() };
        let out = t.host.run_action(&id, &opts, call).await.expect("query");
        assert_eq!(out.output["totalSize"], 5);
        names.extend(out.output["records"].as_array().unwrap().iter().map(|r| r["Name"].as_str().unwrap().to_owned()));
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
        assert!(names.len() <= 5, "pagination never ended");
    }
    assert_eq!(names, (0..5).map(|i| format!("Account {i}")).collect::<Vec<_>>());
    let paths: Vec<String> = mock.calls.all().iter().map(|c| c.path.clone()).collect();
    assert_eq!(paths[0], "/services/data/v62.0/query");
    assert!(paths[1].starts_with("/services/data/v62.0/query/01gMOCK"), "{paths:?}");
    // A cursor that is not a query locator is refused before any call.
    let call = ActionCall {
        action: "SALESFORCE_SEARCH_RECORDS_BY_SOQL".into(),
        input: json!({ "query": "SELECT Id FROM Account" }),
        page: Some("/sobjects/User".into()),
    };
    assert!(t.host.run_action(&id, &opts, call).await.is_err());
    assert_eq!(mock.calls.count(), paths.len());
}

async fn poll(
    t: &TestHost,
    id: &str,
    opts: &CallOptions,
    trigger: &str,
    cursor: Option<String>,
) -> (Vec<Value>, Option<String>) {
    let out = t.host.poll(id, opts, trigger, &json!({ "record_type": "Contact" }), cursor).await.expect("poll");
    let stamp = if trigger == "SALESFORCE_NEW_RECORD" { "CreatedDate" } else { "SystemModstamp" };
    for e in &out.events {
        let expected = format!("{}@{}", e.payload["Id"].as_str().unwrap(), e.payload[stamp].as_str().unwrap());
        assert_eq!(e.dedupe_key.as_deref(), Some(expected.as_str()));
    }
    (out.events.into_iter().map(|e| e.payload).collect(), out.cursor)
}

fn names(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["LastName"].as_str().unwrap_or_default()).collect()
}

#[tokio::test]
async fn every_trigger_polls_from_a_persisted_cursor() {
    let (t, id, mock) = setup().await;
    let listed: Vec<String> = t.host.get(&id).unwrap().triggers.iter().map(|tr| tr.key.clone()).collect();
    assert_eq!(
        listed,
        ["SALESFORCE_NEW_RECORD", "SALESFORCE_RECORD_UPDATED"],
        "each listed trigger has its case below"
    );
    let opts = connection(&t, &id, &instance(&mock, INSTANCE_HOST));
    let first = mock.insert("Contact", json!({ "LastName": "Lovelace" }));
    let (created, new_cursor) = poll(&t, &id, &opts, "SALESFORCE_NEW_RECORD", None).await;
    let (updated, upd_cursor) = poll(&t, &id, &opts, "SALESFORCE_RECORD_UPDATED", None).await;
    assert!(created.is_empty() && updated.is_empty(), "the first poll replays no history");

    let _same_second = mock.insert("Contact", json!({ "LastName": "Hopper" }));
    mock.set_now("2024-05-01T10:00:05.000+0000");
    mock.insert("Contact", json!({ "LastName": "Torvalds" }));
    let (created, new_cursor) = poll(&t, &id, &opts, "SALESFORCE_NEW_RECORD", new_cursor).await;
    assert_eq!(names(&created), ["Hopper", "Torvalds"]);
    let (again, new_cursor) = poll(&t, &id, &opts, "SALESFORCE_NEW_RECORD", new_cursor).await;
    assert!(again.is_empty());

    mock.set_now("2024-05-01T10:00:09.000+0000");
    mock.touch("Contact", &first);
    let (created, _) = poll(&t, &id, &opts, "SALESFORCE_NEW_RECORD", new_cursor).await;
    assert!(created.is_empty(), "an update is not a new record");
    let (updated, _) = poll(&t, &id, &opts, "SALESFORCE_RECORD_UPDATED", upd_cursor).await;
    assert_eq!(names(&updated), ["Hopper", "Torvalds", "Lovelace"]);

    let soql: Vec<String> =
        mock.calls.to("/query").iter().filter_map(|c| c.query_value("q").map(str::to_owned)).collect();
    assert_eq!(soql[0], "SELECT Id, CreatedDate FROM Contact ORDER BY CreatedDate DESC LIMIT 1");
    assert_eq!(
        soql[2],
        "SELECT FIELDS(STANDARD) FROM Contact WHERE CreatedDate >= 2024-05-01T10:00:00Z ORDER BY CreatedDate ASC, Id ASC LIMIT 200"
    );
    assert!(mock.calls.all().iter().all(|c| c.status == 200), "every query was well formed");
}

/// The typed create actions declare per-account fields and the component
/// exports `fields`: asked as the connection, the plugin reads the object's
/// describe and answers its createable custom fields as `field-<name>`
/// schemas (types mapped, picklists as `enum`); other actions have none.
#[tokio::test]
async fn fields_are_the_createable_custom_fields_of_the_objects_describe() {
    let (t, id, mock) = setup().await;
    let info = t.host.get(&id).expect("installed");
    let keys: Vec<&str> = info.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(info.smart_rate_limits, keys, "Smart Rate Limits for every Salesforce action");
    assert_eq!(
        info.dynamic_fields,
        [
            "SALESFORCE_CREATE_RECORD_ACCOUNT",
            "SALESFORCE_CREATE_RECORD_CONTACT",
            "SALESFORCE_CREATE_RECORD_LEAD",
            "SALESFORCE_CREATE_RECORD_OPPORTUNITY"
        ]
    );
    mock.add_custom_field(
        "Opportunity",
        weft_tests::mock_providers::salesforce::custom_field("Won__c", "Won", "boolean"),
    );
    let opts = connection(&t, &id, &instance(&mock, INSTANCE_HOST));
    let fields = t.host.action_fields(&id, &opts, "SALESFORCE_CREATE_RECORD_OPPORTUNITY").await.expect("fields");
    let names: Vec<&str> = fields.properties.keys().map(String::as_str).collect();
    assert_eq!(names, ["field-Priority__c", "field-Won__c"]);
    assert_eq!(fields.properties["field-Priority__c"]["enum"], json!(["High", "Low"]));
    assert_eq!(fields.properties["field-Won__c"]["type"], "boolean");
    assert!(fields.required.is_empty(), "{:?}", fields.required);
    let describe = mock.calls.to("/sobjects/Opportunity/describe");
    assert_eq!(describe.len(), 1);
    assert_eq!(describe[0].header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()));

    let err = t.host.action_fields(&id, &opts, "SALESFORCE_DELETE_RECORD").await.unwrap_err();
    assert!(format!("{err}").contains("no per-connection fields"), "{err}");
    // Without the connection's grant the provider is never asked.
    let ungranted = CallOptions::new("p1")
        .with_connection(CONNECTION, json!({ "token.instance_url": instance(&mock, INSTANCE_HOST) }));
    assert!(t.host.action_fields(&id, &ungranted, "SALESFORCE_CREATE_RECORD_LEAD").await.is_err());
    assert_eq!(mock.calls.count(), 1);
}
