//! Webhook ingress: providers deliver events to
//! `POST /webhooks/{projectId}/{integration}` (the app-wide URL, one per
//! project and integration) and `POST
//! /webhooks/{projectId}/{integration}/{subscriptionId}` (the URL a plugin
//! registered for one subscription).
//!
//! A delivery is read whole up to the configured cap (413 past it, nothing
//! kept), handed raw to the integration's plugin, which verifies it (with
//! the project's secrets through the host's `webhook-crypto`; the plugin
//! never sees them), answers challenges and turns the body into events.
//! A rejected delivery is answered 401 and dropped. The events are stored,
//! de-duplicated by the provider's event id, before the provider is
//! answered; routing them to the workflows listening starts after the
//! answer, so a slow workflow never makes a provider time out, and a crash
//! in between leaves them for the engine's sweep. A duplicate delivery is
//! answered like the first and starts nothing.
//!
//! An integration without a plugin may have webhook triggers in its
//! definition (a custom integration's): those deliveries are verified and
//! routed by the definition's rules ([`declarative`]), at the trigger's
//! shared URL `/webhooks/{projectId}/{integration}/{triggerKey}` (plus
//! `?id=<credentialId>` for one user's hook) or a programmatic hook's
//! subscription URL, and then stored and routed the same way.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use weft_plugin_host::{CallError, CallOptions, PluginError, WebhookDelivery};
use weft_store::{Integration, NewTriggerEvent, ProjectId, SubscriptionId};

mod declarative;

use crate::routes::{Access, Routes};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(
            Method::POST,
            "/webhooks/{projectId}/{integration}",
            Access::Public,
            "A provider's app-wide webhook deliveries, verified by the integration's plugin",
            app_wide,
        )
        .add(
            Method::POST,
            "/webhooks/{projectId}/{integration}/{subscriptionId}",
            Access::Public,
            "A provider's webhook deliveries for one trigger subscription (or, for a definition's webhook trigger, its key), verified by the integration's plugin or definition",
            per_subscription,
        )
}

/// The event a plugin produced, as the store keeps it.
pub fn stored_event(e: weft_plugin_host::Event, subscription: Option<SubscriptionId>) -> NewTriggerEvent {
    NewTriggerEvent {
        subscription,
        trigger: e.trigger,
        routing_key: e.routing_key.filter(|k| !k.is_empty()),
        dedupe_key: e.dedupe_key.filter(|k| !k.is_empty()),
        occurred_at: e
            .occurred_at_ms
            .and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()),
        payload: e.payload,
    }
}

