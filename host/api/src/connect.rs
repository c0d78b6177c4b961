//! Connecting accounts over the SDK routes: starting a flow, submitting
//! input fields, the per-integration OAuth callback, the user's
//! credentials (list, get, replace `config`) and uninstalling.
//!
//! Responses describe credentials from their rows only: listing never
//! opens a secret, and no secret is ever part of an answer.

use crate::extract::{Json, Path, Query, json_body};
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use weft_credentials::{CallbackParams, Error as CredError, StartOutcome, StartRequest};
use weft_store::{Credential, CredentialId, IntegrationId};

/// Header selecting one of several connected accounts.
pub(crate) const CREDENTIAL_HEADER: &str = "x-paragon-credential";

pub(crate) fn routes() -> Routes {
    let start = "/projects/{projectId}/sdk/connect/{integrationType}";
    Routes::new()
        .add(Method::POST, start, Access::User, "Start connecting an account", start_connect)
        .add(
            Method::POST,
            "/projects/{projectId}/sdk/connect/{integrationType}/credentials",
            Access::User,
            "Connect an account with input fields (API key, basic, client credentials, password grant)",
            submit,
        )
        .add(
            Method::POST,
            "/projects/{projectId}/sdk/resources/{resourceId}/connect",
            Access::User,
            "Connect an API resource with its required keys (tokens or API keys, and its inputs)",
            connect_resource,
        )
        .add(Method::GET, "/projects/{projectId}/sdk/credentials", Access::User, "The user's connected accounts", list)
        .add(
            Method::GET,
            "/projects/{projectId}/sdk/credentials/{credentialId}",
            Access::User,
            "One connected account",
            get_one,
        )
        .add(
            Method::PATCH,
            "/projects/{projectId}/sdk/credentials/{credentialId}",
            Access::User,
            "Replace a connected account's config",
            patch_one,
        )
        .add(
            Method::DELETE,
            "/projects/{projectId}/sdk/integrations/{integrationId}",
            Access::User,
            "Disconnect the user's accounts of an integration (X-Paragon-Credential selects one)",
            uninstall,
        )
        .add(
            Method::GET,
            "/projects/{projectId}/connect/{integrationId}/oauth/callback",
            Access::Public,
            "OAuth redirect URI of an integration",
            callback,
        )
}

/// Maps a credential-service error to the answer.
pub(crate) fn credential_error(e: CredError) -> ApiError {
    match e {
        // The store's wording, so a foreign id reads like a missing one.
        CredError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
        CredError::BadRequest(m) => ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", m),
        e @ CredError::InvalidState => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_STATE", e.to_string()),
        e @ CredError::NeedsReauth { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "CREDENTIAL_INVALID",
            format!("{e}; connect it again with installIntegration"),
        ),
        e @ CredError::Misconfigured(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INTEGRATION_MISCONFIGURED", e.to_string())
        }
        // The detail may name addresses, policy reasons or the provider's
        // words: logged, never answered.
        CredError::Provider(detail) => ApiError::bad_gateway(
            "PROVIDER_ERROR",
            "The provider refused or failed; the server log has the details",
            detail,
        ),
        CredError::Unavailable { retry_after } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PROVIDER_UNAVAILABLE",
            "The provider is unavailable; retry later",
        )
        .with_retry_after(retry_after.unwrap_or(std::time::Duration::from_secs(1))),
        e @ CredError::ConnectionTest(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "CONNECTION_TEST_FAILED", e.to_string())
        }
        CredError::Corrupt => {
            tracing::error!("a stored credential failed its integrity check");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "CREDENTIAL_CORRUPT",
                "The stored credential cannot be read; connect the account again",
            )
        }
        other => ApiError::internal(other),
    }
}

fn rfc3339(t: Option<time::OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok()).map(Value::String).unwrap_or(Value::Null)
}

/// The one configuration of an account (its user settings), in the shape
/// of the reference's credential configurations. Weft keeps exactly one
/// per account, in the account's `config`, so it is the default one and
/// is named by the account's id; `configuredWorkflows` is the older name
/// of `workflowSettings`.
pub(crate) fn configuration_view(c: &Credential) -> Value {
    let setting = |name: &str| c.config.get(name).cloned().unwrap_or_else(|| json!({}));
    let workflows = c.config.get("workflowSettings").or_else(|| c.config.get("configuredWorkflows"));
    json!({
        "id": c.id.to_string(),
        "dateCreated": rfc3339(Some(c.created_at)),
        "dateUpdated": rfc3339(Some(c.updated_at)),
        "connectCredentialId": c.id.to_string(),
        "isDefault": true,
        "workflowSettings": workflows.cloned().unwrap_or_else(|| json!({})),
        "sharedSettings": setting("sharedSettings"),
        "configMeta": setting("configMeta"),
    })
}

