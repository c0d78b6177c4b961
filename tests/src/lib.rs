//! Test support for Weft: paths of the built plugin components, a plugin
//! host wired to real services with test limits, a strict mock provider on
//! loopback that records what it receives, and a log capture.
//!
//! Only third parties are mocked: the provider here is a real HTTP server on
//! 127.0.0.1 reached through the real egress client.

pub mod logs;
pub mod mock_api;
pub mod mock_auth;
pub mod mock_provider;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_egress::{EgressClient, EgressConfig, OutboundRequest};
use weft_plugin_host::{
    CallScope, CredentialError, CredentialInjector, HostConfig, HostServices, MemoryStateStore, PluginHost,
    StaticSecrets,
};

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

/// Injects `Authorization: Bearer <token>` for one connection id, and
/// refuses every other connection: the stand-in for the vault.
pub struct StaticCredentials {
    /// The connection that has credentials.
    pub connection_id: String,
    /// Its token (a canary: it must never reach plugin memory or output).
    pub token: String,
}

#[async_trait::async_trait]
impl CredentialInjector for StaticCredentials {
    async fn inject(&self, scope: &CallScope, req: &mut OutboundRequest) -> Result<(), CredentialError> {
        if scope.connection_id.as_deref() != Some(self.connection_id.as_str()) {
            return Err(CredentialError("no credentials for this connection".into()));
        }
        req.injected_headers.push(("Authorization".into(), format!("Bearer {}", self.token)));
        Ok(())
    }
}

/// A plugin host with real egress, in-memory state and settable secrets.
pub struct TestHost {
    /// The host under test.
    pub host: Arc<PluginHost>,
    /// Secrets the host hands to plugins.
    pub secrets: Arc<StaticSecrets>,
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
    pub fn with_credentials(credentials: Arc<dyn CredentialInjector>) -> Self {
        Self::with_services(test_config(), credentials)
    }

    fn with_services(mut config: HostConfig, credentials: Arc<dyn CredentialInjector>) -> Self {
        logs::install();
        if config.cache_dir.is_none() {
            config.cache_dir = Some(shared_cache_dir());
        }
        // The mock providers live on loopback, which the policy refuses by default.
        let policy = weft_egress::EgressPolicy { allow_loopback: true, ..Default::default() };
        let egress = Arc::new(EgressClient::new(EgressConfig { policy, ..Default::default() }).expect("egress client"));
        let secrets = Arc::new(StaticSecrets::default());
        let services = HostServices {
            egress,
            state: Arc::new(MemoryStateStore::with_quota(100)),
            secrets: secrets.clone(),
            credentials,
            governor: Default::default(),
        };
        let host = PluginHost::new(config, services).expect("plugin host");
        Self { host: Arc::new(host), secrets }
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

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}
