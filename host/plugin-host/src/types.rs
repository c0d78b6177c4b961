//! Domain types of installed plugins, independent of any WIT version.
//!
//! Bindings of each API version convert into these, so the rest of Weft never
//! depends on generated types and an old plugin's adapter does not churn when
//! a new API version arrives.

use crate::bindings::exports::{actions as wa, auth as wau, plugin as wp, triggers as wt};
use crate::bindings::types as wty;
use serde::Serialize;
use serde_json::Value;
use weft_catalog::{ApiKeyLocation, AuthScheme, ClientAuth, Provider, RateLimitRule, RateLimitScope};

/// Which world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// A third-party integration (`weft:plugin/integration`).
    Integration,
    /// A workflow function step (`weft:plugin/function-step`).
    FunctionStep,
    /// The bundled JavaScript runtime of Function steps (`weft:plugin/js-function`).
    JsFunction,
}

/// Everything Weft knows about an installed plugin.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginInfo {
    /// Stable id: the metadata id, or the file name for function steps.
    pub id: String,
    /// Which world it implements.
    pub world: World,
    /// The plugin API version it was built against.
    pub api_version: String,
    /// Hex SHA-256 of the component bytes.
    pub sha256: String,
    /// What the component imports beyond the basics: its capability list.
    pub capabilities: Vec<String>,
    /// The provider the plugin describes (its metadata); none for
    /// function steps.
    pub metadata: Option<Provider>,
    /// Actions, in the plugin's order.
    pub actions: Vec<ActionDefinition>,
    /// Triggers, in the plugin's order.
    pub triggers: Vec<TriggerDefinition>,
    /// The actions whose input has per-connection fields (declared in the
    /// metadata's `extra.dynamicFields`, served by the `fields` export):
    /// ask [`PluginHost::action_fields`](crate::PluginHost::action_fields).
    pub dynamic_fields: Vec<String>,
    /// The actions a workflow step waits out a rate limit of, instead of
    /// failing (Smart Rate Limits, declared in the metadata's
    /// `extra.smartRateLimits`).
    pub smart_rate_limits: Vec<String>,
}

/// One action as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDefinition {
    /// Stable key.
    pub key: String,
    /// Display name.
    pub display_name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of the input.
    pub input_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Option<Value>,
    /// `read`, `write` or `destructive`.
    pub effect: String,
    /// Scopes the action needs.
    pub required_scopes: Vec<String>,
    /// May return further pages.
    pub paginated: bool,
}

/// One trigger as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDefinition {
    /// Stable key.
    pub key: String,
    /// Display name.
    pub display_name: String,
    /// What it reports.
    pub description: String,
    /// `webhook`, `app-webhook` or `polling`.
    pub kind: String,
    /// Polling interval bounds, for polling triggers.
    pub polling: Option<PollingInterval>,
    /// JSON Schema of the trigger's configuration.
    pub config_schema: Value,
    /// JSON Schema of event payloads.
    pub output_schema: Option<Value>,
}

/// Polling interval bounds in seconds.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollingInterval {
    /// Default interval.
    pub default_seconds: u32,
    /// Shortest interval allowed.
    pub min_seconds: u32,
}

/// A typed error returned by a plugin (not a trap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PluginError {
    /// Bad input; not retried.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// Detail.
        message: String,
    },
    /// Credentials rejected.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// Detail.
        message: String,
    },
    /// Missing permission.
    #[error("forbidden: {message}")]
    Forbidden {
        /// Detail.
        message: String,
    },
    /// Object absent at the provider.
    #[error("not found: {message}")]
    NotFound {
        /// Detail.
        message: String,
    },
    /// Throttled by the provider.
    #[error("rate limited: {message}")]
    RateLimited {
        /// Wait before retrying.
        retry_after_ms: Option<u64>,
        /// Detail.
        message: String,
    },
    /// The provider failed.
    #[error("upstream failure ({status}): {message}")]
    Upstream {
        /// Provider status, 0 without an HTTP answer.
        status: u16,
        /// Detail.
        message: String,
        /// Provider body.
        body: Option<String>,
    },
    /// Not implemented by the plugin.
    #[error("unsupported: {message}")]
    Unsupported {
        /// Detail.
        message: String,
    },
    /// Plugin bug.
    #[error("internal plugin error: {message}")]
    Internal {
        /// Detail.
        message: String,
    },
}