async fn app_wide(
    State(state): State<AppState>,
    Path((project, integration)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    deliver(&state, &project, &integration, None, method, uri, headers, body).await
}

async fn per_subscription(
    State(state): State<AppState>,
    Path((project, integration, subscription)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    deliver(&state, &project, &integration, Some(&subscription), method, uri, headers, body).await
}

fn no_such_url() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND", "No webhook is served at this URL")
}

/// Reads the body, up to `limit` bytes.
async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    crate::extract::refuse_declared_over(&body, limit)?;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(crate::extract::too_large(limit)),
        Err(e) => Err(crate::extract::unreadable_body(&*e)),
    }
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    state: &AppState,
    project: &str,
    integration: &str,
    subscription: Option<&str>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    // The size first: a body over the cap is refused before anything is
    // looked up or kept.
    let body = read_body(body, state.webhook_max_body).await?;
    let project: ProjectId = project.parse().map_err(|_| no_such_url())?;
    let store = &state.store;
    let integration_row = match store.get_integration_by_type(project, integration).await {
        Ok(i) => i,
        Err(weft_store::Error::NotFound(_)) => return Err(no_such_url()),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let Some(plugin) = state.plugins.get(integration) else {
        // No plugin: the webhook triggers of the integration's definition.
        let target = match subscription {
            None => return Err(no_such_url()),
            Some(segment) => match segment.parse::<SubscriptionId>() {
                Ok(id) => match store.get_subscription(project, id).await {
                    Ok(s) if s.integration == integration_row.id => declarative::Target::Subscription(Box::new(s)),
                    Ok(_) | Err(weft_store::Error::NotFound(_)) => return Err(no_such_url()),
                    Err(e) => return Err(ApiError::internal(e)),
                },
                Err(_) => declarative::Target::Shared(segment.to_owned()),
            },
        };
        return match declarative::deliver(state, &integration_row, target, &uri, &headers, &body).await? {
            declarative::Delivery::Handshake(answer) => Ok(answer),
            declarative::Delivery::Events(events) => {
                keep(state, &integration_row, events).await?;
                Ok(StatusCode::OK.into_response())
            }
        };
    };
    if plugin.triggers.is_empty() {
        return Err(no_such_url());
    }
    let subscription = match subscription {
        None => None,
        Some(id) => {
            let id: SubscriptionId = id.parse().map_err(|_| no_such_url())?;
            match store.get_subscription(project, id).await {
                Ok(s) if s.integration == integration_row.id => Some(s),
                Ok(_) | Err(weft_store::Error::NotFound(_)) => return Err(no_such_url()),
                Err(e) => return Err(ApiError::internal(e)),
            }
        }
    };
    let delivery = WebhookDelivery {
        subscription_id: subscription.as_ref().map(|s| s.id.to_string()),
        trigger: subscription.as_ref().map(|s| s.trigger.clone()),
        config: subscription.as_ref().map(|s| s.config.clone()),
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect(),
        headers: headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let opts = CallOptions::new(project.to_string());
    let outcome = state.plugins.handle_webhook(&plugin.id, &opts, delivery).await.map_err(|e| match e {
        CallError::Plugin(PluginError::InvalidInput { message }) => {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_WEBHOOK", format!("The delivery was refused: {message}"))
        }
        other => {
            tracing::warn!(project = %project, integration, error = %other, "a webhook delivery could not be handled by its plugin");
            ApiError::new(StatusCode::BAD_GATEWAY, "WEBHOOK_FAILED", "The integration could not handle this delivery")
        }
    })?;
    if let Err(why) = outcome.verification {
        tracing::info!(project = %project, integration, reason = %why, "a webhook delivery failed verification; dropped");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "WEBHOOK_REJECTED",
            "The delivery did not pass the integration's verification",
        ));
    }
    let sub_id = subscription.as_ref().map(|s| s.id);
    let events: Vec<NewTriggerEvent> = outcome.events.into_iter().map(|e| stored_event(e, sub_id)).collect();
    keep(state, &integration_row, events).await?;
    Ok(match outcome.reply {
        Some(reply) => {
            let mut answer = Response::new(axum::body::Body::from(reply.body));
            *answer.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            for (name, value) in reply.headers {
                if let (Ok(n), Ok(v)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value))
                    && !is_hop_by_hop(&n)
                {
                    answer.headers_mut().append(n, v);
                }
            }
            answer
        }
        None => StatusCode::OK.into_response(),
    })
}

/// Stores a delivery's events with the engine (with the deliveries
/// arriving meanwhile, in one transaction), then has the new ones routed
/// after the answer.
async fn keep(state: &AppState, integration: &Integration, events: Vec<NewTriggerEvent>) -> Result<(), ApiError> {
    let project = integration.project_id;
    let received = events.len();
    let stored = state.engine.store_events(project, integration.id, events).await.map_err(|e| match e {
        weft_store::Error::Invalid(m) => {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_WEBHOOK", format!("The delivery was refused: {m}"))
        }
        weft_store::Error::TooLarge { .. } => crate::extract::too_large(state.webhook_max_body),
        other => ApiError::internal(other),
    })?;
    let new: Vec<_> = stored.into_iter().flatten().collect();
    if received > 0 {
        let integration = &integration.integration_type;
        tracing::debug!(project = %project, integration, events = received, new = new.len(), "webhook delivery stored");
    }
    if !new.is_empty() {
        state.engine.route_in_background(project, new);
    }
    Ok(())
}

/// Headers a plugin's reply may not set: the server frames the answer.
fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "content-length" | "transfer-encoding" | "keep-alive" | "upgrade" | "trailer" | "te"
    )
}
