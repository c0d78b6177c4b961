//! Durable plugin state: the key-value store behind the plugin host's
//! `state` import, scoped to (project, plugin, connection).
//!
//! A plugin names keys only; the host supplies the scope from the call, so
//! a key can never reach another project's, plugin's or connection's value.
//! Calls without a connection use the plugin-wide scope of their project.
//! Values are opaque bytes. A value may carry a time to live: once it has
//! passed, the value reads as absent and no longer counts against the
//! scope's quota; its row is deleted by the next new key of its scope or by
//! [`PluginStateStore::purge_expired_plugin_state`].
//!
//! The store enforces its own ceilings on key and value sizes
//! ([`MAX_PLUGIN_STATE_KEY_BYTES`], [`MAX_PLUGIN_STATE_VALUE_BYTES`]); the
//! plugin host's configured limits are meant to be at or below them and are
//! checked first. The number of live keys per scope is the caller's choice,
//! passed with every write.

mod sql;

use crate::ids::ProjectId;
use crate::{Error, Result};
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest plugin state key accepted, in bytes (UTF-8).
pub const MAX_PLUGIN_STATE_KEY_BYTES: usize = 1024;

/// Largest plugin state value accepted, in bytes.
pub const MAX_PLUGIN_STATE_VALUE_BYTES: usize = 1 << 20;

/// Longest plugin id accepted, in characters.
const MAX_PLUGIN_ID_LEN: usize = 200;

/// Longest connection id accepted, in characters.
const MAX_CONNECTION_ID_LEN: usize = 255;

/// Whose state: one project's plugin, for one connection or plugin-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PluginStateScope<'a> {
    /// The project (tenant); every statement filters on it.
    pub project: ProjectId,
    /// The plugin's id.
    pub plugin: &'a str,
    /// The connection (credential) the call acts for; `None` for the
    /// plugin-wide scope of the project.
    pub connection: Option<&'a str>,
}

impl<'a> PluginStateScope<'a> {
    /// The scope of `plugin` in `project`, for `connection` if given.
    pub fn new(project: ProjectId, plugin: &'a str, connection: Option<&'a str>) -> Self {
        Self { project, plugin, connection }
    }

    /// The scope checked, as its rows store it.
    pub(crate) fn stored(&self) -> Result<StoredScope<'a>> {
        let plugin = crate::check::label("plugin id", self.plugin, MAX_PLUGIN_ID_LEN)?;
        let connection = match self.connection {
            // Some("") would be indistinguishable from the plugin-wide scope.
            Some(c) => crate::check::label("connection id", c, MAX_CONNECTION_ID_LEN)?,
            None => "",
        };
        Ok(StoredScope { project: self.project.as_uuid(), plugin, connection })
    }
}

/// A checked scope as its rows store it: the first three columns of the
/// key of `plugin_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredScope<'a> {
    /// The project.
    pub project: Uuid,
    /// The plugin id.
    pub plugin: &'a str,
    /// The connection id; empty for the plugin-wide scope.
    pub connection: &'a str,
}

