//! Typed, layered configuration: defaults, then an optional `weft.toml`,
//! then `WEFT__SECTION__KEY` environment variables. Nothing else in Weft
//! reads the environment (except `RUST_LOG` for log filtering).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// All settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Listening address.
    pub server: ServerSettings,
    /// Where Weft keeps its files (database, plugins, compiled cache).
    pub data_dir: PathBuf,
    /// The database.
    pub database: DatabaseSettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// Plugin loading.
    pub plugins: PluginSettings,
    /// Per-call sandbox limits.
    pub sandbox: SandboxSettings,
    /// The outbound client.
    pub egress: EgressSettings,
    /// Master keys of the credential vault.
    pub vault: VaultSettings,
    /// Connecting accounts and refreshing their tokens.
    pub connect: ConnectSettings,
    /// The Proxy API.
    pub proxy: ProxySettings,
    /// The workflow engine.
    pub workflows: WorkflowSettings,
    /// ActionKit (actions for AI agents).
    pub actions: ActionSettings,
    /// Event destinations: how monitoring events are delivered.
    pub events: EventSettings,
    /// Log output.
    pub log: LogSettings,
    /// The browser SDK and the Connect Portal's files.
    pub web: WebSettings,
}

/// The workflow engine: its workers, leases and retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowSettings {
    /// Workers running steps in this process (0: no workflows run here).
    pub workers: usize,
    /// How often an idle worker looks for queued steps, milliseconds (a
    /// trigger in this process wakes the workers at once).
    pub poll_ms: u64,
    /// A step's lease, milliseconds: renewed while it runs; a step whose
    /// worker died is restarted once it expires.
    pub lease_ms: u64,
    /// The longest one step may run, milliseconds.
    pub step_deadline_ms: u64,
    /// Crash restarts of a step before it fails.
    pub max_restarts: u32,
    /// Retries of an auto-retried step.
    pub max_retries: u32,
    /// The first retry's wait, milliseconds (then 2, 3, 5 and 8 times it,
    /// each give or take a fifth at random).
    pub retry_base_ms: u64,
    /// The most items of a fan-out whose body runs at once, unless the step
    /// sets `maxParallel`; 0: every item at once.
    pub fan_out_parallel: u32,
    /// The largest input or output of a step, bytes of JSON (a step over it
    /// fails with an error naming it).
    pub max_step_bytes: u64,
    /// How long a step answered 429 without `Retry-After` waits for the
    /// provider's window, milliseconds (a rate-limit pause, not a retry).
    pub rate_limit_wait_ms: u64,
    /// Rate-limit pauses of one step before the rate limit fails it.
    pub max_pauses: u32,
    /// The most pages a paginated Request or Integration Request step
    /// fetches; past it the step ends with the results so far and an error.
    pub max_pages: u32,
    /// The time a Request or Integration Request step's call may take, milliseconds.
    pub request_timeout_ms: u64,
    /// How long a request to a workflow with a Response step waits for it,
    /// milliseconds; past it the caller gets 542 and the execution goes on.
    pub response_timeout_ms: u64,
    /// Days the task history keeps an execution after it ended (0: for
    /// ever).
    pub retention_days: u32,
    /// The scheduler leader's lease, milliseconds (at least 2000): one
    /// process fires the schedules; another takes over once it has not
    /// renewed its lease for this long.
    pub scheduler_lease_ms: u64,
    /// Task History API requests a project may make per window.
    pub task_history_requests: u32,
    /// The Task History API's window, seconds.
    pub task_history_window_secs: u64,
    /// The largest provider webhook delivery accepted, bytes (413 past it;
    /// GitHub's deliveries reach 25 MB).
    pub webhook_max_body_bytes: usize,
    /// How long a JavaScript Function step may run (CPU and wall clock),
    /// milliseconds; the reference allows a minute.
    pub function_timeout_ms: u64,
    /// Per-project overrides of `function_timeout_ms`, by project id.
    pub function_timeout_ms_by_project: std::collections::BTreeMap<String, u64>,
    /// The memory a JavaScript Function step may grow to, MiB.
    pub function_memory_mib: usize,
    /// The largest result a JavaScript Function step may return, bytes
    /// (the reference's smallest plan allows 50 MB).
    pub function_max_output_bytes: usize,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        let d = weft_engine::EngineSettings::default();
        Self {
            workers: d.workers,
            poll_ms: d.poll.as_millis() as u64,
            lease_ms: d.lease.as_millis() as u64,
            step_deadline_ms: d.step_deadline.as_millis() as u64,
            max_restarts: d.max_restarts,
            max_retries: d.max_retries,
            retry_base_ms: d.retry_base.as_millis() as u64,
            fan_out_parallel: d.fan_out_parallel,
            max_step_bytes: d.max_step_bytes,
            rate_limit_wait_ms: d.rate_limit_wait.as_millis() as u64,
            max_pauses: d.max_pauses,
            max_pages: d.max_pages,
            request_timeout_ms: d.request_timeout.as_millis() as u64,
            response_timeout_ms: d.response_timeout.as_millis() as u64,
            retention_days: d.retention.map_or(0, |r| (r.as_secs() / 86_400) as u32),
            scheduler_lease_ms: d.scheduler_lease.as_millis() as u64,
            task_history_requests: 1000,
            task_history_window_secs: 600,
            webhook_max_body_bytes: 25 << 20,
            function_timeout_ms: 60_000,
            function_timeout_ms_by_project: Default::default(),
            function_memory_mib: 256,
            function_max_output_bytes: 50 << 20,
        }
    }
}

