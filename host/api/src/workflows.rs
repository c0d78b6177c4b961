//! Workflows as a user's app reaches them: sending app events, and turning
//! a deployed workflow on or off for the user (for one of their accounts
//! with `X-Paragon-Credential`).

use crate::connect::CREDENTIAL_HEADER;
use crate::extract::{Json, Path, json_body};
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use weft_store::{CredentialId, WorkflowId};

pub(crate) fn routes() -> Routes {
    let user = Access::User;
    Routes::new()
        .add(Method::POST, "/projects/{projectId}/sdk/events/trigger", user, "Send an app event", trigger_event)
        .add(Method::POST, "/v2/projects/{projectId}/sdk/events/trigger", user, "Send an app event", trigger_event)
        .add(
            Method::POST,
            "/projects/{projectId}/sdk/workflows/{workflowId}",
            user,
            "Enable a workflow for the user",
            enable,
        )
        .add(
            Method::DELETE,
            "/projects/{projectId}/sdk/workflows/{workflowId}",
            user,
            "Disable a workflow for the user",
            disable,
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    name: String,
    #[serde(default)]
    payload: Value,
}

/// Starts the workflows listening to the event that the user enabled;
/// answered 201 whether or not any was (one event, many workflows: there is
/// no single answer to wait for).
async fn trigger_event(
    State(state): State<AppState>,
    user: User,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let event: Event = json_body(body, r#"{"name": "Contact Created", "payload": {"email": "..."}}"#)?;
    if event.name.trim().is_empty() {
        return Err(ApiError::bad_request("name the app event"));
    }
    let started = state
        .engine
        .app_event(weft_engine::AppEvent {
            project: user.project,
            user: user.user.user_id.clone(),
            name: event.name,
            payload: event.payload,
        })
        .await
        .map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "executions": started.executions }))))
}

/// The workflow of the route (deployed, if `deployed`), and the account
/// the header names (one of the user's own).
async fn target(
    state: &AppState,
    user: &User,
    raw: &str,
    headers: &HeaderMap,
    deployed: bool,
) -> Result<(WorkflowId, Option<CredentialId>), ApiError> {
    let id: WorkflowId = raw.parse().map_err(|_| ApiError::not_found("workflow not found"))?;
    let workflow = state.store.get_workflow(user.project, id).await.map_err(store_error)?;
    if deployed && workflow.deployed_version.is_none() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "WORKFLOW_NOT_DEPLOYED", "this workflow is not deployed"));
    }
    let credential = match headers.get(CREDENTIAL_HEADER).and_then(|v| v.to_str().ok()) {
        Some(raw) => {
            let id: CredentialId = raw.parse().map_err(|_| ApiError::not_found("credential not found"))?;
            let credential = state.store.get_credential(user.project, id).await.map_err(store_error)?;
            if credential.user_id != user.user.user_id {
                return Err(ApiError::not_found("credential not found"));
            }
            Some(id)
        }
        None => None,
    };
    Ok((id, credential))
}

async fn enable(
    State(state): State<AppState>,
    user: User,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let (id, credential) = target(&state, &user, &id, &headers, true).await?;
    state.store.enable_workflow(user.project, id, &user.user.user_id, credential).await.map_err(store_error)?;
    Ok(Json(json!({ "success": true })))
}

async fn disable(
    State(state): State<AppState>,
    user: User,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    // An undeployed workflow may still be turned off.
    let (id, credential) = target(&state, &user, &id, &headers, false).await?;
    state.store.disable_workflow(user.project, id, &user.user.user_id, credential).await.map_err(store_error)?;
    Ok(Json(json!({ "success": true })))
}
