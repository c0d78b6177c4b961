//! The seams between the crates that must not know each other: the plugin
//! host serves the credential service's provider hooks, and reads the
//! project's environment secrets. Construction runs in one direction
//! (secrets and state, plugin host, then credentials); a hook call carries
//! the credentials it may use, granted by the credential service for that
//! call.

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::Duration;
use weft_credentials::{AccountInfo, EnvironmentSecrets, HookCall, HookError, ProviderHooks, RefreshedTokens};
use weft_plugin_host::{
    CallError, CallOptions, CallScope, PluginError, PluginHost, SecretSource, StateError, StateStore,
};
use weft_store::{PluginStateScope, Store};

mod budget;
mod declarative;

pub use budget::StoreBudget;

/// A plugin's `state` import, kept in the store: it survives restarts and is
/// shared by every process on one database. Scoped by project, plugin and
/// connection; at most `max_keys` live keys per scope.
pub struct StoreState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Live keys allowed per scope.
    pub max_keys: u32,
}

fn state_scope(scope: &CallScope) -> Result<PluginStateScope<'_>, StateError> {
    let project = scope.project_id.parse().map_err(|_| StateError::Unavailable("no state for this project".into()))?;
    Ok(PluginStateScope::new(project, &scope.plugin_id, scope.connection_id.as_deref()))
}

fn state_error(e: weft_store::Error) -> StateError {
    match e {
        weft_store::Error::TooLarge { limit, .. } => StateError::TooLarge(limit),
        weft_store::Error::QuotaExceeded { .. } => StateError::QuotaExceeded,
        other => {
            tracing::warn!(error = %other, "plugin state failed");
            StateError::Unavailable("state is unavailable; retry later".into())
        }
    }
}

#[async_trait::async_trait]
impl StateStore for StoreState {
    async fn get(&self, scope: &CallScope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.store.get_plugin_state(state_scope(scope)?, key).await.map_err(state_error)
    }

    async fn set(&self, scope: &CallScope, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StateError> {
        let max = self.max_keys;
        self.store.set_plugin_state(state_scope(scope)?, key, &value, ttl, max).await.map_err(state_error)
    }

    async fn delete(&self, scope: &CallScope, key: &str) -> Result<(), StateError> {
        self.store.delete_plugin_state(state_scope(scope)?, key).await.map_err(state_error)
    }
}

/// A plugin's `secrets` import: the project's environment secrets (the
/// plugin host has already checked the name against the plugin's list, and
/// audits the read).
pub struct VaultSecrets(pub Arc<EnvironmentSecrets>);

#[async_trait::async_trait]
impl SecretSource for VaultSecrets {
    async fn get(&self, scope: &CallScope, name: &str) -> Option<String> {
        let project = scope.project_id.parse().ok()?;
        match self.0.get(project, name).await {
            Ok(value) => value.map(|v| v.expose_secret().to_owned()),
            Err(e) => {
                tracing::warn!(project = %scope.project_id, secret = name, error = %e, "secret could not be read");
                None
            }
        }
    }
}

/// [`ProviderHooks`] served by installed plugins.
pub struct PluginHooks(pub Arc<PluginHost>);

/// Event destinations' header values, sealed by the vault.
pub struct SealedHeaders(pub weft_credentials::DestinationHeaders);

impl weft_events::HeaderVault for SealedHeaders {
    fn seal(
        &self,
        project: weft_store::ProjectId,
        destination: weft_store::DestinationId,
        headers: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<u8>, String> {
        self.0.seal(project, destination, headers).map_err(|e| e.to_string())
    }

    fn open(
        &self,
        project: weft_store::ProjectId,
        destination: weft_store::DestinationId,
        sealed: &[u8],
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        self.0.open(project, destination, sealed).map_err(|e| e.to_string())
    }
}

fn options(call: HookCall) -> CallOptions {
    let opts = CallOptions::new(call.project.to_string())
        .with_connection(call.connection_id, Value::Object(call.config))
        .with_base_url(call.base_url.as_deref());
    match call.http {
        Some(http) => opts.with_connection_http(http),
        None => opts,
    }
}

fn hook_error(e: CallError) -> HookError {
    match e {
        CallError::Plugin(PluginError::Unauthorized { message }) => HookError::Unauthorized(message),
        CallError::Plugin(PluginError::InvalidInput { message }) => HookError::InvalidInput(message),
        CallError::Plugin(PluginError::Unsupported { .. }) => HookError::Unsupported,
        other => HookError::Failed(other.to_string()),
    }
}

#[async_trait::async_trait]
impl ProviderHooks for PluginHooks {
    async fn test_connection(&self, provider: &str, call: HookCall) -> Result<AccountInfo, HookError> {
        let info = self.0.test_connection(provider, &options(call)).await.map_err(hook_error)?;
        Ok(AccountInfo { account_id: info.account_id, profile: info.profile, routing_keys: info.routing_keys })
    }

