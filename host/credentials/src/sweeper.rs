//! Proactive refresh: a background sweep refreshes tokens that expire within
//! the margin before anyone needs them, each at a random delay so that many
//! tokens expiring together do not reach the provider at once.

use std::sync::Arc;
use std::time::Duration;

use crate::Result;
use crate::service::Credentials;

/// Most credentials one sweep picks up.
const SWEEP_BATCH: u32 = 500;

impl Credentials {
    /// One sweep: starts (jittered) refreshes of the credentials expiring
    /// within the margin and returns their handles, one per credential.
    pub async fn sweep_once(self: &Arc<Self>) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let now = self.now();
        let due = self.store.credentials_expiring(now + self.settings.refresh_margin, now, SWEEP_BATCH).await?;
        let jitter = self.settings.sweep_jitter;
        let mut handles = Vec::with_capacity(due.len());
        for (project, id) in due {
            let this = self.clone();
            let delay = random_delay(jitter);
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Err(e) = this.usable(project, id).await {
                    tracing::warn!(credential = %id, error = %e, "proactive refresh failed");
                }
            }));
        }
        if let Err(e) = self.store.purge_connect_states(now).await {
            tracing::warn!(error = %e, "purging expired authorizations failed");
        }
        Ok(handles)
    }

    /// Runs sweeps forever at the configured interval; spawn it.
    pub async fn run_sweeper(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.settings.sweep_interval + random_delay(self.settings.sweep_interval / 10)).await;
            if let Err(e) = self.sweep_once().await {
                tracing::warn!(error = %e, "refresh sweep failed");
            }
        }
    }
}

/// A uniformly random delay in `[0, max)`.
pub(crate) fn random_delay(max: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    if max.is_zero() || getrandom::getrandom(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(u64::from_le_bytes(bytes) % nanos)
}
