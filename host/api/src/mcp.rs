//! ActionKit over MCP: the user's tools (their connected integrations'
//! actions) for MCP clients, on the Streamable HTTP transport at
//! `/projects/{projectId}/mcp`, authenticated with the user's token like
//! every SDK route.
//!
//! The server is stateless: each POST carries one JSON-RPC message and is
//! answered with one JSON body (a notification with 202 and none); it opens
//! no server-to-client stream (a `GET` is 405) and keeps no session. It
//! speaks `initialize`, `ping`, `tools/list` (annotated read-only or
//! destructive from the action's declared effect) and `tools/call`, which
//! runs the action as ActionKit does ([`crate::actions::run_for`]): a
//! refused or failed call is a tool result with `isError` and the error
//! shape as its text, so an agent can read what to change. `tools/list`
//! and `tools/call` are logged as ActionKit calls (`crate::action_logs`),
//! with the trace id in the answer's header.

use crate::action_logs::Call;
use crate::extract::{Json, Path};
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use weft_store::{ActionCallKind, ActionCallSource};

const MCP: &str = "/projects/{projectId}/mcp";

/// The protocol revisions this server speaks, newest first; a client
/// asking for another gets the newest.
const PROTOCOL_VERSIONS: [&str; 3] = ["2025-06-18", "2025-03-26", "2024-11-05"];

pub(crate) fn routes() -> Routes {
    // POST only: a GET (the server-to-client stream, which is not offered)
    // and a DELETE (the end of a session, which is not kept) are answered
    // 405 like any method a route does not have.
    Routes::new().add(Method::POST, MCP, Access::User, "MCP (Streamable HTTP): the user's actions as tools", post)
}

/// A JSON-RPC error answer.
fn rpc_error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

async fn post(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    Path(_): Path<String>,
    body: Json<Value>,
) -> Response {
    // A body that is not JSON is refused in the error shape like on every
    // route (400, or 415 for another content type).
    let Json(message) = body;
    if message.is_array() {
        return answer(rpc_error(Value::Null, -32600, "batches are not accepted; send one message per request"));
    }
    let method = message.get("method").and_then(Value::as_str).unwrap_or_default().to_owned();
    // A notification (or a client's response) has no id: accepted, no body.
    let Some(id) = message.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    // `tools/list` and `tools/call` are ActionKit calls: logged, traced.
    let (result, trace) = match method.as_str() {
        "initialize" => (Ok(initialize(&params)), None),
        "ping" => (Ok(json!({})), None),
        "tools/list" => {
            let log = Call::begin(&user, &headers, ActionCallKind::List, ActionCallSource::Mcp);
            let trace = log.header();
            (tools(&state, &user, log).await, Some(trace))
        }
        "tools/call" => {
            let log = Call::begin(&user, &headers, ActionCallKind::Run, ActionCallSource::Mcp);
            let trace = log.header();
            (call(&state, &user, &params, log).await, Some(trace))
        }
        "" => return answer(rpc_error(id, -32600, "a request names its method")),
        other => return answer(rpc_error(id, -32601, format!("method {other:?} is not supported"))),
    };
    let mut resp = match result {
        Ok(result) => answer(json!({ "jsonrpc": "2.0", "id": id, "result": result })),
        Err(RpcFailure::Params(why)) => answer(rpc_error(id, -32602, why)),
        Err(RpcFailure::Api(e)) => e.into_response(),
    };
    if let Some((name, value)) = trace {
        resp.headers_mut().insert(name, value);
    }
    resp
}

fn answer(body: Value) -> Response {
    (StatusCode::OK, [(http::header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

enum RpcFailure {
    /// The request's parameters are wrong (JSON-RPC -32602).
    Params(String),
    /// The server could not answer (its own error shape, as on any route).
    Api(ApiError),
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked.filter(|v| PROTOCOL_VERSIONS.contains(v)).unwrap_or(PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "weft", "version": env!("CARGO_PKG_VERSION") },
        "instructions": "Tools act on the accounts this user connected; each is one integration action.",
    })
}

async fn tools(state: &AppState, user: &User, log: Call) -> Result<Value, RpcFailure> {
    let actions = crate::actions::available(state, user).await;
    log.finish(&state.action_logs, actions.as_ref().err(), || Value::Null);
    let actions = actions.map_err(RpcFailure::Api)?;
    let tools: Vec<Value> = actions
        .iter()
        .map(|a| {
            let description = if a.description.is_empty() { &a.display_name } else { &a.description };
            json!({
                "name": a.key,
                "title": a.display_name,
                "description": description,
                "inputSchema": a.input_schema,
                "annotations": {
                    "title": a.display_name,
                    "readOnlyHint": a.effect == "read",
                    "destructiveHint": a.effect == "destructive",
                },
            })
        })
        .collect();
    Ok(json!({ "tools": tools }))
}

async fn call(state: &AppState, user: &User, params: &Value, mut log: Call) -> Result<Value, RpcFailure> {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        let refused = ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMS", "name the tool");
        log.finish(&state.action_logs, Some(&refused), || params.clone());
        return Err(RpcFailure::Params("name the tool".into()));
    };
    log.action(name);
    let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
    // Kept for an error entry; a copy is cheap next to a plugin call.
    let logged = arguments.clone();
    let ran = crate::actions::run_for(state, user, name, arguments, None, &mut log).await;
    log.finish(&state.action_logs, ran.as_ref().err(), || logged);
    match ran {
        Ok(output) => Ok(json!({
            "content": [{ "type": "text", "text": output.to_string() }],
            "structuredContent": if output.is_object() { output } else { json!({ "result": output }) },
            "isError": false,
        })),
        // The caller's own mistakes and the provider's failures are the
        // tool's result, for the agent to read; the server's are errors.
        Err(e) if !e.status().is_server_error() || e.status() == StatusCode::BAD_GATEWAY => Ok(json!({
            "content": [{ "type": "text", "text": String::from_utf8_lossy(&e.body("")).into_owned() }],
            "isError": true,
        })),
        Err(e) => Err(RpcFailure::Api(e)),
    }
}
