//! The calls Weft makes into plugins, in domain types.

use super::{Installed, PluginHost, Pre};
use crate::bindings::exports::{actions as wa, triggers as wt};
use crate::bindings::step::exports::weft::plugin::step as ws;
use crate::bindings::types::CallContext;
use crate::call_state::Phase;
use crate::error::CallError;
use crate::types::{ConnectionInfo, PluginError};
use secrecy::SecretString;
use serde_json::Value;
use std::sync::Arc;
use weft_catalog::ConnectionHttp;

/// Who a call acts for.
#[derive(Clone)]
pub struct CallOptions {
    /// The project (tenant).
    pub project_id: String,
    /// The connection, when acting for a user's account.
    pub connection_id: Option<String>,
    /// Non-secret connection settings handed to the plugin.
    pub connection_config: Arc<Value>,
    /// Correlates logs; an idempotency key towards providers.
    pub invocation_id: String,
    /// Replaces the plugin's base URL (an integration's override, e.g. a
    /// sandbox); its host is permitted in addition to the plugin's own.
    pub base_url: Option<Arc<str>>,
    /// Sends the plugin's requests with the connection's credentials,
    /// granted by the credential service for this call; without it a
    /// request that asks for the connection's credentials is refused.
    pub connection_http: Option<Arc<dyn ConnectionHttp>>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("project_id", &self.project_id)
            .field("connection_id", &self.connection_id)
            .field("invocation_id", &self.invocation_id)
            .field("base_url", &self.base_url)
            .field("connection_http", &self.connection_http.is_some())
            .finish_non_exhaustive()
    }
}

impl CallOptions {
    /// A call for `project_id`, no connection, a fresh invocation id.
    pub fn new(project_id: impl Into<String>) -> Self {
        Self {
            project_id: project_id.into(),
            connection_id: None,
            connection_config: Arc::new(Value::Object(Default::default())),
            invocation_id: uuid::Uuid::new_v4().to_string(),
            base_url: None,
            connection_http: None,
        }
    }

    /// Grants the call the connection's credentials: its requests with
    /// `auth: connection` go through `http`.
    pub fn with_connection_http(mut self, http: Arc<dyn ConnectionHttp>) -> Self {
        self.connection_http = Some(http);
        self
    }

    /// Uses `base_url` instead of the plugin's (an integration's override).
    pub fn with_base_url(mut self, base_url: Option<&str>) -> Self {
        self.base_url = base_url.map(Arc::from);
        self
    }

    /// Acts for `connection_id` with its settings.
    pub fn with_connection(mut self, connection_id: impl Into<String>, config: Value) -> Self {
        self.connection_id = Some(connection_id.into());
        self.connection_config = Arc::new(config);
        self
    }

    /// Uses a caller-chosen invocation id (stable across retries).
    pub fn with_invocation_id(mut self, id: impl Into<String>) -> Self {
        self.invocation_id = id.into();
        self
    }

    pub(super) fn context(&self, deadline_ms: u64) -> CallContext {
        CallContext {
            invocation_id: self.invocation_id.clone(),
            connection_id: self.connection_id.clone(),
            connection_config: self.connection_config.to_string(),
            deadline_ms,
        }
    }
}

/// One action run.
#[derive(Debug, Clone)]
pub struct ActionCall {
    /// Action key.
    pub action: String,
    /// Input document.
    pub input: Value,
    /// Cursor from a previous page.
    pub page: Option<String>,
}

/// One page of an action's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutput {
    /// Output document.
    pub output: Value,
    /// Cursor of the next page.
    pub next_page: Option<String>,
}

/// New credentials from a plugin's custom refresh; the token never prints.
#[derive(Debug, Clone)]
pub struct RefreshedCredentials {
    /// The new access token.
    pub access_token: SecretString,
    /// A rotated refresh token, if any.
    pub refresh_token: Option<SecretString>,
    /// Lifetime of the access token.
    pub expires_in_seconds: Option<u64>,
    /// Extra fields to keep.
    pub extra: Value,
}

/// A webhook delivery handed to a plugin.
#[derive(Debug, Clone, Default)]
pub struct WebhookDelivery {
    /// Per-subscription URL id; none for app-level URLs.
    pub subscription_id: Option<String>,
    /// The subscribed trigger.
    pub trigger: Option<String>,
    /// The subscription's configuration.
    pub config: Option<Value>,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Query pairs.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body (already capped by the caller).
    pub body: Vec<u8>,
}

/// An event a plugin produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Trigger key.
    pub trigger: String,
    /// App-level routing key.
    pub routing_key: Option<String>,
    /// Provider event id for de-duplication.
    pub dedupe_key: Option<String>,
    /// When it happened.
    pub occurred_at_ms: Option<u64>,
    /// Payload.
    pub payload: Value,
}

/// The immediate reply to a webhook sender.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookReply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// What a plugin made of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookOutcome {
    /// `Err(reason)` when the delivery is not authentic.
    pub verification: Result<(), String>,
    /// Reply to send; 200 when none.
    pub reply: Option<WebhookReply>,
    /// Events to enqueue.
    pub events: Vec<Event>,
}