/// ActionKit: its call logs and the cache of per-account fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionSettings {
    /// Days an ActionKit log entry is kept (0: for ever); the reference
    /// keeps them 30.
    pub log_retention_days: u32,
    /// Seconds an account's per-action fields (a Salesforce org's custom
    /// fields) are cached before they are asked again; the reference keeps
    /// them 8 hours. `reload_fields=true` asks at once.
    pub fields_ttl_secs: u64,
}

impl Default for ActionSettings {
    fn default() -> Self {
        Self { log_retention_days: 30, fields_ttl_secs: 8 * 3600 }
    }
}

impl ActionSettings {
    /// How long an account's fields are cached (at least a second).
    pub fn fields_ttl(&self) -> Duration {
        Duration::from_secs(self.fields_ttl_secs.max(1))
    }

    /// How long log entries are kept; `None` for ever.
    pub fn log_retention(&self) -> Option<Duration> {
        (self.log_retention_days > 0).then(|| Duration::from_secs(u64::from(self.log_retention_days) * 86_400))
    }
}

/// Event destinations: retries, backoff and the automatic disable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// Whether this process delivers events (false: it only records them,
    /// and a process on the same database delivers them).
    pub worker: bool,
    /// Attempts of one delivery before it is given up.
    pub max_attempts: u32,
    /// The wait before a delivery's first retry, milliseconds; each next
    /// one doubles (plus up to a quarter of jitter).
    pub retry_base_ms: u64,
    /// The longest wait between two attempts, milliseconds.
    pub max_retry_wait_ms: u64,
    /// Failed deliveries in a row (non-2xx answers or no answer) after
    /// which a destination is disabled; 0 never disables one.
    pub disable_after: u32,
    /// The time one delivery may take, milliseconds.
    pub timeout_ms: u64,
    /// How often the delivery worker looks for events, milliseconds.
    pub poll_ms: u64,
    /// Days ended deliveries and dispatched events are kept (0: for ever).
    pub retention_days: u32,
}

