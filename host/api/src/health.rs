//! Liveness and readiness probes.

use crate::{ApiError, AppState};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process answers.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Start-up is complete and plugins are loaded.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if !state.ready.load(Ordering::Acquire) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "Weft is still starting",
        ));
    }
    Ok(Json(
        json!({ "status": "ready", "plugins": state.plugins.list().len() }),
    ))
}
