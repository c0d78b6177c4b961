//! Salesforce through the real server: an account connected with
//! Salesforce's own token answer (`instance_url`, no `expires_in`), the
//! instance kept as the connection's setting, every action the plugin lists
//! run through ActionKit against the strict Salesforce mock, and a
//! Salesforce error passed through in the error shape; a refresh that names
//! a new instance moves the account there.

use serde_json::json;
use weft_tests::mock_providers::salesforce::{self, ORG_ID, ORG_NAME, SalesforceMock};

use crate::provider_cases::{Outputs, authorization_server, case, project, run, run_every_action};

const USER: &str = "005B0000005Bk90IAC";

fn id_of(o: &Outputs, key: &str) -> String {
    o[key]["id"].as_str().unwrap_or_else(|| panic!("{key} gave no id: {}", o[key])).to_owned()
}

#[tokio::test]
async fn salesforce_connects_with_its_token_answer_and_runs_every_action() {
    let (auth, tokens) = authorization_server().await;
    let mock = SalesforceMock::start(tokens).await;
    // The token answer names the mock as the instance; the integration's
    // base URL points at it too (a loopback host is no `*.salesforce.com`).
    let f = project("salesforce", auth, salesforce::token_dialect(&mock.base), &mock.api_base()).await;
    let credential = f.connect("u1", USER, json!({})).await;
    assert_eq!((credential["providerId"].as_str(), credential["status"].as_str()), (Some(ORG_ID), Some("VALID")));
    assert_eq!(credential["providerData"]["organizationName"], ORG_NAME, "{credential}");
    let stored = f.stored(credential["id"].as_str().unwrap()).await;
    assert_eq!(stored.connection_config.get("token.instance_url"), Some(&json!(mock.base)), "the instance is kept");

    let m = &mock;
    let cases = vec![
        case(
            "SALESFORCE_CREATE_RECORD_ACCOUNT",
            |_| json!({ "field-Name": "Acme", "field-Industry": "Energy" }),
            |out, _| {
                assert_eq!(out["success"], true, "{out}");
                let record = m.record("Account", out["id"].as_str().unwrap()).expect("stored");
                assert_eq!((record["Name"].as_str(), record["Industry"].as_str()), (Some("Acme"), Some("Energy")));
            },
        ),
        case(
            "SALESFORCE_CREATE_RECORD_CONTACT",
            |o| json!({ "field-LastName": "Lovelace", "field-AccountId": id_of(o, "SALESFORCE_CREATE_RECORD_ACCOUNT") }),
            |out, o| {
                let record = m.record("Contact", out["id"].as_str().unwrap()).expect("stored");
                assert_eq!(record["AccountId"], id_of(o, "SALESFORCE_CREATE_RECORD_ACCOUNT").as_str());
            },
        ),
        case(
            "SALESFORCE_CREATE_RECORD_LEAD",
            |_| json!({ "field-LastName": "Hopper", "field-Company": "US Navy" }),
            |out, _| assert!(out["id"].as_str().unwrap().starts_with("00Q"), "{out}"),
        ),
        case(
            "SALESFORCE_CREATE_RECORD_OPPORTUNITY",
            |_| {
                json!({
                    "field-Name": "Big deal", "field-StageName": "Prospecting", "field-CloseDate": "2024-12-31",
                    "field-Amount": 5000.0, "additionalFields": { "Priority__c": "High" },
                })
            },
            |out, _| {
                let record = m.record("Opportunity", out["id"].as_str().unwrap()).expect("stored");
                assert_eq!((record["Amount"].as_f64(), record["Priority__c"].as_str()), (Some(5000.0), Some("High")));
                assert!(record.get("additionalFields").is_none() && record.get("field-Name").is_none(), "{record}");
            },
        ),
        case(
            "SALESFORCE_CREATE_RECORD_ANY",
            |_| json!({ "record_type": "Invoice__c", "fields": { "Total__c": 12 } }),
            |out, _| assert_eq!(m.record("Invoice__c", out["id"].as_str().unwrap()).unwrap()["Total__c"], 12),
        ),
        case(
            "SALESFORCE_UPDATE_RECORD",
            |o| {
                let id = id_of(o, "SALESFORCE_CREATE_RECORD_OPPORTUNITY");
                json!({ "record_type": "Opportunity", "record_id": id, "fields": { "StageName": "Closed Won" } })
            },
            |out, o| {
                assert_eq!(out["success"], true);
                let id = id_of(o, "SALESFORCE_CREATE_RECORD_OPPORTUNITY");
                assert_eq!(m.record("Opportunity", &id).unwrap()["StageName"], "Closed Won");
            },
        ),
        case(
            "SALESFORCE_GET_RECORD_BY_ID",
            |o| {
                let id = id_of(o, "SALESFORCE_CREATE_RECORD_OPPORTUNITY");
                json!({ "record_type": "Opportunity", "record_id": id, "fields": ["Name", "StageName"] })
            },
            |out, _| {
                assert_eq!((out["Name"].as_str(), out["StageName"].as_str()), (Some("Big deal"), Some("Closed Won")));
                assert!(out.get("Amount").is_none(), "only the fields asked for: {out}");
            },
        ),
        case(
            "SALESFORCE_SEARCH_RECORDS_BY_SOQL",
            |_| json!({ "query": "SELECT Id, Name FROM Account WHERE Industry = 'Energy'" }),
            |out, _| {
                assert_eq!(out["totalSize"], 1, "{out}");
                assert_eq!(out["records"][0]["Name"], "Acme");
            },
        ),
        case(
            "SALESFORCE_DELETE_RECORD",
            |o| json!({ "record_type": "Lead", "record_id": id_of(o, "SALESFORCE_CREATE_RECORD_LEAD") }),
            |out, o| {
                assert_eq!(out["deleted"], true);
                assert!(m.record("Lead", &id_of(o, "SALESFORCE_CREATE_RECORD_LEAD")).is_none());
            },
        ),
    ];
    run_every_action(&f, "u1", "salesforce", cases).await;
    assert!(mock.calls.all().iter().all(|c| (200..300).contains(&c.status)), "every call was well formed");

    // Salesforce's error array comes back in the error shape.
    let (status, body) =
        run(&f, "u1", "SALESFORCE_CREATE_RECORD_ANY", json!({ "record_type": "Opportunity", "fields": {} })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PROVIDER_ERROR")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("REQUIRED_FIELD_MISSING"), "{body}");
    // A required field missing from a typed action is caught before Salesforce.
    let before = mock.calls.count();
    let partial = json!({ "field-Name": "No stage", "field-CloseDate": "2024-12-31" });
    let (status, body) = run(&f, "u1", "SALESFORCE_CREATE_RECORD_OPPORTUNITY", partial).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert_eq!(mock.calls.count(), before);
}

/// A refresh whose answer names another instance (the org moved) moves the
/// account: the stored `token.instance_url` follows the answer, in the same
/// write as the new tokens, and an answer that repeats the instance changes
/// nothing.
#[tokio::test]
async fn a_refresh_naming_a_new_instance_moves_the_account_there() {
    let (auth, tokens) = authorization_server().await;
    let mock = SalesforceMock::start(tokens).await;
    let f = project("salesforce", auth, salesforce::token_dialect(&mock.base), &mock.api_base()).await;
    let credential = f.connect("u1", USER, json!({})).await;
    let id = credential["id"].as_str().unwrap().to_owned();
    let (project_id, credential_id) = (f.project.parse().unwrap(), id.parse().unwrap());
    let before = f.stored(&id).await;
    assert_eq!(before.connection_config.get("token.instance_url"), Some(&json!(mock.base)));

    // The same instance again: the settings stay as they are.
    let usable = f.app.credentials.usable(project_id, credential_id).await.unwrap();
    let rejected = usable.secrets.access_token.clone().unwrap();
    f.app.credentials.refresh_rejected(project_id, credential_id, &rejected).await.unwrap();
    let same = f.stored(&id).await;
    assert!(same.version > before.version, "refreshed");
    assert_eq!(same.connection_config, before.connection_config);

    let moved = "https://eu12.my.salesforce.com";
    f.mock.set_token_dialect(salesforce::token_dialect(moved));
    let usable = f.app.credentials.usable(project_id, credential_id).await.unwrap();
    let rejected = usable.secrets.access_token.clone().unwrap();
    let refreshed = f.app.credentials.refresh_rejected(project_id, credential_id, &rejected).await.unwrap();
    assert_eq!(refreshed.credential.connection_config.get("token.instance_url"), Some(&json!(moved)));
    let after = f.stored(&id).await;
    assert_eq!(after.connection_config.get("token.instance_url"), Some(&json!(moved)), "stored");
    assert_eq!(after.version, refreshed.credential.version);
}