impl Default for EventSettings {
    fn default() -> Self {
        let d = weft_events::DestinationSettings::default();
        Self {
            worker: true,
            max_attempts: d.max_attempts,
            retry_base_ms: d.retry_base.as_millis() as u64,
            max_retry_wait_ms: d.max_retry_wait.as_millis() as u64,
            disable_after: d.disable_after,
            timeout_ms: d.timeout.as_millis() as u64,
            poll_ms: d.poll.as_millis() as u64,
            retention_days: d.retention.map_or(0, |r| (r.as_secs() / 86_400) as u32),
        }
    }
}

impl EventSettings {
    /// The delivery worker's settings.
    pub fn destination_settings(&self) -> weft_events::DestinationSettings {
        weft_events::DestinationSettings {
            max_attempts: self.max_attempts.max(1),
            retry_base: Duration::from_millis(self.retry_base_ms),
            max_retry_wait: Duration::from_millis(self.max_retry_wait_ms.max(self.retry_base_ms)),
            disable_after: self.disable_after,
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            poll: Duration::from_millis(self.poll_ms.max(1)),
            retention: (self.retention_days > 0).then(|| Duration::from_secs(u64::from(self.retention_days) * 86_400)),
            ..weft_events::DestinationSettings::default()
        }
    }
}

/// The Proxy API's limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    /// Time for the provider's whole answer, milliseconds (at most `egress.timeout_ms`).
    pub timeout_ms: u64,
    /// Largest provider body wrapped as `{"output": ...}` (decoded), bytes.
    pub max_response_bytes: u64,
    /// Largest raw body streamed through (`X-Paragon-Use-Raw-Response`), bytes.
    pub max_raw_response_bytes: u64,
}

impl Default for ProxySettings {
    fn default() -> Self {
        let d = weft_proxy::ProxySettings::default();
        Self {
            timeout_ms: d.timeout.as_millis() as u64,
            max_response_bytes: d.max_json_response_bytes,
            max_raw_response_bytes: d.max_raw_response_bytes,
        }
    }
}

/// Master keys of the credential vault. Without an inline key, key files
/// `master-v<N>.key` in `key_dir` are used (the first start creates v1).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// Directory of the master key files; default `<data_dir>/vault`.
    pub key_dir: Option<PathBuf>,
    /// The current master key, `weft-master-key v<N> <base64>`, instead of
    /// key files (e.g. from `WEFT__VAULT__MASTER_KEY`).
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// Older inline keys, to open values not yet re-wrapped.
    #[serde(skip_serializing)]
    pub older_master_keys: Vec<SecretString>,
}

// Keys never print.
impl std::fmt::Debug for VaultSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSettings")
            .field("key_dir", &self.key_dir)
            .field("master_key", &self.master_key.as_ref().map(|_| "[REDACTED]"))
            .field("older_master_keys", &self.older_master_keys.len())
            .finish()
    }
}

/// Connecting accounts and refreshing their tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectSettings {
    /// The URL users and providers reach Weft at, for OAuth redirect URIs
    /// (`https://weft.example.com`); default `http://<host>:<port>`.
    pub public_url: Option<String>,
    /// Refresh tokens this many seconds before they expire.
    pub refresh_margin_secs: u64,
    /// How long one process may hold a refresh lease, milliseconds.
    pub lease_ttl_ms: u64,
    /// Longest token-endpoint call, milliseconds.
    pub token_timeout_ms: u64,
    /// How long a started authorization stays usable, seconds.
    pub state_ttl_secs: u64,
    /// Token-endpoint attempts per refresh.
    pub max_refresh_attempts: u32,
    /// First backoff between attempts, milliseconds (doubled each time).
    pub backoff_base_ms: u64,
    /// Longest wait inside one request, milliseconds.
    pub max_inline_wait_ms: u64,
    /// Distinct days of failed refreshes before giving a credential up.
    pub give_up_days: i64,
    /// Assumed lifetime of tokens without `expires_in`, seconds.
    pub default_token_lifetime_secs: u64,
    /// Interval of the proactive refresh sweep, seconds (0 disables it).
    pub sweep_interval_secs: u64,
    /// Random delay spreading the refreshes of one sweep, seconds.
    pub sweep_jitter_secs: u64,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        let d = weft_credentials::CredentialSettings::default();
        let ms = |d: Duration| d.as_millis() as u64;
        Self {
            public_url: None,
            refresh_margin_secs: d.refresh_margin.as_secs(),
            lease_ttl_ms: ms(d.lease_ttl),
            token_timeout_ms: ms(d.token_timeout),
            state_ttl_secs: d.state_ttl.as_secs(),
            max_refresh_attempts: d.max_refresh_attempts,
            backoff_base_ms: ms(d.backoff_base),
            max_inline_wait_ms: ms(d.max_inline_wait),
            give_up_days: d.give_up_days,
            default_token_lifetime_secs: d.default_token_lifetime.as_secs(),
            sweep_interval_secs: d.sweep_interval.as_secs(),
            sweep_jitter_secs: d.sweep_jitter.as_secs(),
        }
    }
}

