//! The catalogue of installed plugins: metadata, capabilities, actions
//! (with their JSON Schemas) and triggers. Read-only and tenant-neutral.

use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/{id}", get(one))
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "plugins": state.plugins.list() }))
}

async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let info = state
        .plugins
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("No plugin {id:?} is installed")))?;
    Ok(Json(json!(info)))
}
