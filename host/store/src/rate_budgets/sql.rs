//! [`RateBudgetStore`] for both backends: the same statements.
//!
//! A slice is granted in one write transaction that first upserts the key's
//! row: on PostgreSQL that locks the row until the commit, so the grants of
//! one key are serial across processes; on SQLite every write transaction
//! is.

use super::{BudgetAsk, BudgetGrant, MAX_BUDGET_KEY_LEN, RateBudgetStore, UNTRACKED_IDLE, span};
use crate::backends::for_both_backends;
use crate::rows::Ts;
use crate::{Error, Result};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

for_both_backends! {
    #[async_trait]
    impl RateBudgetStore for Db {
        async fn take_budget(&self, ask: BudgetAsk<'_>) -> Result<BudgetGrant> {
            crate::check::label("budget key", ask.key, MAX_BUDGET_KEY_LEN)?;
            if ask.want == 0 || ask.requests == 0 {
                return Err(Error::invalid("a budget slice asks for at least one call of a rule allowing one"));
            }
            let window = span("a rate limit window", ask.window)?;
            let lease = span("a budget lease", ask.lease)?;
            let too_far = || Error::invalid("a budget time out of range");
            let cutoff = ask.now.checked_sub(window).ok_or_else(too_far)?;
            let expires_at = ask.now.checked_add(lease).ok_or_else(too_far)?;
            // A grant made now counts until a window past its lease: the
            // row matters until then at least.
            let idle_after = expires_at.checked_add(window).ok_or_else(too_far)?;
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO rate_budgets (key, touched, idle_after) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET touched = excluded.touched, idle_after = CASE \
                 WHEN rate_budgets.idle_after IS NULL OR rate_budgets.idle_after < excluded.idle_after \
                 THEN excluded.idle_after ELSE rate_budgets.idle_after END",
            )
            .bind(ask.key)
            .bind(Ts(ask.now))
            .bind(Ts(idle_after))
            .execute(&mut *tx)
            .await?;
            if let Some((id, used)) = ask.release {
                sqlx::query("UPDATE rate_grants SET n = CASE WHEN n > $3 THEN $3 ELSE n END WHERE key = $1 AND id = $2")
                    .bind(ask.key)
                    .bind(id)
                    .bind(i64::from(used))
                    .execute(&mut *tx)
                    .await?;
            }
            // Grants past their lease by a whole window count no more.
            sqlx::query("DELETE FROM rate_grants WHERE key = $1 AND expires_at <= $2")
                .bind(ask.key)
                .bind(Ts(cutoff))
                .execute(&mut *tx)
                .await?;
            let (spent, first): (i64, Option<Ts>) =
                sqlx::query_as("SELECT COALESCE(SUM(n), 0), MIN(expires_at) FROM rate_grants WHERE key = $1 AND n > 0")
                    .bind(ask.key)
                    .fetch_one(&mut *tx)
                    .await?;
            let left = (i64::from(ask.requests) - spent).max(0);
            let granted = u32::try_from(left.min(i64::from(ask.want))).unwrap_or(0);
            let grant = if granted > 0 {
                let id = Uuid::new_v4();
                sqlx::query("INSERT INTO rate_grants (key, id, expires_at, n) VALUES ($1, $2, $3, $4)")
                    .bind(ask.key)
                    .bind(id)
                    .bind(Ts(expires_at))
                    .bind(i64::from(granted))
                    .execute(&mut *tx)
                    .await?;
                BudgetGrant { id: Some(id), granted, expires_at, retry_at: None }
            } else {
                // The oldest grant stops counting one window after its lease.
                let free = first.map_or(expires_at, |f| f.0).checked_add(window).ok_or_else(too_far)?;
                BudgetGrant { id: None, granted: 0, expires_at: ask.now, retry_at: Some(free.max(ask.now)) }
            };
            tx.commit().await?;
            Ok(grant)
        }

        async fn pause_budget(&self, key: &str, until: OffsetDateTime, now: OffsetDateTime) -> Result<()> {
            crate::check::label("budget key", key, MAX_BUDGET_KEY_LEN)?;
            let mut w = self.write_one().await?;
            sqlx::query(
                "INSERT INTO rate_budgets (key, touched, paused_until, idle_after) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (key) DO UPDATE SET touched = excluded.touched, paused_until = CASE \
                 WHEN rate_budgets.paused_until IS NULL OR rate_budgets.paused_until < excluded.paused_until \
                 THEN excluded.paused_until ELSE rate_budgets.paused_until END, idle_after = CASE \
                 WHEN rate_budgets.idle_after IS NULL OR rate_budgets.idle_after < excluded.idle_after \
                 THEN excluded.idle_after ELSE rate_budgets.idle_after END",
            )
            .bind(key)
            .bind(Ts(now))
            .bind(Ts(until))
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(())
        }

        async fn purge_idle_budgets(&self, now: OffsetDateTime) -> Result<u64> {
            let untracked = now.checked_sub(UNTRACKED_IDLE).ok_or_else(|| Error::invalid("a budget time out of range"))?;
            // Their grants go with them (`ON DELETE CASCADE`).
            let mut w = self.write_one().await?;
            let purged = sqlx::query(
                "DELETE FROM rate_budgets WHERE idle_after < $1 OR (idle_after IS NULL AND touched < $2)",
            )
            .bind(Ts(now))
            .bind(Ts(untracked))
            .execute(&mut *w)
            .await?
            .rows_affected();
            w.commit().await?;
            Ok(purged)
        }

        async fn budget_pauses(&self, now: OffsetDateTime) -> Result<Vec<(String, OffsetDateTime)>> {
            let rows: Vec<(String, Ts)> =
                sqlx::query_as("SELECT key, paused_until FROM rate_budgets WHERE paused_until > $1")
                    .bind(Ts(now))
                    .fetch_all(self.read())
                    .await?;
            Ok(rows.into_iter().map(|(k, t)| (k, t.0)).collect())
        }
    }
}