/// Listening address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Interface to bind.
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Threads serving HTTP, each with its own single-threaded runtime and
    /// its own connections; 0 means one per core.
    pub io_threads: usize,
    /// Time a client has to send a request's whole header block,
    /// milliseconds; also how long a kept-alive connection may wait idle
    /// for its next request. The connection is closed past it.
    pub header_read_timeout_ms: u64,
    /// Time a client has to send a request's whole body once the server
    /// reads it, milliseconds; past it the request is answered 408 and the
    /// connection closed.
    pub body_read_timeout_ms: u64,
    /// Connections one client address may hold open at once; more are
    /// closed as they arrive. 0 turns the cap off (behind a reverse proxy
    /// every client has the proxy's address).
    pub max_connections_per_address: usize,
    /// On shutdown, how long open connections may finish their requests,
    /// milliseconds; connections still open then are closed, and the task
    /// records of finished calls are stored before the process exits.
    pub shutdown_grace_ms: u64,
    /// Page origins whose scripts may call the routes browsers call (the
    /// SDK's: `/projects/{id}/sdk/...`, the Proxy API): `["*"]` for any,
    /// or exact origins such as `["https://app.example.com"]`. Those routes
    /// take a bearer token, never a cookie, so any origin is the default;
    /// a list keeps a token that leaked to another site useless from a
    /// browser there. Server-to-server calls are not affected.
    pub allowed_origins: Vec<String>,
}

/// The database: SQLite in the data directory unless a URL is given.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://...` for PostgreSQL, or `sqlite://path`; default
    /// `<data_dir>/weft.db`.
    pub url: Option<String>,
}

// The URL may carry a password: never print it.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.url.as_ref().map(|u| u.split_once("://").map_or("<set>", |(scheme, _)| scheme));
        f.debug_struct("DatabaseSettings").field("url", &shown).finish()
    }
}

/// Authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Failed authentications one client address may make per minute
    /// before it gets 429.
    pub max_failures_per_minute: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self { max_failures_per_minute: 30 }
    }
}

/// Plugin loading and plugin state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Directory of `*.wasm` components installed at start; default `<data_dir>/plugins`.
    pub dir: Option<PathBuf>,
    /// Compiled-artifact cache; default `<data_dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    /// Live state keys one plugin may keep per project and connection.
    pub max_state_keys: u32,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self { dir: None, cache_dir: None, max_state_keys: 10_000 }
    }
}

/// Per-call sandbox limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// Guest CPU time per call, milliseconds (10 ms granularity).
    pub cpu_budget_ms: u64,
    /// Wall-clock time per call, milliseconds.
    pub wall_timeout_ms: u64,
    /// Linear memory cap per call, MiB.
    pub max_memory_mib: usize,
    /// Calls running at once.
    pub max_concurrent_calls: u32,
}

