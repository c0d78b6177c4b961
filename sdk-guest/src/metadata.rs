//! [`Metadata`]: who the plugin is, where it may connect, how it authenticates.

mod auth;

pub use auth::{ApiKey, Auth, ClientAuth, ClientCredentials, OAuth2};

use schemars::JsonSchema;

use crate::bindings::exports::plugin as wit;
use crate::schema;

/// Static description of a plugin, returned by
/// [`Integration::metadata`](crate::Integration::metadata).
///
/// The host calls it once per plugin version, shows the allowed hosts, auth
/// scheme and secrets for approval at install, and enforces them on every
/// call. Build it with the chained setters:
///
/// ```no_run
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use weft_sdk::{Auth, Metadata, RateLimit};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Settings { subdomain: String }
///
/// let metadata = Metadata::new("zendesk", "Zendesk", "1.2.0")
///     .description("Tickets, users and organizations")
///     .base_url("https://{config.subdomain}.zendesk.com/api/v2")
///     .allowed_hosts(["{config.subdomain}.zendesk.com"])
///     .auth(Auth::oauth2(
///         "https://{config.subdomain}.zendesk.com/oauth/authorizations/new",
///         "https://{config.subdomain}.zendesk.com/oauth/tokens",
///         ["read", "write"],
///     ))
///     .connection_config::<Settings>()
///     .rate_limit(RateLimit::per_connection(700, 60));
/// ```
#[derive(Debug, Clone)]
pub struct Metadata {
    id: String,
    name: String,
    version: String,
    description: String,
    icon_url: Option<String>,
    base_url: String,
    allowed_hosts: Vec<String>,
    auth: Auth,
    connection_config_schema: Option<String>,
    secrets: Vec<String>,
    rate_limits: Vec<RateLimit>,
    extra: serde_json::Value,
}

