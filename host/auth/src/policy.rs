//! Token policy and the clock it is judged by.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a user token must satisfy beyond its signature.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Longest `exp - iat` accepted.
    pub max_lifetime: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`; explicit, not a
    /// library default.
    pub leeway: Duration,
    /// Largest token accepted, in bytes.
    pub max_token_bytes: usize,
    /// Verified tokens remembered (0 disables the cache).
    pub cache_entries: usize,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            max_lifetime: Duration::from_secs(24 * 3600),
            leeway: Duration::from_secs(30),
            max_token_bytes: 8 * 1024,
            cache_entries: 10_000,
        }
    }
}

/// Business time, injectable so tests can move it.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// A clock that moves only when told: business time in tests (state
/// expiry, refresh margins, give-up days).
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock showing the system time now.
    pub fn starting_now() -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(SystemClock.now_unix()))
    }

    /// Moves the clock forward by `secs` (backward when negative).
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