/// Durable key-value state of plugins.
#[async_trait]
pub trait PluginStateStore: Send + Sync {
    /// The value of `key` in the scope; `None` when absent or expired.
    async fn get_plugin_state(&self, scope: PluginStateScope<'_>, key: &str) -> Result<Option<Vec<u8>>>;

    /// Writes `value` under `key`, replacing any previous value and its
    /// expiry; it expires after `ttl` when given (a zero `ttl` removes the
    /// key). A key that has no live value yet is refused with
    /// [`Error::QuotaExceeded`] when the scope already holds `max_keys` live
    /// keys; replacing a live key always succeeds. [`Error::TooLarge`] past
    /// the store's size ceilings; `NotFound("project")` for an unknown
    /// project.
    async fn set_plugin_state(
        &self,
        scope: PluginStateScope<'_>,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        max_keys: u32,
    ) -> Result<()>;

    /// Removes `key` from the scope; removing an absent key succeeds.
    async fn delete_plugin_state(&self, scope: PluginStateScope<'_>, key: &str) -> Result<()>;

    /// Deletes up to `limit` values (of every project) that expired at or
    /// before `now`; returns how many. Call it until it returns less than
    /// `limit` to purge everything; each call is one short write.
    async fn purge_expired_plugin_state(&self, now: OffsetDateTime, limit: u32) -> Result<u64>;
}

/// Checks a key: within [`MAX_PLUGIN_STATE_KEY_BYTES`], and without NUL,
/// which PostgreSQL text cannot hold (so both backends refuse it alike).
pub(crate) fn check_key(key: &str) -> Result<&str> {
    if key.len() > MAX_PLUGIN_STATE_KEY_BYTES {
        return Err(Error::TooLarge {
            what: "plugin state key",
            size: key.len() as u64,
            limit: MAX_PLUGIN_STATE_KEY_BYTES as u64,
        });
    }
    if key.contains('\0') {
        return Err(Error::invalid("plugin state key must not contain NUL characters"));
    }
    Ok(key)
}

/// Checks a value's size against [`MAX_PLUGIN_STATE_VALUE_BYTES`].
pub(crate) fn check_value(value: &[u8]) -> Result<&[u8]> {
    if value.len() > MAX_PLUGIN_STATE_VALUE_BYTES {
        return Err(Error::TooLarge {
            what: "plugin state value",
            size: value.len() as u64,
            limit: MAX_PLUGIN_STATE_VALUE_BYTES as u64,
        });
    }
    Ok(value)
}

/// When a value written at `now` with `ttl` expires (`None`: never).
pub(crate) fn expiry(now: OffsetDateTime, ttl: Option<Duration>) -> Result<Option<OffsetDateTime>> {
    let Some(ttl) = ttl else { return Ok(None) };
    let too_long = || Error::invalid("plugin state time to live is too long");
    let ttl = time::Duration::try_from(ttl).map_err(|_| too_long())?;
    now.checked_add(ttl).map(Some).ok_or_else(too_long)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_check_their_ids_and_store_no_connection_as_empty() {
        let p = ProjectId::new();
        let stored = |plugin, connection| PluginStateScope::new(p, plugin, connection).stored();
        let ids = |s: StoredScope<'static>| (s.project, s.plugin, s.connection);
        assert_eq!(stored("github", None).ok().map(ids), Some((p.as_uuid(), "github", "")));
        assert_eq!(stored("github", Some("c1")).ok().map(ids), Some((p.as_uuid(), "github", "c1")));
        assert!(matches!(stored("", None), Err(Error::Invalid(_))));
        assert!(matches!(stored("github", Some("")), Err(Error::Invalid(_))));
        assert!(matches!(stored("git\nhub", None), Err(Error::Invalid(_))));
    }

    #[test]
    fn keys_and_values_are_bounded() {
        assert!(check_key("").is_ok());
        assert!(check_key(&"k".repeat(MAX_PLUGIN_STATE_KEY_BYTES)).is_ok());
        assert!(matches!(
            check_key(&"k".repeat(MAX_PLUGIN_STATE_KEY_BYTES + 1)),
            Err(Error::TooLarge { limit, .. }) if limit == MAX_PLUGIN_STATE_KEY_BYTES as u64
        ));
        assert!(matches!(check_key("a\0b"), Err(Error::Invalid(_))));
        assert!(check_value(&vec![0; MAX_PLUGIN_STATE_VALUE_BYTES]).is_ok());
        assert!(matches!(
            check_value(&vec![0; MAX_PLUGIN_STATE_VALUE_BYTES + 1]),
            Err(Error::TooLarge { size, .. }) if size == MAX_PLUGIN_STATE_VALUE_BYTES as u64 + 1
        ));
    }

    #[test]
    fn expiry_adds_the_ttl_and_refuses_overflow() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(expiry(now, None).ok(), Some(None));
        assert_eq!(expiry(now, Some(Duration::from_secs(60))).ok(), Some(Some(now + time::Duration::minutes(1))));
        assert!(matches!(expiry(now, Some(Duration::MAX)), Err(Error::Invalid(_))));
        assert!(matches!(expiry(now, Some(Duration::from_secs(u64::from(u32::MAX) * 1000))), Err(Error::Invalid(_))));
    }
}
