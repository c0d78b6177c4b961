//! The rate-limit governor: keeps Weft's calls to a provider within the
//! limits the plugin declares and the limits the provider reveals at run
//! time, so callers get an immediate 429 with a wait instead of a provider
//! error (or a ban).
//!
//! Buckets are per (project, integration) for limits on the whole app and
//! per (project, integration, connection) for limits on one account; the
//! project is part of every key, so one tenant's traffic never spends or
//! learns another's budget. Declared limits are sliding windows (at most
//! `requests` in any `per` interval, exactly, not a token bucket that lets
//! twice the rate through at the edge of a window). Learned limits are
//! pauses: `Retry-After` on a 429 or 503, and a remaining count of zero
//! with a reset time (`X-RateLimit-*`, `RateLimit-*`), stop calls on that
//! account until the time passes.
//!
//! The proxy, workflow request steps and plugin HTTP (ActionKit) share one
//! [`Governor`] per process. When several processes share one database
//! (PostgreSQL), the server gives it a [`SharedBudget`]: declared limits
//! then hold across the processes and learned pauses reach them all (see
//! [`shared`]); on SQLite there is one process and the local count is all.

pub mod shared;

pub use shared::{BudgetError, SharedBudget, SliceAsk, SliceGrant};

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Which calls a declared limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every call of the app (project) to the integration.
    App,
    /// The calls made with one connected account.
    Connection,
}

/// A declared limit: at most `requests` calls in any `per` interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// What the limit counts.
    pub scope: Scope,
    /// Calls allowed per interval (0 refuses every call).
    pub requests: u32,
    /// The interval.
    pub per: Duration,
}

/// Who is calling: the keys of the buckets a call spends.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The project (the app).
    pub project: &'a str,
    /// The integration (type or id), within the project.
    pub integration: &'a str,
    /// The connected account, when the call uses one.
    pub connection: Option<&'a str>,
}

/// Settings of the governor.
#[derive(Debug, Clone, Copy)]
pub struct GovernorConfig {
    /// Longest pause a provider header can impose (a bad header must not
    /// stop an integration for days).
    pub max_learned_pause: Duration,
    /// Pause after a 429 that says nothing about when to retry.
    pub default_pause: Duration,
    /// Buckets kept; idle ones are dropped past this.
    pub max_buckets: usize,
    /// How long a slice of a shared budget may be spent.
    pub slice_lease: Duration,
    /// The wait a call is told when the shared budget cannot be read.
    pub shared_error_wait: Duration,
    /// How often the server takes in the pauses other processes learned.
    pub pause_sync: Duration,
}

impl Default for GovernorConfig {
    fn default() -> Self {
        Self {
            max_learned_pause: Duration::from_secs(3600),
            default_pause: Duration::from_secs(1),
            max_buckets: 100_000,
            slice_lease: Duration::from_secs(1),
            shared_error_wait: Duration::from_secs(1),
            pause_sync: Duration::from_secs(1),
        }
    }
}

/// The largest window kept exactly; larger limits are scaled down to this
/// many calls over a proportionally shorter interval (same rate, stricter).
const MAX_WINDOW: u32 = 4_096;

/// A bucket's key: project, integration and, for an account's bucket, the
/// connection, joined by NUL (which none of them holds).
type Key = Box<str>;

/// The keys of a call's buckets, in one string: the app's key is a prefix
/// of the account's, and both are looked up as `&str` (no key is allocated
/// unless a bucket is created).
struct Keys {
    text: String,
    app_len: usize,
}

impl Keys {
    fn new(subject: &Subject<'_>) -> Self {
        let connection = subject.connection.unwrap_or_default();
        let mut text = String::with_capacity(subject.project.len() + subject.integration.len() + connection.len() + 2);
        text.push_str(subject.project);
        text.push('\0');
        text.push_str(subject.integration);
        let app_len = text.len();
        if let Some(c) = subject.connection {
            text.push('\0');
            text.push_str(c);
        }
        Self { text, app_len }
    }

    fn app(&self) -> &str {
        &self.text[..self.app_len]
    }

