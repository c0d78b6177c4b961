//! Deliveries to the webhook triggers a definition describes (a custom
//! integration's own): verified, routed and turned into events here, from
//! the definition's rules, with no plugin; stored and routed by the engine
//! exactly as a plugin's events are.
//!
//! The trigger's shared URL is `/webhooks/{projectId}/{integration}/{key}`:
//! - a user-level manual hook is that URL plus `?id=<credentialId>`, one
//!   per user, and its events go to that account's workflows on the
//!   trigger;
//! - an app-level hook is that URL alone; each event names its account by
//!   a payload field or a header, matched against the accounts' `providerId`
//!   by the engine's router;
//! - a programmatic hook was registered on its subscription's own URL
//!   (`/webhooks/{projectId}/{integration}/{subscriptionId}`), and its events
//!   go to that subscription.
//!
//! - an app-level hook set up by API requests was registered on the app's
//!   subscription URL, and its events are routed like the shared URL's.
//!
//! A delivery that fails the trigger's verification (a wrong or missing
//! signature, or no signing key set) is answered 401 and nothing is kept.
//! A provider's handshake (recognised as the definition says) is answered
//! as it says, before verification, and starts nothing; what its answer
//! persists is kept (sealed) with the subscription the URL is for: the
//! subscription's own, the account's (`?id=`) or the app's.

use axum::body::Bytes;
use axum::response::Response;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use weft_catalog::webhooks::SigningSecret;
use weft_catalog::{WebhookLevel, WebhookTrigger};
use weft_store::{CredentialId, Integration, NewTriggerEvent, Subscription, SubscriptionId, SubscriptionScope};

use super::no_such_url;
use crate::{ApiError, AppState};

/// Where a delivery arrived: the subscription's own URL, or a trigger's
/// shared URL.
pub(super) enum Target {
    /// `/webhooks/{p}/{integration}/{subscriptionId}`: the subscription.
    Subscription(Box<Subscription>),
    /// `/webhooks/{p}/{integration}/{key}` (with `?id=` for one account).
    Shared(String),
}

/// What a delivery to a definition's webhook trigger is.
pub(super) enum Delivery {
    /// Events, verified and routed, to store.
    Events(Vec<NewTriggerEvent>),
    /// The provider's handshake, answered from the definition.
    Handshake(Response),
}

/// One delivery to a definition's webhook trigger: its events, verified
/// and routed, or a handshake's answer; `Err` is the answer when it is
/// refused.
pub(super) async fn deliver(
    state: &AppState,
    integration: &Integration,
    target: Target,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Delivery, ApiError> {
    let triggers = state.credentials.webhook_triggers(integration).map_err(ApiError::internal)?;
    let key = match &target {
        Target::Subscription(s) => s.trigger.as_str(),
        Target::Shared(key) => key.as_str(),
    };
    let Some(hook) = triggers.into_iter().find(|t| t.key == key) else { return Err(no_such_url()) };
    let payload = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
    };
    if let Some(handshake) = &hook.handshake {
        let request = request_of(uri, headers, &payload);
        if handshake.matches(&request) {
            let reply = answer(handshake, &request)?;
            persist(state, integration, &hook, &target, uri, handshake, &request).await?;
            return Ok(Delivery::Handshake(reply));
        }
    }
    let reads_persisted = hook.verification.as_ref().is_some_and(|v| matches!(v.secret, SigningSecret::Persisted(_)));
    let subject = if reads_persisted { subject(state, integration, &hook, &target, uri).await? } else { None };
    verify(state, integration, &hook, subject.as_ref(), headers, body).await?;
    events(state, integration, &hook, target, uri, headers, payload).await.map(Delivery::Events)
}

/// The subscription a delivery to `target` is for: the URL's own, the
/// account's (`?id=`) or, at the shared URL of an app-level trigger, the
/// app's; `None` when there is none (nothing listens yet).
async fn subject(
    state: &AppState,
    integration: &Integration,
    hook: &WebhookTrigger,
    target: &Target,
    uri: &Uri,
) -> Result<Option<Subscription>, ApiError> {
    let project = integration.project_id;
    let store = &state.store;
    Ok(match (target, account(uri).map_err(|()| bad_id())?) {
        (Target::Subscription(s), _) => Some((**s).clone()),
        (Target::Shared(_), Some(credential)) => store
            .subscriptions_for(project, integration.id, &hook.key, &[credential])
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .next(),
        (Target::Shared(_), None) => store
            .list_subscriptions(project, None)
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .find(|s| s.scope == SubscriptionScope::App && s.integration == integration.id && s.trigger == hook.key),
    })
}

/// Keeps what the handshake's answer persists with the subscription the
/// URL is for; refused (400) when the request lacks a value to keep.
async fn persist(
    state: &AppState,
    integration: &Integration,
    hook: &WebhookTrigger,
    target: &Target,
    uri: &Uri,
    handshake: &weft_catalog::Handshake,
    request: &Value,
) -> Result<(), ApiError> {
    if handshake.response.persist.is_empty() {
        return Ok(());
    }
    let values = handshake.persisted(request).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_WEBHOOK", format!("The handshake cannot be kept: {e}"))
    })?;
    let Some(s) = subject(state, integration, hook, target, uri).await? else {
        tracing::warn!(project = %integration.project_id, trigger = %hook.key, "a webhook handshake's values have no subscription to be kept with (no workflow listens yet); dropped");
        return Ok(());
    };
    // A handshake is unauthenticated: once a programmatic hook is live (or
    // a manual one has kept its values), a replayed one could swap the
    // signing key. It is kept only while the subscribe request is in flight
    // (or being retried), or the first time for a manual hook.
    let open = match s.kind {
        weft_store::SubscriptionKind::Webhook => s.status != weft_store::SubscriptionStatus::Active,
        _ => s.persisted.is_none(),
    };
    if !open {
        tracing::warn!(project = %s.project, subscription = %s.id, "a handshake on a live webhook subscription was answered; its values are not kept");
        return Ok(());
    }
    state.credentials.persist_handshake(s.project, s.id, &values).await.map_err(ApiError::internal)
}

