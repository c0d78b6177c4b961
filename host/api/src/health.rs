//! Liveness and readiness probes.

use crate::extract::Json;
use crate::routes::{Access, Routes};
use crate::{ApiError, AppState};
use axum::extract::State;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

pub(crate) fn routes() -> Routes {
    Routes::new().add(Method::GET, "/healthz", Access::Public, "Liveness probe", healthz).add(
        Method::GET,
        "/readyz",
        Access::Public,
        "Readiness probe (plugins loaded)",
        readyz,
    )
}

/// The process answers.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Start-up is complete and plugins are loaded.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if !state.ready.load(Ordering::Acquire) {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "NOT_READY", "Weft is still starting"));
    }
    Ok(Json(json!({ "status": "ready", "plugins": state.plugins.list().len() })))
}
