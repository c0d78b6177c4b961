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
        .add(
            Method::POST,
            "/projects/{projectId}/sdk/triggers/{workflowId}",
            user,
            "Send a request to a Request-triggered workflow (202, or its Response step's answer, or 542)",
            trigger_request,
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
    let id = workflow_id(raw)?;
    let workflow = state.store.get_workflow(user.project, id).await.map_err(store_error)?;
    if deployed && workflow.deployed_version.is_none() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "WORKFLOW_NOT_DEPLOYED", "this workflow is not deployed"));
    }
    Ok((id, selected_credential(state, user, headers).await?))
}

fn workflow_id(raw: &str) -> Result<WorkflowId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("workflow not found"))
}

/// The account `X-Paragon-Credential` names, if any: one of the user's own.
async fn selected_credential(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
) -> Result<Option<CredentialId>, ApiError> {
    let Some(raw) = headers.get(CREDENTIAL_HEADER).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let id: CredentialId = raw.parse().map_err(|_| ApiError::not_found("credential not found"))?;
    let credential = state.store.get_credential(user.project, id).await.map_err(store_error)?;
    if credential.user_id != user.user.user_id {
        return Err(ApiError::not_found("credential not found"));
    }
    Ok(Some(id))
}

async fn enable(
    State(state): State<AppState>,
    user: User,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let (id, credential) = target(&state, &user, &id, &headers, true).await?;
    let version = state.store.get_workflow(user.project, id).await.map_err(store_error)?.deployed_version;
    if let Some(version) = version
        && !state.engine.permitted(user.project, id, version, &user.user.user_id).await.map_err(ApiError::internal)?
    {
        return Err(not_permitted());
    }
    state.store.enable_workflow(user.project, id, &user.user.user_id, credential).await.map_err(store_error)?;
    sync_subscriptions(&state, user.project, &user.user.user_id).await;
    Ok(Json(json!({ "success": true })))
}

/// Brings the user's Integration trigger subscriptions in line with their
/// enablements. The change stands either way: a failure is logged, and the
/// engine's reconcile retries it.
pub(crate) async fn sync_subscriptions(state: &AppState, project: weft_store::ProjectId, user: &str) {
    if let Err(e) = state.engine.sync_subscriptions(project, user).await {
        tracing::warn!(project = %project, error = %e, "integration trigger subscriptions could not be synced; the reconcile retries");
    }
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
    sync_subscriptions(&state, user.project, &user.user.user_id).await;
    Ok(Json(json!({ "success": true })))
}

/// The answer to a user who does not meet a workflow's permissions.
fn not_permitted() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "WORKFLOW_NOT_PERMITTED",
        "the user's metadata does not meet this workflow's permissions",
    )
}

/// Headers never passed into a workflow: the caller's credentials.
const WITHHELD: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Starts an execution of a Request-triggered workflow. Without a Response
/// step it is answered 202 at once; with one, by that step's status and
/// body, or 542 (the execution goes on) when it is not reached in time.
async fn trigger_request(
    State(state): State<AppState>,
    user: User,
    Path((_, id)): Path<(String, String)>,
    uri: http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let mut fields = serde_json::Map::new();
    for (name, value) in &headers {
        if !WITHHELD.contains(&name.as_str())
            && let Ok(v) = value.to_str()
        {
            fields.insert(name.as_str().to_owned(), Value::String(v.to_owned()));
        }
    }
    let params: serde_json::Map<String, Value> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let mut file = None;
    let parsed = match essence.as_str() {
        _ if body.is_empty() => json!({}),
        "application/json" => serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", format!("the body is not valid JSON: {e}"))
        })?,
        "application/x-www-form-urlencoded" => Value::Object(
            url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect(),
        ),
        "multipart/form-data" => {
            let (fields, paragon_file) = multipart(content_type, body).await?;
            file = paragon_file;
            Value::Object(fields)
        }
        _ => Value::String(String::from_utf8_lossy(&body).into_owned()),
    };
    // The body is read first, so a malformed one is named as on every route.
    // The engine reads the workflow (and says when it is missing).
    let (workflow, credential) = (workflow_id(&id)?, selected_credential(&state, &user, &headers).await?);
    let request = weft_engine::WorkflowRequest {
        project: user.project,
        user: user.user.user_id.clone(),
        workflow,
        credential,
        headers: fields,
        body: parsed,
        params,
        file,
    };
    let started = match state.engine.request(request).await {
        Ok(s) => s,
        Err(weft_engine::RequestRefused::NotFound) => return Err(ApiError::not_found("workflow not found")),
        Err(weft_engine::RequestRefused::NotPermitted) => return Err(not_permitted()),
        Err(weft_engine::RequestRefused::NotRunnable(why)) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "WORKFLOW_NOT_RUNNABLE", why));
        }
        Err(weft_engine::RequestRefused::Invalid(problems)) => {
            let message = format!("The request does not pass the workflow's validations: {}", problems.join("; "));
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let submitted = time::OffsetDateTime::now_utc();
    if !started.responds {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "executionId": started.execution }))).into_response());
    }
    match state.engine.await_response(user.project, started.execution).await.map_err(ApiError::internal)? {
        weft_engine::Awaited::Response(response) => {
            let status = response["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(200);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if response["responseType"] == "FILE" {
                return file_response(status, &response["body"], started.execution);
            }
            Ok((status, Json(response["body"].clone())).into_response())
        }
        weft_engine::Awaited::Ended(status) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "WORKFLOW_FAILED",
            format!(
                "the workflow ended ({}) without reaching its Response step; execution {} in the task history says why",
                status.as_str(),
                started.execution
            ),
        )),
        weft_engine::Awaited::TimedOut => {
            let body = json!({
                "message": "Workflow has been enqueued but has not completed.",
                "dateSubmitted": submitted.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "projectId": user.project,
                "workflowId": workflow,
                "executionId": started.execution,
            });
            let status = StatusCode::from_u16(542).unwrap_or(StatusCode::GATEWAY_TIMEOUT);
            Ok((status, Json(body)).into_response())
        }
    }
}

