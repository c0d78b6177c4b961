//! The history's retention: executions that ended longer ago than the
//! retention (90 days by default) are deleted with their steps, in batches,
//! once an hour and at start. Every process may sweep; a deletion is
//! idempotent, so two processes sweeping at once only share the work.

use std::time::Duration;

use super::{Engine, now};

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(3600);

/// Executions deleted per statement.
const BATCH: u32 = 1000;

/// How long integration trigger events are kept (and a provider's event id
/// recognised as a duplicate): a week, past the three days providers retry
/// a delivery for.
const EVENT_RETENTION: time::Duration = time::Duration::days(7);

impl Engine {
    /// Sweeps until `stop` says so; returns at once when history is kept
    /// for ever.
    pub(crate) async fn keep_history(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(keep) = self.deps.settings.retention else { return };
        let Ok(keep) = time::Duration::try_from(keep) else { return };
        while !*stop.borrow() {
            let cutoff = now() - keep;
            let mut deleted = 0;
            loop {
                match self.deps.store.purge_executions(cutoff, BATCH).await {
                    Ok(n) => {
                        deleted += n;
                        if n < u64::from(BATCH) || *stop.borrow() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the task history's retention sweep failed; retrying later");
                        break;
                    }
                }
            }
            if deleted > 0 {
                tracing::info!(deleted, ended_before = %cutoff, "old workflow executions deleted (history retention)");
            }
            let events_before = now() - EVENT_RETENTION;
            match self.deps.store.purge_trigger_events(events_before, BATCH * 10).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(deleted = n, received_before = %events_before, "old integration trigger events deleted")
                }
                Err(e) => tracing::warn!(error = %e, "purging old integration trigger events failed; retrying later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
