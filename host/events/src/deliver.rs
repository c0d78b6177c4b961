//! The delivery worker: the outbox's new events become deliveries, and due
//! deliveries are POSTed, each outcome recorded fenced on its lease.
//!
//! Any number of processes may run it on one database: dispatch marks an
//! event once (the others queue nothing for it), and a claim leases each
//! delivery to one worker. A worker that dies mid-send costs one repeated
//! attempt once its lease expires; the event's `id` lets a receiver drop
//! the repeat.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use time::OffsetDateTime;
use weft_egress::{Method, OutboundRequest};
use weft_store::{AttemptOutcome, ClaimedDelivery, Destination};

use crate::Destinations;

/// Events taken from the outbox per round.
const DISPATCH_BATCH: u32 = 100;

/// The most of an answer's body read (it is not kept).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The answer's status, when there was one.
    pub status: Option<u16>,
    /// Why it failed (no answer, or not a 2xx).
    pub error: Option<String>,
}

impl Attempt {
    /// A 2xx answer.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The wait before attempt `attempt + 1` after `attempt` failed ones:
/// `base × 2^(attempt-1)`, capped at `max`, plus up to a quarter of it at
/// random so that retries of many deliveries spread out.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let wait = base.saturating_mul(1u32 << exp).min(max);
    wait + random_below(wait / 4)
}