/// The name of the multipart part that is the request's file.
const PARAGON_FILE: &str = "paragon-file";

/// A multipart body as the trigger sees it: text parts as strings, file
/// parts as Paragon file objects (a name repeated gives an array), and the
/// `paragon-file` part apart, as the request's file.
async fn multipart(
    content_type: &str,
    body: axum::body::Bytes,
) -> Result<(serde_json::Map<String, Value>, Option<Value>), ApiError> {
    let malformed = |e: multer::Error| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_MULTIPART", format!("the multipart body is malformed: {e}"))
    };
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let (mut fields, mut file) = (serde_json::Map::new(), None);
    while let Some(part) = parts.next_field().await.map_err(malformed)? {
        let name = part.name().unwrap_or_default().to_owned();
        let file_name = part.file_name().map(str::to_owned);
        let mime = part.content_type().map(ToString::to_string);
        let data = part.bytes().await.map_err(malformed)?;
        let value = match (&file_name, &mime) {
            (None, None) if name != PARAGON_FILE => Value::String(String::from_utf8_lossy(&data).into_owned()),
            _ => file_object(file_name.as_deref().unwrap_or(&name), mime.as_deref(), &data),
        };
        if name == PARAGON_FILE {
            file = Some(value);
            continue;
        }
        match fields.get_mut(&name) {
            Some(Value::Array(items)) => items.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                fields.insert(name, value);
            }
        }
    }
    Ok((fields, file))
}

/// A Paragon file object: the bytes hex-encoded, with their name and type.
fn file_object(name: &str, mime: Option<&str>, data: &[u8]) -> Value {
    json!({
        "name": name,
        "data": hex::encode(data),
        "mimeType": mime.unwrap_or("application/octet-stream"),
        "dataType": "FILE",
    })
}

/// A Response step of type FILE: the file object's bytes, with its MIME
/// type. A body that is not a file object is the workflow's mistake, said
/// as such (the execution id leads to the step).
fn file_response(
    status: StatusCode,
    body: &Value,
    execution: weft_store::ExecutionId,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let not_a_file = || {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "INVALID_FILE_RESPONSE",
            format!(
                "the workflow's FILE Response step did not resolve to a file object with hex `data`; execution {execution} in the task history shows what it resolved to"
            ),
        )
    };
    let data = body.get("data").and_then(Value::as_str).ok_or_else(not_a_file)?;
    let bytes = hex::decode(data).map_err(|_| not_a_file())?;
    let mime = body.get("mimeType").and_then(Value::as_str).unwrap_or("application/octet-stream");
    let mime = http::HeaderValue::from_str(mime)
        .unwrap_or_else(|_| http::HeaderValue::from_static("application/octet-stream"));
    Ok((status, [(http::header::CONTENT_TYPE, mime)], bytes).into_response())
}
