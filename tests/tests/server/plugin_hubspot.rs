//! The `hubspot` plugin through the real server: a user connects with
//! HubSpot's OAuth flow (the token answer as HubSpot documents it:
//! lower-case `bearer`, a 30-minute `expires_in` and a refresh token), the
//! connection test finds the portal, every action the server lists (five
//! per CRM object) runs through ActionKit against the strict HubSpot mock,
//! refusals come back in the error shape, and an expired token is
//! refreshed with HubSpot's rotating refresh token.

use crate::plugin_fixture::{ActionCase, PluginFixture, case};
use serde_json::{Value, json};
use weft_tests::mock_auth::Fault;
use weft_tests::mock_providers::{Call, MockServer, hubspot};
use weft_tests::plugin_cases::Cases;

pub(crate) const ACCESS: &str = "CNcnryHubspotAccessA1b2C3d4E5f6";
const REFRESH: &str = "6f18f21e-cnry-hubspot-refresh-0001";
pub(crate) const PORTAL: u64 = 62515;

/// Exactly one request, `method path`, with the connection's token.
fn one<'a>(calls: &'a [Call], method: &str, path: &str) -> &'a Call {
    let lines: Vec<String> = calls.iter().map(Call::line).collect();
    assert_eq!(lines, [format!("{method} {path}")], "the requests made");
    assert_eq!(calls[0].header("authorization"), Some(format!("Bearer {ACCESS}").as_str()));
    assert!((200..300).contains(&calls[0].status), "refused: {}", String::from_utf8_lossy(&calls[0].body));
    &calls[0]
}

