//! API Resources in the admin API: create, list, read, replace and delete
//! a project's resources, and set an app-level resource's one credential.
//!
//! A resource runs on a hidden integration (`weft_catalog::resource`): its
//! id is that integration's id (a UUID), its document is checked and
//! translated by the credential service, and its client secret, write-only
//! as `clientSecret`, goes to the vault like an integration's.

use axum::extract::State;
use http::StatusCode;
use serde_json::{Map, Value, json};
use weft_catalog::resource::{RESOURCE_PREFIX, Resource, is_resource};
use weft_store::{Integration, IntegrationId, IntegrationPatch, NewIntegration, ProjectId};

use super::{parse_id, set_client_secret, take_client_secret};
use crate::connect::{credential_error, credential_view};
use crate::error::Problem;
use crate::extract::{Json, Path};
use crate::principal::{ProjectKey, Staff};
use crate::{ApiError, AppState, store_error};

/// The answer for a resource: its document, its id and what is set.
fn view(integration: &Integration, resource: &Resource) -> Value {
    let mut out = json!(resource);
    out["id"] = json!(integration.id);
    // What a workflow on the resource's triggers names as its integration.
    out["integrationType"] = json!(integration.integration_type);
    out["hasClientSecret"] = json!(integration.has_client_secret);
    out["createdAt"] = json!(integration.created_at.unix_timestamp());
    out
}

/// The resource document of a body, checked and translated for the hidden
/// integration `integration_type`: the definition to store and the
/// resource, or 400 with every problem.
fn checked(
    state: &AppState,
    integration_type: &str,
    body: Option<Json<Value>>,
) -> Result<(Map<String, Value>, Resource), ApiError> {
    let Some(Json(document @ Value::Object(_))) = body else {
        return Err(ApiError::bad_request(
            r#"Send the resource as a JSON object: {"name": "TaskLab", "auth": {...}, "baseUrl": "https://..."}"#,
        ));
    };
    let (resource, provider) = state.credentials.check_resource(integration_type, document).map_err(refused)?;
    let Value::Object(definition) = serde_json::to_value(&provider).map_err(ApiError::internal)? else {
        return Err(ApiError::internal("a provider serialises as an object"));
    };
    Ok((definition, resource))
}

/// A refused resource: 400 with every problem as a path and a reason.
fn refused(e: weft_credentials::DefinitionError) -> ApiError {
    let problems: Vec<Problem> = e.problems.into_iter().map(|p| Problem { path: p.path, reason: p.reason }).collect();
    let at = |p: &Problem| format!("at {}: {}", if p.path.is_empty() { "/" } else { &p.path }, p.reason);
    let message = match problems.as_slice() {
        [one] => format!("The resource is invalid {}", at(one)),
        [first, ..] => {
            format!("The resource has {} problems (see meta.problems), the first {}", problems.len(), at(first))
        }
        [] => "The resource is invalid".to_owned(),
    };
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_RESOURCE", message).with_problems(problems)
}

/// The resource `raw` of `project`, or 404.
async fn find(state: &AppState, project: ProjectId, raw: &str) -> Result<(Integration, Resource), ApiError> {
    let id: IntegrationId = parse_id(raw, "resource")?;
    state.credentials.resource(project, id).await.map_err(credential_error)
}

pub(super) async fn create(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (body, secret) = take_client_secret(body)?;
    let integration_type = format!("{RESOURCE_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let (definition, resource) = checked(&state, &integration_type, body)?;
    let new = NewIntegration {
        integration_type,
        active: true,
        client_id: resource.client_id().map(str::to_owned),
        definition: Some(definition),
        ..Default::default()
    };
    let created = state.store.create_integration(key.project, new).await.map_err(store_error)?;
    if let Some(secret) = secret {
        set_client_secret(&state, key.project, created.id, secret).await?;
    }
    let (integration, resource) = find(&state, key.project, &created.id.to_string()).await?;
    Ok((StatusCode::CREATED, Json(view(&integration, &resource))))
}

pub(super) async fn list(State(state): State<AppState>, key: ProjectKey<Staff>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for i in state.store.list_integrations(key.project).await.map_err(store_error)? {
        if is_resource(&i.integration_type) {
            let (integration, resource) =
                state.credentials.resource(key.project, i.id).await.map_err(credential_error)?;
            out.push(view(&integration, &resource));
        }
    }
    Ok(Json(Value::Array(out)))
}

pub(super) async fn get(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (integration, resource) = find(&state, key.project, &id).await?;
    Ok(Json(view(&integration, &resource)))
}

/// Replaces a resource's document (its id, connections and, unless a new
/// `clientSecret` is given, its client secret are kept).
pub(super) async fn replace(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let (current, _) = find(&state, key.project, &id).await?;
    let (body, secret) = take_client_secret(body)?;
    let (definition, resource) = checked(&state, &current.integration_type, body)?;
    let patch = IntegrationPatch {
        client_id: Some(resource.client_id().map(str::to_owned)),
        definition: Some(Some(definition)),
        ..Default::default()
    };
    state.store.update_integration(key.project, current.id, patch).await.map_err(store_error)?;
    state.credentials.forget_sessions();
    if let Some(secret) = secret {
        set_client_secret(&state, key.project, current.id, secret).await?;
    }
    let (integration, resource) = find(&state, key.project, &id).await?;
    Ok(Json(view(&integration, &resource)))
}

/// Deletes a resource and its connections.
pub(super) async fn delete(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (current, _) = find(&state, key.project, &id).await?;
    state.store.delete_integration(key.project, current.id).await.map_err(store_error)?;
    state.credentials.forget_sessions();
    Ok(StatusCode::NO_CONTENT)
}

/// Sets an app-level resource's one credential: the body holds its keys.
pub(super) async fn set_credential(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let (current, _) = find(&state, key.project, &id).await?;
    let Some(Json(Value::Object(keys))) = body else {
        return Err(ApiError::bad_request(r#"Send the resource's keys as a JSON object: {"apiKey": "..."}"#));
    };
    let credential =
        state.credentials.connect_app_resource(key.project, current.id, keys).await.map_err(credential_error)?;
    Ok(Json(credential_view(&credential, time::OffsetDateTime::now_utc())))
}