/// Events found by a poll and the cursor to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct PollOutcome {
    /// Events.
    pub events: Vec<Event>,
    /// Next cursor.
    pub cursor: Option<String>,
}

/// One function-step run.
#[derive(Debug, Clone)]
pub struct StepCall {
    /// Input document.
    pub input: Value,
    /// Workflow the step belongs to.
    pub workflow_id: String,
    /// Step id in the workflow.
    pub step_id: String,
}

fn event(e: wt::Event) -> Result<Event, CallError> {
    Ok(Event {
        payload: parse_output(&e.payload, usize::MAX)?,
        trigger: e.trigger,
        routing_key: e.routing_key,
        dedupe_key: e.dedupe_key,
        occurred_at_ms: e.occurred_at_ms,
    })
}

fn parse_output(text: &str, limit: usize) -> Result<Value, CallError> {
    if text.len() > limit {
        return Err(CallError::OutputTooLarge { size: text.len(), limit });
    }
    serde_json::from_str(text).map_err(|e| CallError::InvalidOutput(e.to_string()))
}

impl PluginHost {
    fn integration(&self, id: &str) -> Result<Arc<Installed>, CallError> {
        let installed = self.installed(id).ok_or_else(|| CallError::UnknownPlugin(id.to_owned()))?;
        match installed.pre {
            Pre::Integration(_) => Ok(installed),
            Pre::Step(_) | Pre::Js(_) => Err(CallError::WrongWorld(id.to_owned())),
        }
    }

