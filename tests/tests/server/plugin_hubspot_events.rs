//! HubSpot's app-wide webhook through the real server: a signed v3 batch
//! posted to the project's HubSpot URL starts the workflows of the user
//! whose account is the event's portal, and a workflow's `recordType`
//! setting narrows the events it takes (the plugin's match rule, applied by
//! the host when it routes the event): a contact's creation starts the
//! contacts workflow only, a deal's the deals workflow only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::plugin_fixture::PluginFixture;
use crate::plugin_hubspot::{PORTAL, connected};
use crate::support::{api_key, set_secret, settled_executions, workflow_executions};

const SECRET: &str = "cnry-hubspot-app-secret-7f3a";

/// A workflow on HubSpot's "New Record" for `record_type`.
fn workflow(record_type: &str) -> String {
    format!(
        "name: New {record_type}\nintegration: hubspot\n\
         trigger: {{type: integration, event: HUBSPOT_RECORD_CREATED, config: {{recordType: {record_type}}}}}\n\
         steps:\n  - {{id: portal, type: integrationRequest, method: GET, url: /account-info/v3/details}}\n"
    )
}

/// Creates, deploys and enables (for `user`) a workflow; its id.
async fn deploy_for(f: &PluginFixture, admin: &str, user: &str, yaml: &str) -> String {
    let resp = f
        .app
        .client
        .post(format!("{}/admin/projects/{}/workflows", f.app.base, f.project))
        .bearer_auth(admin)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/projects/{}/workflows/{id}/deploy", f.project);
    let (status, body) = f.app.call(Method::POST, &path, Some(admin), None).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/projects/{}/sdk/workflows/{id}", f.project);
    let (status, body) = f.app.call(Method::POST, &path, Some(&f.token(user)), None).await;
    assert_eq!(status, 200, "{body}");
    id
}

/// The executions of `workflow`.
async fn executions(f: &PluginFixture, admin: &str, workflow: &str) -> Vec<Value> {
    workflow_executions(&f.app, &f.project, admin, workflow).await
}

/// Waits for `n` ended executions of `workflow`.
async fn settled(f: &PluginFixture, admin: &str, workflow: &str, n: usize) -> Vec<Value> {
    settled_executions(&f.app, &f.project, admin, workflow, n).await
}

/// Posts one HubSpot event to the project's HubSpot URL, signed with v3 as
/// HubSpot signs it (over method, the full URI it called, body and
/// timestamp).
async fn deliver(f: &PluginFixture, subscription_type: &str, object_type_id: Option<&str>, event_id: u64) -> u16 {
    let path = format!("/webhooks/{}/hubspot", f.project);
    let url = format!("{}{path}", f.app.base);
    let host = reqwest::Url::parse(&url).unwrap();
    let signed_uri = format!("https://{}:{}{path}", host.host_str().unwrap(), host.port().unwrap());
    let mut event = json!({ "eventId": event_id, "subscriptionId": 25, "portalId": PORTAL, "appId": 1160452,
        "occurredAt": 1_462_216_307_945u64, "subscriptionType": subscription_type, "attemptNumber": 0,
        "objectId": 1_246_965, "changeSource": "CRM" });
    if let Some(id) = object_type_id {
        event["objectTypeId"] = json!(id);
    }
    let body = json!([event]).to_string();
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    for part in [b"POST".as_slice(), signed_uri.as_bytes(), body.as_bytes(), ts.as_bytes()] {
        mac.update(part);
    }
    let resp = f
        .app
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hubspot-request-timestamp", &ts)
        .header("x-hubspot-signature-v3", STANDARD.encode(mac.finalize().into_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

#[tokio::test]
async fn a_workflows_record_type_narrows_the_hubspot_events_it_takes() {
    let (_mock, f, credential) = connected().await;
    assert_eq!(credential["providerId"], PORTAL.to_string(), "the portal is the routing key: {credential}");
    let admin = api_key(f.app.store.as_ref(), &f.project, weft_store::Role::Admin).await;
    set_secret(&f.app, &f.project, &admin, "HUBSPOT_CLIENT_SECRET", SECRET).await;
    let contacts = deploy_for(&f, &admin, "u1", &workflow("contacts")).await;
    let deals = deploy_for(&f, &admin, "u1", &workflow("deals")).await;

    assert_eq!(deliver(&f, "contact.creation", None, 101).await, 200);
    let runs = settled(&f, &admin, &contacts, 1).await;
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("u1"), Some("SUCCEEDED")));
    assert_eq!(deliver(&f, "deal.creation", None, 102).await, 200);
    settled(&f, &admin, &deals, 1).await;
    // A company is neither workflow's record type.
    assert_eq!(deliver(&f, "company.creation", None, 103).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(executions(&f, &admin, &contacts).await.len(), 1, "the contacts workflow took the contact only");
    assert_eq!(executions(&f, &admin, &deals).await.len(), 1, "the deals workflow took the deal only");
    // The generic `object.creation` type names the object by id: 0-3 is a deal.
    assert_eq!(deliver(&f, "object.creation", Some("0-3"), 104).await, 200);
    settled(&f, &admin, &deals, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(executions(&f, &admin, &contacts).await.len(), 1, "still the one contact");
}
