//! ActionKit: every action of the project's integrations as a JSON-Schema
//! tool for AI agents (`GET /projects/{projectId}/actions`), and running one
//! as the user's connected account (`POST /projects/{projectId}/actions`,
//! and `POST /projects/{projectId}/sdk/actions` for the browser SDK).
//!
//! A tool is `{"type": "function", "function": {name, description,
//! parameters}}` with the plugin's input schema as `parameters`, extended
//! by the user's account where the plugin declares per-account fields
//! ([`fields`]; a failure to load them lists the static schema and names
//! the failure in `errors`). The list is
//! grouped by integration type; `limit_to_available` (the default) keeps
//! the integrations the user has a usable account of. Running validates the
//! parameters against the schema first (each problem with its path), then
//! calls the plugin through [`run_as`], the one way an action runs as an
//! account (workflow steps use it too), and answers the provider's result,
//! or the provider's failure in the error shape with its status. Every
//! listing and run is logged with a trace id answered in `x-trace-id`
//! ([`crate::action_logs`]), also when it is refused.

mod fields;
mod validators;

use crate::action_logs::Call;
use crate::error::Problem;
use crate::extract::{Json, Query, json_body};
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use weft_plugin_host::{ActionCall, ActionDefinition, CallError, CallOptions, PluginError, PluginHost, PluginInfo};
use weft_store::{ActionCallKind, ActionCallSource, CredentialId, CredentialStatus, ProjectId};

pub(crate) fn routes() -> Routes {
    let user = Access::User;
    Routes::new()
        .add(Method::GET, "/projects/{projectId}/actions", user, "ActionKit: the user's actions as tools", list)
        .add(Method::POST, "/projects/{projectId}/actions", user, "ActionKit: run an action as the user", run_api)
        .add(Method::POST, "/projects/{projectId}/sdk/actions", user, "ActionKit from the SDK: run an action", run_sdk)
}

/// The list's query (every field optional).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    format: Option<String>,
    limit_to_available: Option<bool>,
    reload_fields: Option<bool>,
    integrations: Option<String>,
    categories: Option<String>,
}