/// One CRM object's sample data: the fields of a new record as ActionKit
/// parameters and as HubSpot properties, and a field to update.
struct Sample {
    object: &'static str,
    key: &'static str,
    create: Value,
    properties: Value,
    update: (&'static str, &'static str, &'static str),
    search: (&'static str, &'static str),
}

fn samples() -> Vec<Sample> {
    vec![
        Sample {
            object: "contacts",
            key: "CONTACTS",
            create: json!({ "field-email": "ada@example.com", "field-firstname": "Ada", "field-lifecyclestage": "lead",
                "additionalFieldsJSON": "{\"phone\": \"+1 555 0100\", \"website\": \"example.com\"}" }),
            properties: json!({ "email": "ada@example.com", "firstname": "Ada", "lifecyclestage": "lead",
                "phone": "+1 555 0100", "website": "example.com" }),
            update: ("field-jobtitle", "jobtitle", "CTO"),
            search: ("email", "grace@example.com"),
        },
        Sample {
            object: "companies",
            key: "COMPANIES",
            create: json!({ "field-name": "Biglytics", "field-domain": "biglytics.net", "field-industry": "COMPUTER_SOFTWARE",
                "additionalFieldsJSON": "{\"numberofemployees\": 25}" }),
            properties: json!({ "name": "Biglytics", "domain": "biglytics.net", "industry": "COMPUTER_SOFTWARE", "numberofemployees": "25" }),
            update: ("field-city", "city", "Cambridge"),
            search: ("domain", "seeded.example"),
        },
        Sample {
            object: "deals",
            key: "DEALS",
            create: json!({ "field-dealname": "Renewal", "field-amount": "1500.00", "field-pipeline": "default",
                "field-dealstage": "appointmentscheduled" }),
            properties: json!({ "dealname": "Renewal", "amount": "1500.00", "pipeline": "default", "dealstage": "appointmentscheduled" }),
            update: ("field-amount", "amount", "2000"),
            search: ("dealname", "Seeded deal"),
        },
    ]
}

/// Seeds two records per object (one to read, update and find, one to
/// delete) and the cases of all fifteen actions.
fn cases(mock: &MockServer<hubspot::HubSpot>) -> Cases<ActionCase> {
    let mut cases = Cases::new("hubspot action");
    for s in samples() {
        let (object, (search_prop, search_value)) = (s.object, s.search);
        let kept = mock.with(|h| h.seed(object, json!({ search_prop: search_value })));
        let doomed = mock.with(|h| h.seed(object, json!({})));
        let base = format!("/crm/v3/objects/{object}");
        let (expected, b) = (s.properties.clone(), base.clone());
        cases = cases.case(
            format!("HUBSPOT_CREATE_RECORD_{}", s.key),
            case(s.create.clone(), move |out, calls| {
                let call = one(calls, "POST", &b);
                assert_eq!(call.json(), json!({ "properties": expected }));
                assert!(out["id"].as_str().is_some_and(|id| !id.is_empty()), "{out}");
            }),
        );
        let (param, property, value) = s.update;
        let b = format!("{base}/{kept}");
        cases = cases.case(
            format!("HUBSPOT_UPDATE_RECORD_{}", s.key),
            case(json!({ "recordId": kept.to_string(), param: value }), move |out, calls| {
                let call = one(calls, "PATCH", &b);
                assert_eq!(call.json(), json!({ "properties": { property: value } }));
                assert_eq!(out["id"], kept.to_string(), "{out}");
            }),
        );
        let b = format!("{base}/{kept}");
        cases = cases.case(
            format!("HUBSPOT_GET_RECORD_BY_ID_{}", s.key),
            case(json!({ "recordId": kept.to_string(), "properties": [search_prop, property] }), move |out, calls| {
                let call = one(calls, "GET", &b);
                assert_eq!(call.query_value("properties"), Some(format!("{search_prop},{property}").as_str()));
                assert_eq!(out["properties"][search_prop], search_value, "{out}");
                assert_eq!(out["properties"][property], value, "the update before it: {out}");
            }),
        );
        let b = format!("{base}/search");
        let filter = json!({ "propertyName": search_prop, "operator": "EQ", "value": search_value });
        cases = cases.case(
            format!("HUBSPOT_SEARCH_RECORDS_{}", s.key),
            case(json!({ "filters": [filter.clone()], "properties": [search_prop], "limit": 5 }), move |out, calls| {
                let call = one(calls, "POST", &b);
                let expected =
                    json!({ "limit": 5, "filterGroups": [{ "filters": [filter] }], "properties": [search_prop] });
                assert_eq!(call.json(), expected);
                assert_eq!(out["total"], 1, "{out}");
                assert_eq!(out["results"][0]["id"], kept.to_string(), "{out}");
            }),
        );
        let b = format!("{base}/{doomed}");
        cases = cases.case(
            format!("HUBSPOT_DELETE_RECORD_{}", s.key),
            case(json!({ "recordId": doomed.to_string() }), move |out, calls| {
                one(calls, "DELETE", &b);
                assert_eq!(out, &json!({ "deleted": true, "recordId": doomed.to_string() }));
            }),
        );
    }
    cases
}

pub(crate) async fn connected() -> (MockServer<hubspot::HubSpot>, PluginFixture, Value) {
    let mock = hubspot::start().await;
    mock.with(|h| h.accept(ACCESS, PORTAL));
    let f = PluginFixture::new("hubspot", "hubspot", &mock.base).await;
    // HubSpot's documented answer to the code exchange.
    let answer =
        json!({ "token_type": "bearer", "refresh_token": REFRESH, "access_token": ACCESS, "expires_in": 1800 });
    let (query, credential) = f.connect("u1", answer).await;
    let scope = query.iter().find(|(n, _)| n == "scope").map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(scope.split(' ').any(|s| s == "crm.objects.contacts.write"), "{scope}");
    assert!(scope.split(' ').any(|s| s == "oauth"), "{scope}");
    (mock, f, credential)
}

#[tokio::test]
async fn hubspot_connects_and_runs_every_action_through_actionkit() {
    let (mock, f, credential) = connected().await;
    assert_eq!(credential["status"], "VALID", "{credential}");
    assert_eq!(credential["providerId"], PORTAL.to_string(), "the account is the portal: {credential}");
    assert_eq!(credential["providerData"]["uiDomain"], "app.hubspot.com", "{credential}");
    assert_eq!(mock.calls().last().map(Call::line).as_deref(), Some("GET /account-info/v3/details"));

    let tools = f.tools("u1").await;
    let create = tools.iter().find(|t| t["function"]["name"] == "HUBSPOT_CREATE_RECORD_CONTACTS").expect("listed");
    let props = &create["function"]["parameters"]["properties"];
    for field in ["field-email", "field-firstname", "field-lastname", "field-hubspot_owner_id", "additionalFieldsJSON"]
    {
        assert!(props[field]["description"].is_string(), "{field} in {props}");
    }

    // ActionKit's categories filter reads the plugin's `extra.categories`.
    let listed = |query: &'static str| {
        let path = format!("/projects/{}/actions?categories={query}", f.project);
        let token = f.token("u1");
        let app = &f.app;
        async move { app.call(reqwest::Method::GET, &path, Some(&token), None).await.1 }
    };
    assert!(listed("crm").await["actions"]["hubspot"].is_array());
    assert!(listed("calendar").await["actions"].get("hubspot").is_none());
    assert_eq!(f.action_keys("u1").await.len(), 15);
    f.run_every_action("u1", &mock, cases(&mock)).await;
}