    async fn refresh(&self, provider: &str, call: HookCall) -> Result<RefreshedTokens, HookError> {
        let r = self.0.refresh(provider, &options(call)).await.map_err(hook_error)?;
        Ok(RefreshedTokens {
            access_token: r.access_token,
            refresh_token: r.refresh_token,
            expires_in_seconds: r.expires_in_seconds,
            extra: match r.extra {
                Value::Object(m) => m,
                _ => Default::default(),
            },
        })
    }
}

/// Integration actions and function steps of workflows, run by the plugin
/// host; a call acting for an account is granted it by the credential
/// service, as every plugin call is.
pub(crate) struct WorkflowPlugins {
    pub(crate) host: Arc<PluginHost>,
    pub(crate) credentials: Arc<weft_credentials::Credentials>,
    pub(crate) functions: FunctionLimits,
}

/// The limits of JavaScript Function steps: the configured ones, with a
/// project's own time limit where the configuration names the project.
pub(crate) struct FunctionLimits {
    limits: weft_plugin_host::JsLimits,
    timeouts: std::collections::HashMap<weft_store::ProjectId, std::time::Duration>,
}

impl FunctionLimits {
    pub(crate) fn of(w: &crate::config::WorkflowSettings) -> Self {
        let timeout = std::time::Duration::from_millis(w.function_timeout_ms.max(1));
        let limits = weft_plugin_host::JsLimits {
            cpu: timeout,
            wall_timeout: timeout,
            max_memory_bytes: w.function_memory_mib.max(16) << 20,
            max_output_bytes: w.function_max_output_bytes.max(1),
            ..Default::default()
        };
        let mut timeouts = std::collections::HashMap::new();
        for (project, ms) in &w.function_timeout_ms_by_project {
            match project.parse::<weft_store::ProjectId>() {
                Ok(id) => {
                    timeouts.insert(id, std::time::Duration::from_millis((*ms).max(1)));
                }
                Err(_) => tracing::warn!(
                    project = %project,
                    "workflows.function_timeout_ms_by_project names something that is not a project id; ignored"
                ),
            }
        }
        Self { limits, timeouts }
    }

    fn for_project(&self, project: weft_store::ProjectId) -> weft_plugin_host::JsLimits {
        let mut limits = self.limits.clone();
        if let Some(t) = self.timeouts.get(&project) {
            limits.cpu = *t;
            limits.wall_timeout = *t;
        }
        limits
    }
}

#[async_trait::async_trait]
impl weft_engine::StepPlugins for WorkflowPlugins {
    async fn run_action(
        &self,
        project: weft_store::ProjectId,
        integration: &str,
        credential: weft_store::CredentialId,
        action: &str,
        input: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<serde_json::Value, serde_json::Value> {
        // The step's key is the call's invocation id, which the WIT contract
        // says is stable across retries of a step: the plugin's idempotency
        // key towards the provider.
        weft_api::actions::run_as(
            &self.host,
            &self.credentials,
            project,
            integration,
            credential,
            action,
            input,
            idempotency_key,
        )
        .await
        .map_err(|e| match &e {
            // Smart Rate Limits: the step waits for the provider's window,
            // for the actions whose plugin knows their limits; any other
            // rate limit is the step's error.
            weft_plugin_host::CallError::Plugin(weft_plugin_host::PluginError::RateLimited {
                retry_after_ms, ..
            }) if self.host.pauses_on_rate_limit(integration, action) => serde_json::json!({
                "message": e.to_string(),
                "rateLimit": { "retryAfterMs": retry_after_ms },
            }),
            e => serde_json::json!({ "message": e.to_string() }),
        })
    }

    async fn run_function(
        &self,
        project: weft_store::ProjectId,
        function: &str,
        workflow: weft_store::WorkflowId,
        step: &str,
        parameters: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let opts = weft_plugin_host::CallOptions::new(project.to_string()).with_invocation_id(idempotency_key);
        let call = weft_plugin_host::StepCall {
            input: parameters,
            workflow_id: workflow.to_string(),
            step_id: step.to_owned(),
        };
        self.host.run_step(function, &opts, call).await.map_err(|e| serde_json::json!({ "message": e.to_string() }))
    }

    async fn run_code(
        &self,
        project: weft_store::ProjectId,
        code: &str,
        parameters: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let opts = weft_plugin_host::CallOptions::new(project.to_string()).with_invocation_id(idempotency_key);
        let call =
            weft_plugin_host::JsCall { code: code.to_owned(), parameters, limits: self.functions.for_project(project) };
        let outcome = match self.host.run_js(&opts, call).await {
            Ok(outcome) => outcome,
            // The sandbox stopped it: a time or memory limit, or a trap.
            Err(e) => return Err(serde_json::json!({ "message": e.to_string(), "code": "FUNCTION_STOPPED" })),
        };
        let mut answer = outcome.result.map(|result| serde_json::json!({ "result": result })).map_err(|e| {
            serde_json::json!({
                "message": e.to_string(),
                "code": "FUNCTION_FAILED",
                "kind": e.kind,
                "line": e.line,
                "column": e.column,
            })
        });
        if !outcome.logs.is_empty() {
            let (Ok(v) | Err(v)) = &mut answer;
            v["logs"] = serde_json::json!(outcome.logs);
        }
        answer
    }
}

/// An integration's triggers for the engine. A plugin's: `subscribe`,
/// `unsubscribe` and `poll` run as the subscription's account (granted by
/// the credential service for the call, with the account's connection
/// settings), the trigger's kind from the plugin's listing. Without a
/// plugin, the webhooks of the integration's definition ([`declarative`]).
pub(crate) struct TriggerPlugins {
    pub(crate) host: Arc<PluginHost>,
    pub(crate) credentials: Arc<weft_credentials::Credentials>,
    pub(crate) store: Arc<dyn Store>,
}

impl TriggerPlugins {
    /// The call options of a call made as `s`'s account.
    async fn as_account(&self, integration: &str, s: &weft_store::Subscription) -> Result<CallOptions, String> {
        let account = self
            .store
            .get_credential(s.project, s.credential)
            .await
            .map_err(|e| format!("the subscription's account cannot be read: {e}"))?;
        let grant = self.credentials.grant(s.project, s.credential, integration);
        Ok(CallOptions::new(s.project.to_string())
            .with_invocation_id(s.id.to_string())
            .with_connection(s.credential.to_string(), Value::Object(account.connection_config))
            .with_connection_http(grant))
    }
}

#[async_trait::async_trait]
impl weft_engine::TriggerPlugins for TriggerPlugins {
    async fn trigger(
        &self,
        project: weft_store::ProjectId,
        integration: &str,
        trigger: &str,
    ) -> Option<weft_engine::TriggerSpec> {
        let Some(plugin) = self.host.get(integration) else {
            return declarative::trigger(&self.credentials, project, integration, trigger).await;
        };
        let t = plugin.triggers.iter().find(|t| t.key == trigger)?;
        let kind = match t.kind.as_str() {
            "webhook" => weft_store::SubscriptionKind::Webhook,
            "app-webhook" => weft_store::SubscriptionKind::AppWebhook,
            "polling" => weft_store::SubscriptionKind::Polling,
            _ => return None,
        };
        Some(weft_engine::TriggerSpec {
            kind,
            interval_secs: t.polling.map(|p| p.default_seconds.max(p.min_seconds)),
            matches: weft_engine::EventMatch::from_schema(&t.config_schema),
            // A plugin's trigger is configured by each workflow.
            scope: weft_store::SubscriptionScope::Workflow,
        })
    }

