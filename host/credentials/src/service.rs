//! [`Credentials`]: the service the API, the proxy, plugin calls and (later)
//! workflows use to connect accounts and to call providers as them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use secrecy::SecretString;
use time::OffsetDateTime;
use weft_auth::Clock;
use weft_catalog::{DefinitionError, Entry, Origin, Provider, Providers};
use weft_egress::governor::Rule;
use weft_egress::{Egress, Governor};
use weft_store::{Credential, CredentialId, Integration, IntegrationId, ProjectId, Store};
use weft_vault::{Sealed, Vault};

use crate::environment::EnvironmentSecrets;
use crate::hooks::ProviderHooks;
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
    /// The egress client's address policy, which a custom integration's
    /// definition is checked against before it is stored.
    pub egress_policy: weft_egress::EgressPolicy,
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
            egress_policy: weft_egress::EgressPolicy::default(),
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

/// An integration with its provider and resolved scheme.
#[derive(Clone)]
pub(crate) struct IntegrationAuth {
    pub integration: Integration,
    pub provider: Arc<Provider>,
    pub origin: Origin,
    /// The provider's rate limits, converted once.
    pub rules: Vec<Rule>,
    pub scheme: Scheme,
}

/// What the credential service is built from.
pub struct CredentialDeps {
    /// Where credentials, integrations and users are kept.
    pub store: Arc<dyn Store>,
    /// Seals and opens every secret.
    pub vault: Arc<Vault>,
    /// The one outbound client.
    pub egress: Arc<dyn Egress>,
    /// Provider rate limits, shared by every path to a provider.
    pub governor: Arc<Governor>,
    /// Business time.
    pub clock: Arc<dyn Clock>,
    /// Which providers exist (plugins, then definitions).
    pub providers: Arc<dyn Providers>,
    /// The plugins' connection tests and custom refreshes.
    pub hooks: Arc<dyn ProviderHooks>,
    /// The externally visible base URL OAuth redirect URIs use
    /// (`https://weft.example.com`).
    pub public_url: String,
    /// Timing and policy.
    pub settings: CredentialSettings,
}

/// Connected accounts: connect flows, sealed storage, refresh, injection.
pub struct Credentials {
    /// This service, for work that must outlive a cancelled caller.
    me: Weak<Credentials>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) egress: Arc<dyn Egress>,
    pub(crate) governor: Arc<Governor>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: CredentialSettings,
    providers: Arc<dyn Providers>,
    pub(crate) hooks: Arc<dyn ProviderHooks>,
    public_url: String,
    /// The project's environment secrets.
    environment: EnvironmentSecrets,
    /// One refresh at a time per credential in this process.
    flights: Mutex<HashMap<CredentialId, Weak<tokio::sync::Mutex<()>>>>,
    /// Recently used sessions (sealed rows only), for the Proxy API.
    pub(crate) sessions: crate::session::SessionCache,
    /// What happened, for tests and metrics.
    pub counters: Counters,
}

impl Credentials {
    /// The service, complete: nothing is attached later.
    pub fn new(deps: CredentialDeps) -> Arc<Self> {
        let CredentialDeps { store, vault, egress, governor, clock, providers, hooks, public_url, settings } = deps;
        let environment = EnvironmentSecrets::new(store.clone(), vault.clone());
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            environment,
            store,
            vault,
            egress,
            governor,
            clock,
            settings,
            providers,
            hooks,
            public_url: public_url.trim_end_matches('/').to_owned(),
            flights: Mutex::default(),
            sessions: Default::default(),
            counters: Counters::default(),
        })
    }

    /// This service as an `Arc` (it is only ever built as one).
    pub(crate) fn arc(&self) -> Result<Arc<Self>> {
        self.me.upgrade().ok_or_else(|| Error::internal("the credential service is shutting down"))
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

    /// The server's public URL (no trailing slash), as callers outside see
    /// it: redirect URIs and links in answers are built on it.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The exact redirect URI of an integration: one per integration, so a
    /// code can only come back to the integration that asked for it.
    pub fn redirect_uri(&self, project: ProjectId, integration: IntegrationId) -> String {
        format!("{}/projects/{project}/connect/{integration}/oauth/callback", self.public_url)
    }

    /// The providers this service knows (plugins, then definitions).
    pub fn providers(&self) -> &Arc<dyn Providers> {
        &self.providers
    }

    /// Business time now.
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.clock.now_unix()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The integration, its provider and its scheme.
    pub(crate) async fn integration_auth(&self, project: ProjectId, id: IntegrationId) -> Result<IntegrationAuth> {
        let integration = self.store.get_integration(project, id).await?;
        self.with_provider(integration)
    }

    /// The integration of this type, its provider and its scheme.
    pub(crate) async fn integration_auth_by_type(&self, project: ProjectId, kind: &str) -> Result<IntegrationAuth> {
        let integration = self.store.get_integration_by_type(project, kind).await?;
        self.with_provider(integration)
    }

    /// The provider an integration runs on: a custom integration's own
    /// definition (seen only through its project's integration row), else
    /// the plugin or the definition of its type.
    pub fn provider_of(&self, integration: &Integration) -> Result<Option<Entry>> {
        let Some(definition) = &integration.definition else {
            return Ok(self.providers.provider(&integration.integration_type));
        };
        // Checked in full when it was stored; here it is only read back.
        let provider: Provider = serde_json::from_value(serde_json::Value::Object(definition.clone()))
            .map_err(|e| Error::internal(format!("the stored definition of {} is unreadable: {e}", integration.id)))?;
        Ok(Some(Entry { provider: Arc::new(provider), origin: Origin::Definition }))
    }

    /// Checks `document` as the provider definition of the custom
    /// integration `integration_type`: the catalog's schema and loader, and
    /// the destinations this server's egress policy allows.
    pub fn check_definition(
        &self,
        integration_type: &str,
        document: serde_json::Value,
    ) -> std::result::Result<Provider, DefinitionError> {
        weft_catalog::check_custom(document, integration_type, &self.settings.egress_policy)
    }

    /// Checks `document` as an API resource run by the hidden integration
    /// `integration_type`, and translates it into that integration's
    /// provider definition (see `weft_catalog::resource`).
    pub fn check_resource(
        &self,
        integration_type: &str,
        document: serde_json::Value,
    ) -> std::result::Result<(weft_catalog::resource::Resource, Provider), DefinitionError> {
        weft_catalog::resource::check_resource(document, integration_type, &self.settings.egress_policy)
    }

    fn with_provider(&self, integration: Integration) -> Result<IntegrationAuth> {
        let entry = self.provider_of(&integration)?.ok_or(Error::NotFound("plugin"))?;
        let scheme = Scheme::resolve(&entry.provider.auth, &integration, entry.origin == Origin::Definition);
        let rules = entry.provider.governor_rules();
        Ok(IntegrationAuth { integration, provider: entry.provider, origin: entry.origin, rules, scheme })
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
        self.environment.set(project, name, value).await
    }

    /// Replaces credential `id`'s secrets in `value` (a provider's answer,
    /// about to be stored in the task history) with a placeholder; see
    /// [`crate::CredentialSecrets::redact`].
    pub async fn redact(
        &self,
        project: ProjectId,
        id: weft_store::CredentialId,
        value: &mut serde_json::Value,
    ) -> Result<usize> {
        let credential = self.store.get_credential(project, id).await?;
        Ok(self.open(&credential)?.redact(value))
    }

    /// The value of an environment secret, if it has one (for workflows).
    pub async fn environment_secret(&self, project: ProjectId, name: &str) -> Result<Option<SecretString>> {
        self.environment.get(project, name).await
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