/// A comma-separated filter as a list (empty entries dropped).
fn listed(csv: Option<&str>) -> Option<Vec<String>> {
    csv.map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

/// The integrations whose actions the user may be offered: the project's
/// active integrations served by an installed plugin, each with the
/// plugin, and whether the user has a usable (VALID) account of it.
async fn offered(state: &AppState, user: &User) -> Result<Vec<(String, Arc<PluginInfo>, bool)>, ApiError> {
    let integrations = state.store.list_integrations(user.project).await.map_err(crate::store_error)?;
    let accounts =
        state.store.list_user_credentials(user.project, &user.user.user_id).await.map_err(crate::store_error)?;
    Ok(integrations
        .into_iter()
        .filter(|i| i.active)
        .filter_map(|i| {
            let plugin = state.plugins.get(&i.integration_type)?;
            let usable = accounts.iter().any(|c| c.integration_id == i.id && c.status == CredentialStatus::Valid);
            Some((i.integration_type, plugin, usable))
        })
        .collect())
}

/// One action as a tool, with `parameters` its input schema for the user.
fn tool(action: &ActionDefinition, parameters: Value) -> Value {
    let description =
        if action.description.is_empty() { action.display_name.clone() } else { action.description.clone() };
    json!({
        "type": "function",
        "function": { "name": action.key, "description": description, "parameters": parameters },
    })
}

/// The credential a request selects with the credential header, if any.
fn selected_credential(headers: &HeaderMap) -> Result<Option<CredentialId>, ApiError> {
    match headers.get(crate::connect::CREDENTIAL_HEADER).and_then(|v| v.to_str().ok()) {
        Some(raw) => Ok(Some(raw.parse::<CredentialId>().map_err(|_| ApiError::not_found("credential not found"))?)),
        None => Ok(None),
    }
}

/// One integration's input schemas for the user, in the order of its
/// actions: static, extended by the fields of the user's account (`usable`)
/// where the plugin declares them; each failure to load fields as an entry
/// of `errors` (the action keeps its static schema).
async fn account_schemas(
    state: &AppState,
    user: &User,
    (integration, plugin, usable): (&str, &PluginInfo, bool),
    selected: Option<CredentialId>,
    reload: bool,
    errors: &mut Vec<Value>,
) -> Vec<Value> {
    let statics = || plugin.actions.iter().map(|a| a.input_schema.clone()).collect();
    if !usable || plugin.dynamic_fields.is_empty() {
        return statics();
    }
    let credential = match fields::account(state, user, integration, selected).await {
        Ok(c) => c,
        Err(e) => {
            let message = format!("the fields of this account could not be loaded: {}", e.message());
            errors.extend(plugin.dynamic_fields.iter().map(|a| fields::error_entry(integration, a, &message)));
            return statics();
        }
    };
    let scope = fields::FieldsScope { project: user.project, credential, integration };
    let schemas =
        futures::future::join_all(plugin.actions.iter().map(|a| fields::schema_for(state, &scope, plugin, a, reload)))
            .await;
    plugin
        .actions
        .iter()
        .zip(schemas)
        .map(|(action, schema)| {
            if let Some(message) = &schema.error {
                errors.push(fields::error_entry(integration, &action.key, message));
            }
            schema.schema
        })
        .collect()
}

/// The categories a plugin declares in its metadata's `extra.categories`.
fn categories(plugin: &PluginInfo) -> Vec<String> {
    let extra = plugin.metadata.as_ref().map(|m| &m.extra);
    extra
        .and_then(|e| e.get("categories"))
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Lists the tools, logged as an ActionKit call whose error entry keeps
/// the query.
async fn list(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: Result<Query<ListQuery>, ApiError>,
) -> Response {
    let call = Call::begin(&user, &headers, ActionCallKind::List, ActionCallSource::Api);
    let trace = call.header();
    let answer = match query {
        Ok(Query(q)) => match selected_credential(&headers) {
            Ok(selected) => tools(&state, &user, q, selected).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    call.finish(&state.action_logs, answer.as_ref().err(), || query_json(raw.as_deref()));
    ([trace], answer).into_response()
}

/// A query string as a JSON object of its parameters (the last of a
/// repeated one wins).
fn query_json(raw: Option<&str>) -> Value {
    let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes());
    Value::Object(pairs.map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect())
}

async fn tools(
    state: &AppState,
    user: &User,
    q: ListQuery,
    selected: Option<CredentialId>,
) -> Result<Json<Value>, ApiError> {
    if let Some(format) = q.format.as_deref().filter(|f| *f != "json_schema") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            format!("format {format:?} is not supported; use json_schema"),
        ));
    }
    let reload = q.reload_fields.unwrap_or(false);
    let only_available = q.limit_to_available.unwrap_or(true);
    let (wanted, wanted_categories) = (listed(q.integrations.as_deref()), listed(q.categories.as_deref()));
    let (mut actions, mut errors) = (Map::new(), Vec::new());
    for (integration, plugin, usable) in offered(state, user).await? {
        if (only_available && !usable)
            || wanted.as_ref().is_some_and(|w| !w.contains(&integration))
            || wanted_categories.as_ref().is_some_and(|w| !categories(&plugin).iter().any(|c| w.contains(c)))
            || plugin.actions.is_empty()
        {
            continue;
        }
        let listed = (integration.as_str(), plugin.as_ref(), usable);
        let schemas = account_schemas(state, user, listed, selected, reload, &mut errors).await;
        let tools = plugin.actions.iter().zip(schemas).map(|(a, schema)| tool(a, schema)).collect();
        actions.insert(integration, Value::Array(tools));
    }
    Ok(Json(json!({ "actions": actions, "errors": errors })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    action: String,
    #[serde(default)]
    parameters: Value,
}

/// The body a run answers, for `POST /actions`.
type RunBodyResult = Result<Option<Json<Value>>, ApiError>;

async fn run_api(State(state): State<AppState>, user: User, headers: HeaderMap, body: RunBodyResult) -> Response {
    run(&state, &user, &headers, body, ActionCallSource::Api).await
}

async fn run_sdk(State(state): State<AppState>, user: User, headers: HeaderMap, body: RunBodyResult) -> Response {
    run(&state, &user, &headers, body, ActionCallSource::Sdk).await
}

/// Runs the body's action, logged as an ActionKit call whose error entry
/// keeps the body's parameters (or the whole body, when it has none).
async fn run(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
    body: RunBodyResult,
    source: ActionCallSource,
) -> Response {
    let mut call = Call::begin(user, headers, ActionCallKind::Run, source);
    let trace = call.header();
    let body = body.map(|b| b.map(|Json(v)| v).unwrap_or(Value::Null));
    // Kept for an error entry; a copy is cheap next to a plugin call.
    let logged = match &body {
        Ok(b) => b.get("parameters").unwrap_or(b).clone(),
        Err(_) => Value::Null,
    };
    let answer = match body {
        Ok(body) => run_body(state, user, headers, body, &mut call).await.map(Json),
        Err(e) => Err(e),
    };
    call.finish(&state.action_logs, answer.as_ref().err(), || logged);
    ([trace], answer).into_response()
}

async fn run_body(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
    body: Value,
    call: &mut Call,
) -> Result<Value, ApiError> {
    let body: RunBody =
        json_body(Some(Json(body)), r##"{"action": "SLACK_SEND_MESSAGE", "parameters": {"channel": "#general"}}"##)?;
    call.action(&body.action);
    let selected = selected_credential(headers)?;
    run_for(state, user, &body.action, body.parameters, selected, call).await
}

/// The tools a user is offered (their connected integrations' actions,
/// each input schema extended by the account's fields where the plugin
/// declares them), with each action's effect: what MCP's `tools/list`
/// lists.
pub(crate) async fn available(state: &AppState, user: &User) -> Result<Vec<ActionDefinition>, ApiError> {
    let mut actions = Vec::new();
    for (integration, plugin, usable) in offered(state, user).await? {
        if !usable {
            continue;
        }
        // A failure to load an account's fields leaves the static schema;
        // the listing's `errors` are ActionKit's, MCP has no place for them.
        let schemas = account_schemas(state, user, (&integration, &plugin, true), None, false, &mut Vec::new()).await;
        actions.extend(
            plugin.actions.iter().zip(schemas).map(|(a, input_schema)| ActionDefinition { input_schema, ..a.clone() }),
        );
    }
    Ok(actions)
}

/// Runs `action` with `parameters` as the user's account (`selected`, or
/// their first usable one): the parameters checked against the action's
/// schema first; the provider's result with the account's secrets taken
/// out. ActionKit's run and MCP's `tools/call` both land here; `call`
/// learns the action's integration for the log.
pub(crate) async fn run_for(
    state: &AppState,
    user: &User,
    action: &str,
    parameters: Value,
    selected: Option<CredentialId>,
    call: &mut Call,
) -> Result<Value, ApiError> {
    let parameters = if parameters.is_null() { json!({}) } else { parameters };
    let offered = offered(state, user).await?;
    let Some((integration, plugin, action)) = offered
        .iter()
        .find_map(|(i, p, _)| p.actions.iter().find(|a| a.key == action).map(|a| (i.clone(), p.clone(), a.clone())))
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ACTION_NOT_FOUND",
            format!("no integration of this project has the action {action:?}; list them with GET /actions"),
        ));
    };
    call.integration(&integration);
    // An action with per-account fields is checked against the account's
    // schema, so the account is resolved first; the others are checked
    // before any account is looked at.
    let dynamic = plugin.dynamic_fields.contains(&action.key);
    let mut credential = None;
    let schema = if dynamic {
        let id = fields::account(state, user, &integration, selected).await?;
        credential = Some(id);
        let scope = fields::FieldsScope { project: user.project, credential: id, integration: &integration };
        let schema = fields::schema_for(state, &scope, &plugin, &action, false).await;
        if let Some(why) = &schema.error {
            tracing::warn!(action = %action.key, why, "running with the static schema");
        }
        schema.schema
    } else {
        action.input_schema.clone()
    };
    let problems = invalid_parameters(&schema, &parameters);
    if let Some(first) = problems.first() {
        let at = if first.path.is_empty() { "/" } else { &first.path };
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETERS",
            format!(
                "The parameters of {} do not match its schema (see meta.problems), the first at {at}: {}",
                action.key, first.reason
            ),
        )
        .with_problems(problems));
    }
    let credential = match credential {
        Some(id) => id,
        None => fields::account(state, user, &integration, selected).await?,
    };
    let invocation = uuid::Uuid::new_v4().to_string();
    let mut output = run_as(
        &state.plugins,
        &state.credentials,
        user.project,
        &integration,
        credential,
        &action.key,
        parameters,
        &invocation,
    )
    .await
    .map_err(|e| action_error(&action.key, e))?;
    // A provider that echoes the request would hand the account's secret
    // back through the plugin; it is taken out, as for the task history.
    if let Err(e) = state.credentials.redact(user.project, credential, &mut output).await {
        tracing::warn!(error = %e, "an action's result could not be checked for secrets; withheld");
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "ACTION_FAILED",
            format!("the result of {} could not be checked for secrets and is withheld", action.key),
        ));
    }
    tracing::info!(project = %user.project, integration, action = %action.key, invocation, "action run");
    Ok(output)
}

