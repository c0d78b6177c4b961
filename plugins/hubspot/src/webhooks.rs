//! App-level webhook triggers. HubSpot sends every subscribed event of
//! every portal that installed the app to the one target URL, in batches
//! (a JSON array of up to 100 events); each becomes one event, routed by
//! its `portalId`.
//!
//! Deliveries are verified with the v3 signature: `X-HubSpot-Signature-v3`
//! is the base64 HMAC-SHA256, keyed with the app's client secret (the
//! project secret `HUBSPOT_CLIENT_SECRET`), of method, URI, body and
//! `X-HubSpot-Request-Timestamp` (milliseconds) concatenated; deliveries
//! more than five minutes off are refused.
//!
//! HubSpot signs the full target URI it called, but the host hands the
//! plugin only the path and query. The URI is rebuilt as
//! `{scheme}://{host}{path}[?{query}]`: the host from `X-Forwarded-Host`
//! (set by a reverse proxy in front of Weft) or else `Host`, the scheme from
//! `X-Forwarded-Proto` or else `https` (HubSpot only calls HTTPS targets),
//! the query pairs percent-encoded again (RFC 3986 unreserved characters
//! kept). Then HubSpot's documented decoding is applied (`%3A` → `:`,
//! `%2F` → `/`, `%3F` → `?`, `%40` → `@`, `%21` → `!`, `%24` → `$`,
//! `%27` → `'`, `%28` → `(`, `%29` → `)`, `%2A` → `*`, `%2C` → `,`,
//! `%3B` → `;`). Both the forwarded and the direct reconstruction are
//! tried, so a proxy that rewrites `Host` without forwarding it is the
//! one setup that cannot verify.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_sdk::webhook::{Encoding, HmacAlgorithm, verify_hmac};
use weft_sdk::{Event, Result, Trigger, WebhookRequest, WebhookResponse};

/// The app's client secret, which HubSpot signs deliveries with.
pub(crate) const SECRET: &str = "HUBSPOT_CLIENT_SECRET";
/// How far the signed timestamp may be from the time of receipt.
pub(crate) const WINDOW_MS: u64 = 5 * 60 * 1000;

pub(crate) const CREATED: &str = "HUBSPOT_RECORD_CREATED";
pub(crate) const UPDATED: &str = "HUBSPOT_RECORD_UPDATED";
pub(crate) const DELETED: &str = "HUBSPOT_RECORD_DELETED";
pub(crate) const DELETED_PRIVACY: &str = "HUBSPOT_RECORD_DELETED_PRIVACY";

/// The CRM object a trigger watches.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordTrigger {
    /// The object type: `contacts`, `companies` or `deals`. Events carry it
    /// as `objectType`; the host starts the workflow only for events of
    /// this type (`Trigger::matching`).
    #[allow(dead_code)] // Read by the host from the schema, not by the plugin.
    record_type: RecordType,
}

/// An object type with webhook subscriptions.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RecordType {
    /// Contacts.
    Contacts,
    /// Companies.
    Companies,
    /// Deals.
    Deals,
}

pub(crate) fn triggers() -> Vec<Trigger> {
    // Each event names its object type as `objectType` (set in `event`): a
    // workflow's `recordType` takes only events of that type.
    let record = |t: Trigger| t.matching("recordType", "/objectType");
    vec![
        record(Trigger::app_webhook::<RecordTrigger>(CREATED, "New Record")).description(
            "A record was created (subscription types `contact.creation`, `company.creation`, `deal.creation`)",
        ),
        record(Trigger::app_webhook::<RecordTrigger>(UPDATED, "Record Updated"))
            .description("A property of a record changed (`*.propertyChange`)"),
        record(Trigger::app_webhook::<RecordTrigger>(DELETED, "Record Deleted"))
            .description("A record was deleted (`*.deletion`)"),
        record(Trigger::app_webhook::<RecordTrigger>(DELETED_PRIVACY, "Record Deleted for Privacy (GDPR)"))
            .description("A contact was deleted on a GDPR request (`contact.privacyDeletion`)"),
    ]
}