    /// The account's key, when the call names an account (then the text
    /// goes on past the app's key).
    fn connection(&self) -> Option<&str> {
        (self.text.len() > self.app_len).then_some(self.text.as_str())
    }

    /// The buckets a call may spend, with the scope of rules each counts.
    fn scoped(&self) -> [(Option<&str>, Scope); 2] {
        [(Some(self.app()), Scope::App), (self.connection(), Scope::Connection)]
    }
}

/// The bucket under `key`, created empty when missing.
fn bucket<'b>(buckets: &'b mut HashMap<Key, Bucket>, key: &str) -> &'b mut Bucket {
    if !buckets.contains_key(key) {
        buckets.insert(key.into(), Bucket::default());
    }
    buckets.get_mut(key).expect("inserted above")
}

#[derive(Default)]
struct Bucket {
    /// Start times of the calls in the current window, oldest first.
    calls: VecDeque<Instant>,
    /// No calls before this (learned from the provider).
    paused_until: Option<Instant>,
    last_used: Option<Instant>,
}

/// Shared by every outbound path of one process.
pub struct Governor {
    buckets: Mutex<HashMap<Key, Bucket>>,
    config: GovernorConfig,
    /// The budget shared with the deployment's other processes, if any.
    shared: Option<Arc<dyn SharedBudget>>,
    /// This process's slices of shared budgets, by rule key.
    slices: Mutex<HashMap<String, Arc<tokio::sync::Mutex<shared::Slice>>>>,
}

impl Default for Governor {
    fn default() -> Self {
        Self::new(GovernorConfig::default())
    }
}

impl Governor {
    /// A governor with no buckets yet.
    pub fn new(config: GovernorConfig) -> Self {
        Self { buckets: Mutex::new(HashMap::new()), config, shared: None, slices: Mutex::new(HashMap::new()) }
    }

    /// A governor whose declared limits and learned pauses hold across
    /// every process sharing `budget`.
    pub fn with_shared(config: GovernorConfig, budget: Arc<dyn SharedBudget>) -> Self {
        Self { shared: Some(budget), ..Self::new(config) }
    }

    /// Whether it shares its budgets with other processes.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Its settings.
    pub fn config(&self) -> &GovernorConfig {
        &self.config
    }

    /// Admits one call now, spending it from every bucket that applies, or
    /// says how long to wait (nothing is spent then). With a shared budget,
    /// this process's count is checked first and the shared budget only
    /// after it, from this process's slice (the store is asked only for a
    /// new slice).
    pub async fn admit(&self, subject: &Subject<'_>, rules: &[Rule]) -> Result<(), Duration> {
        let Some(shared) = self.shared.as_deref().filter(|_| !rules.is_empty()) else {
            return self.admit_at(subject, rules, Instant::now());
        };
        self.check_at(subject, rules, Instant::now())?;
        let keys = Keys::new(subject);
        let mut units = Vec::with_capacity(rules.len());
        let mut refused = None;
        for rule in rules {
            let key = match rule.scope {
                Scope::App => Some(keys.app()),
                Scope::Connection => keys.connection(),
            };
            let Some(key) = key else { continue };
            match self.take_unit(shared, key, *rule).await {
                Ok(unit) => units.push(unit),
                Err(wait) => {
                    refused = Some(wait);
                    break;
                }
            }
        }
        let refused = refused.map_or_else(|| self.admit_at(subject, rules, Instant::now()).err(), Some);
        let Some(wait) = refused else { return Ok(()) };
        for unit in units {
            self.give_back(unit).await;
        }
        Err(wait)
    }

    /// Whether [`Governor::admit_at`] would admit a call, spending nothing.
    fn check_at(&self, subject: &Subject<'_>, rules: &[Rule], now: Instant) -> Result<(), Duration> {
        self.count_at(subject, rules, now, false)
    }

    /// [`Governor::admit`] at a given instant, on this process's count only.
    pub fn admit_at(&self, subject: &Subject<'_>, rules: &[Rule], now: Instant) -> Result<(), Duration> {
        self.count_at(subject, rules, now, true)
    }

