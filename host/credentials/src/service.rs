//! [`Credentials`]: the service the API, the plugin host and (later) the
//! proxy and workflows use to connect accounts and get usable secrets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use secrecy::SecretString;
use time::OffsetDateTime;
use weft_auth::Clock;
use weft_egress::Egress;
use weft_plugin_host::{PluginHost, PluginInfo};
use weft_store::{Credential, CredentialId, Integration, IntegrationId, ProjectId, Store};
use weft_vault::{Sealed, Vault};

use crate::owners;
use crate::scheme::Scheme;
use crate::secrets::CredentialSecrets;
use crate::{Error, Result};

/// Timing and policy of connect flows and refreshes.
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// Refresh tokens this long before they expire.
    pub refresh_margin: Duration,
    /// How long one process may hold a credential's refresh lease.
    pub lease_ttl: Duration,
    /// Longest token-endpoint call.
    pub token_timeout: Duration,
    /// How long an authorization (`state`) stays usable.
    pub state_ttl: Duration,
    /// Token-endpoint attempts per refresh (transient failures only).
    pub max_refresh_attempts: u32,
    /// First backoff between attempts; doubled each time.
    pub backoff_base: Duration,
    /// Longest wait inside one request (a longer `Retry-After` fails the
    /// request with 503 and defers the next attempt instead).
    pub max_inline_wait: Duration,
    /// Distinct days with failed refreshes before a credential is given up.
    pub give_up_days: i64,
    /// Lifetime assumed when a token response has no `expires_in`.
    pub default_token_lifetime: Duration,
    /// How often the proactive refresh sweep runs.
    pub sweep_interval: Duration,
    /// Refreshes found by a sweep start at a random delay up to this.
    pub sweep_jitter: Duration,
}

impl Default for CredentialSettings {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(300),
            lease_ttl: Duration::from_secs(30),
            token_timeout: Duration::from_secs(10),
            state_ttl: Duration::from_secs(600),
            max_refresh_attempts: 3,
            backoff_base: Duration::from_millis(500),
            max_inline_wait: Duration::from_secs(5),
            give_up_days: 4,
            default_token_lifetime: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(60),
            sweep_jitter: Duration::from_secs(30),
        }
    }
}

/// Counters for tests and metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Credential secrets opened.
    pub decrypts: AtomicU64,
    /// Refresh grants (or custom refresh hooks) sent.
    pub refreshes: AtomicU64,
}

/// An integration with its plugin and resolved scheme.
#[derive(Clone)]
pub(crate) struct IntegrationAuth {
    pub integration: Integration,
    pub plugin: Arc<PluginInfo>,
    pub scheme: Scheme,
}

/// Secrets being tested before they are saved, by connection id.
type Pending = Mutex<HashMap<String, (Scheme, CredentialSecrets)>>;

/// Connected accounts: connect flows, sealed storage, refresh, injection.
pub struct Credentials {
    /// This service, for work that must outlive a cancelled caller.
    me: Weak<Credentials>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) egress: Arc<dyn Egress>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: CredentialSettings,
    plugins: OnceLock<Arc<PluginHost>>,
    public_url: OnceLock<String>,
    /// One refresh at a time per credential in this process.
    flights: Mutex<HashMap<CredentialId, Weak<tokio::sync::Mutex<()>>>>,
    pub(crate) pending: Pending,
    /// Recently used sessions (sealed rows only), for the Proxy API.
    pub(crate) sessions: crate::session::SessionCache,
    /// What happened, for tests and metrics.
    pub counters: Counters,
}

