//! Admin routes (operator key or project API keys): projects, API keys,
//! integrations and connected users. Each route's roles come from the same
//! constant its extractor enforces.

mod action_logs;
mod config;
mod custom;
mod destinations;
mod resources;
mod usage;
mod workflows;

use crate::extract::{Json, Path, Query, json_body};
use crate::principal::{AdminOnly, AnyRole, Operator, ProjectKey, Roles, Staff};
use crate::routes::{Access, Routes};
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use weft_store::{
    ApiKeyId, Environment, Integration, IntegrationId, IntegrationPatch, NewApiKey, NewIntegration, NewProject,
    ReleaseGroupId, Role, UserCursor,
};

const PROJECTS: &str = "/admin/projects";
const PROJECT: &str = "/admin/projects/{projectId}";
const RETURN_URLS: &str = "/admin/projects/{projectId}/connect-return-urls";
const CONCURRENCY: &str = "/admin/projects/{projectId}/concurrency-limit";
const KEYS: &str = "/admin/projects/{projectId}/api-keys";
const KEY: &str = "/admin/projects/{projectId}/api-keys/{keyId}";
const INTEGRATIONS: &str = "/admin/projects/{projectId}/integrations";
const INTEGRATION: &str = "/admin/projects/{projectId}/integrations/{integrationId}";
const RESOURCES: &str = "/admin/projects/{projectId}/resources";
const RESOURCE: &str = "/admin/projects/{projectId}/resources/{resourceId}";
const RESOURCE_CREDENTIAL: &str = "/admin/projects/{projectId}/resources/{resourceId}/credential";
const USERS: &str = "/admin/projects/{projectId}/users";
const USER: &str = "/admin/projects/{projectId}/users/{userId}";
const SIGNING_KEYS: &str = "/admin/projects/{projectId}/signing-keys";
const SIGNING_KEY: &str = "/admin/projects/{projectId}/signing-keys/{signingKeyId}";
const SECRETS: &str = "/admin/projects/{projectId}/secrets";
const SECRET: &str = "/admin/projects/{projectId}/secrets/{name}";
const EVENTS: &str = "/admin/projects/{projectId}/app-events";
const EVENT: &str = "/admin/projects/{projectId}/app-events/{name}";
const WORKFLOWS: &str = "/admin/projects/{projectId}/workflows";
const WORKFLOW: &str = "/admin/projects/{projectId}/workflows/{workflowId}";
const DEPLOY: &str = "/admin/projects/{projectId}/workflows/{workflowId}/deploy";
const UNDEPLOY: &str = "/admin/projects/{projectId}/workflows/{workflowId}/undeploy";
const VERSIONS: &str = "/admin/projects/{projectId}/workflows/{workflowId}/versions";
const VERSION: &str = "/admin/projects/{projectId}/workflows/{workflowId}/versions/{version}";
const RESTORE: &str = "/admin/projects/{projectId}/workflows/{workflowId}/versions/{version}/restore";
const ACTION_LOGS: &str = "/admin/projects/{projectId}/action-logs";
const USAGE: &str = "/admin/projects/{projectId}/usage";
const DESTINATIONS: &str = "/admin/projects/{projectId}/event-destinations";
const DESTINATION: &str = "/admin/projects/{projectId}/event-destinations/{destinationId}";
const DESTINATION_ENABLE: &str = "/admin/projects/{projectId}/event-destinations/{destinationId}/enable";
const DESTINATION_DISABLE: &str = "/admin/projects/{projectId}/event-destinations/{destinationId}/disable";
const DESTINATION_TEST: &str = "/admin/projects/{projectId}/event-destinations/{destinationId}/test";
const DESTINATION_DELIVERIES: &str = "/admin/projects/{projectId}/event-destinations/{destinationId}/deliveries";