impl From<wty::PluginError> for PluginError {
    fn from(e: wty::PluginError) -> Self {
        use wty::PluginError as W;
        match e {
            W::InvalidInput(message) => Self::InvalidInput { message },
            W::Unauthorized(message) => Self::Unauthorized { message },
            W::Forbidden(message) => Self::Forbidden { message },
            W::NotFound(message) => Self::NotFound { message },
            W::RateLimited(r) => Self::RateLimited { retry_after_ms: r.retry_after_ms, message: r.message },
            W::Upstream(u) => Self::Upstream { status: u.status, message: u.message, body: u.body },
            W::Unsupported(message) => Self::Unsupported { message },
            W::Internal(message) => Self::Internal { message },
        }
    }
}

/// Parses a JSON document a plugin declared (a schema, config), naming it in
/// the error so an install failure says which one is broken.
pub(crate) fn parse_declared_json(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

fn client_auth(c: wp::ClientAuth) -> ClientAuth {
    match c {
        wp::ClientAuth::Basic => ClientAuth::Basic,
        wp::ClientAuth::Post => ClientAuth::Post,
    }
}

/// A plugin's declared metadata as the provider model.
pub(crate) fn provider_from(m: wp::PluginMetadata) -> Result<Provider, String> {
    use wp::AuthScheme as A;
    let auth = match m.auth {
        A::None => AuthScheme::None,
        A::ApiKey(k) => AuthScheme::ApiKey {
            location: match k.location {
                wp::ApiKeyLocation::Header => ApiKeyLocation::Header,
                wp::ApiKeyLocation::Query => ApiKeyLocation::Query,
            },
            name: k.name,
            prefix: k.prefix,
            field: None,
        },
        A::Basic => AuthScheme::Basic,
        A::Bearer => AuthScheme::Bearer { field: None },
        A::Oauth2(o) => AuthScheme::Oauth2 {
            authorize_url: o.authorize_url,
            token_url: o.token_url,
            revoke_url: o.revoke_url,
            scopes: o.scopes,
            scope_separator: o.scope_separator,
            client_auth: client_auth(o.client_auth),
            extra_authorize_params: o.extra_authorize_params,
            custom_refresh: o.custom_refresh,
            password_grant: o.password_grant,
            password_api_key: None,
            refresh: weft_catalog::RefreshPolicy::BeforeExpiry,
            // Every plugin's provider takes PKCE (the WIT has no switch).
            pkce: true,
        },
        A::Oauth2ClientCredentials(c) => AuthScheme::Oauth2ClientCredentials {
            token_url: c.token_url,
            scopes: c.scopes,
            client_auth: client_auth(c.client_auth),
            // A plugin's client-credentials users bring their own client.
            client: weft_catalog::ClientSource::User,
            refresh: weft_catalog::RefreshPolicy::BeforeExpiry,
        },
        A::Custom(schema) => AuthScheme::Custom { schema: parse_declared_json("custom auth schema", &schema)? },
    };
    // Plugin ids are integration types, which are the reference's
    // `integrationType` strings (`googleCalendar`, `monday.com`): the
    // catalog's rule for provider ids.
    if !weft_catalog::valid_id(&m.id) {
        return Err(format!("plugin id {:?} must be 1 to 64 ASCII letters, digits, '-', '_' or inner '.'", m.id));
    }
    let extra = if m.extra.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        parse_declared_json("metadata extra", &m.extra)?
    };
    // A plugin declares its pre-configured pagination in `extra.pagination`.
    let pagination = extra
        .get("pagination")
        .map(|p| {
            let paging: weft_catalog::paging::Paging =
                serde_json::from_value(p.clone()).map_err(|e| format!("metadata extra.pagination: {e}"))?;
            paging.check().map_err(|e| format!("metadata extra.{e}"))?;
            Ok::<_, String>(paging)
        })
        .transpose()?;
    Ok(Provider {
        connection_config_schema: m
            .connection_config_schema
            .map(|s| parse_declared_json("connection config schema", &s))
            .transpose()?,
        extra,
        pagination,
        id: m.id,
        name: m.name,
        version: m.version,
        description: m.description,
        icon_url: m.icon_url,
        base_url: m.base_url,
        allowed_hosts: m.allowed_hosts,
        auth,
        secrets: m.secrets,
        rate_limits: m
            .rate_limits
            .into_iter()
            .map(|r| RateLimitRule {
                scope: match r.scope {
                    wp::RateLimitScope::Connection => RateLimitScope::Connection,
                    wp::RateLimitScope::App => RateLimitScope::App,
                },
                requests: r.requests,
                per_seconds: r.per_seconds,
            })
            .collect(),
        auth_template: None,
        connection_test: None,
        user_profile: None,
        webhooks: Vec::new(),
    })
}