    fn count_at(&self, subject: &Subject<'_>, rules: &[Rule], now: Instant, spend: bool) -> Result<(), Duration> {
        if rules.iter().any(|r| r.requests == 0) {
            return Err(self.config.max_learned_pause);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if rules.is_empty() && buckets.is_empty() {
            // No limit declared, none learned: nothing to check or count.
            return Ok(());
        }
        let keys = Keys::new(subject);
        if buckets.len() >= self.config.max_buckets {
            evict_idle(&mut buckets, now);
        }
        // Check every bucket first: a refused call spends nothing anywhere.
        let mut wait = Duration::ZERO;
        for (key, scope) in keys.scoped() {
            let Some(key) = key else { continue };
            let Some(bucket) = buckets.get_mut(key) else { continue };
            if let Some(until) = bucket.paused_until {
                if until > now {
                    wait = wait.max(until - now);
                } else {
                    bucket.paused_until = None;
                }
            }
            for rule in rules.iter().filter(|r| r.scope == scope) {
                wait = wait.max(window_wait(bucket, *rule, now));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        if !spend {
            return Ok(());
        }
        for (key, scope) in keys.scoped() {
            let Some(key) = key else { continue };
            let longest = rules.iter().filter(|r| r.scope == scope).map(|r| scaled(*r).0).max();
            if longest.is_none() && !buckets.contains_key(key) {
                // Nothing to count and nothing learned: no bucket needed.
                continue;
            }
            let bucket = bucket(&mut buckets, key);
            bucket.last_used = Some(now);
            if let Some(longest) = longest {
                bucket.calls.push_back(now);
                while bucket.calls.len() > longest as usize {
                    bucket.calls.pop_front();
                }
            }
        }
        Ok(())
    }

    /// Learns from a provider's answer: a pause after `Retry-After` on 429
    /// or 503, or after a remaining count of zero with its reset time.
    pub fn learn<H: Headers + ?Sized>(&self, subject: &Subject<'_>, status: u16, headers: &H) {
        // The clocks are read only when the answer asks for a pause (most
        // say nothing about limits).
        self.learn_with(subject, status, headers, Instant::now, std::time::SystemTime::now);
    }

    /// [`Governor::learn`] at given instants (`wall` reads epoch resets).
    pub fn learn_at<H: Headers + ?Sized>(
        &self,
        subject: &Subject<'_>,
        status: u16,
        headers: &H,
        now: Instant,
        wall: std::time::SystemTime,
    ) {
        self.learn_with(subject, status, headers, || now, || wall);
    }

    fn learn_with<H: Headers + ?Sized>(
        &self,
        subject: &Subject<'_>,
        status: u16,
        headers: &H,
        now: impl FnOnce() -> Instant,
        wall: impl Fn() -> std::time::SystemTime,
    ) {
        let Some(pause) = learned_pause(status, headers, wall, self.config.default_pause) else { return };
        let pause = pause.min(self.config.max_learned_pause);
        let now = now();
        let keys = Keys::new(subject);
        let key = keys.connection().unwrap_or(keys.app());
        self.pause_local(key, now + pause, now);
        self.share_pause(key, pause);
        tracing::info!(
            project = subject.project,
            integration = subject.integration,
            pause_ms = pause.as_millis() as u64,
            status,
            "provider rate limit learned; calls pause"
        );
    }
}

impl Governor {
    /// Pauses the bucket under `key` until `until` (a later pause stays).
    fn pause_local(&self, key: &str, until: Instant, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = bucket(&mut buckets, key);
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |u| u.max(until)));
        bucket.last_used = Some(now);
    }
}

/// A rule as the window holds it: at most [`MAX_WINDOW`] calls, over the
/// interval plus a margin. Calls admitted exactly one interval apart can
/// arrive closer together at the provider (network and scheduling jitter),
/// which counts arrivals; the margin (a tenth of the interval, at most a
/// second) keeps the provider's count at or under the limit.
fn scaled(rule: Rule) -> (u32, Duration) {
    let per = rule.per + (rule.per / 10).min(Duration::from_secs(1));
    if rule.requests <= MAX_WINDOW {
        return (rule.requests, per);
    }
    (MAX_WINDOW, per.mul_f64(f64::from(MAX_WINDOW) / f64::from(rule.requests)))
}

/// How long until `rule` admits one more call on `bucket`.
fn window_wait(bucket: &Bucket, rule: Rule, now: Instant) -> Duration {
    let (requests, per) = scaled(rule);
    let in_window = bucket.calls.iter().rev().take_while(|t| now.duration_since(**t) < per).count();
    if in_window < requests as usize {
        return Duration::ZERO;
    }
    // The call that leaves the window first is the `requests`-th newest.
    let oldest = bucket.calls[bucket.calls.len() - requests as usize];
    (oldest + per).saturating_duration_since(now).max(Duration::from_millis(1))
}

fn evict_idle(buckets: &mut HashMap<Key, Bucket>, now: Instant) {
    buckets.retain(|_, b| {
        b.paused_until.is_some_and(|u| u > now)
            || b.last_used.is_some_and(|t| now.duration_since(t) < Duration::from_secs(3600))
    });
    if buckets.len() >= 2 {
        // Still full of recent buckets: drop the least recently used half.
        let mut ages: Vec<_> = buckets.iter().map(|(k, b)| (b.last_used, k.clone())).collect();
        ages.sort_by_key(|(t, _)| *t);
        for (_, k) in ages.into_iter().take(buckets.len() / 2) {
            buckets.remove(&k);
        }
    }
}

fn header<'h, H: Headers + ?Sized>(headers: &'h H, name: &str) -> Option<&'h str> {
    headers.value(name).map(str::trim)
}