/// What `parameters` breaks of `schema`: each problem with its JSON
/// Pointer and reason. A schema that does not compile is the plugin's
/// fault, checked at install; here it accepts anything.
pub(crate) fn invalid_parameters(schema: &Value, parameters: &Value) -> Vec<Problem> {
    let Some(validator) = validators::validator(schema) else { return Vec::new() };
    validator
        .iter_errors(parameters)
        .map(|e| Problem { path: e.instance_path().to_string(), reason: e.to_string() })
        .collect()
}

/// Runs `action` of the `integration` plugin as the account `credential`,
/// whose credentials the plugin's requests use through the credential
/// service (the plugin never sees them); `invocation` is the call's id, a
/// workflow step's idempotency key when a step runs it.
#[allow(clippy::too_many_arguments)]
pub async fn run_as(
    host: &PluginHost,
    credentials: &Arc<weft_credentials::Credentials>,
    project: ProjectId,
    integration: &str,
    credential: CredentialId,
    action: &str,
    input: Value,
    invocation: &str,
) -> Result<Value, CallError> {
    let grant = credentials.grant(project, credential, integration);
    let opts = CallOptions::new(project.to_string())
        .with_invocation_id(invocation)
        .with_connection(credential.to_string(), json!({}))
        .with_connection_http(grant);
    let call = ActionCall { action: action.to_owned(), input, page: None };
    host.run_action(integration, &opts, call).await.map(|o| o.output)
}

