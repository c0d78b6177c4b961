//! `hubspot`: the declared OAuth scheme and limits; the app-level webhook
//! triggers at the plugin-host level: v3 signatures over method, the URI
//! rebuilt from the host's path and query, body and timestamp (direct and
//! behind a proxy), a flipped byte and a stale or future timestamp
//! refused, a batch of events turned into several events routed by
//! `portalId` and keyed by their event ids; `test_connection` naming the
//! portal as the routing key; search paging with `after`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use weft_catalog::{AuthScheme, ClientAuth};
use weft_plugin_host::{ActionCall, CallOptions, WebhookDelivery};
use weft_tests::mock_providers::hubspot;
use weft_tests::plugin_cases::Cases;
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

const CLIENT_SECRET: &str = "cnry-hubspot-client-secret-77aa";
const HOST: &str = "weft.example.com";
const PATH: &str = "/webhooks/p1/hubspot";

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// HubSpot's v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp.
fn sign(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A delivery to `https://weft.example.com/webhooks/p1/hubspot`, signed
/// over `signed_uri` at `timestamp`.
fn delivery(body: &[u8], timestamp: u64, signed_uri: &str) -> WebhookDelivery {
    let ts = timestamp.to_string();
    WebhookDelivery {
        method: "POST".into(),
        path: PATH.into(),
        headers: vec![
            ("host".into(), HOST.into()),
            ("content-type".into(), "application/json".into()),
            ("x-hubspot-request-timestamp".into(), ts.clone()),
            ("x-hubspot-signature-v3".into(), sign(CLIENT_SECRET, "POST", signed_uri, body, &ts)),
        ],
        body: body.to_vec(),
        ..Default::default()
    }
}

fn event(subscription_type: &str, event_id: u64, portal: u64) -> Value {
    json!({ "eventId": event_id, "subscriptionId": 25, "portalId": portal, "appId": 1160452,
        "occurredAt": 1_462_216_307_945u64, "subscriptionType": subscription_type, "attemptNumber": 0,
        "objectId": 1_246_965, "changeSource": "CRM", "changeFlag": "NEW" })
}

async fn setup() -> (TestHost, String) {
    let t = TestHost::new();
    let id = t.install("hubspot").await;
    t.secrets.insert("p1", &id, "HUBSPOT_CLIENT_SECRET", CLIENT_SECRET);
    (t, id)
}

#[tokio::test]
async fn declares_hubspot_oauth_limits_secret_and_categories() {
    let (t, id) = setup().await;
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(
        (meta.base_url.as_str(), meta.allowed_hosts.as_slice()),
        ("https://api.hubapi.com", &["api.hubapi.com".to_owned()][..])
    );
    let AuthScheme::Oauth2 { authorize_url, token_url, scopes, client_auth, .. } = &meta.auth else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert_eq!(authorize_url, "https://app.hubspot.com/oauth/authorize");
    assert_eq!(token_url, "https://api.hubapi.com/oauth/v1/token");
    assert!(scopes.contains(&"oauth".to_owned()) && scopes.contains(&"crm.objects.deals.write".to_owned()));
    assert_eq!(*client_auth, ClientAuth::Post);
    assert_eq!(meta.secrets, ["HUBSPOT_CLIENT_SECRET"]);
    assert_eq!((meta.rate_limits[0].requests, meta.rate_limits[0].per_seconds), (110, 10));
    assert_eq!(meta.extra["categories"], json!(["crm"]));
    // Smart Rate Limits: every action but the searches (the reference
    // leaves out Search Records: HubSpot's search has a budget of its own).
    let (paused, unpaused): (Vec<&str>, Vec<&str>) =
        info.actions.iter().map(|a| a.key.as_str()).partition(|k| info.smart_rate_limits.iter().any(|s| s == k));
    assert_eq!(paused.len(), 12, "{paused:?}");
    assert_eq!(
        unpaused,
        ["HUBSPOT_SEARCH_RECORDS_CONTACTS", "HUBSPOT_SEARCH_RECORDS_COMPANIES", "HUBSPOT_SEARCH_RECORDS_DEALS"]
    );
    assert!(t.host.pauses_on_rate_limit(&id, "HUBSPOT_CREATE_RECORD_CONTACTS"));
    assert!(!t.host.pauses_on_rate_limit(&id, "HUBSPOT_SEARCH_RECORDS_DEALS"));
    let kinds: Vec<&str> = info.triggers.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["app-webhook"; 4]);
}