/// The outbound client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressSettings {
    /// Connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest request, milliseconds.
    pub timeout_ms: u64,
    /// Largest response body, bytes.
    pub max_response_bytes: u64,
    /// Allow loopback destinations (local mock providers, development).
    pub allow_loopback: bool,
    /// Networks reachable although private, e.g. `["10.66.0.0/24"]`.
    pub allow_cidrs: Vec<String>,
    /// Host names (or `*.suffix`) that may resolve to private addresses.
    pub allow_hosts: Vec<String>,
    /// PEM files of certificate authorities trusted besides the public web
    /// roots (a provider behind an internal CA).
    pub extra_ca_files: Vec<PathBuf>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty in a terminal, JSON otherwise.
    Auto,
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The browser SDK and the Connect Portal's files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Serve them from this directory (the repository's `web/`), read on
    /// each request, instead of the copies built into the binary: for
    /// working on them without rebuilding.
    pub dir: Option<std::path::PathBuf>,
    /// Serve the offline demo's pages and mock CRM (`weft serve --demo`).
    pub demo: bool,
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Default filter (`RUST_LOG` overrides it), e.g. `info,weft_plugin_host=debug`.
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            data_dir: PathBuf::from("weft-data"),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            plugins: PluginSettings::default(),
            sandbox: SandboxSettings::default(),
            egress: EgressSettings::default(),
            vault: VaultSettings::default(),
            connect: ConnectSettings::default(),
            proxy: ProxySettings::default(),
            workflows: WorkflowSettings::default(),
            actions: ActionSettings::default(),
            events: EventSettings::default(),
            log: LogSettings::default(),
            web: WebSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            io_threads: 0,
            header_read_timeout_ms: 30_000,
            body_read_timeout_ms: 60_000,
            max_connections_per_address: 256,
            shutdown_grace_ms: 5_000,
            allowed_origins: vec!["*".into()],
        }
    }
}

impl Default for SandboxSettings {
    fn default() -> Self {
        let d = weft_plugin_host::HostConfig::default();
        Self {
            cpu_budget_ms: d.cpu_budget.as_millis() as u64,
            wall_timeout_ms: d.wall_timeout.as_millis() as u64,
            max_memory_mib: d.max_memory_bytes >> 20,
            max_concurrent_calls: d.max_concurrent_calls,
        }
    }
}

