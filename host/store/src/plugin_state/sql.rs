//! Plugin state in SQL: [`PluginStateStore`] for both backends, and how
//! each keeps two writers of one scope from both taking its last free key.
//!
//! A value is live while `expires_at` is NULL or later than now. A write of
//! a key without a live value first deletes the scope's expired rows, then
//! counts the rest against the quota and inserts, all in one transaction;
//! so a scope never holds more rows than its quota for long.

use super::{PluginStateScope, StoredScope, check_key, check_value, expiry};
use crate::backends::for_both_backends;
use crate::error::WriteContext;
use crate::ids::now;
use crate::rows::Ts;
use crate::{Error, PgStore, PluginStateStore, Result, SqliteStore};
use async_trait::async_trait;
use sqlx::{PgConnection, SqliteConnection};
use std::time::Duration;
use time::OffsetDateTime;

for_both_backends! {
    /// Refuses a new key when the scope already holds `max_keys` live ones,
    /// after deleting the scope's expired rows (which never count).
    async fn make_room(conn: &mut Conn, scope: StoredScope<'_>, now: Ts, max_keys: u32) -> Result<()> {
        sqlx::query(
            "DELETE FROM plugin_state \
             WHERE project_id = $1 AND plugin_id = $2 AND connection_id = $3 AND expires_at <= $4",
        )
        .bind(scope.project)
        .bind(scope.plugin)
        .bind(scope.connection)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM plugin_state WHERE project_id = $1 AND plugin_id = $2 AND connection_id = $3",
        )
        .bind(scope.project)
        .bind(scope.plugin)
        .bind(scope.connection)
        .fetch_one(&mut *conn)
        .await?;
        if held >= i64::from(max_keys) {
            return Err(Error::QuotaExceeded { what: "plugin state scope", limit: u64::from(max_keys) });
        }
        Ok(())
    }

    /// Whether `key` has a live value in the scope.
    async fn is_live(conn: &mut Conn, scope: StoredScope<'_>, key: &str, now: Ts) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM plugin_state WHERE project_id = $1 AND plugin_id = $2 \
             AND connection_id = $3 AND key = $4 AND (expires_at IS NULL OR expires_at > $5))",
        )
        .bind(scope.project)
        .bind(scope.plugin)
        .bind(scope.connection)
        .bind(key)
        .bind(now)
        .fetch_one(conn)
        .await?)
    }

    #[async_trait]
    impl PluginStateStore for Db {
        async fn get_plugin_state(&self, scope: PluginStateScope<'_>, key: &str) -> Result<Option<Vec<u8>>> {
            let scope = scope.stored()?;
            Ok(sqlx::query_scalar(
                "SELECT value FROM plugin_state WHERE project_id = $1 AND plugin_id = $2 AND connection_id = $3 \
                 AND key = $4 AND (expires_at IS NULL OR expires_at > $5)",
            )
            .bind(scope.project)
            .bind(scope.plugin)
            .bind(scope.connection)
            .bind(check_key(key)?)
            .bind(Ts(now()))
            .fetch_optional(self.read())
            .await?)
        }

        async fn set_plugin_state(
            &self,
            scope: PluginStateScope<'_>,
            key: &str,
            value: &[u8],
            ttl: Option<Duration>,
            max_keys: u32,
        ) -> Result<()> {
            if ttl == Some(Duration::ZERO) {
                // Expired as soon as written: nothing to keep.
                return self.delete_plugin_state(scope, key).await;
            }
            let scope = scope.stored()?;
            let (key, value) = (check_key(key)?, check_value(value)?);
            let mut tx = self.begin_write().await?;
            Db::lock_plugin_state_scope(&mut tx, scope).await?;
            let now = now();
            let expires_at = expiry(now, ttl)?;
            if !is_live(&mut tx, scope, key, Ts(now)).await? {
                make_room(&mut tx, scope, Ts(now), max_keys).await?;
            }
            sqlx::query(
                "INSERT INTO plugin_state (project_id, plugin_id, connection_id, key, value, expires_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (project_id, plugin_id, connection_id, key) DO UPDATE \
                 SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            )
            .bind(scope.project)
            .bind(scope.plugin)
            .bind(scope.connection)
            .bind(key)
            .bind(value)
            .bind(expires_at.map(Ts))
            .bind(Ts(now))
            .execute(&mut *tx)
            .await
            .on_write("", "project")?;
            tx.commit().await?;
            Ok(())
        }

        async fn delete_plugin_state(&self, scope: PluginStateScope<'_>, key: &str) -> Result<()> {
            let scope = scope.stored()?;
            let key = check_key(key)?;
            let mut w = self.write_one().await?;
            sqlx::query(
                "DELETE FROM plugin_state \
                 WHERE project_id = $1 AND plugin_id = $2 AND connection_id = $3 AND key = $4",
            )
            .bind(scope.project)
            .bind(scope.plugin)
            .bind(scope.connection)
            .bind(key)
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(())
        }

        async fn purge_expired_plugin_state(&self, now: OffsetDateTime, limit: u32) -> Result<u64> {
            let mut w = self.write_one().await?;
            let done = sqlx::query(
                "DELETE FROM plugin_state WHERE (project_id, plugin_id, connection_id, key) IN \
                 (SELECT project_id, plugin_id, connection_id, key FROM plugin_state \
                  WHERE expires_at <= $1 LIMIT $2)",
            )
            .bind(Ts(now))
            .bind(i64::from(limit))
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(done.rows_affected())
        }
    }
}

impl SqliteStore {
    /// Nothing to take: the write transaction's `BEGIN IMMEDIATE` already
    /// holds the database's only write lock until the commit.
    async fn lock_plugin_state_scope(_: &mut SqliteConnection, _: StoredScope<'_>) -> Result<()> {
        Ok(())
    }
}

/// The first key of the plugin state scope locks: a class of Weft's own
/// ("WfPs"), so they cannot meet the one-key advisory locks of migrations
/// and leadership (PostgreSQL keeps one-key and two-key locks apart).
const SCOPE_LOCK_CLASS: i32 = 0x5766_5073;

impl PgStore {
    /// Serialises the writers of one scope until the commit. Under read
    /// committed, two transactions counting the scope's keys at once would
    /// both see room for its last free key; row locks cannot help, as the
    /// row to lock does not exist yet. Scopes whose hashes collide only wait
    /// for each other.
    async fn lock_plugin_state_scope(conn: &mut PgConnection, scope: StoredScope<'_>) -> Result<()> {
        // Ids hold no control characters, so the newlines keep the parts apart.
        let name = format!("{}\n{}\n{}", scope.project, scope.plugin, scope.connection);
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(SCOPE_LOCK_CLASS)
            .bind(name)
            .execute(conn)
            .await?;
        Ok(())
    }
}