/// Every trigger: a signed delivery of its subscription type becomes one
/// event of that trigger, routed by portal, keyed by its ids.
#[tokio::test]
async fn every_trigger_turns_its_subscription_type_into_an_event() {
    let (t, id) = setup().await;
    let declared: Vec<String> = t.host.get(&id).unwrap().triggers.iter().map(|tr| tr.key.clone()).collect();
    let cases = Cases::new("hubspot trigger")
        .case("HUBSPOT_RECORD_CREATED", ("contact.creation", "contacts"))
        .case("HUBSPOT_RECORD_UPDATED", ("deal.propertyChange", "deals"))
        .case("HUBSPOT_RECORD_DELETED", ("company.deletion", "companies"))
        .case("HUBSPOT_RECORD_DELETED_PRIVACY", ("contact.privacyDeletion", "contacts"));
    let uri = format!("https://{HOST}{PATH}");
    for (n, (key, (subscription_type, object))) in cases.cover(&declared).into_iter().enumerate() {
        let body = serde_json::to_vec(&json!([event(subscription_type, 100 + n as u64, 62515)])).unwrap();
        let out = t.host.handle_webhook(&id, &CallOptions::new("p1"), delivery(&body, now_ms(), &uri)).await.unwrap();
        assert_eq!(out.verification, Ok(()), "{key}");
        assert_eq!(out.events.len(), 1, "{key}: {out:?}");
        let e = &out.events[0];
        assert_eq!(e.trigger, key);
        assert_eq!(e.routing_key.as_deref(), Some("62515"));
        assert_eq!(e.dedupe_key.as_deref(), Some(format!("62515:25:{}", 100 + n).as_str()));
        assert_eq!(e.occurred_at_ms, Some(1_462_216_307_945));
        assert_eq!(e.payload["objectType"], object);
        assert_eq!(e.payload["subscriptionType"], subscription_type);
    }
}

#[tokio::test]
async fn a_batch_becomes_several_events_for_their_portals() {
    let (t, id) = setup().await;
    let batch = json!([
        event("contact.creation", 1, 62515),
        event("contact.propertyChange", 2, 62515),
        event("contact.associationChange", 3, 62515),
        event("object.creation", 4, 777),
    ]);
    let mut batch = batch;
    batch[3]["objectTypeId"] = "0-3".into();
    let body = serde_json::to_vec(&batch).unwrap();
    let out = t
        .host
        .handle_webhook(&id, &CallOptions::new("p1"), delivery(&body, now_ms(), &format!("https://{HOST}{PATH}")))
        .await
        .unwrap();
    assert_eq!(out.verification, Ok(()));
    let got: Vec<(&str, Option<&str>, Option<&str>)> =
        out.events.iter().map(|e| (e.trigger.as_str(), e.routing_key.as_deref(), e.dedupe_key.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("HUBSPOT_RECORD_CREATED", Some("62515"), Some("62515:25:1")),
            ("HUBSPOT_RECORD_UPDATED", Some("62515"), Some("62515:25:2")),
            // An association change has no trigger; the generic `object.*` type names deals by id 0-3.
            ("HUBSPOT_RECORD_CREATED", Some("777"), Some("777:25:4")),
        ]
    );
    assert_eq!(out.events[2].payload["objectType"], "deals");
}

#[tokio::test]
async fn forged_stale_and_unsigned_deliveries_are_refused() {
    let (t, id) = setup().await;
    let opts = CallOptions::new("p1");
    let uri = format!("https://{HOST}{PATH}");
    let body = serde_json::to_vec(&json!([event("contact.creation", 1, 62515)])).unwrap();
    let mut flipped = delivery(&body, now_ms(), &uri);
    flipped.body[10] ^= 0x01;
    let out = t.host.handle_webhook(&id, &opts, flipped).await.unwrap();
    assert!(out.verification.is_err() && out.events.is_empty(), "{out:?}");
    // Signed correctly, but six minutes old or six minutes ahead.
    for at in [now_ms() - 6 * 60 * 1000, now_ms() + 6 * 60 * 1000] {
        let out = t.host.handle_webhook(&id, &opts, delivery(&body, at, &uri)).await.unwrap();
        let reason = out.verification.unwrap_err();
        assert!(reason.contains("five minutes"), "{reason}");
    }
    // Four minutes old is within the window.
    let out = t.host.handle_webhook(&id, &opts, delivery(&body, now_ms() - 4 * 60 * 1000, &uri)).await.unwrap();
    assert_eq!(out.verification, Ok(()));
    // Signed for another URI.
    let out = t
        .host
        .handle_webhook(&id, &opts, delivery(&body, now_ms(), "https://evil.example/webhooks/p1/hubspot"))
        .await
        .unwrap();
    assert!(out.verification.is_err());
    // Only the older v1 signature.
    let mut v1 = delivery(&body, now_ms(), &uri);
    v1.headers.retain(|(n, _)| n != "x-hubspot-signature-v3");
    v1.headers.push((
        "x-hubspot-signature".into(),
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de".into(),
    ));
    v1.headers.push(("x-hubspot-signature-version".into(), "v1".into()));
    assert!(t.host.handle_webhook(&id, &opts, v1).await.unwrap().verification.is_err());
    // Another project's secret.
    let other = t.host.handle_webhook(&id, &CallOptions::new("p2"), delivery(&body, now_ms(), &uri)).await.unwrap();
    assert!(other.verification.is_err(), "p2 has no HUBSPOT_CLIENT_SECRET");
}