    /// Runs `f` on a fresh instance of integration `id`.
    async fn on_integration<R: Send>(
        &self,
        id: &str,
        opts: &CallOptions,
        phase: Phase,
        f: impl for<'a> FnOnce(
            &'a mut wasmtime::Store<crate::call_state::CallState>,
            crate::bindings::integration::Integration,
        ) -> super::execute::GuestFuture<'a, R>
        + Send,
    ) -> Result<R, CallError> {
        let installed = self.integration(id)?;
        let Pre::Integration(pre) = &installed.pre else {
            return Err(CallError::WrongWorld(id.to_owned()));
        };
        self.execute_integration(id, installed.metadata.clone(), pre, opts, phase, f).await
    }

    /// Runs one action (one page of it).
    #[tracing::instrument(name = "weft_plugin_host.run_action", skip_all, fields(plugin = plugin_id, action = %call.action, invocation = %opts.invocation_id))]
    pub async fn run_action(
        &self,
        plugin_id: &str,
        opts: &CallOptions,
        call: ActionCall,
    ) -> Result<ActionOutput, CallError> {
        let req = wa::ActionRequest {
            action: call.action,
            input: call.input.to_string(),
            page: call.page,
            context: opts.context(self.config.call_deadline_ms()),
        };
        let (resp, governor_wait) = self
            .on_integration(plugin_id, opts, Phase::Normal, move |store, inst| {
                Box::pin(async move {
                    let resp = inst.weft_plugin_actions().call_run_action(&mut *store, &req).await?;
                    Ok((resp, store.data().governor_wait))
                })
            })
            .await?;
        let resp = resp.map_err(|e| match PluginError::from(e) {
            // The plugin could not know the wait of a budget the governor
            // keeps for it: the host does.
            PluginError::RateLimited { retry_after_ms: None, message } => PluginError::RateLimited {
                retry_after_ms: governor_wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
                message,
            },
            other => other,
        })?;
        Ok(ActionOutput {
            output: parse_output(&resp.output, self.config.max_output_bytes)?,
            next_page: resp.next_page,
        })
    }

    /// Whether a workflow step running `action` of plugin `plugin_id` waits
    /// out the provider's rate limit rather than failing (the plugin's
    /// Smart Rate Limits, `extra.smartRateLimits`).
    pub fn pauses_on_rate_limit(&self, plugin_id: &str, action: &str) -> bool {
        self.integration(plugin_id).is_ok_and(|i| i.info.smart_rate_limits.iter().any(|k| k == action))
    }

    /// Asks the plugin to check the connection and describe the account.
    pub async fn test_connection(&self, plugin_id: &str, opts: &CallOptions) -> Result<ConnectionInfo, CallError> {
        let cx = opts.context(self.config.call_deadline_ms());
        let info = self
            .on_integration(plugin_id, opts, Phase::Normal, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_auth().call_test_connection(store, &cx).await })
            })
            .await?
            .map_err(PluginError::from)?;
        Ok(info.into())
    }

    /// Calls the plugin's custom refresh hook.
    pub async fn refresh(&self, plugin_id: &str, opts: &CallOptions) -> Result<RefreshedCredentials, CallError> {
        let cx = opts.context(self.config.call_deadline_ms());
        let r = self
            .on_integration(plugin_id, opts, Phase::Normal, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_auth().call_refresh(store, &cx).await })
            })
            .await?
            .map_err(PluginError::from)?;
        Ok(RefreshedCredentials {
            access_token: r.access_token.into(),
            refresh_token: r.refresh_token.map(Into::into),
            expires_in_seconds: r.expires_in_seconds,
            extra: serde_json::from_str(&r.extra).unwrap_or(Value::Null),
        })
    }

    /// Registers a provider webhook; returns the state to keep.
    pub async fn subscribe(
        &self,
        plugin_id: &str,
        opts: &CallOptions,
        trigger: &str,
        config: &Value,
        webhook_url: &str,
    ) -> Result<Value, CallError> {
        let req = wt::SubscribeRequest {
            trigger: trigger.to_owned(),
            config: config.to_string(),
            webhook_url: webhook_url.to_owned(),
            context: opts.context(self.config.call_deadline_ms()),
        };
        let state = self
            .on_integration(plugin_id, opts, Phase::Normal, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_triggers().call_subscribe(store, &req).await })
            })
            .await?
            .map_err(PluginError::from)?;
        parse_output(&state, self.config.max_output_bytes)
    }

    /// Removes a provider webhook registered by `subscribe`.
    pub async fn unsubscribe(
        &self,
        plugin_id: &str,
        opts: &CallOptions,
        trigger: &str,
        config: &Value,
        state: &Value,
    ) -> Result<(), CallError> {
        let req = wt::UnsubscribeRequest {
            trigger: trigger.to_owned(),
            config: config.to_string(),
            state: state.to_string(),
            context: opts.context(self.config.call_deadline_ms()),
        };
        self.on_integration(plugin_id, opts, Phase::Normal, move |store, inst| {
            Box::pin(async move { inst.weft_plugin_triggers().call_unsubscribe(store, &req).await })
        })
        .await?
        .map_err(|e| PluginError::from(e).into())
    }

    /// Lets the plugin verify and route a webhook delivery. No outbound HTTP
    /// and no state writes are allowed in this phase.
    pub async fn handle_webhook(
        &self,
        plugin_id: &str,
        opts: &CallOptions,
        delivery: WebhookDelivery,
    ) -> Result<WebhookOutcome, CallError> {
        let now = crate::call_state::now_ms();
        let req = wt::WebhookRequest {
            subscription_id: delivery.subscription_id,
            trigger: delivery.trigger,
            config: delivery.config.map(|c| c.to_string()),
            request: wt::IncomingRequest {
                method: delivery.method,
                path: delivery.path,
                query: delivery.query,
                headers: delivery.headers,
                body: delivery.body,
            },
            received_at_ms: now,
        };
        let resp = self
            .on_integration(plugin_id, opts, Phase::Webhook, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_triggers().call_handle_webhook(store, &req).await })
            })
            .await?
            .map_err(PluginError::from)?;
        Ok(WebhookOutcome {
            verification: match resp.verification {
                wt::Verification::Verified => Ok(()),
                wt::Verification::Rejected(why) => Err(why),
            },
            reply: resp.reply.map(|r| WebhookReply { status: r.status, headers: r.headers, body: r.body }),
            events: resp.events.into_iter().map(event).collect::<Result<_, _>>()?,
        })
    }

    /// Polls a trigger from `cursor`.
    pub async fn poll(
        &self,
        plugin_id: &str,
        opts: &CallOptions,
        trigger: &str,
        config: &Value,
        cursor: Option<String>,
    ) -> Result<PollOutcome, CallError> {
        let req = wt::PollRequest {
            trigger: trigger.to_owned(),
            config: config.to_string(),
            cursor,
            context: opts.context(self.config.call_deadline_ms()),
        };
        let resp = self
            .on_integration(plugin_id, opts, Phase::Normal, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_triggers().call_poll(store, &req).await })
            })
            .await?
            .map_err(PluginError::from)?;
        Ok(PollOutcome { events: resp.events.into_iter().map(event).collect::<Result<_, _>>()?, cursor: resp.cursor })
    }

    /// Runs a function step.
    #[tracing::instrument(name = "weft_plugin_host.run_step", skip_all, fields(step = step_id, invocation = %opts.invocation_id))]
    pub async fn run_step(&self, step_id: &str, opts: &CallOptions, call: StepCall) -> Result<Value, CallError> {
        let installed = self.installed(step_id).ok_or_else(|| CallError::UnknownPlugin(step_id.to_owned()))?;
        let Pre::Step(pre) = &installed.pre else {
            return Err(CallError::WrongWorld(step_id.to_owned()));
        };
        let input = call.input.to_string();
        let cx = ws::StepContext {
            invocation_id: opts.invocation_id.clone(),
            workflow_id: call.workflow_id,
            step_id: call.step_id,
            deadline_ms: self.config.call_deadline_ms(),
        };
        let out = self
            .execute_step(step_id, pre, opts, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_step().call_run(store, &input, &cx).await })
            })
            .await?
            .map_err(|e| match e {
                ws::StepError::InvalidInput(message) => CallError::Plugin(PluginError::InvalidInput { message }),
                ws::StepError::Failed(message) => CallError::Plugin(PluginError::Internal { message }),
            })?;
        parse_output(&out, self.config.max_output_bytes)
    }
}