#[tokio::test]
async fn hubspot_refusals_come_back_in_the_error_shape() {
    let (mock, f, _) = connected().await;
    mock.with(|h| h.seed("contacts", json!({ "email": "taken@example.com" })));
    let (status, body) =
        f.run("u1", "HUBSPOT_CREATE_RECORD_CONTACTS", json!({ "field-email": "taken@example.com" })).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("PROVIDER_ERROR")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Contact already exists"), "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    let unknown = json!({ "field-email": "new@example.com", "additionalFieldsJSON": "{\"shoe_size\": \"42\"}" });
    let (status, body) = f.run("u1", "HUBSPOT_CREATE_RECORD_CONTACTS", unknown).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PROVIDER_ERROR")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("shoe_size"), "{body}");
    let (status, body) = f.run("u1", "HUBSPOT_GET_RECORD_BY_ID_DEALS", json!({ "recordId": "999999" })).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PROVIDER_NOT_FOUND")), "{body}");
    // Not JSON in additionalFieldsJSON: refused before HubSpot is called.
    let before = mock.count();
    let (status, body) = f.run("u1", "HUBSPOT_CREATE_RECORD_DEALS", json!({ "additionalFieldsJSON": "{oops" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert_eq!(mock.count(), before);
}

/// HubSpot access tokens expire after 30 minutes; a refresh may return a
/// new refresh token, which the next refresh must use.
#[tokio::test]
async fn an_expired_hubspot_token_is_refreshed_with_the_rotated_refresh_token() {
    let (mock, f, _) = connected().await;
    let (access2, refresh2) = ("CNcnryHubspotAccessSecond0002", "6f18f21e-cnry-hubspot-refresh-0002");
    let access3 = "CNcnryHubspotAccessThird00003";
    for t in [access2, refresh2, access3] {
        weft_tests::sweep::register(t);
    }
    mock.with(|h| {
        h.expire(ACCESS);
        h.accept(access2, PORTAL);
    });
    f.auth.push_fault(Fault::Body {
        status: 200,
        content_type: "application/json".into(),
        body: json!({ "token_type": "bearer", "refresh_token": refresh2, "access_token": access2, "expires_in": 1800 })
            .to_string()
            .into_bytes(),
    });
    let before = mock.count();
    let (status, out) = f.run("u1", "HUBSPOT_SEARCH_RECORDS_CONTACTS", json!({})).await;
    assert_eq!(status, 200, "{out}");
    let calls = mock.calls_since(before);
    let auths: Vec<Option<&str>> = calls.iter().map(|c| c.header("authorization")).collect();
    assert_eq!(auths, [Some(format!("Bearer {ACCESS}").as_str()), Some(format!("Bearer {access2}").as_str())]);
    let refresh = f.auth.log().into_iter().rev().find(|r| r.path == "/token").unwrap();
    assert_eq!(refresh.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(refresh.form_value("refresh_token"), Some(REFRESH));
    assert_eq!(refresh.form_value("client_id"), Some(crate::plugin_fixture::CLIENT_ID));

    // The next expiry refreshes with the rotated token.
    mock.with(|h| {
        h.expire(access2);
        h.accept(access3, PORTAL);
    });
    f.auth.push_fault(Fault::Body {
        status: 200,
        content_type: "application/json".into(),
        body: json!({ "token_type": "bearer", "refresh_token": refresh2, "access_token": access3, "expires_in": 1800 })
            .to_string()
            .into_bytes(),
    });
    let (status, out) = f.run("u1", "HUBSPOT_SEARCH_RECORDS_CONTACTS", json!({})).await;
    assert_eq!(status, 200, "{out}");
    let refresh = f.auth.log().into_iter().rev().find(|r| r.path == "/token").unwrap();
    assert_eq!(refresh.form_value("refresh_token"), Some(refresh2));
}
