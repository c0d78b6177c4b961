//! The catalogue of installed plugins: metadata, capabilities, actions
//! (with their JSON Schemas) and triggers. Read-only and tenant-neutral.

use crate::extract::{Json, Path};
use crate::routes::{Access, Routes};
use crate::{ApiError, AppState};
use axum::extract::State;
use http::Method;
use serde_json::{Value, json};

pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/plugins", Access::Public, "List installed plugins with their actions and triggers", list)
        .add(Method::GET, "/plugins/{id}", Access::Public, "One installed plugin", one)
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "plugins": state.plugins.list() }))
}

async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let info = state.plugins.get(&id).ok_or_else(|| ApiError::not_found(format!("No plugin {id:?} is installed")))?;
    Ok(Json(json!(info)))
}