impl Metadata {
    /// Starts the metadata of plugin `id` (stable, lowercase, e.g. `github`),
    /// named `name`, at semver `version`. Auth defaults to [`Auth::none`].
    ///
    /// ```no_run
    /// let m = weft_sdk::Metadata::new("github", "GitHub", env!("CARGO_PKG_VERSION"));
    /// ```
    pub fn new(id: impl Into<String>, name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            version: version.into(),
            description: String::new(),
            icon_url: None,
            base_url: String::new(),
            allowed_hosts: Vec::new(),
            auth: Auth::none(),
            connection_config_schema: None,
            secrets: Vec::new(),
            rate_limits: Vec::new(),
            extra: serde_json::Value::Object(Default::default()),
        }
    }

    /// Sets the description.
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.description("Issues, pull requests and repositories");
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the icon URL.
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.icon_url("https://github.githubassets.com/favicons/favicon.svg");
    /// ```
    pub fn icon_url(mut self, url: impl Into<String>) -> Self {
        self.icon_url = Some(url.into());
        self
    }

    /// Sets the URL that request paths (`/…`) resolve against; it may contain
    /// `{config.<field>}` placeholders.
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.base_url("https://api.github.com");
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the outbound hosts the plugin may reach, e.g. `api.github.com`,
    /// `*.slack.com`, `{config.subdomain}.zendesk.com`. Requests to any other
    /// host fail with [`HttpError::Denied`](crate::http::HttpError::Denied).
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.allowed_hosts(["api.github.com", "uploads.github.com"]);
    /// ```
    pub fn allowed_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how the provider authenticates requests; see [`Auth`].
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.auth(weft_sdk::Auth::api_key_header("X-API-Key"));
    /// ```
    pub fn auth(mut self, auth: impl Into<Auth>) -> Self {
        self.auth = auth.into();
        self
    }

    /// Declares the connection's non-secret settings (e.g. a subdomain) by
    /// type; users fill them in before authorizing, and
    /// [`Ctx::config`](crate::Ctx::config) reads them back.
    ///
    /// ```no_run
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Settings { region: Option<String> }
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.connection_config::<Settings>();
    /// ```
    pub fn connection_config<T: JsonSchema>(mut self) -> Self {
        self.connection_config_schema = Some(schema::of::<T>());
        self
    }

    /// Declares the connection settings with a hand-written JSON Schema.
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.connection_config_schema(serde_json::json!({
    ///     "type": "object",
    ///     "properties": { "region": { "enum": ["eu", "us"] } }
    /// }));
    /// ```
    pub fn connection_config_schema(mut self, schema: serde_json::Value) -> Self {
        self.connection_config_schema = Some(schema.to_string());
        self
    }

    /// Sets the secret names the plugin may read with
    /// [`secrets::get`](crate::secrets::get) and use with the webhook
    /// signature checks.
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.secrets(["webhook_secret"]);
    /// ```
    pub fn secrets<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.secrets = names.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a documented provider rate limit; the host enforces it before
    /// calling.
    ///
    /// ```no_run
    /// use weft_sdk::RateLimit;
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.rate_limit(RateLimit::per_connection(5000, 3600)).rate_limit(RateLimit::per_app(100, 1));
    /// ```
    pub fn rate_limit(mut self, rule: RateLimit) -> Self {
        self.rate_limits.push(rule);
        self
    }

    /// Sets the forward-compatible `extra` object (`{}` by default).
    ///
    /// ```no_run
    /// # let m = weft_sdk::Metadata::new("a", "A", "0.1.0");
    /// let m = m.extra(serde_json::json!({ "category": "developer-tools" }));
    /// ```
    pub fn extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }

    /// Names `keys` in `extra.dynamicFields`, where the host looks for the
    /// actions with per-connection fields; the rest of `extra` is kept.
    pub(crate) fn declare_dynamic_fields(mut self, keys: Vec<String>) -> Self {
        if keys.is_empty() {
            return self;
        }
        if !self.extra.is_object() {
            self.extra = serde_json::Value::Object(Default::default());
        }
        if let Some(extra) = self.extra.as_object_mut() {
            extra.insert("dynamicFields".into(), keys.into());
        }
        self
    }

    pub(crate) fn into_wit(self) -> wit::PluginMetadata {
        wit::PluginMetadata {
            id: self.id,
            name: self.name,
            version: self.version,
            description: self.description,
            icon_url: self.icon_url,
            base_url: self.base_url,
            allowed_hosts: self.allowed_hosts,
            auth: self.auth.into_wit(),
            connection_config_schema: self.connection_config_schema,
            secrets: self.secrets,
            rate_limits: self.rate_limits.into_iter().map(RateLimit::into_wit).collect(),
            extra: self.extra.to_string(),
        }
    }
}

/// A provider rate limit: `requests` per `per_seconds`, counted per
/// connection or per app.
///
/// ```no_run
/// use weft_sdk::RateLimit;
/// let limits = [RateLimit::per_connection(10, 1), RateLimit::per_app(1000, 60)];
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_app: bool,
    requests: u32,
    per_seconds: u32,
}

impl RateLimit {
    /// Counts the calls made with one connection (one user's account).
    ///
    /// ```no_run
    /// let limit = weft_sdk::RateLimit::per_connection(5000, 3600);
    /// ```
    pub fn per_connection(requests: u32, per_seconds: u32) -> Self {
        Self { per_app: false, requests, per_seconds }
    }

    /// Counts all calls of one project's integration (one app registration).
    ///
    /// ```no_run
    /// let limit = weft_sdk::RateLimit::per_app(100, 1);
    /// ```
    pub fn per_app(requests: u32, per_seconds: u32) -> Self {
        Self { per_app: true, ..Self::per_connection(requests, per_seconds) }
    }

    fn into_wit(self) -> wit::RateLimitRule {
        wit::RateLimitRule {
            scope: if self.per_app { wit::RateLimitScope::App } else { wit::RateLimitScope::Connection },
            requests: self.requests,
            per_seconds: self.per_seconds,
        }
    }
}