/// Response headers the governor reads: a streamed answer's map, or the
/// name-value pairs of a collected one.
pub trait Headers {
    /// The first value of `name` (lower case), if it is text.
    fn value(&self, name: &str) -> Option<&str>;
}

impl Headers for http::HeaderMap {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name)?.to_str().ok()
    }
}

impl Headers for [(String, String)] {
    fn value(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A reset value: seconds from now, or a Unix time when it is that large.
fn reset_delay(value: &str, wall: std::time::SystemTime) -> Option<Duration> {
    let n: f64 = value.parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    if n > 1_000_000_000.0 {
        let now = wall.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
        return Some(Duration::from_secs_f64((n - now).max(0.0)));
    }
    Some(Duration::from_secs_f64(n))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(value: &str, wall: std::time::SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(at.duration_since(wall).unwrap_or(Duration::ZERO))
}

/// The pause a provider's answer asks for, if any.
fn learned_pause<H: Headers + ?Sized>(
    status: u16,
    headers: &H,
    wall: impl Fn() -> std::time::SystemTime,
    default_pause: Duration,
) -> Option<Duration> {
    if matches!(status, 429 | 503)
        && let Some(wait) = header(headers, "retry-after").and_then(|v| retry_after(v, wall()))
    {
        return Some(wait);
    }
    for (remaining, reset) in [
        ("x-ratelimit-remaining", "x-ratelimit-reset"),
        ("ratelimit-remaining", "ratelimit-reset"),
        ("x-rate-limit-remaining", "x-rate-limit-reset"),
    ] {
        let exhausted = header(headers, remaining).and_then(|v| v.parse::<f64>().ok()).is_some_and(|n| n <= 0.0);
        if exhausted && let Some(wait) = header(headers, reset).and_then(|v| reset_delay(v, wall())) {
            return Some(wait);
        }
    }
    (status == 429).then_some(default_pause)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(conn: &str) -> Subject<'_> {
        Subject { project: "p1", integration: "slack", connection: Some(conn) }
    }

    const FIVE_PER_SEC: Rule = Rule { scope: Scope::Connection, requests: 5, per: Duration::from_secs(1) };

    #[test]
    fn a_sliding_window_never_admits_more_than_the_limit_in_any_interval() {
        let g = Governor::default();
        let start = Instant::now();
        let mut admitted = Vec::new();
        // A call attempt every 10 ms for 3 s.
        for i in 0..300u64 {
            let now = start + Duration::from_millis(i * 10);
            if g.admit_at(&subject("c1"), &[FIVE_PER_SEC], now).is_ok() {
                admitted.push(now);
            }
        }
        for (i, t) in admitted.iter().enumerate() {
            let in_window = admitted[i..].iter().take_while(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
            assert!(in_window <= 5, "{in_window} calls within one second from call {i}");
        }
        assert!(admitted.len() >= 13, "the limit is used, not starved: {}", admitted.len());
    }

    #[test]
    fn refusals_say_how_long_and_spend_nothing() {
        let g = Governor::default();
        let now = Instant::now();
        for _ in 0..5 {
            g.admit_at(&subject("c1"), &[FIVE_PER_SEC], now).unwrap();
        }
        let wait = g.admit_at(&subject("c1"), &[FIVE_PER_SEC], now + Duration::from_millis(200)).unwrap_err();
        assert_eq!(wait, Duration::from_millis(900), "one second, a tenth of margin, 200 ms gone");
        // Another account and another project have their own budgets.
        g.admit_at(&subject("c2"), &[FIVE_PER_SEC], now).unwrap();
        let other = Subject { project: "p2", ..subject("c1") };
        g.admit_at(&other, &[FIVE_PER_SEC], now).unwrap();
        assert!(g.admit_at(&subject("c1"), &[FIVE_PER_SEC], now + Duration::from_millis(1_100)).is_ok());
    }

    #[test]
    fn an_app_limit_spans_accounts() {
        let g = Governor::default();
        let rule = Rule { scope: Scope::App, requests: 3, per: Duration::from_secs(10) };
        let now = Instant::now();
        for c in ["a", "b", "c"] {
            g.admit_at(&subject(c), &[rule], now).unwrap();
        }
        assert!(g.admit_at(&subject("d"), &[rule], now).is_err());
    }

    #[test]
    fn learned_pauses_stop_calls_until_they_pass() {
        let g = Governor::default();
        let now = Instant::now();
        let wall = std::time::SystemTime::now();
        let h = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        g.learn_at(&subject("c1"), 429, h(&[("Retry-After", "2")]).as_slice(), now, wall);
        assert_eq!(g.admit_at(&subject("c1"), &[], now + Duration::from_millis(500)), Err(Duration::from_millis(1500)));
        assert!(g.admit_at(&subject("c2"), &[], now).is_ok(), "other accounts go on");
        assert!(g.admit_at(&subject("c1"), &[], now + Duration::from_secs(2)).is_ok());

        let epoch = wall.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 30;
        g.learn_at(
            &subject("c3"),
            200,
            h(&[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", &epoch.to_string())]).as_slice(),
            now,
            wall,
        );
        let wait = g.admit_at(&subject("c3"), &[], now).unwrap_err();
        assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30), "{wait:?}");
        g.learn_at(
            &subject("c4"),
            200,
            h(&[("RateLimit-Remaining", "3"), ("RateLimit-Reset", "9")]).as_slice(),
            now,
            wall,
        );
        assert!(g.admit_at(&subject("c4"), &[], now).is_ok(), "calls remain: no pause");
        g.learn_at(&subject("c5"), 429, h(&[("Retry-After", "999999999")]).as_slice(), now, wall);
        assert_eq!(g.admit_at(&subject("c5"), &[], now), Err(Duration::from_secs(3600)), "capped");
    }

    #[test]
    fn calls_without_limits_keep_no_bucket_until_one_is_learned() {
        let g = Governor::default();
        let now = Instant::now();
        for c in ["a", "b", "c"] {
            g.admit_at(&subject(c), &[], now).unwrap();
        }
        assert_eq!(g.buckets.lock().unwrap().len(), 0, "nothing to count, nothing kept");
        g.learn_at(&subject("a"), 429, &[("Retry-After".into(), "5".into())][..], now, std::time::SystemTime::now());
        assert_eq!(g.buckets.lock().unwrap().len(), 1);
        assert!(g.admit_at(&subject("a"), &[], now).is_err(), "the learned pause applies");
        // The app key is a prefix of the account key; they stay apart.
        let app_only = Subject { connection: None, ..subject("a") };
        assert!(g.admit_at(&app_only, &[], now).is_ok(), "the pause was the account's");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let wall = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(retry_after("7", wall), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(wall + Duration::from_secs(12));
        assert_eq!(retry_after(&date, wall), Some(Duration::from_secs(12)));
        assert_eq!(retry_after("soon", wall), None);
    }
}
