//! `/admin/projects/{projectId}/event-destinations`: a project's webhook
//! destinations for monitoring events (create, list, read, change, enable
//! or disable, delete, send a test event, recent deliveries). Admin keys
//! only, like the reference's Monitoring settings.
//!
//! Header values may be credentials for the receiver, so answers show
//! their names only (values masked); a change that leaves `headers` out
//! keeps them.

use std::collections::BTreeMap;

use crate::extract::{Json, Path, Query, json_body};
use crate::principal::{AdminOnly, ProjectKey};
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use weft_store::{Destination, DestinationConfig, DestinationId, ProjectId};

/// How a header value is shown.
const MASKED: &str = "********";

/// What a create body may hold.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// What a change may hold; absent fields are kept, `payload: null` goes
/// back to sending the whole event.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    payload: Option<Value>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A field that is present (even `null`) as `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

const CREATE_EXAMPLE: &str = r#"{"type": "webhook", "url": "https://hooks.example.com/weft", "events": ["workflow_failure", "credentials_failure"], "headers": {"X-Token": "..."}, "payload": {"text": "{{$.event.message}}"}}"#;

/// A template of `null` is no template: the whole event.
fn template(payload: Option<Value>) -> Option<Value> {
    payload.filter(|p| !p.is_null())
}

fn checked(state: &AppState, config: &DestinationConfig) -> Result<(), ApiError> {
    state
        .destinations
        .check(config)
        .map_err(|refused| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_DESTINATION", refused.to_string()))
}

/// `config` with its header values sealed for destination `id`.
fn sealed(
    state: &AppState,
    project: ProjectId,
    id: DestinationId,
    config: DestinationConfig,
) -> Result<DestinationConfig, ApiError> {
    state
        .destinations
        .seal(project, id, config)
        .map_err(|e| ApiError::internal(format!("sealing destination {id}'s headers: {e}")))
}

/// A destination as answered: header values masked.
pub(super) fn shown(d: &Destination) -> Value {
    let mut out = json!(d);
    let masked: BTreeMap<&String, &str> = d.headers.keys().map(|k| (k, MASKED)).collect();
    out["headers"] = json!(masked);
    out
}

fn destination_id(raw: &str) -> Result<DestinationId, ApiError> {
    super::parse_id(raw, "event destination")
}

pub(super) async fn create(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: Create = json_body(body, CREATE_EXAMPLE)?;
    if let Some(kind) = req.kind.as_deref().filter(|k| *k != "webhook") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_DESTINATION",
            format!("`type` {kind:?} is not supported; Weft sends events to `webhook` destinations"),
        ));
    }
    let events = req.events.unwrap_or_else(|| weft_events::EVENT_TYPES.iter().map(|e| (*e).to_owned()).collect());
    let config = DestinationConfig {
        url: req.url,
        headers: req.headers,
        sealed_headers: None,
        payload: template(req.payload),
        events,
    };
    checked(&state, &config)?;
    let id = DestinationId::new();
    let config = sealed(&state, key.project, id, config)?;
    let mut created = state.store.create_destination_with_id(key.project, id, config).await.map_err(store_error)?;
    if req.enabled == Some(false) {
        created = set_enabled(&state, key.project, created.id, false).await?;
    }
    Ok((StatusCode::CREATED, Json(shown(&created))))
}

pub(super) async fn list(State(state): State<AppState>, key: ProjectKey<AdminOnly>) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_destinations(key.project).await.map_err(store_error)?;
    Ok(Json(json!({ "destinations": all.iter().map(shown).collect::<Vec<_>>() })))
}

pub(super) async fn get(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = destination_id(&id)?;
    Ok(Json(shown(&state.store.get_destination(key.project, id).await.map_err(store_error)?)))
}

pub(super) async fn change(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = destination_id(&id)?;
    let req: Change = json_body(body, r#"the fields to change, e.g. {"url": "https://...", "enabled": false}"#)?;
    let current = state.store.get_destination(key.project, id).await.map_err(store_error)?;
    let mut changed = current.clone();
    if req.url.is_some() || req.headers.is_some() || req.payload.is_some() || req.events.is_some() {
        let new_headers = req.headers.is_some();
        let config = DestinationConfig {
            url: req.url.unwrap_or(current.url),
            // Left out: the headers stay as they are, sealed.
            sealed_headers: if new_headers { None } else { current.sealed_headers },
            headers: req.headers.unwrap_or(current.headers),
            payload: match req.payload {
                Some(p) => template(Some(p)),
                None => current.payload,
            },
            events: req.events.unwrap_or(current.events),
        };
        checked(&state, &config)?;
        let config = if new_headers { sealed(&state, key.project, id, config)? } else { config };
        changed = state.store.update_destination(key.project, id, config).await.map_err(store_error)?;
    }
    if let Some(enabled) = req.enabled.filter(|e| *e != changed.enabled) {
        changed = set_enabled(&state, key.project, id, enabled).await?;
    }
    Ok(Json(shown(&changed)))
}

async fn set_enabled(
    state: &AppState,
    project: ProjectId,
    id: DestinationId,
    enabled: bool,
) -> Result<Destination, ApiError> {
    let reason = "disabled through the admin API";
    state.store.set_destination_enabled(project, id, enabled, reason).await.map_err(store_error)
}

pub(super) async fn enable(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = destination_id(&id)?;
    Ok(Json(shown(&set_enabled(&state, key.project, id, true).await?)))
}

pub(super) async fn disable(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = destination_id(&id)?;
    Ok(Json(shown(&set_enabled(&state, key.project, id, false).await?)))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = destination_id(&id)?;
    state.store.delete_destination(key.project, id).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a sample event now (even to a disabled destination: that is how
/// an operator checks a fixed receiver before enabling it again).
pub(super) async fn test(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = destination_id(&id)?;
    let destination = state.store.get_destination(key.project, id).await.map_err(store_error)?;
    let project = state.store.get_project(key.project).await.map_err(store_error)?;
    let attempt = state.destinations.send_test(&destination, &project.name).await;
    Ok(Json(json!({ "delivered": attempt.delivered(), "status": attempt.status, "error": attempt.error })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveriesQuery {
    limit: Option<u32>,
}

/// The destination's recent deliveries, newest first.
pub(super) async fn deliveries(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = destination_id(&id)?;
    // A foreign or missing destination is 404, not an empty list.
    state.store.get_destination(key.project, id).await.map_err(store_error)?;
    let limit = q.limit.unwrap_or(100).clamp(1, weft_store::MAX_DESTINATIONS_PAGE);
    let listed = state.store.list_deliveries(key.project, id, limit).await.map_err(store_error)?;
    Ok(Json(json!({ "deliveries": listed })))
}