/// The request as a handshake reads it: query parameters, headers (names
/// lower-case) and the payload.
fn request_of(uri: &Uri, headers: &HeaderMap, payload: &Value) -> Value {
    let query: serde_json::Map<String, Value> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), Value::String(v.to_str().ok()?.to_owned()))))
        .collect();
    serde_json::json!({ "query": query, "headers": headers, "body": payload })
}

/// The handshake's answer, as the definition writes it.
fn answer(handshake: &weft_catalog::Handshake, request: &Value) -> Result<Response, ApiError> {
    let filled = handshake.answer(request).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_WEBHOOK", format!("The handshake cannot be answered: {e}"))
    })?;
    let mut response = Response::new(axum::body::Body::from(filled.body));
    *response.status_mut() = StatusCode::from_u16(filled.status).unwrap_or(StatusCode::OK);
    for (name, value) in filled.headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value))
            && !super::is_hop_by_hop(&n)
        {
            response.headers_mut().append(n, v);
        }
    }
    // The answer may echo what the caller sent: never let a browser run it
    // as a page of this origin.
    let h = response.headers_mut();
    h.insert(http::header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
    h.insert(http::header::CONTENT_SECURITY_POLICY, http::HeaderValue::from_static("sandbox"));
    Ok(response)
}

/// The events of a verified delivery, each for the account it names.
async fn events(
    state: &AppState,
    integration: &Integration,
    hook: &WebhookTrigger,
    target: Target,
    uri: &Uri,
    headers: &HeaderMap,
    payload: Value,
) -> Result<Vec<NewTriggerEvent>, ApiError> {
    let event_id = hook.event_id.as_deref().and_then(|p| payload.pointer(p)).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let event = |subscription: Option<SubscriptionId>, routing_key: Option<String>| NewTriggerEvent {
        subscription,
        trigger: hook.key.clone(),
        routing_key,
        // App-wide events of every trigger share one scope: keyed by trigger.
        dedupe_key: event_id.as_ref().map(|id| format!("{}:{id}", hook.key)),
        occurred_at: None,
        payload: payload.clone(),
    };
    let named = account(uri).map_err(|()| bad_id())?;
    let routed = || {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        hook.routing.as_ref().and_then(|r| r.key(&payload, header))
    };
    Ok(match (target, named) {
        // The app's hook: its events name their accounts like the shared URL's.
        (Target::Subscription(s), _) if s.scope == SubscriptionScope::App => vec![event(None, routed())],
        (Target::Subscription(s), _) => vec![event(Some(s.id), None)],
        (Target::Shared(_), Some(credential)) => {
            let store = &state.store;
            match store.get_credential(integration.project_id, credential).await {
                Ok(c) if c.integration_id == integration.id => {}
                Ok(_) | Err(weft_store::Error::NotFound(_)) => return Err(bad_id()),
                Err(e) => return Err(ApiError::internal(e)),
            }
            // The account's workflows on the trigger listen through its
            // subscription (one event each for any older per-workflow ones).
            let listening = store
                .subscriptions_for(integration.project_id, integration.id, &hook.key, &[credential])
                .await
                .map_err(ApiError::internal)?;
            listening.iter().map(|s| event(Some(s.id), None)).collect()
        }
        (Target::Shared(_), None) if hook.level == WebhookLevel::App => vec![event(None, routed())],
        (Target::Shared(_), None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_WEBHOOK",
                "A user-level webhook URL names its account: append ?id=<credentialId>",
            ));
        }
    })
}

/// The account `?id=` names, if the query has one.
fn account(uri: &Uri) -> Result<Option<CredentialId>, ()> {
    let query = uri.query().unwrap_or("");
    let id = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "id").map(|(_, v)| v.into_owned());
    id.map(|id| id.parse().map_err(drop)).transpose()
}

fn bad_id() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND", "No account of this integration has that id")
}

fn rejected() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "WEBHOOK_REJECTED",
        "The delivery did not pass the integration's verification",
    )
}

/// Checks the delivery's signature, if the trigger asks for one (with a
/// key a handshake persisted, `subject`'s).
async fn verify(
    state: &AppState,
    integration: &Integration,
    hook: &WebhookTrigger,
    subject: Option<&Subscription>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), ApiError> {
    use secrecy::ExposeSecret;
    let Some(v) = &hook.verification else { return Ok(()) };
    let project = integration.project_id;
    let secret = state.credentials.signing_secret(integration, &v.secret, subject).await.map_err(ApiError::internal)?;
    let Some(secret) = secret else {
        tracing::warn!(project = %project, integration = %integration.integration_type, trigger = %hook.key, "a webhook delivery cannot be verified: its signing key is not set; dropped");
        return Err(rejected());
    };
    let signature = headers.get(v.header.as_str()).and_then(|h| h.to_str().ok());
    v.check(secret.expose_secret().as_bytes(), body, signature).map_err(|why| {
        tracing::info!(project = %project, integration = %integration.integration_type, trigger = %hook.key, reason = %why, "a webhook delivery failed verification; dropped");
        rejected()
    })
}