/// A credential in the reference's shape; no secret, no decryption.
pub(crate) fn credential_view(c: &Credential, now: time::OffsetDateTime) -> Value {
    json!({
        "id": c.id.to_string(),
        "dateCreated": rfc3339(Some(c.created_at)),
        "dateUpdated": rfc3339(Some(c.updated_at)),
        "dateDeleted": null,
        "projectId": c.project_id.to_string(),
        "integrationId": c.integration_id.to_string(),
        "personaId": c.user_id,
        "config": c.config,
        "configurations": [configuration_view(c)],
        "isPreviewCredential": false,
        "providerId": c.provider_id,
        "providerData": c.provider_data,
        "status": c.status.as_str(),
        "dateRefreshed": rfc3339(c.refreshed_at),
        "dateValidUntil": rfc3339(c.expires_at),
        "refreshFailureCount": c.refresh_failure_count,
        "isRefreshing": c.lease_until.is_some_and(|u| u > now),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    inputs: Map<String, Value>,
    #[serde(default)]
    allow_multiple_credentials: bool,
    #[serde(default)]
    selected_credential_id: Option<String>,
    /// Where to send the browser after an OAuth connect.
    #[serde(default)]
    return_to: Option<String>,
    /// Secret input fields (submit only).
    #[serde(default)]
    fields: Map<String, Value>,
}

impl StartBody {
    fn request(&self) -> Result<StartRequest, ApiError> {
        let replace = match &self.selected_credential_id {
            Some(id) => Some(id.parse().map_err(|_| ApiError::not_found("credential not found"))?),
            None => None,
        };
        Ok(StartRequest {
            inputs: self.inputs.clone(),
            allow_multiple: self.allow_multiple_credentials,
            replace,
            return_to: self.return_to.clone(),
        })
    }
}

const START_EXAMPLE: &str =
    r#"{"inputs": {"subdomain": "acme"}, "allowMultipleCredentials": false} (every field optional)"#;

async fn start_connect(
    State(state): State<AppState>,
    user: User,
    Path((_, integration_type)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let body: StartBody = if body.is_some() { json_body(body, START_EXAMPLE)? } else { StartBody::default() };
    let outcome = state
        .credentials
        .start(user.project, &user.user.user_id, &integration_type, body.request()?)
        .await
        .map_err(credential_error)?;
    Ok(Json(match outcome {
        StartOutcome::Redirect { url } => json!({ "type": "oauth", "authorizationUrl": url }),
        StartOutcome::Inputs { fields } => json!({ "type": "inputs", "fields": fields }),
    }))
}

async fn submit(
    State(state): State<AppState>,
    user: User,
    Path((_, integration_type)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: StartBody = json_body(body, r#"{"fields": {"api_key": "..."}, "inputs": {...}}"#)?;
    let credential = state
        .credentials
        .submit(user.project, &user.user.user_id, &integration_type, body.request()?, body.fields.clone())
        .await
        .map_err(credential_error)?;
    account_connected(&state, user.project, credential.id).await;
    Ok((StatusCode::CREATED, Json(credential_view(&credential, time::OffsetDateTime::now_utc()))))
}

/// Connects the user to an API resource: the body is exactly the
/// resource's required keys; the user's earlier connection is replaced.
async fn connect_resource(
    State(state): State<AppState>,
    user: User,
    Path((_, resource)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id: IntegrationId = crate::admin::parse_id(&resource, "resource")?;
    let Some(Json(Value::Object(keys))) = body else {
        return Err(ApiError::bad_request(
            r#"Send the resource's required keys as a JSON object, e.g. {"access_token": "...", "refresh_token": "..."}"#,
        ));
    };
    let credential = state
        .credentials
        .connect_resource(user.project, &user.user.user_id, id, keys)
        .await
        .map_err(credential_error)?;
    account_usable(&state, user.project, credential.id).await;
    Ok((StatusCode::CREATED, Json(credential_view(&credential, time::OffsetDateTime::now_utc()))))
}

async fn callback(
    State(state): State<AppState>,
    Path((project, integration)): Path<(String, String)>,
    Query(params): Query<CallbackParams>,
) -> Result<Response, ApiError> {
    // Unknown ids are one more invalid state: nothing is exchanged.
    let invalid = || credential_error(CredError::InvalidState);
    let project = project.parse().map_err(|_| invalid())?;
    let integration: IntegrationId = integration.parse().map_err(|_| invalid())?;
    let connected = state.credentials.callback(project, integration, params).await.map_err(credential_error)?;
    let credential = connected.credential;
    account_connected(&state, project, credential.id).await;
    if let Some(to) = connected.return_to {
        // Checked against the project's exact list when the flow started.
        return Ok((StatusCode::FOUND, [(http::header::LOCATION, to)]).into_response());
    }
    let page = format!(
        "<!doctype html><meta charset=utf-8><link rel=icon href=\"data:,\"><title>Connected</title>\
         <p>Your account is connected. You can close this window.</p>\
         <script>try{{window.opener&&window.opener.postMessage({{type:'weft:connected',credentialId:'{}'}},'*')}}catch(e){{}}</script>",
        credential.id
    );
    Ok(Html(page).into_response())
}

async fn list(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_user_credentials(user.project, &user.user.user_id).await.map_err(crate::store_error)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(Json(Value::Array(all.iter().map(|c| credential_view(c, now)).collect())))
}

/// The user's credential `id`, or 404 (another user's is "not found" too).
async fn mine(state: &AppState, user: &User, id: &str) -> Result<Credential, ApiError> {
    let id: CredentialId = id.parse().map_err(|_| ApiError::not_found("credential not found"))?;
    let c = state.store.get_credential(user.project, id).await.map_err(crate::store_error)?;
    if c.user_id != user.user.user_id {
        return Err(ApiError::not_found("credential not found"));
    }
    Ok(c)
}

async fn get_one(
    State(state): State<AppState>,
    user: User,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = mine(&state, &user, &id).await?;
    Ok(Json(credential_view(&c, time::OffsetDateTime::now_utc())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    config: Map<String, Value>,
}

async fn patch_one(
    State(state): State<AppState>,
    user: User,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let body: PatchBody = json_body(body, r#"{"config": {"configuredWorkflows": {...}}} (the whole config)"#)?;
    let c = mine(&state, &user, &id).await?;
    let updated = state
        .store
        .set_credential_config(user.project, &user.user.user_id, c.id, body.config)
        .await
        .map_err(crate::store_error)?;
    state.credentials.forget_sessions();
    // Saved settings may be the last ones the account needed.
    account_usable(&state, user.project, updated.id).await;
    Ok(Json(credential_view(&updated, time::OffsetDateTime::now_utc())))
}

async fn uninstall(
    State(state): State<AppState>,
    user: User,
    Path((_, integration)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let integration: IntegrationId = integration.parse().map_err(|_| ApiError::not_found("integration not found"))?;
    let selected = match headers.get(CREDENTIAL_HEADER).and_then(|v| v.to_str().ok()) {
        Some(id) => Some(id.parse().map_err(|_| ApiError::not_found("credential not found"))?),
        None => None,
    };
    // Their trigger subscriptions go first, while the accounts can still
    // unsubscribe at the provider.
    let leaving: Vec<CredentialId> = state
        .store
        .list_user_credentials(user.project, &user.user.user_id)
        .await
        .map_err(crate::store_error)?
        .into_iter()
        .filter(|c| c.integration_id == integration && selected.is_none_or(|s| s == c.id))
        .map(|c| c.id)
        .collect();
    if let Err(e) = state.engine.drop_account_subscriptions(user.project, &user.user.user_id, &leaving).await {
        tracing::warn!(project = %user.project, error = %e, "trigger subscriptions of removed accounts could not be dropped first");
    }
    let removed = state
        .credentials
        .uninstall(user.project, &user.user.user_id, integration, selected)
        .await
        .map_err(credential_error)?;
    // The user's workflows that ran with the removed accounts stop.
    let integration_type = state.store.get_integration(user.project, integration).await.map_err(crate::store_error)?;
    state
        .engine
        .accounts_removed(user.project, &user.user.user_id, &integration_type.integration_type, &removed)
        .await
        .map_err(ApiError::internal)?;
    crate::workflows::sync_subscriptions(&state, user.project, &user.user.user_id).await;
    Ok(Json(json!({ "success": true, "removed": removed.len() })))
}

/// Starts the integration's Integration Enabled workflows for an account
/// that was connected or whose settings were saved (once per account; the
/// engine checks that it is usable). The account is connected either way:
/// a failure here is logged, not answered.
/// A new or reconnected account: the integration's default-enabled
/// workflows turn on for a user's first account, then as
/// [`account_usable`].
async fn account_connected(state: &AppState, project: weft_store::ProjectId, credential: CredentialId) {
    if let Err(e) = state.engine.enable_defaults(project, credential).await {
        tracing::error!(project = %project, credential = %credential, error = %e, "default-enabled workflows could not be turned on");
    }
    account_usable(state, project, credential).await;
}

async fn account_usable(state: &AppState, project: weft_store::ProjectId, credential: CredentialId) {
    if let Err(e) = state.engine.integration_enabled(project, credential).await {
        tracing::error!(project = %project, credential = %credential, error = %e, "Integration Enabled workflows could not be started");
    }
    // Workflows the user enabled without naming an account listen with
    // their first usable one, which may be this one now.
    if let Ok(account) = state.store.get_credential(project, credential).await {
        crate::workflows::sync_subscriptions(state, project, &account.user_id).await;
    }
}
