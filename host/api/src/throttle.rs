//! Throttling of failed authentications per client address: after too many
//! failures in a window, that address gets 429 (with `Retry-After`) before
//! any credential is even looked at, so keys and tokens cannot be guessed at
//! speed. Other addresses are unaffected.
//!
//! And [`ProjectQuota`]: a number of requests per window per project (the
//! Task History API's 1,000 per 10 minutes), counted in this process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses remembered at most; past this, finished windows are dropped.
const MAX_TRACKED: usize = 100_000;

/// Failure counts per client address in fixed windows.
pub struct AuthThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthThrottle {
    /// Allows `max_failures` failed authentications per `window` per address.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self { max_failures, window, failures: Mutex::default() }
    }

    /// `Err(retry_after)` when `ip` is over its failure budget.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&ip) {
            Some((start, count)) if *count >= self.max_failures && start.elapsed() < self.window => {
                Err(self.window.saturating_sub(start.elapsed()))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed authentication from `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED {
            let window = self.window;
            failures.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = failures.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// Requests per project in fixed windows: the first request of a project
/// opens its window; past `limit` in it, requests are refused until it ends.
pub struct ProjectQuota {
    limit: u32,
    window: Duration,
    used: Mutex<HashMap<weft_store::ProjectId, (Instant, u32)>>,
}

impl ProjectQuota {
    /// Allows `limit` requests per `window` per project.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, used: Mutex::default() }
    }

    /// Counts one request of `project`; `Err(retry_after)` when it is over
    /// its quota (and then it is not counted).
    pub fn take(&self, project: weft_store::ProjectId) -> Result<(), Duration> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.len() >= MAX_TRACKED {
            let window = self.window;
            used.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = used.entry(project).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        if entry.1 >= self.limit {
            return Err(self.window.saturating_sub(entry.0.elapsed()).max(Duration::from_secs(1)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_over_its_quota_waits_for_the_next_window() {
        let q = ProjectQuota::new(2, Duration::from_millis(50));
        let (a, b) = (weft_store::ProjectId::new(), weft_store::ProjectId::new());
        assert!(q.take(a).is_ok() && q.take(a).is_ok());
        let wait = q.take(a).unwrap_err();
        assert!(wait >= Duration::from_secs(1), "Retry-After is at least a second");
        assert!(q.take(b).is_ok(), "other projects are unaffected");
        std::thread::sleep(Duration::from_millis(60));
        assert!(q.take(a).is_ok(), "the next window");
    }

    #[test]
    fn blocks_after_the_budget_per_address_and_recovers() {
        let t = AuthThrottle::new(3, Duration::from_millis(50));
        let (bad, good): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(t.check(bad).is_ok());
            t.record_failure(bad);
        }
        assert!(t.check(bad).is_err());
        assert!(t.check(good).is_ok(), "other addresses are unaffected");
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.check(bad).is_ok(), "the window passes");
    }
}