impl Credentials {
    /// The service. Call [`Credentials::attach_plugins`] and
    /// [`Credentials::set_public_url`] before serving.
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        egress: Arc<dyn Egress>,
        clock: Arc<dyn Clock>,
        settings: CredentialSettings,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            vault,
            egress,
            clock,
            settings,
            plugins: OnceLock::new(),
            public_url: OnceLock::new(),
            flights: Mutex::default(),
            pending: Mutex::default(),
            sessions: Default::default(),
            counters: Counters::default(),
        })
    }

    /// This service as an `Arc` (it is only ever built as one).
    pub(crate) fn arc(&self) -> Result<Arc<Self>> {
        self.me.upgrade().ok_or_else(|| Error::internal("the credential service is shutting down"))
    }

    /// Gives the service the plugin host (which itself holds the service
    /// as its credential injector, hence the late binding).
    pub fn attach_plugins(&self, plugins: Arc<PluginHost>) {
        let _ = self.plugins.set(plugins);
    }

    /// Sets the externally visible base URL the OAuth redirect URIs use
    /// (`https://weft.example.com`); only the first call counts.
    pub fn set_public_url(&self, url: &str) {
        let _ = self.public_url.set(url.trim_end_matches('/').to_owned());
    }

    /// Re-reads the vault's master keys (a rotation elsewhere added one).
    pub fn reload_vault(&self) -> Result<bool> {
        Ok(self.vault.reload()?)
    }

    /// The vault (for a rotation run in this process).
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// The settings in force.
    pub fn settings(&self) -> &CredentialSettings {
        &self.settings
    }

    /// The exact redirect URI of an integration: one per integration, so a
    /// code can only come back to the integration that asked for it.
    pub fn redirect_uri(&self, project: ProjectId, integration: IntegrationId) -> String {
        let base = self.public_url.get().map(String::as_str).unwrap_or("http://127.0.0.1:8080");
        format!("{base}/projects/{project}/connect/{integration}/oauth/callback")
    }

    pub(crate) fn plugins(&self) -> Result<&Arc<PluginHost>> {
        self.plugins.get().ok_or_else(|| Error::internal("the plugin host is not attached"))
    }

    /// Business time now.
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.clock.now_unix()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The integration, its plugin and its scheme.
    pub(crate) async fn integration_auth(&self, project: ProjectId, id: IntegrationId) -> Result<IntegrationAuth> {
        let integration = self.store.get_integration(project, id).await?;
        self.with_plugin(integration)
    }

    /// The integration of this type, its plugin and its scheme.
    pub(crate) async fn integration_auth_by_type(&self, project: ProjectId, kind: &str) -> Result<IntegrationAuth> {
        let integration = self.store.get_integration_by_type(project, kind).await?;
        self.with_plugin(integration)
    }

    fn with_plugin(&self, integration: Integration) -> Result<IntegrationAuth> {
        let plugin = self.plugins()?.get(&integration.integration_type).ok_or(Error::NotFound("plugin"))?;
        let declared = plugin.metadata.as_ref().map(|m| &m.auth).ok_or(Error::NotFound("plugin"))?;
        let scheme = Scheme::resolve(declared, &integration);
        Ok(IntegrationAuth { integration, plugin, scheme })
    }

    /// Opens a credential's secrets (counted: listing never decrypts).
    pub(crate) fn open(&self, credential: &Credential) -> Result<CredentialSecrets> {
        self.counters.decrypts.fetch_add(1, Ordering::Relaxed);
        CredentialSecrets::open(&self.vault, credential.project_id, credential.id, &credential.secrets)
    }

    /// The app's OAuth client secret of an integration, if set.
    pub(crate) async fn client_secret(&self, integration: &Integration) -> Result<Option<SecretString>> {
        let Some(bytes) = self.store.client_secret(integration.project_id, integration.id).await? else {
            return Ok(None);
        };
        let sealed = Sealed::from_bytes(&bytes).map_err(|_| Error::Corrupt)?;
        let (owner, field) = owners::client_secret(integration.project_id, integration.id);
        Ok(Some(self.vault.open_string(&owner, field, &sealed)?))
    }

    /// Seals and stores (or with `None` clears) an integration's client secret.
    pub async fn set_client_secret(
        &self,
        project: ProjectId,
        integration: IntegrationId,
        secret: Option<&str>,
    ) -> Result<()> {
        let (owner, field) = owners::client_secret(project, integration);
        let sealed = match secret {
            Some(s) => Some(self.vault.seal(&owner, field, s.as_bytes())?.to_bytes()),
            None => None,
        };
        self.store.set_client_secret(project, integration, sealed).await?;
        self.sessions.touch();
        // A new secret is the fix for a refused client.
        self.store.set_misconfigured(project, integration, None).await?;
        Ok(())
    }

    /// Seals and stores the value of a declared environment secret.
    pub async fn set_environment_secret(&self, project: ProjectId, name: &str, value: &SecretString) -> Result<()> {
        use secrecy::ExposeSecret;
        if value.expose_secret().is_empty() || value.expose_secret().len() > 64 * 1024 {
            return Err(Error::BadRequest("a secret value must be 1 byte to 64 KiB".into()));
        }
        let (owner, field) = owners::environment_secret(project, name);
        let sealed = self.vault.seal(&owner, field, value.expose_secret().as_bytes())?;
        self.store.set_secret_value(project, name, sealed.to_bytes()).await?;
        tracing::info!(project = %project, secret = name, "environment secret value set");
        Ok(())
    }

    /// The value of an environment secret, if it has one (for workflows).
    pub async fn environment_secret(&self, project: ProjectId, name: &str) -> Result<Option<SecretString>> {
        let Some(bytes) = self.store.secret_value(project, name).await? else { return Ok(None) };
        let sealed = Sealed::from_bytes(&bytes).map_err(|_| Error::Corrupt)?;
        let (owner, field) = owners::environment_secret(project, name);
        Ok(Some(self.vault.open_string(&owner, field, &sealed)?))
    }

    /// The per-credential refresh lock of this process.
    pub(crate) fn flight(&self, id: CredentialId) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = flights.get(&id).and_then(Weak::upgrade) {
            return lock;
        }
        flights.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        flights.insert(id, Arc::downgrade(&lock));
        lock
    }
}