pub(crate) fn routes() -> Routes {
    let (op, admin, staff, any) = (
        Access::Operator,
        Access::Project(AdminOnly::ROLES),
        Access::Project(Staff::ROLES),
        Access::Project(AnyRole::ROLES),
    );
    Routes::new()
        .add(Method::POST, PROJECTS, op, "Create a project and its first admin API key", create_project)
        .add(Method::GET, PROJECTS, op, "List projects", list_projects)
        .add(Method::GET, PROJECT, any, "The key's project", get_project)
        .add(
            Method::PUT,
            RETURN_URLS,
            admin,
            "Replace the URLs users may return to after connecting an account",
            put_return_urls,
        )
        .add(
            Method::PUT,
            CONCURRENCY,
            op,
            "Set or lift the project's concurrency limit (steps running at once)",
            put_concurrency_limit,
        )
        .add(Method::POST, KEYS, admin, "Create an API key (shown once)", create_key)
        .add(Method::GET, KEYS, admin, "List API keys (never the keys themselves)", list_keys)
        .add(Method::DELETE, KEY, admin, "Revoke an API key", revoke_key)
        .add(Method::POST, INTEGRATIONS, staff, "Add an integration", create_integration)
        .add(Method::GET, INTEGRATIONS, staff, "List integrations", list_integrations)
        .add(Method::GET, INTEGRATION, staff, "One integration", get_integration)
        .add(Method::PATCH, INTEGRATION, staff, "Change an integration (absent fields are kept)", patch_integration)
        .add(Method::DELETE, INTEGRATION, staff, "Remove an integration", delete_integration)
        .add(Method::POST, RESOURCES, staff, "Create an API resource", resources::create)
        .add(Method::GET, RESOURCES, staff, "List API resources", resources::list)
        .add(Method::GET, RESOURCE, staff, "One API resource", resources::get)
        .add(Method::PUT, RESOURCE, staff, "Replace an API resource's definition", resources::replace)
        .add(Method::DELETE, RESOURCE, staff, "Delete an API resource and its connections", resources::delete)
        .add(
            Method::PUT,
            RESOURCE_CREDENTIAL,
            staff,
            "Set an app-level API resource's credential (its keys)",
            resources::set_credential,
        )
        .add(Method::GET, USERS, any, "List connected users", list_users)
        .add(Method::GET, USER, any, "One connected user", get_user)
        .add(Method::PATCH, USER, staff, "Disable or re-enable a connected user", patch_user)
        .add(
            Method::POST,
            SIGNING_KEYS,
            admin,
            "Add a signing key (generate, PEM or JWKS URL)",
            config::add_signing_key,
        )
        .add(Method::GET, SIGNING_KEYS, staff, "List signing keys (public halves only)", config::list_signing_keys)
        .add(Method::DELETE, SIGNING_KEY, admin, "Remove a signing key", config::delete_signing_key)
        .add(Method::POST, SECRETS, admin, "Declare an environment secret name", config::add_secret)
        .add(Method::GET, SECRETS, admin, "List environment secret names", config::list_secrets)
        .add(Method::PUT, SECRET, admin, "Set an environment secret's value (write-only, sealed)", config::set_secret)
        .add(Method::DELETE, SECRET, admin, "Remove an environment secret name", config::delete_secret)
        .add(Method::PUT, EVENTS, staff, "Create or replace an app event", config::put_app_event)
        .add(Method::GET, EVENTS, staff, "List app events", config::list_app_events)
        .add(Method::DELETE, EVENT, staff, "Remove an app event", config::delete_app_event)
        .add(Method::POST, WORKFLOWS, staff, "Create a workflow from a definition (JSON or YAML)", workflows::create)
        .add(Method::GET, WORKFLOWS, any, "List workflows", workflows::list)
        .add(Method::GET, WORKFLOW, any, "One workflow with its draft", workflows::get)
        .add(Method::PUT, WORKFLOW, staff, "Replace a workflow's draft", workflows::replace)
        .add(Method::DELETE, WORKFLOW, staff, "Delete a workflow (its executions stay)", workflows::delete)
        .add(Method::POST, DEPLOY, staff, "Deploy the draft as a new version", workflows::deploy)
        .add(Method::POST, UNDEPLOY, staff, "Stop new executions of a workflow", workflows::undeploy)
        .add(Method::GET, VERSIONS, any, "A workflow's versions, newest first", workflows::versions)
        .add(Method::GET, VERSION, any, "One version with its definition", workflows::version)
        .add(Method::POST, RESTORE, staff, "Restore a version as a new version (the draft)", workflows::restore)
        .add(
            Method::GET,
            ACTION_LOGS,
            any,
            "ActionKit log entries, newest first, filtered (user, integration, status, action, trace id, dates)",
            action_logs::list,
        )
        .add(
            Method::GET,
            USAGE,
            any,
            "Task usage over a period (default: this month), in total and per user: workflow steps and proxy calls",
            usage::get,
        )
        .add(Method::POST, DESTINATIONS, admin, "Add an event destination (a webhook)", destinations::create)
        .add(Method::GET, DESTINATIONS, admin, "List event destinations", destinations::list)
        .add(Method::GET, DESTINATION, admin, "One event destination", destinations::get)
        .add(
            Method::PATCH,
            DESTINATION,
            admin,
            "Change an event destination (absent fields are kept)",
            destinations::change,
        )
        .add(Method::DELETE, DESTINATION, admin, "Delete an event destination", destinations::delete)
        .add(Method::POST, DESTINATION_ENABLE, admin, "Enable an event destination", destinations::enable)
        .add(Method::POST, DESTINATION_DISABLE, admin, "Disable an event destination", destinations::disable)
        .add(Method::POST, DESTINATION_TEST, admin, "Send a test event to a destination now", destinations::test)
        .add(
            Method::GET,
            DESTINATION_DELIVERIES,
            admin,
            "An event destination's recent deliveries, newest first",
            destinations::deliveries,
        )
        .add(
            Method::GET,
            "/schemas/workflow.json",
            Access::Public,
            "The JSON Schema of workflow files",
            workflows::schema,
        )
}

pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(format!("{what} not found")))
}

/// A new API key: only the hash is stored; the plaintext is answered once.
async fn issue_key(
    state: &AppState,
    project: weft_store::ProjectId,
    name: String,
    role: Role,
) -> Result<Value, ApiError> {
    let key = weft_auth::generate_api_key("weft_key").map_err(ApiError::internal)?;
    let prefix: String = key.plaintext.chars().take(12).collect();
    let new = NewApiKey { name, role, key_prefix: prefix, key_hash: key.hash };
    let stored = state.store.create_api_key(project, new).await.map_err(store_error)?;
    let mut out = json!(stored);
    out["key"] = json!(key.plaintext);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
    #[serde(default)]
    environment: Option<Environment>,
    /// Joins a release group (one project per environment); start one by
    /// passing any fresh UUID.
    #[serde(default, rename = "releaseGroupId")]
    release_group_id: Option<ReleaseGroupId>,
}

async fn create_project(
    State(state): State<AppState>,
    _: Operator,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: CreateProject = json_body(body, r#"{"name": "...", "environment": "development"}"#)?;
    let environment = req.environment.unwrap_or(Environment::Development);
    let project = state
        .store
        .create_project(NewProject { release_group_id: req.release_group_id, ..NewProject::new(req.name, environment) })
        .await
        .map_err(store_error)?;
    let key = issue_key(&state, project.id, "initial admin key".into(), Role::Admin).await?;
    Ok((StatusCode::CREATED, Json(json!({ "project": project, "apiKey": key }))))
}

async fn list_projects(State(state): State<AppState>, _: Operator) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.list_projects().await.map_err(store_error)?)))
}

