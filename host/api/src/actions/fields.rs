//! Per-account input fields of ActionKit tools: an action whose plugin
//! declares fields for it (`PluginInfo::dynamic_fields`) is listed and
//! checked with its static schema plus the fields the plugin reads from the
//! provider as the user's account (a Salesforce org's custom fields).
//!
//! Answers are cached durably, per project, account (credential) and
//! action, in the store's plugin state under a scope no plugin can name
//! (`weft.fields/<integration>`), keyed by the action and the plugin build,
//! so every process shares them and an upgraded plugin asks again. They
//! live for `actions.fields_ttl_secs` (8 hours by default); `reload_fields`
//! replaces them.

use super::{ApiError, AppState};
use serde_json::{Value, json};
use std::time::Duration;
use weft_plugin_host::{ActionDefinition, ActionFields, CallError, CallOptions, PluginError, PluginInfo};
use weft_store::{CredentialId, PluginStateScope, ProjectId};

/// Live cache entries one account's scope may hold: one per action with
/// fields, so far below this.
const MAX_ENTRIES: u32 = 1_000;

/// Where the fields of one account's actions are cached.
pub(crate) struct FieldsScope<'a> {
    pub project: ProjectId,
    pub credential: CredentialId,
    pub integration: &'a str,
}

/// One action's schema for an account: the merged schema, or the static
/// one with the reason the fields could not be had.
pub(crate) struct Schema {
    pub schema: Value,
    pub error: Option<String>,
}

/// The store scope of `scope`'s cache: `weft.fields/…` contains a slash,
/// which no plugin id may, so a plugin's own `state` can never reach it.
fn cache_plugin(integration: &str) -> String {
    format!("weft.fields/{integration}")
}

/// The cache key of `action`: the plugin build is part of it, so a new
/// build's fields are asked for afresh.
fn cache_key(plugin: &PluginInfo, action: &str) -> String {
    format!("{action}@{}", plugin.sha256.get(..16).unwrap_or(&plugin.sha256))
}

/// `action`'s input schema for the account of `scope`: the static schema
/// when the plugin declares no fields for it; else merged with the cached
/// fields, or with fields asked from the plugin (and cached) when there are
/// none or `reload`.
pub(crate) async fn schema_for(
    state: &AppState,
    scope: &FieldsScope<'_>,
    plugin: &PluginInfo,
    action: &ActionDefinition,
    reload: bool,
) -> Schema {
    if !plugin.dynamic_fields.contains(&action.key) {
        return Schema { schema: action.input_schema.clone(), error: None };
    }
    match fields_of(state, scope, plugin, &action.key, reload).await {
        Ok(fields) => Schema { schema: fields.merge_into(&action.input_schema), error: None },
        Err(message) => Schema { schema: action.input_schema.clone(), error: Some(message) },
    }
}

async fn fields_of(
    state: &AppState,
    scope: &FieldsScope<'_>,
    plugin: &PluginInfo,
    action: &str,
    reload: bool,
) -> Result<ActionFields, String> {
    let owner = cache_plugin(scope.integration);
    let connection = scope.credential.to_string();
    let store_scope = PluginStateScope::new(scope.project, &owner, Some(&connection));
    let key = cache_key(plugin, action);
    if !reload {
        match state.store.get_plugin_state(store_scope, &key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<ActionFields>(&bytes) {
                Ok(fields) => return Ok(fields),
                Err(e) => tracing::warn!(action, error = %e, "cached action fields unreadable; asking again"),
            },
            Ok(None) => {}
            // A cache that cannot be read costs a provider call, not the tool.
            Err(e) => tracing::warn!(action, error = %e, "action fields cache unavailable"),
        }
    }
    let fields = ask(state, scope, action).await?;
    let bytes = serde_json::to_vec(&fields).unwrap_or_default();
    let ttl = Some(state.fields_ttl.max(Duration::from_secs(1)));
    if let Err(e) = state.store.set_plugin_state(store_scope, &key, &bytes, ttl, MAX_ENTRIES).await {
        tracing::warn!(action, error = %e, "action fields could not be cached");
    }
    Ok(fields)
}

/// Asks the plugin as the account, the way [`super::run_as`] runs an
/// action; a failure as a message fit for the caller (no internals).
async fn ask(state: &AppState, scope: &FieldsScope<'_>, action: &str) -> Result<ActionFields, String> {
    let grant = state.credentials.grant(scope.project, scope.credential, scope.integration);
    let opts = CallOptions::new(scope.project.to_string())
        .with_connection(scope.credential.to_string(), json!({}))
        .with_connection_http(grant);
    let fields = state.plugins.action_fields(scope.integration, &opts, action).await;
    fields.map_err(|e| {
        tracing::warn!(integration = scope.integration, action, error = %e, "action fields could not be fetched");
        failure(action, &e)
    })
}

/// What a caller is told about a failed fields call: the provider's own
/// answer when the plugin relayed one, otherwise only that it failed.
fn failure(action: &str, e: &CallError) -> String {
    let prefix = format!("the fields of {action} could not be loaded");
    match e {
        CallError::Plugin(
            PluginError::Unauthorized { message }
            | PluginError::Forbidden { message }
            | PluginError::NotFound { message }
            | PluginError::RateLimited { message, .. }
            | PluginError::Upstream { message, .. },
        ) => format!("{prefix}: {message}"),
        CallError::Timeout(_) => format!("{prefix}: the provider did not answer in time"),
        _ => prefix,
    }
}

/// An entry of the listing's `errors`.
pub(crate) fn error_entry(integration: &str, action: &str, message: &str) -> Value {
    json!({ "integration": integration, "action": action, "message": message })
}

/// The account a listing asks fields as: the selected one, else the
/// user's first usable account of `integration`; `Err` with a message
/// for the listing's `errors` when there is none to use.
pub(crate) async fn account(
    state: &AppState,
    user: &crate::user_token::User,
    integration: &str,
    selected: Option<CredentialId>,
) -> Result<CredentialId, ApiError> {
    let session = state
        .credentials
        .session(user.project, &user.user.user_id, weft_credentials::IntegrationRef::Type(integration), selected)
        .await
        .map_err(crate::connect::credential_error)?;
    Ok(session.credential().id)
}
