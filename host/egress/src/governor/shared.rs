//! Budgets shared by every process of a deployment (on PostgreSQL, several
//! `weft` processes send to one provider): a process spends a declared
//! rule's budget in slices the [`SharedBudget`] grants, and tells it the
//! pauses it learns so the other processes pause too.
//!
//! The egress crate knows no store: the server implements [`SharedBudget`]
//! with one. Slices make the budget exact across processes (the store's
//! documentation has the proof) without a store round trip per call: a
//! process asks for `want` calls usable for a short lease, spends them
//! locally, and on its next ask releases what it did not spend. `want`
//! adapts: it doubles while slices run out before their lease ends (a busy
//! caller), up to a quarter of the rule, and falls back to the calls the
//! last lease saw (a quiet caller reserves little). A process that dies
//! leaves its last grant counted whole until it ages out: conservative.
//!
//! Learned pauses reach the other processes through the store within one
//! sync interval (the server's loop calls [`Governor::sync_pauses`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Governor, Rule, scaled};

/// An error of the shared budget's storage.
pub type BudgetError = Box<dyn std::error::Error + Send + Sync>;

/// A request for a slice of a rule's budget (see the store's `take_budget`).
#[derive(Debug, Clone, Copy)]
pub struct SliceAsk<'a> {
    /// The rule's key: the bucket's key (project, integration, connection
    /// joined by `/`) and the rule.
    pub key: &'a str,
    /// Calls the rule allows per window.
    pub requests: u32,
    /// The window, with the governor's margin.
    pub window: Duration,
    /// Calls wanted (at least one).
    pub want: u32,
    /// How long the granted calls may be made.
    pub lease: Duration,
    /// This process's clock.
    pub now: SystemTime,
    /// The previous slice of this key, done with, and the calls it made.
    pub release: Option<(u128, u32)>,
}

/// A slice granted (or refused, with `granted` 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceGrant {
    /// The grant, to release later.
    pub id: Option<u128>,
    /// Calls granted (0: the budget is spent).
    pub granted: u32,
    /// When nothing was granted: how long until calls come free.
    pub retry_after: Option<Duration>,
}