async fn get_project(State(state): State<AppState>, key: ProjectKey<AnyRole>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.get_project(key.project).await.map_err(store_error)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReturnUrls {
    return_urls: Vec<String>,
}

async fn put_return_urls(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let body: ReturnUrls = json_body(body, r#"{"returnUrls": ["https://app.example.com/integrations"]}"#)?;
    let project = state.store.set_connect_return_urls(key.project, body.return_urls).await.map_err(store_error)?;
    Ok(Json(json!(project)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConcurrencyLimit {
    /// `null` lifts the limit.
    concurrency_limit: Option<u32>,
}

/// An operator's setting, like the reference's plan-level concurrency SLA:
/// a project's own keys cannot raise it.
async fn put_concurrency_limit(
    State(state): State<AppState>,
    _: Operator,
    Path(project): Path<String>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let project = parse_id(&project, "project")?;
    let body: ConcurrencyLimit = json_body(body, r#"{"concurrencyLimit": 20}"#)?;
    let project = state.store.set_concurrency_limit(project, body.concurrency_limit).await.map_err(store_error)?;
    Ok(Json(json!(project)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    role: Role,
}

async fn create_key(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: CreateKey = json_body(body, r#"{"name": "...", "role": "admin|member|support"}"#)?;
    Ok((StatusCode::CREATED, Json(issue_key(&state, key.project, req.name, req.role).await?)))
}

async fn list_keys(State(state): State<AppState>, key: ProjectKey<AdminOnly>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.list_api_keys(key.project).await.map_err(store_error)?)))
}

async fn revoke_key(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, key_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id: ApiKeyId = parse_id(&key_id, "API key")?;
    Ok(Json(json!(state.store.revoke_api_key(key.project, id).await.map_err(store_error)?)))
}

async fn create_integration(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (mut body, secret) = take_client_secret(body)?;
    if let Some(Json(Value::Object(fields))) = &mut body {
        let kind = fields.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        custom::check_in_body(&state, &kind, fields)?;
        crate::portal::check_in_body(fields)?;
    }
    let new: NewIntegration = json_body(body, r#"{"type": "<plugin id or custom.name>", ...}"#)?;
    if weft_catalog::resource::is_resource(&new.integration_type) {
        return Err(ApiError::bad_request(format!(
            "integration types starting with {} are reserved for API resources",
            weft_catalog::resource::RESOURCE_PREFIX
        )));
    }
    let created = state.store.create_integration(key.project, new).await.map_err(store_error)?;
    if let Some(secret) = secret {
        set_client_secret(&state, key.project, created.id, secret).await?;
        let again = state.store.get_integration(key.project, created.id).await.map_err(store_error)?;
        return Ok((StatusCode::CREATED, Json(json!(again))));
    }
    Ok((StatusCode::CREATED, Json(json!(created))))
}

async fn list_integrations(State(state): State<AppState>, key: ProjectKey<Staff>) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_integrations(key.project).await.map_err(store_error)?;
    // A resource's hidden integration is listed as a resource.
    let integrations: Vec<_> =
        all.into_iter().filter(|i| !weft_catalog::resource::is_resource(&i.integration_type)).collect();
    Ok(Json(json!(integrations)))
}

async fn get_integration(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, integration_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id: IntegrationId = parse_id(&integration_id, "integration")?;
    Ok(Json(json!(integration(&state, key.project, id).await?)))
}

async fn patch_integration(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, integration_id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let id: IntegrationId = parse_id(&integration_id, "integration")?;
    integration(&state, key.project, id).await?;
    let (mut body, secret) = take_client_secret(body)?;
    if let Some(Json(Value::Object(fields))) = &body {
        crate::portal::check_in_body(fields)?;
    }
    if let Some(Json(Value::Object(fields))) = &mut body
        && fields.contains_key("definition")
    {
        let current = state.store.get_integration(key.project, id).await.map_err(store_error)?;
        custom::check_in_body(&state, &current.integration_type, fields)?;
    }
    let patch: IntegrationPatch = json_body(body, r#"the fields to change, e.g. {"active": true}"#)?;
    let updated = state.store.update_integration(key.project, id, patch).await.map_err(store_error)?;
    // Proxy calls use the new base URL, scopes, activity and definition at once.
    state.credentials.forget_sessions();
    if let Some(secret) = secret {
        set_client_secret(&state, key.project, id, secret).await?;
        return Ok(Json(json!(state.store.get_integration(key.project, id).await.map_err(store_error)?)));
    }
    Ok(Json(json!(updated)))
}

/// The integration `id` of `project`; a resource's hidden integration is
/// not one here (404, as for any id of no integration).
async fn integration(
    state: &AppState,
    project: weft_store::ProjectId,
    id: IntegrationId,
) -> Result<Integration, ApiError> {
    let found = state.store.get_integration(project, id).await.map_err(store_error)?;
    if weft_catalog::resource::is_resource(&found.integration_type) {
        return Err(ApiError::not_found("integration not found"));
    }
    Ok(found)
}

/// Splits the write-only `clientSecret` (a string, or `null` to clear it)
/// off an integration body: it goes to the vault, never to the row.
#[allow(clippy::type_complexity)]
fn take_client_secret(body: Option<Json<Value>>) -> Result<(Option<Json<Value>>, Option<Option<String>>), ApiError> {
    let Some(Json(Value::Object(mut fields))) = body else { return Ok((body, None)) };
    let secret = match fields.remove("clientSecret") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 4096 => Some(Some(s)),
        Some(_) => return Err(ApiError::bad_request("`clientSecret` must be a non-empty string, or null to clear it")),
    };
    Ok((Some(Json(Value::Object(fields))), secret))
}

async fn set_client_secret(
    state: &AppState,
    project: weft_store::ProjectId,
    id: IntegrationId,
    secret: Option<String>,
) -> Result<(), ApiError> {
    let secret = secret.map(secrecy::SecretString::from);
    let exposed = secret.as_ref().map(secrecy::ExposeSecret::expose_secret);
    state.credentials.set_client_secret(project, id, exposed).await.map_err(crate::connect::credential_error)
}

async fn delete_integration(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, integration_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: IntegrationId = parse_id(&integration_id, "integration")?;
    integration(&state, key.project, id).await?;
    state.store.delete_integration(key.project, id).await.map_err(store_error)?;
    state.credentials.forget_sessions();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
}

async fn list_users(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, weft_store::MAX_PAGE_SIZE);
    let listed = state.store.list_users(key.project, None::<UserCursor>, limit).await.map_err(store_error)?;
    Ok(Json(json!(listed)))
}

async fn get_user(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.get_user(key.project, &user_id).await.map_err(store_error)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    disabled: bool,
}

/// A disabled user's tokens are refused (403) until re-enabled.
async fn patch_user(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, user_id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let req: PatchUser = json_body(body, r#"{"disabled": true}"#)?;
    let user = state.store.set_user_disabled(key.project, &user_id, req.disabled).await.map_err(store_error)?;
    state.user_tokens.forget_user(key.project, &user_id);
    state.credentials.forget_sessions();
    Ok(Json(json!(user)))
}