impl Default for EgressSettings {
    fn default() -> Self {
        let d = weft_egress::EgressConfig::default();
        Self {
            connect_timeout_ms: d.connect_timeout.as_millis() as u64,
            timeout_ms: d.max_timeout.as_millis() as u64,
            max_response_bytes: d.max_response_bytes,
            allow_loopback: false,
            allow_cidrs: Vec::new(),
            allow_hosts: Vec::new(),
            extra_ca_files: Vec::new(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, filter: "info".into() }
    }
}

impl Settings {
    /// Loads defaults, then `file` (required when given explicitly, else
    /// `weft.toml` in the working directory if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None => fig = fig.merge(Toml::file("weft.toml")),
        }
        fig.merge(Env::prefixed("WEFT__").split("__")).extract().map_err(Box::new)
    }

    /// The database location in force.
    pub fn database_location(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| self.data_dir.join("weft.db").display().to_string())
    }

    /// The plugin directory in force.
    pub fn plugin_dir(&self) -> PathBuf {
        self.plugins.dir.clone().unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    /// The directory of operator provider definitions: `<data_dir>/providers`.
    pub fn provider_dir(&self) -> PathBuf {
        self.data_dir.join("providers")
    }

    /// The sandbox configuration for the plugin host.
    pub fn host_config(&self) -> weft_plugin_host::HostConfig {
        weft_plugin_host::HostConfig {
            cpu_budget: Duration::from_millis(self.sandbox.cpu_budget_ms),
            wall_timeout: Duration::from_millis(self.sandbox.wall_timeout_ms),
            max_memory_bytes: self.sandbox.max_memory_mib << 20,
            max_concurrent_calls: self.sandbox.max_concurrent_calls,
            cache_dir: Some(self.plugins.cache_dir.clone().unwrap_or_else(|| self.data_dir.join("cache"))),
            js_max_memory_bytes: self.workflows.function_memory_mib.max(16) << 20,
            ..Default::default()
        }
    }

    /// The directory of the vault's master key files.
    pub fn vault_key_dir(&self) -> PathBuf {
        self.vault.key_dir.clone().unwrap_or_else(|| self.data_dir.join("vault"))
    }

    /// The credential service's settings.
    pub fn credential_settings(&self) -> weft_credentials::CredentialSettings {
        let c = &self.connect;
        weft_credentials::CredentialSettings {
            refresh_margin: Duration::from_secs(c.refresh_margin_secs),
            lease_ttl: Duration::from_millis(c.lease_ttl_ms),
            token_timeout: Duration::from_millis(c.token_timeout_ms),
            state_ttl: Duration::from_secs(c.state_ttl_secs),
            max_refresh_attempts: c.max_refresh_attempts.max(1),
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            max_inline_wait: Duration::from_millis(c.max_inline_wait_ms),
            give_up_days: c.give_up_days,
            default_token_lifetime: Duration::from_secs(c.default_token_lifetime_secs),
            sweep_interval: Duration::from_secs(c.sweep_interval_secs),
            sweep_jitter: Duration::from_secs(c.sweep_jitter_secs),
            // Set from the egress client's configuration at start-up.
            egress_policy: weft_egress::EgressPolicy::default(),
        }
    }

    /// The limits every client connection meets.
    pub(crate) fn connection_limits(&self) -> crate::conn::Limits {
        let s = &self.server;
        crate::conn::Limits {
            header_read: Duration::from_millis(s.header_read_timeout_ms.max(1)),
            body_read: Duration::from_millis(s.body_read_timeout_ms.max(1)),
            shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
        }
    }

    /// The CORS policy of `server.allowed_origins`; an entry that is not
    /// an origin is an error.
    pub fn cors_policy(&self) -> anyhow::Result<weft_api::CorsPolicy> {
        weft_api::CorsPolicy::from_origins(&self.server.allowed_origins)
            .map_err(|e| anyhow::anyhow!("server.allowed_origins: {e}"))
    }

    /// The workflow engine's settings.
    pub fn engine_settings(&self) -> weft_engine::EngineSettings {
        let w = &self.workflows;
        weft_engine::EngineSettings {
            workers: w.workers,
            poll: Duration::from_millis(w.poll_ms.max(1)),
            lease: Duration::from_millis(w.lease_ms.max(100)),
            step_deadline: Duration::from_millis(w.step_deadline_ms.max(w.lease_ms)),
            max_restarts: w.max_restarts,
            max_retries: w.max_retries,
            retry_base: Duration::from_millis(w.retry_base_ms),
            fan_out_parallel: w.fan_out_parallel,
            max_step_bytes: w.max_step_bytes.max(1024),
            rate_limit_wait: Duration::from_millis(w.rate_limit_wait_ms),
            max_pauses: w.max_pauses,
            max_pages: w.max_pages.max(1),
            request_timeout: Duration::from_millis(w.request_timeout_ms.max(1)),
            response_timeout: Duration::from_millis(w.response_timeout_ms),
            retention: (w.retention_days > 0).then(|| Duration::from_secs(u64::from(w.retention_days) * 86_400)),
            scheduler_lease: Duration::from_millis(w.scheduler_lease_ms),
            ..weft_engine::EngineSettings::default()
        }
    }

    /// The Proxy API's settings.
    pub fn proxy_settings(&self) -> weft_proxy::ProxySettings {
        weft_proxy::ProxySettings {
            timeout: Duration::from_millis(self.proxy.timeout_ms),
            max_json_response_bytes: self.proxy.max_response_bytes,
            max_raw_response_bytes: self.proxy.max_raw_response_bytes,
        }
    }

    /// The outbound client configuration; a malformed CIDR is an error.
    pub fn egress_config(&self) -> anyhow::Result<weft_egress::EgressConfig> {
        let mut allow_cidrs = Vec::new();
        for cidr in &self.egress.allow_cidrs {
            let net = cidr
                .parse()
                .map_err(|_| anyhow::anyhow!("egress.allow_cidrs: {cidr:?} is not a CIDR like 10.0.0.0/8"))?;
            allow_cidrs.push(net);
        }
        let mut extra_roots = Vec::new();
        for file in &self.egress.extra_ca_files {
            let pem = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("egress.extra_ca_files: reading {}: {e}", file.display()))?;
            extra_roots.extend(
                weft_egress::certificates_from_pem(&pem)
                    .map_err(|e| anyhow::anyhow!("egress.extra_ca_files: {}: {e}", file.display()))?,
            );
        }
        Ok(weft_egress::EgressConfig {
            extra_roots,
            connect_timeout: Duration::from_millis(self.egress.connect_timeout_ms),
            max_timeout: Duration::from_millis(self.egress.timeout_ms),
            max_response_bytes: self.egress.max_response_bytes,
            policy: weft_egress::EgressPolicy {
                allow_loopback: self.egress.allow_loopback,
                allow_cidrs,
                allow_hosts: self.egress.allow_hosts.clone(),
            },
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn file_then_env_override_defaults_and_typos_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("weft.toml", "data_dir = \"/srv/weft\"\n[server]\nport = 9000\n")?;
            jail.set_env("WEFT__SERVER__PORT", "9100");
            jail.set_env("WEFT__SANDBOX__CPU_BUDGET_MS", "250");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.server.port, 9100);
            assert_eq!(s.data_dir, PathBuf::from("/srv/weft"));
            assert_eq!(s.sandbox.cpu_budget_ms, 250);
            assert_eq!(s.server.host, "127.0.0.1");
            assert_eq!(s.database_location(), "/srv/weft/weft.db");
            jail.set_env("WEFT__DATABASE__URL", "postgres://weft:hunter2@db/weft");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.database_location(), "postgres://weft:hunter2@db/weft");
            assert!(!format!("{s:?}").contains("hunter2"), "the database password never prints");
            jail.set_env("WEFT__SERVER__PROT", "1");
            assert!(Settings::load(None).is_err(), "unknown keys must be refused");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn allowed_origins_default_to_any_and_a_bad_entry_is_refused() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Settings::default().server.allowed_origins, vec!["*".to_owned()]);
            jail.set_env("WEFT__SERVER__ALLOWED_ORIGINS", r#"["https://app.example.com"]"#);
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.server.allowed_origins, vec!["https://app.example.com".to_owned()]);
            assert!(s.cors_policy().is_ok());
            jail.set_env("WEFT__SERVER__ALLOWED_ORIGINS", r#"["app.example.com/x"]"#);
            let err = Settings::load(None).map_err(|e| e.to_string())?.cors_policy().unwrap_err().to_string();
            assert!(err.starts_with("server.allowed_origins:") && err.contains("app.example.com/x"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn extra_ca_files_must_exist_and_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::default();
        s.egress.extra_ca_files = vec![dir.path().join("missing.pem")];
        let err = s.egress_config().unwrap_err().to_string();
        assert!(err.contains("egress.extra_ca_files") && err.contains("missing.pem"), "{err}");
        std::fs::write(dir.path().join("empty.pem"), "no certificate here").unwrap();
        s.egress.extra_ca_files = vec![dir.path().join("empty.pem")];
        let err = s.egress_config().unwrap_err().to_string();
        assert!(err.contains("no certificate"), "{err}");
        s.egress.extra_ca_files = Vec::new();
        assert!(s.egress_config().unwrap().extra_roots.is_empty());
    }
}
