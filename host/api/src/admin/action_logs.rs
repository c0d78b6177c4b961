//! `GET /admin/projects/{projectId}/action-logs`: the project's ActionKit
//! log entries, newest first, filtered by user, integration, status,
//! action, trace id (or request id) and date range, in pages.

use crate::extract::{Json, Query};
use crate::principal::{AnyRole, ProjectKey};
use crate::task_history::{date, invalid_query, parse_date};
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_store::{ActionLog, ActionLogQuery, ActionLogStatus, MAX_ACTION_LOGS_PAGE};

/// The listing's query (every field optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ListQuery {
    user_id: Option<String>,
    integration: Option<String>,
    status: Option<String>,
    action: Option<String>,
    trace_id: Option<String>,
    /// Received at or after (ISO 8601 date or date-time).
    since: Option<String>,
    /// Received before.
    until: Option<String>,
    offset: Option<u64>,
    limit: Option<u32>,
}

fn to_query(q: ListQuery) -> Result<ActionLogQuery, ApiError> {
    let status = match q.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("success") => Some(ActionLogStatus::Success),
        // The reference's dashboard says "Errored".
        Some("error" | "errored") => Some(ActionLogStatus::Error),
        Some(other) => return Err(invalid_query(format!("status must be success or error; got {other:?}"))),
    };
    Ok(ActionLogQuery {
        user: q.user_id,
        integration: q.integration,
        status,
        action: q.action,
        trace: q.trace_id,
        since: q.since.as_deref().map(|d| parse_date("since", d)).transpose()?,
        until: q.until.as_deref().map(|d| parse_date("until", d)).transpose()?,
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(MAX_ACTION_LOGS_PAGE).clamp(1, MAX_ACTION_LOGS_PAGE),
    })
}

fn entry_json(e: &ActionLog) -> Value {
    let error = (e.status == ActionLogStatus::Error)
        .then(|| json!({ "status": e.http_status, "code": e.error_code, "message": e.error_message }));
    json!({
        "id": e.id,
        "traceId": e.trace_id,
        "requestId": e.request_id,
        "dateReceived": date(e.created_at),
        "userId": e.user_id,
        "type": e.kind.as_str(),
        "source": e.source.as_str(),
        "integration": e.integration,
        "action": e.action,
        "status": e.status.as_str(),
        "httpStatus": e.http_status,
        "durationMs": e.duration_us as f64 / 1000.0,
        "error": error,
        "parameters": e.parameters,
    })
}

pub(super) async fn list(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let query = to_query(q)?;
    let entries = state.store.list_action_logs(key.project, &query).await.map_err(store_error)?;
    // A full page may have a next one.
    let next = (entries.len() == query.limit as usize).then(|| query.offset + u64::from(query.limit));
    let logs: Vec<Value> = entries.iter().map(entry_json).collect();
    Ok(Json(json!({ "logs": logs, "nextOffset": next })))
}