/// HubSpot signs the URI it called, with `%3A`, `%2F`, `%40`, ... decoded;
/// behind a proxy the public host and scheme come from `X-Forwarded-*`.
#[tokio::test]
async fn the_signed_uri_is_rebuilt_from_path_query_and_host() {
    let (t, id) = setup().await;
    let opts = CallOptions::new("p1");
    let body = serde_json::to_vec(&json!([event("deal.deletion", 5, 62515)])).unwrap();
    let ts = now_ms();
    // The target URL registered at HubSpot carries a query; HubSpot signs it decoded.
    let signed = format!("https://{HOST}{PATH}?next=https://app.example.com/a@b");
    let mut d = delivery(&body, ts, &signed);
    d.query = vec![("next".into(), "https://app.example.com/a@b".into())];
    let out = t.host.handle_webhook(&id, &opts, d).await.unwrap();
    assert_eq!(out.verification, Ok(()), "{out:?}");
    assert_eq!(out.events.len(), 1);
    // Behind a reverse proxy: Host is internal, the public name is forwarded.
    let mut d = delivery(&body, ts, "https://hooks.example.org/webhooks/p1/hubspot");
    d.headers.retain(|(n, _)| n != "host");
    d.headers.push(("host".into(), "10.0.0.7:8080".into()));
    d.headers.push(("x-forwarded-host".into(), "hooks.example.org".into()));
    d.headers.push(("x-forwarded-proto".into(), "https".into()));
    let out = t.host.handle_webhook(&id, &opts, d).await.unwrap();
    assert_eq!(out.verification, Ok(()), "{out:?}");
}

#[tokio::test]
async fn test_connection_names_the_portal_and_its_routing_key() {
    let (t, id) = setup().await;
    let mock = hubspot::start().await;
    mock.with(|h| h.accept(TOKEN_CANARY, 62515));
    let opts =
        t.granted(&id, CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.base)));
    let info = t.host.test_connection(&id, &opts).await.unwrap();
    assert_eq!(info.account_id, "62515");
    assert_eq!(info.routing_keys, ["62515"]);
    assert!(info.display_name.contains("62515"), "{}", info.display_name);
    assert_eq!(info.profile["uiDomain"], "app.hubspot.com");
    assert_eq!(mock.calls()[0].line(), "GET /account-info/v3/details");
}

#[tokio::test]
async fn search_pages_follow_hubspots_after_cursor() {
    let (t, id) = setup().await;
    let mock = hubspot::start().await;
    mock.with(|h| {
        h.accept(TOKEN_CANARY, 62515);
        for n in 0..5 {
            h.seed("contacts", json!({ "email": format!("c{n}@example.com"), "lifecyclestage": "lead" }));
        }
        h.seed("contacts", json!({ "email": "other@example.com", "lifecyclestage": "customer" }));
    });
    let opts =
        t.granted(&id, CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.base)));
    let input =
        json!({ "filters": [{ "propertyName": "lifecyclestage", "operator": "EQ", "value": "lead" }], "limit": 2 });
    let (mut page, mut emails) = (None, Vec::new());
    for _ in 0..5 {
        let call =
            ActionCall { action: "HUBSPOT_SEARCH_RECORDS_CONTACTS".into(), input: input.clone(), page: page.take() };
        let out = t.host.run_action(&id, &opts, call).await.unwrap();
        emails.extend(
            out.output["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["properties"]["email"].as_str().unwrap().to_owned()),
        );
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(emails, ["c0@example.com", "c1@example.com", "c2@example.com", "c3@example.com", "c4@example.com"]);
    let afters: Vec<Value> = mock.calls().iter().map(|c| c.json()["after"].clone()).collect();
    assert_eq!(afters, [Value::Null, json!("2"), json!("4")]);
}