fn random_below(max: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    if max.is_zero() || getrandom::getrandom(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(u64::from_le_bytes(bytes) % nanos)
}

/// How often the worker forgets what is past the retention.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Rows of each kind forgotten per statement.
const PURGE_BATCH: u32 = 1000;

/// Now, at the microsecond (what the store keeps).
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

impl Destinations {
    /// Runs the worker until `stop` resolves: each round dispatches new
    /// events and sends the due deliveries, then waits `poll` (or less,
    /// when woken).
    pub async fn run(self: std::sync::Arc<Self>, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        let mut purged: Option<tokio::time::Instant> = None;
        loop {
            if purged.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                self.purge().await;
                purged = Some(tokio::time::Instant::now());
            }
            // A full batch may have more behind it: straight on, but still
            // heeding `stop`.
            let wait = if self.run_once().await { Duration::ZERO } else { self.deps.settings.poll };
            tokio::select! {
                () = &mut stop => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Forgets the deliveries and events older than the retention, a batch
    /// at a time (any process may do it; deleting twice is harmless).
    pub async fn purge(&self) {
        let Some(retention) = self.deps.settings.retention else { return };
        let Some(before) = time::Duration::try_from(retention).ok().and_then(|r| now().checked_sub(r)) else { return };
        loop {
            match self.deps.store.purge_event_outbox(before, PURGE_BATCH).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "old event deliveries and events forgotten"),
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "forgetting old event deliveries failed; next time");
                    return;
                }
            }
        }
    }

    /// One round: dispatches what the outbox holds and sends one batch of
    /// due deliveries; true when a full batch was found (more may wait).
    pub async fn run_once(&self) -> bool {
        let dispatched = self.dispatch().await;
        let sent = self.deliver().await;
        dispatched || sent
    }

    /// Queues the deliveries of the outbox's new events.
    async fn dispatch(&self) -> bool {
        let store = &self.deps.store;
        let events = match store.pending_events(DISPATCH_BATCH).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "reading the event outbox failed");
                return false;
            }
        };
        for event in &events {
            let body = crate::event::build(store.as_ref(), event, &self.deps.public_url).await;
            match store.dispatch_event(event, &body, now()).await {
                Ok(n) => {
                    tracing::debug!(event = %event.id, kind = %event.event_type, deliveries = n, "event dispatched")
                }
                Err(e) => tracing::warn!(event = %event.id, error = %e, "dispatching an event failed"),
            }
        }
        events.len() == DISPATCH_BATCH as usize
    }

    /// Sends the due deliveries side by side and records each outcome.
    async fn deliver(&self) -> bool {
        let s = &self.deps.settings;
        let claimed = match self.deps.store.claim_deliveries(now(), s.lease, s.batch).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming event deliveries failed");
                return false;
            }
        };
        let full = claimed.len() >= s.batch as usize;
        futures::future::join_all(claimed.iter().map(|c| self.deliver_one(c))).await;
        full
    }

    async fn deliver_one(&self, claimed: &ClaimedDelivery) {
        let s = &self.deps.settings;
        let d = &claimed.delivery;
        let attempt = self.attempt(&claimed.destination, &d.event).await;
        let outcome = match (attempt.delivered(), attempt.status) {
            (true, Some(status)) => AttemptOutcome::Delivered { status },
            _ => {
                let retry =
                    (d.attempts < s.max_attempts).then(|| now() + backoff(s.retry_base, s.max_retry_wait, d.attempts));
                AttemptOutcome::Failed {
                    status: attempt.status,
                    error: attempt.error.clone().unwrap_or_default(),
                    retry_at: retry,
                }
            }
        };
        match self.deps.store.record_attempt(claimed, outcome, s.disable_after, now()).await {
            Ok(r) if r.disabled => tracing::warn!(
                destination = %claimed.destination.id, failures = r.consecutive_failures,
                "event destination disabled after failed deliveries in a row"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(delivery = %d.id, error = %e, "recording a delivery attempt failed"),
        }
    }

    /// POSTs `event`, through `destination`'s template, to its URL.
    pub(crate) async fn attempt(&self, destination: &Destination, event: &Value) -> Attempt {
        let url = match weft_catalog::check_outbound_url(&destination.url, &self.deps.policy) {
            Ok(url) => url,
            Err(e) => return Attempt { status: None, error: Some(format!("the URL is refused: {e}")) },
        };
        let payload = Self::payload(destination, event);
        let (content_type, body) = match &payload {
            Value::String(text) => ("text/plain; charset=utf-8", Bytes::from(text.clone())),
            other => ("application/json", Bytes::from(other.to_string())),
        };
        let mut req = OutboundRequest::new(Method::Post, url);
        req.headers.push(("content-type".into(), content_type.into()));
        req.headers.push(("user-agent".into(), "Weft-Event-Destinations".into()));
        let headers = match self.header_values(destination) {
            Ok(headers) => headers,
            Err(e) => {
                tracing::error!(destination = %destination.id, error = %e, "a destination's headers do not open");
                return Attempt { status: None, error: Some("the destination's headers could not be opened".into()) };
            }
        };
        for (name, value) in &headers {
            // The operator's own credentials for the receiver (Authorization,
            // Cookie) are the host's to send: they bypass the caller hygiene
            // that drops them, which `check` already applied to the rest.
            if weft_egress::is_forbidden_request_header(name) {
                req.injected_headers.push((name.clone(), value.clone()));
            } else {
                req.headers.push((name.clone(), value.clone()));
            }
        }
        req.body = Some(body);
        req.timeout = Some(self.deps.settings.timeout);
        req.max_response_bytes = Some(MAX_ANSWER_BYTES);
        match self.deps.egress.send(req).await {
            Ok(resp) if (200..300).contains(&resp.status) => Attempt { status: Some(resp.status), error: None },
            Ok(resp) => Attempt { status: Some(resp.status), error: Some(format!("answered HTTP {}", resp.status)) },
            // A body over the cap still answered: its status counts.
            Err(e) => Attempt { status: None, error: Some(e.to_string()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for (attempt, wait) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (40, 1000)] {
            let got = backoff(base, max, attempt);
            let wait = Duration::from_millis(wait);
            assert!(got >= wait && got <= wait + wait / 4, "attempt {attempt}: {got:?}");
        }
        assert_eq!(backoff(Duration::ZERO, max, 3), Duration::ZERO);
    }

    #[test]
    fn only_2xx_is_delivered() {
        assert!(Attempt { status: Some(204), error: None }.delivered());
        assert!(!Attempt { status: Some(302), error: None }.delivered());
        assert!(!Attempt { status: None, error: Some("timed out".into()) }.delivered());
    }
}