    async fn subscribe(
        &self,
        integration: &str,
        s: &weft_store::Subscription,
        webhook_url: &str,
    ) -> Result<Value, String> {
        if self.host.get(integration).is_none() {
            return declarative::subscribe(&self.credentials, integration, s, webhook_url).await;
        }
        let opts = self.as_account(integration, s).await?;
        self.host.subscribe(integration, &opts, &s.trigger, &s.config, webhook_url).await.map_err(|e| e.to_string())
    }

    async fn unsubscribe(&self, integration: &str, s: &weft_store::Subscription) -> Result<(), String> {
        if self.host.get(integration).is_none() {
            return declarative::unsubscribe(&self.credentials, integration, s).await;
        }
        let opts = self.as_account(integration, s).await?;
        let state = s.state.clone().unwrap_or(Value::Null);
        self.host.unsubscribe(integration, &opts, &s.trigger, &s.config, &state).await.map_err(|e| e.to_string())
    }

    async fn poll(&self, integration: &str, s: &weft_store::Subscription) -> Result<weft_engine::Polled, String> {
        let opts = self.as_account(integration, s).await?;
        let out = self
            .host
            .poll(integration, &opts, &s.trigger, &s.config, s.cursor.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(weft_engine::Polled {
            events: out.events.into_iter().map(|e| weft_api::webhooks::stored_event(e, Some(s.id))).collect(),
            cursor: out.cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FunctionLimits;
    use std::time::Duration;

    #[test]
    fn a_project_named_in_the_settings_gets_its_own_function_time_limit() {
        let mut w = crate::config::WorkflowSettings { function_timeout_ms: 60_000, ..Default::default() };
        let special = weft_store::ProjectId::new();
        w.function_timeout_ms_by_project.insert(special.to_string(), 5_000);
        w.function_timeout_ms_by_project.insert("not-a-project".into(), 1);
        let limits = FunctionLimits::of(&w);
        let own = limits.for_project(special);
        assert_eq!((own.cpu, own.wall_timeout), (Duration::from_secs(5), Duration::from_secs(5)));
        let other = limits.for_project(weft_store::ProjectId::new());
        assert_eq!((other.cpu, other.wall_timeout), (Duration::from_secs(60), Duration::from_secs(60)));
        assert_eq!(other.max_output_bytes, 50 << 20);
    }
}