/// A failed action in the error shape: the provider's failure with its
/// status, the plugin's own failure as 502 without internals.
fn action_error(action: &str, e: CallError) -> ApiError {
    let provider = |status: StatusCode, code: &'static str, message: String| ApiError::new(status, code, message);
    match e {
        CallError::Plugin(p) => match p {
            PluginError::InvalidInput { message } => provider(StatusCode::BAD_REQUEST, "INVALID_PARAMETERS", message),
            PluginError::Unauthorized { message } => {
                provider(StatusCode::UNAUTHORIZED, "PROVIDER_UNAUTHORIZED", message)
            }
            PluginError::Forbidden { message } => provider(StatusCode::FORBIDDEN, "PROVIDER_FORBIDDEN", message),
            PluginError::NotFound { message } => provider(StatusCode::NOT_FOUND, "PROVIDER_NOT_FOUND", message),
            PluginError::RateLimited { retry_after_ms, message } => {
                ApiError::too_many_requests(message, std::time::Duration::from_millis(retry_after_ms.unwrap_or(1000)))
            }
            PluginError::Upstream { status, message, .. } => match StatusCode::from_u16(status) {
                Ok(s) if s.is_client_error() => provider(s, "PROVIDER_ERROR", message),
                _ => provider(StatusCode::BAD_GATEWAY, "PROVIDER_ERROR", message),
            },
            PluginError::Unsupported { message } => provider(StatusCode::BAD_REQUEST, "ACTION_UNSUPPORTED", message),
            PluginError::Internal { message } => {
                tracing::warn!(action, message, "an action failed inside its plugin");
                provider(StatusCode::BAD_GATEWAY, "ACTION_FAILED", format!("the action {action} failed"))
            }
        },
        CallError::Timeout(_) => provider(
            StatusCode::GATEWAY_TIMEOUT,
            "ACTION_TIMEOUT",
            format!("the action {action} did not finish in time"),
        ),
        other => {
            tracing::warn!(action, error = %other, "an action's plugin call failed");
            provider(StatusCode::BAD_GATEWAY, "ACTION_FAILED", format!("the action {action} failed"))
        }
    }
}
