//! Test support for Weft: paths of the built plugin components, a plugin
//! host wired to real services with test limits, a strict mock provider on
//! loopback that records what it receives, a log capture, and running a test
//! alone in a process of its own.
//!
//! Only third parties are mocked: the provider here is a real HTTP server on
//! 127.0.0.1 reached through the real egress client.

pub mod logs;
pub mod mock_api;
pub mod mock_auth;
pub mod mock_catalog;
pub mod mock_provider;
pub mod mock_providers;
pub mod plugin_cases;
pub mod process;
pub mod sweep;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_catalog::{ConnectionError, ConnectionHttp, ConnectionRequest, Endpoint};
use weft_egress::{Egress, EgressClient, EgressConfig, OutboundRequest, OutboundResponse};
use weft_plugin_host::{CallOptions, HostConfig, HostServices, MemoryStateStore, PluginHost, StaticSecrets};

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

/// Path of a built plugin component, by crate identifier (`test_echo`).
pub fn plugin_path(ident: &str) -> PathBuf {
    let path = PathBuf::from(PLUGIN_DIR).join(format!("{ident}.wasm"));
    assert!(path.is_file(), "{} is missing; run `cargo xtask plugins`", path.display());
    path
}

/// The compiled-component cache shared by the tests of one build.
pub fn shared_cache_dir() -> PathBuf {
    PathBuf::from(PLUGIN_DIR).join("test-cache")
}

/// Small limits so sandbox tests finish fast.
pub fn test_config() -> HostConfig {
    HostConfig {
        cpu_budget: Duration::from_millis(200),
        wall_timeout: Duration::from_secs(5),
        max_memory_bytes: 32 << 20,
        max_output_bytes: 1 << 20,
        max_http_response_bytes: 1 << 20,
        max_http_timeout: Duration::from_secs(3),
        ..HostConfig::default()
    }
}

/// What plugin-host tests put in place of the credential service: how a
/// connection's credentials go on a request, and whether a provider 401 can
/// be answered with new ones. (The real path, `weft-credentials`, is tested
/// through the server.)
#[async_trait::async_trait]
pub trait TestCredentials: Send + Sync + 'static {
    /// Adds `connection`'s credentials to `req`.
    async fn inject(&self, connection: &str, req: &mut OutboundRequest) -> Result<(), String>;

    /// The provider refused the credentials: true when new ones exist.
    async fn refresh_rejected(&self, _connection: &str) -> bool {
        false
    }
}

/// Injects `Authorization: Bearer <token>` for one connection id, and
/// refuses every other connection: the stand-in for the vault.
pub struct StaticCredentials {
    /// The connection that has credentials.
    pub connection_id: String,
    /// Its token (a canary: it must never reach plugin memory or output).
    pub token: String,
}

#[async_trait::async_trait]
impl TestCredentials for StaticCredentials {
    async fn inject(&self, connection: &str, req: &mut OutboundRequest) -> Result<(), String> {
        if connection != self.connection_id {
            return Err("no credentials for this connection".into());
        }
        req.injected_headers.push(("Authorization".into(), format!("Bearer {}", self.token)));
        Ok(())
    }
}

/// A [`ConnectionHttp`] granted to one test call: the target resolved
/// against the plugin's provider, [`TestCredentials`] injected, one retry
/// after a 401 when they say so.
struct TestGrant {
    host: Arc<PluginHost>,
    plugin: String,
    connection: String,
    config: serde_json::Map<String, serde_json::Value>,
    base_url: Option<String>,
    credentials: Arc<dyn TestCredentials>,
    egress: Arc<dyn Egress>,
}

#[async_trait::async_trait]
impl ConnectionHttp for TestGrant {
    async fn send(&self, req: ConnectionRequest) -> Result<OutboundResponse, ConnectionError> {
        let info = self.host.get(&self.plugin).ok_or_else(|| ConnectionError::Credentials("no plugin".into()))?;
        let provider = info.metadata.as_ref().ok_or_else(|| ConnectionError::Credentials("no provider".into()))?;
        let endpoint = Endpoint { provider, base_override: self.base_url.as_deref(), config: &self.config };
        let mut url = endpoint.resolve(&req.target)?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        let build = || {
            let mut out = OutboundRequest::new(req.method, url.clone());
            out.headers = req.headers.clone();
            out.body = req.body.clone();
            out.timeout = req.timeout;
            out.max_response_bytes = req.max_response_bytes;
            out
        };
        let mut first = build();
        self.credentials.inject(&self.connection, &mut first).await.map_err(ConnectionError::Credentials)?;
        let answer = self.egress.send(first).await?;
        if answer.status != 401 || !self.credentials.refresh_rejected(&self.connection).await {
            return Ok(answer);
        }
        let mut retry = build();
        self.credentials.inject(&self.connection, &mut retry).await.map_err(ConnectionError::Credentials)?;
        Ok(self.egress.send(retry).await?)
    }
}

