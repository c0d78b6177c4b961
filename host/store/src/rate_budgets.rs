//! The rate-limit governor's budgets shared by every process of one
//! deployment: slices of a declared rule's budget, and the pauses processes
//! learned from providers.
//!
//! A declared rule allows `requests` calls in any `window`. A process asks
//! for a slice of `want` calls; the store grants up to what is left and
//! records the grant as `n` calls usable until `expires_at = now + lease`.
//! A grant counts against the rule while `expires_at > now - window`, that
//! is until one window after its lease ends, however early its calls were
//! made. That makes the budget exact:
//!
//! Take any interval `[t, t + window)` and the grants whose calls fall in
//! it; let G be the one granted last (grants of one key are serial). Each
//! such grant J made a call at or after `t`, before its expiry, so
//! `expires_J >= t`; G was granted before its own call in the interval, so
//! `now_G < t + window`. Hence `expires_J >= t > now_G - window`: every one
//! of them was counted when G was granted, and that grant kept the count,
//! G included, within `requests`. Shrinking a grant to the calls it made
//! (when its holder is done with it) lowers no count below what was spent.
//!
//! The bound holds while the processes' clocks agree (`now` is the
//! caller's); the governor widens the window by a margin that also covers
//! network jitter.

mod sql;

use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// Longest budget key, in characters.
pub const MAX_BUDGET_KEY_LEN: usize = 400;

/// A request for a slice of a rule's budget.
#[derive(Debug, Clone, Copy)]
pub struct BudgetAsk<'a> {
    /// The rule's key (what it counts and the rule itself).
    pub key: &'a str,
    /// Calls the rule allows per window.
    pub requests: u32,
    /// The rule's window.
    pub window: Duration,
    /// Calls wanted (at least one).
    pub want: u32,
    /// How long the slice may be spent.
    pub lease: Duration,
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// The caller's previous slice of this key, done with, and the calls
    /// it made: its grant shrinks to them.
    pub release: Option<(Uuid, u32)>,
}

/// The answer to a [`BudgetAsk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetGrant {
    /// The grant's id (to release it later); `None` when nothing was granted.
    pub id: Option<Uuid>,
    /// Calls granted: from 1 to `want`, or 0 when the budget is spent.
    pub granted: u32,
    /// Until when the granted calls may be made.
    pub expires_at: OffsetDateTime,
    /// When nothing was granted: when calls next come free.
    pub retry_at: Option<OffsetDateTime>,
}

/// Shared rate-limit budgets and learned pauses.
#[async_trait]
pub trait RateBudgetStore {
    /// Grants a slice of a rule's budget: see the module documentation.
    async fn take_budget(&self, ask: BudgetAsk<'_>) -> Result<BudgetGrant>;

    /// Records that calls under `key` pause until `until` (a later pause
    /// already recorded stays).
    async fn pause_budget(&self, key: &str, until: OffsetDateTime, now: OffsetDateTime) -> Result<()>;

    /// The pauses still running at `now`, by key.
    async fn budget_pauses(&self, now: OffsetDateTime) -> Result<Vec<(String, OffsetDateTime)>>;

    /// Removes the keys that no longer matter at `now` (each grant a window
    /// past its lease, the pause over), with their grants; how many. A key
    /// in use again is simply made anew.
    async fn purge_idle_budgets(&self, now: OffsetDateTime) -> Result<u64>;
}

/// How long after it was last touched a key from before `idle_after` was
/// kept is purged.
const UNTRACKED_IDLE: time::Duration = time::Duration::days(30);

/// A duration as the statements take it, refused when out of range.
fn span(what: &str, d: Duration) -> Result<time::Duration> {
    time::Duration::try_from(d).map_err(|_| crate::Error::invalid(format!("{what} is too long")))
}