/// A rate-limit budget every process of a deployment shares.
#[async_trait]
pub trait SharedBudget: Send + Sync {
    /// Grants a slice of a rule's budget.
    async fn take(&self, ask: SliceAsk<'_>) -> Result<SliceGrant, BudgetError>;
    /// Records a learned pause of a bucket (keyed like [`SliceAsk::key`]
    /// without the rule).
    async fn pause(&self, key: &str, until: SystemTime) -> Result<(), BudgetError>;
    /// The pauses still running, by bucket key.
    async fn pauses(&self) -> Result<Vec<(String, SystemTime)>, BudgetError>;
}

/// One rule's slice in this process.
#[derive(Default)]
pub(super) struct Slice {
    id: Option<u128>,
    granted: u32,
    left: u32,
    expires: Option<Instant>,
    /// Calls to ask for next (0: not asked yet).
    want: u32,
    /// After a refusal: the store is not asked again before the first
    /// instant, and calls are told to wait until the second.
    refused: Option<(Instant, Instant)>,
}

/// A unit spent from a slice, to give back if the call is refused after all.
pub(super) struct Unit {
    slice: Arc<tokio::sync::Mutex<Slice>>,
    id: Option<u128>,
}

/// The store's form of a bucket key: NUL (which none of the parts holds)
/// becomes `/` (which none holds either: ids are UUIDs, integration types
/// are letters, digits, `-`, `_` and `.`).
pub(super) fn store_key(key: &str) -> String {
    key.replace('\0', "/")
}

/// The bucket key of a store key.
pub(super) fn local_key(key: &str) -> String {
    key.replace('/', "\0")
}

impl Governor {
    /// Spends one call of `rule`'s shared budget under bucket `key`, from
    /// this process's slice or a new one.
    pub(super) async fn take_unit(&self, shared: &dyn SharedBudget, key: &str, rule: Rule) -> Result<Unit, Duration> {
        let (requests, window) = scaled(rule);
        let rule_key = format!("{}/{}per{}ms", store_key(key), requests, window.as_millis());
        let cell = {
            let mut slices = self.slices.lock().unwrap_or_else(|p| p.into_inner());
            if slices.len() >= self.config.max_buckets {
                slices.retain(|_, s| Arc::strong_count(s) > 1);
            }
            slices.entry(rule_key.clone()).or_default().clone()
        };
        let mut slice = cell.lock().await;
        let now = Instant::now();
        let live = slice.expires.is_some_and(|e| now < e);
        if live && slice.left > 0 {
            slice.left -= 1;
            return Ok(Unit { id: slice.id, slice: cell.clone() });
        }
        if let Some((ask_again, free)) = slice.refused
            && now < ask_again
        {
            return Err(free.saturating_duration_since(now).max(Duration::from_millis(1)));
        }
        let cap = (requests / 4).max(1);
        let used = slice.granted - slice.left;
        slice.want = match slice.want {
            0 => 1,
            // Spent before the lease ended: a busy caller.
            want if live => (want * 2).min(cap),
            // The lease ended: ask for about what it saw.
            _ => used.clamp(1, cap),
        };
        // A grant counts for its lease plus a window: a short window gets
        // a short lease, or grants would hold its budget twice as long.
        let lease = self.config.slice_lease.min(window / 10).max(Duration::from_millis(1));
        let ask = SliceAsk {
            key: &rule_key,
            requests,
            window,
            want: slice.want,
            lease,
            now: SystemTime::now(),
            release: slice.id.map(|id| (id, used)),
        };
        // The lease is counted from before the ask: it ends here no later
        // than in the store.
        let sent = Instant::now();
        match shared.take(ask).await {
            Ok(grant) if grant.granted > 0 => {
                *slice = Slice {
                    id: grant.id,
                    granted: grant.granted,
                    left: grant.granted - 1,
                    expires: Some(sent + lease),
                    want: slice.want,
                    refused: None,
                };
                Ok(Unit { id: grant.id, slice: cell.clone() })
            }
            Ok(grant) => {
                let wait = grant.retry_after.unwrap_or(self.config.default_pause).max(Duration::from_millis(1));
                // Spent: ask again after a lease at the latest (another
                // process may release calls it did not make), not per call.
                let refused = Some((sent + wait.min(lease), sent + wait));
                *slice = Slice { want: slice.want, refused, ..Slice::default() };
                Err(wait)
            }
            Err(error) => {
                // Fail closed: an unknown budget may be spent.
                tracing::warn!(key = %rule_key, %error, "the shared rate-limit budget is unreachable; the call waits");
                Err(self.config.shared_error_wait)
            }
        }
    }

    /// Gives back a unit whose call was refused after all, if its slice is
    /// still the one it came from.
    pub(super) async fn give_back(&self, unit: Unit) {
        let mut slice = unit.slice.lock().await;
        if slice.id == unit.id && slice.expires.is_some_and(|e| Instant::now() < e) {
            slice.left += 1;
        }
    }

    /// Takes in the pauses other processes learned (the server calls this
    /// every [`super::GovernorConfig::pause_sync`]).
    pub async fn sync_pauses(&self) {
        let Some(shared) = &self.shared else { return };
        match shared.pauses().await {
            Ok(pauses) => {
                let (now, wall) = (Instant::now(), SystemTime::now());
                for (key, until) in pauses {
                    if let Ok(left) = until.duration_since(wall) {
                        self.pause_local(&local_key(&key), now + left.min(self.config.max_learned_pause), now);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "reading the shared rate-limit pauses failed"),
        }
    }

    /// Records a learned pause in the shared budget, in the background.
    pub(super) fn share_pause(&self, key: &str, pause: Duration) {
        let (Some(shared), Ok(runtime)) = (self.shared.clone(), tokio::runtime::Handle::try_current()) else { return };
        let key = store_key(key);
        let until = SystemTime::now() + pause;
        runtime.spawn(async move {
            if let Err(error) = shared.pause(&key, until).await {
                tracing::warn!(%error, "recording a rate-limit pause for the other processes failed");
            }
        });
    }
}

#[cfg(test)]
mod tests;