/// The trigger and the object type (as API paths name it) of a
/// `subscriptionType` such as `contact.propertyChange`, or of the generic
/// `object.*` types by `objectTypeId`.
fn classify(subscription_type: &str, object_type_id: Option<&str>) -> Option<(&'static str, &'static str)> {
    let (object, change) = subscription_type.split_once('.')?;
    let object = match object {
        "object" => match object_type_id? {
            "0-1" => "contacts",
            "0-2" => "companies",
            "0-3" => "deals",
            _ => return None,
        },
        "contact" => "contacts",
        "company" => "companies",
        "deal" => "deals",
        _ => return None,
    };
    let trigger = match change {
        "creation" => CREATED,
        "propertyChange" => UPDATED,
        "deletion" => DELETED,
        "privacyDeletion" => DELETED_PRIVACY,
        _ => return None,
    };
    Some((trigger, object))
}

pub(crate) fn handle(req: WebhookRequest) -> Result<WebhookResponse> {
    let (Some(signature), Some(timestamp)) =
        (req.header("x-hubspot-signature-v3"), req.header("x-hubspot-request-timestamp"))
    else {
        // v1 and v2 signatures hash the secret itself into the digest, which
        // the host's HMAC check cannot do without handing the plugin the
        // secret; HubSpot sends v3 with every delivery.
        return Ok(WebhookResponse::rejected("no X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp headers"));
    };
    let Ok(sent_at) = timestamp.trim().parse::<u64>() else {
        return Ok(WebhookResponse::rejected("X-HubSpot-Request-Timestamp is not a number of milliseconds"));
    };
    if req.received_at_ms.abs_diff(sent_at) > WINDOW_MS {
        return Ok(WebhookResponse::rejected("X-HubSpot-Request-Timestamp is more than five minutes off"));
    }
    let authentic = request_uris(&req).iter().any(|uri| {
        let mut message = Vec::with_capacity(req.method.len() + uri.len() + req.body.len() + timestamp.len());
        message.extend_from_slice(req.method.as_bytes());
        message.extend_from_slice(uri.as_bytes());
        message.extend_from_slice(&req.body);
        message.extend_from_slice(timestamp.trim().as_bytes());
        verify_hmac(SECRET, HmacAlgorithm::Sha256, &message, signature, Encoding::Base64)
    });
    if !authentic {
        return Ok(WebhookResponse::rejected("X-HubSpot-Signature-v3 does not match the request"));
    }
    let batch: Vec<Value> = req.json()?;
    Ok(WebhookResponse::verified().events(batch.into_iter().filter_map(event)))
}

/// One HubSpot event as a Weft event, or `None` for types no trigger takes.
fn event(mut payload: Value) -> Option<Event> {
    let object_type_id = payload["objectTypeId"].as_str().map(str::to_owned);
    let (trigger, object) = classify(payload["subscriptionType"].as_str()?, object_type_id.as_deref())?;
    let portal = id_text(&payload["portalId"])?;
    let event_id = id_text(&payload["eventId"])?;
    // HubSpot does not promise that `eventId` is unique on its own; within
    // one portal's subscription it names one event, and every retry of a
    // delivery repeats all three.
    let subscription = id_text(&payload["subscriptionId"]).unwrap_or_default();
    let dedupe = format!("{portal}:{subscription}:{event_id}");
    let occurred = payload["occurredAt"].as_u64();
    payload["objectType"] = Value::from(object);
    let mut e = Event::new(trigger, payload).routing_key(portal).dedupe_key(dedupe);
    if let Some(at) = occurred {
        e = e.occurred_at_ms(at);
    }
    Some(e)
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The URIs HubSpot may have signed (see the module docs).
fn request_uris(req: &WebhookRequest) -> Vec<String> {
    let first =
        |name: &str| req.header(name).and_then(|v| v.split(',').next()).map(str::trim).filter(|v| !v.is_empty());
    let direct_host = first("host");
    let forwarded = (first("x-forwarded-proto").unwrap_or("https"), first("x-forwarded-host").or(direct_host));
    let direct = ("https", direct_host);
    let mut uris = Vec::new();
    for (scheme, host) in [forwarded, direct] {
        let Some(host) = host else { continue };
        let uri = hubspot_decode(&format!("{scheme}://{host}{}{}", req.path, query_string(&req.query)));
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    uris
}

fn query_string(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", weft_sdk::http::path::segment(k), weft_sdk::http::path::segment(v)))
        .collect();
    format!("?{}", encoded.join("&"))
}

/// Decodes the escapes HubSpot's v3 documentation lists; others stay.
fn hubspot_decode(uri: &str) -> String {
    const TABLE: [(&str, char); 12] = [
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3).map(str::to_ascii_uppercase);
        match code.and_then(|c| TABLE.iter().find(|(hex, _)| *hex == c)) {
            Some((_, c)) => {
                out.push(*c);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