impl ActionDefinition {
    /// A read action `key` taking any object: what the checks of metadata
    /// declarations are tested against.
    #[cfg(test)]
    pub(crate) fn sample(key: &str) -> Self {
        Self {
            key: key.into(),
            display_name: key.into(),
            description: String::new(),
            input_schema: serde_json::json!({"type": "object"}),
            output_schema: None,
            effect: "read".into(),
            required_scopes: Vec::new(),
            paginated: false,
        }
    }
}

impl TryFrom<wa::ActionDefinition> for ActionDefinition {
    type Error = String;
    fn try_from(a: wa::ActionDefinition) -> Result<Self, String> {
        let what = |s: &str| format!("{s} of action {}", a.key);
        Ok(Self {
            input_schema: parse_declared_json(&what("input schema"), &a.input_schema)?,
            output_schema: a
                .output_schema
                .as_deref()
                .map(|s| parse_declared_json(&what("output schema"), s))
                .transpose()?,
            effect: match a.effect {
                wa::Effect::Read => "read".into(),
                wa::Effect::Write => "write".into(),
                wa::Effect::Destructive => "destructive".into(),
            },
            key: a.key,
            display_name: a.display_name,
            description: a.description,
            required_scopes: a.required_scopes,
            paginated: a.paginated,
        })
    }
}

impl TryFrom<wt::TriggerDefinition> for TriggerDefinition {
    type Error = String;
    fn try_from(t: wt::TriggerDefinition) -> Result<Self, String> {
        let what = |s: &str| format!("{s} of trigger {}", t.key);
        let (kind, polling) = match t.kind {
            wt::TriggerKind::Webhook => ("webhook", None),
            wt::TriggerKind::AppWebhook => ("app-webhook", None),
            wt::TriggerKind::Polling(p) => (
                "polling",
                Some(PollingInterval {
                    default_seconds: p.default_interval_seconds,
                    min_seconds: p.min_interval_seconds,
                }),
            ),
        };
        Ok(Self {
            config_schema: parse_declared_json(&what("config schema"), &t.config_schema)?,
            output_schema: t
                .output_schema
                .as_deref()
                .map(|s| parse_declared_json(&what("output schema"), s))
                .transpose()?,
            kind: kind.into(),
            polling,
            key: t.key,
            display_name: t.display_name,
            description: t.description,
        })
    }
}

/// The account behind a connection, from `auth.test-connection`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// The provider's account id (`providerId`).
    pub account_id: String,
    /// Display name.
    pub display_name: String,
    /// Routing keys of app-level webhooks.
    pub routing_keys: Vec<String>,
    /// Profile (`providerData`).
    pub profile: Value,
}

impl From<wau::ConnectionInfo> for ConnectionInfo {
    fn from(c: wau::ConnectionInfo) -> Self {
        Self {
            account_id: c.account_id,
            display_name: c.display_name,
            routing_keys: c.routing_keys,
            profile: serde_json::from_str(&c.profile).unwrap_or(Value::Null),
        }
    }
}
