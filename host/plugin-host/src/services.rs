//! What the plugin host needs from the rest of Weft, as traits.
//!
//! The plugin host never holds a database pool or a decryption key: state
//! and secrets arrive through these traits (the server backs them with the
//! store and the vault), and a connection's credentials are never here at
//! all: a call acting for a connection carries a
//! [`weft_catalog::ConnectionHttp`] granted by the credential service, which
//! sends the plugin's requests on the one authorised-request path. The
//! in-memory implementations serve tests and tools.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_egress::Egress;

/// Who a call acts for: the scope of state, secrets and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallScope {
    /// The project (tenant) the call belongs to.
    pub project_id: String,
    /// The plugin being called.
    pub plugin_id: String,
    /// The connection (one user's account), if any.
    pub connection_id: Option<String>,
}

/// Why state could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Key or value over the limit (the limit in bytes).
    #[error("too large (limit {0} bytes)")]
    TooLarge(u64),
    /// The scope is full.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The backing store failed.
    #[error("state unavailable: {0}")]
    Unavailable(String),
}

/// Durable key-value state of plugins, scoped by [`CallScope`].
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Reads a value; none when absent or expired.
    async fn get(&self, scope: &CallScope, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// Writes a value with an optional time to live.
    async fn set(&self, scope: &CallScope, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StateError>;
    /// Removes a value; absent keys are fine.
    async fn delete(&self, scope: &CallScope, key: &str) -> Result<(), StateError>;
}

/// Plugin secrets (webhook signing secrets, API tokens for custom schemes).
/// Names are checked against the plugin's declaration before this is asked.
#[async_trait]
pub trait SecretSource: Send + Sync + 'static {
    /// The value of `name` for the scope, if any.
    async fn get(&self, scope: &CallScope, name: &str) -> Option<String>;
}

/// Everything the host imports are backed by.
#[derive(Clone)]
pub struct HostServices {
    /// The one outbound client.
    pub egress: Arc<dyn Egress>,
    /// Plugin state.
    pub state: Arc<dyn StateStore>,
    /// Plugin secrets.
    pub secrets: Arc<dyn SecretSource>,
}

impl HostServices {
    /// Services with in-memory state and no secrets.
    pub fn in_memory(egress: Arc<dyn Egress>) -> Self {
        Self { egress, state: Arc::new(MemoryStateStore::default()), secrets: Arc::new(StaticSecrets::default()) }
    }
}

/// Secrets held in memory, keyed by (project, plugin, name).
#[derive(Default)]
pub struct StaticSecrets {
    values: Mutex<HashMap<(String, String, String), String>>,
}

impl StaticSecrets {
    /// Sets the value of `name` for every connection of `project`'s `plugin`.
    pub fn insert(&self, project: &str, plugin: &str, name: &str, value: &str) {
        let key = (project.to_owned(), plugin.to_owned(), name.to_owned());
        self.values.lock().unwrap_or_else(|p| p.into_inner()).insert(key, value.to_owned());
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn get(&self, scope: &CallScope, name: &str) -> Option<String> {
        let key = (scope.project_id.clone(), scope.plugin_id.clone(), name.to_owned());
        self.values.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    }
}

/// Live values of one scope: key → (value, expiry).
type ScopeEntries = HashMap<String, (Vec<u8>, Option<Instant>)>;

/// State kept in process memory, with per-scope quotas; lost on restart.
pub struct MemoryStateStore {
    entries: Mutex<HashMap<CallScope, ScopeEntries>>,
    max_keys_per_scope: usize,
}

impl Default for MemoryStateStore {
    fn default() -> Self {
        Self { entries: Mutex::default(), max_keys_per_scope: 10_000 }
    }
}

impl MemoryStateStore {
    /// A store allowing at most `max_keys_per_scope` live keys per scope.
    pub fn with_quota(max_keys_per_scope: usize) -> Self {
        Self { entries: Mutex::default(), max_keys_per_scope }
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, scope: &CallScope, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        Ok(entries
            .get(scope)
            .and_then(|m| m.get(key))
            .filter(|(_, exp)| exp.is_none_or(|e| e > now))
            .map(|(v, _)| v.clone()))
    }

    async fn set(&self, scope: &CallScope, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StateError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let map = entries.entry(scope.clone()).or_default();
        let now = Instant::now();
        map.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
        if !map.contains_key(key) && map.len() >= self.max_keys_per_scope {
            return Err(StateError::QuotaExceeded);
        }
        map.insert(key.to_owned(), (value, ttl.map(|t| now + t)));
        Ok(())
    }

    async fn delete(&self, scope: &CallScope, key: &str) -> Result<(), StateError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = entries.get_mut(scope) {
            m.remove(key);
        }
        Ok(())
    }
}