/// A plugin host with real egress, in-memory state and settable secrets.
pub struct TestHost {
    /// The host under test.
    pub host: Arc<PluginHost>,
    /// Secrets the host hands to plugins.
    pub secrets: Arc<StaticSecrets>,
    credentials: Arc<dyn TestCredentials>,
    egress: Arc<dyn Egress>,
}

/// Connection id that [`TestHost`] has credentials for.
pub const CONNECTION: &str = "conn-1";
/// The token injected for [`CONNECTION`].
pub const TOKEN_CANARY: &str = "cnry-proj-user-token-7f3a9c";

impl TestHost {
    /// A host with [`test_config`].
    pub fn new() -> Self {
        Self::with_config(test_config())
    }

    /// A host with the given limits. Without a cache directory of its own it
    /// shares one with every test, so each component compiles once per run.
    pub fn with_config(config: HostConfig) -> Self {
        let credentials = StaticCredentials { connection_id: CONNECTION.into(), token: TOKEN_CANARY.into() };
        Self::with_services(config, Arc::new(credentials))
    }

    /// A host with [`test_config`] whose outbound requests get their
    /// credentials from `credentials` instead of [`StaticCredentials`].
    pub fn with_credentials(credentials: Arc<dyn TestCredentials>) -> Self {
        Self::with_services(test_config(), credentials)
    }

    /// A host with [`test_config`] whose egress resolves each of `names` to
    /// 127.0.0.1 (and nothing else): a provider host such as
    /// `acme.my.salesforce.com` that a mock on loopback answers for.
    pub fn with_names(names: &[&str]) -> Self {
        let credentials = StaticCredentials { connection_id: CONNECTION.into(), token: TOKEN_CANARY.into() };
        let lookup = LoopbackNames(names.iter().map(|n| n.to_ascii_lowercase()).collect());
        Self::build(test_config(), Arc::new(credentials), Some(Arc::new(lookup)))
    }

    fn with_services(config: HostConfig, credentials: Arc<dyn TestCredentials>) -> Self {
        Self::build(config, credentials, None)
    }

    fn build(
        mut config: HostConfig,
        credentials: Arc<dyn TestCredentials>,
        lookup: Option<Arc<dyn weft_egress::Lookup>>,
    ) -> Self {
        logs::install();
        if config.cache_dir.is_none() {
            config.cache_dir = Some(shared_cache_dir());
        }
        // The mock providers live on loopback, which the policy refuses by default.
        let policy = weft_egress::EgressPolicy { allow_loopback: true, ..Default::default() };
        let egress =
            Arc::new(EgressClient::new(EgressConfig { policy, lookup, ..Default::default() }).expect("egress client"));
        let secrets = Arc::new(StaticSecrets::default());
        let services = HostServices {
            egress: egress.clone(),
            state: Arc::new(MemoryStateStore::with_quota(100)),
            secrets: secrets.clone(),
        };
        let host = PluginHost::new(config, services).expect("plugin host");
        Self { host: Arc::new(host), secrets, credentials, egress }
    }

    /// `opts` with this host's test credentials granted for its connection,
    /// as the credential service grants them to a call of `plugin`.
    pub fn granted(&self, plugin: &str, opts: CallOptions) -> CallOptions {
        let Some(connection) = opts.connection_id.clone() else { return opts };
        let grant = TestGrant {
            host: self.host.clone(),
            plugin: plugin.to_owned(),
            connection,
            config: opts.connection_config.as_object().cloned().unwrap_or_default(),
            base_url: opts.base_url.as_deref().map(str::to_owned),
            credentials: self.credentials.clone(),
            egress: self.egress.clone(),
        };
        opts.with_connection_http(Arc::new(grant))
    }

    /// Installs a built plugin by crate identifier and returns its id.
    pub async fn install(&self, ident: &str) -> String {
        // Tests start together; without this they would all compile the same
        // component at once instead of the first filling the cache.
        static FIRST_COMPILE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = FIRST_COMPILE.lock().await;
        self.host
            .install_file(&plugin_path(ident))
            .await
            .unwrap_or_else(|e| panic!("installing {ident}: {e}"))
            .id
            .clone()
    }
}

/// Resolves the names it holds to 127.0.0.1, every other name to nothing.
struct LoopbackNames(Vec<String>);

impl weft_egress::Lookup for LoopbackNames {
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<std::net::IpAddr>>> + Send + '_>> {
        let known = self.0.iter().any(|n| n.eq_ignore_ascii_case(host));
        Box::pin(async move { Ok(if known { vec![std::net::Ipv4Addr::LOCALHOST.into()] } else { Vec::new() }) })
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}
