//! Event destinations: where a project's monitoring events are sent (today
//! webhooks), and the durable outbox of their deliveries.
//!
//! Events themselves are rows of `project_events` (see
//! [`CredentialStore::insert_event`](crate::CredentialStore::insert_event));
//! a `workflow_failure` is written by the queue in the transaction that
//! marks its execution FAILED. A dispatcher takes the events not yet
//! dispatched ([`EventDestinationStore::pending_events`]), builds each one's
//! body, and queues one delivery per enabled destination subscribed to its
//! type ([`EventDestinationStore::dispatch_event`]), in one transaction that
//! also marks the event dispatched. Deliveries are claimed under a lease,
//! sent, and their outcome recorded fenced on that lease; a destination
//! that answers badly too many times in a row is disabled there, in the
//! same transaction. So a restart at any point loses no event and no
//! delivery: the worst it costs is one delivery sent twice.
//!
//! The store checks the shape of what it keeps (a known kind, non-empty
//! URL, bounded JSON); what a URL may be, which event types exist and what
//! a payload template may say is the caller's check.

mod sql;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::id_type;
use crate::{Error, ProjectEvent, ProjectId, Result};

id_type!(
    /// An event destination of a project.
    DestinationId
);
id_type!(
    /// One delivery of one event to one destination.
    DeliveryId
);

/// The longest destination URL stored, in characters.
pub const MAX_DESTINATION_URL_LEN: usize = 2048;

/// The most headers a destination may send.
pub const MAX_DESTINATION_HEADERS: usize = 32;

/// The most destinations listed at once, and the most deliveries.
pub const MAX_DESTINATIONS_PAGE: u32 = 500;

/// What a destination sends, and where (all of it replaced by an update).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DestinationConfig {
    /// The URL events are POSTed to.
    pub url: String,
    /// Headers sent with each delivery, by name: with their values when
    /// not sealed, else with empty values (the names, for display).
    pub headers: BTreeMap<String, String>,
    /// The header values sealed by the vault (a JSON object of name to
    /// value), when they are: only the vault opens them.
    pub sealed_headers: Option<Vec<u8>>,
    /// The payload template; `None` sends the whole event.
    pub payload: Option<Value>,
    /// The event types it receives (`workflow_failure`, ...).
    pub events: Vec<String>,
}

/// An event destination as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// Its id.
    pub id: DestinationId,
    /// Its project.
    pub project_id: ProjectId,
    /// `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL events are POSTed to.
    pub url: String,
    /// Headers sent with each delivery (see [`DestinationConfig::headers`]).
    pub headers: BTreeMap<String, String>,
    /// The header values, sealed (see [`DestinationConfig::sealed_headers`]).
    #[serde(skip)]
    pub sealed_headers: Option<Vec<u8>>,
    /// The payload template; `None` sends the whole event.
    pub payload: Option<Value>,
    /// The event types it receives.
    pub events: Vec<String>,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// Failed deliveries in a row since the last success.
    pub consecutive_failures: u32,
    /// Why it was disabled (by an operator, or after failures).
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// To be attempted (again) at its next attempt time.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Its attempts ran out.
    Failed,
    /// Its destination was disabled or deleted before it went out.
    Dropped,
}

impl DeliveryState {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            "dropped" => Ok(Self::Dropped),
            _ => Err(Error::corrupt("unknown delivery state")),
        }
    }
}

/// One delivery of one event to one destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// Its project.
    pub project_id: ProjectId,
    /// Where it goes.
    pub destination_id: DestinationId,
    /// The event's id (the same for every destination: the receiver's
    /// dedupe key).
    pub event_id: Uuid,
    /// The event's type.
    pub event_type: String,
    /// The whole event, as the payload template reads it (`$.event`).
    pub event: Value,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made (or under way).
    pub attempts: u32,
    /// When it is attempted next, while pending.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// The last answer's HTTP status, if there was an answer.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A delivery claimed for an attempt, with its destination as it is now.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery (its `attempts` counts this one).
    pub delivery: Delivery,
    /// Its destination.
    pub destination: Destination,
    /// The lease's token; the outcome is recorded with it.
    pub token: Uuid,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// No answer, or one that was not a 2xx.
    Failed {
        /// The status, when there was an answer.
        status: Option<u16>,
        /// What went wrong, for the operator.
        error: String,
        /// The next attempt's time; `None` gives up.
        retry_at: Option<OffsetDateTime>,
    },
}

/// What recording an attempt did to the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRecorded {
    /// Failed attempts in a row now (0 after a success).
    pub consecutive_failures: u32,
    /// True when this failure disabled the destination.
    pub disabled: bool,
}

/// Event destinations and the outbox of their deliveries.
#[async_trait]
pub trait EventDestinationStore: Send + Sync {
    /// Adds an enabled webhook destination.
    async fn create_destination(&self, project: ProjectId, config: DestinationConfig) -> Result<Destination> {
        self.create_destination_with_id(project, DestinationId::new(), config).await
    }

    /// Creates a destination under an id the caller chose (it sealed its
    /// headers for that id).
    async fn create_destination_with_id(
        &self,
        project: ProjectId,
        id: DestinationId,
        config: DestinationConfig,
    ) -> Result<Destination>;

    /// The project's destinations, oldest first.
    async fn list_destinations(&self, project: ProjectId) -> Result<Vec<Destination>>;

    /// One destination.
    async fn get_destination(&self, project: ProjectId, id: DestinationId) -> Result<Destination>;

    /// Replaces what a destination sends and where.
    async fn update_destination(
        &self,
        project: ProjectId,
        id: DestinationId,
        config: DestinationConfig,
    ) -> Result<Destination>;

    /// Enables a destination (its failure count starts again from 0), or
    /// disables it with `reason`, dropping its pending deliveries.
    async fn set_destination_enabled(
        &self,
        project: ProjectId,
        id: DestinationId,
        enabled: bool,
        reason: &str,
    ) -> Result<Destination>;

    /// Deletes a destination and its deliveries.
    async fn delete_destination(&self, project: ProjectId, id: DestinationId) -> Result<()>;

    /// Events of every project not dispatched yet, oldest first.
    async fn pending_events(&self, limit: u32) -> Result<Vec<ProjectEvent>>;

    /// Marks `event` dispatched and queues `body` (the event as sent) for
    /// each enabled destination of its project subscribed to its type, due
    /// at `now`; how many were queued. An event dispatched already (by
    /// another process) queues nothing and answers 0.
    async fn dispatch_event(&self, event: &ProjectEvent, body: &Value, now: OffsetDateTime) -> Result<u32>;

    /// Claims up to `limit` pending deliveries due at `now` whose
    /// destination is enabled, each for `lease`; a claim counts an attempt.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>>;

    /// Records an attempt of a claimed delivery, fenced on its lease
    /// (`LeaseLost` when another claim took it). A success resets the
    /// destination's failure count; a failure counts one more, and the
    /// `disable_after`-th in a row (0: never) disables the destination,
    /// dropping its pending deliveries.
    async fn record_attempt(
        &self,
        claimed: &ClaimedDelivery,
        outcome: AttemptOutcome,
        disable_after: u32,
        now: OffsetDateTime,
    ) -> Result<AttemptRecorded>;

    /// A destination's deliveries, newest first.
    async fn list_deliveries(&self, project: ProjectId, id: DestinationId, limit: u32) -> Result<Vec<Delivery>>;

    /// Forgets what the outbox is done with before `before`, up to `limit`
    /// rows of each kind: deliveries that ended (delivered, failed or
    /// dropped; a pending one is kept however old) and events dispatched
    /// (each delivery holds its own copy of its event). How many rows went.
    async fn purge_event_outbox(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;
}

/// The checks a destination's configuration passes before it is stored.
pub(crate) fn check_config(c: &DestinationConfig) -> Result<()> {
    if c.url.trim().is_empty() {
        return Err(Error::invalid("a destination needs a URL"));
    }
    if c.url.chars().count() > MAX_DESTINATION_URL_LEN {
        return Err(Error::invalid(format!("a destination URL must be at most {MAX_DESTINATION_URL_LEN} characters")));
    }
    if c.headers.len() > MAX_DESTINATION_HEADERS {
        return Err(Error::invalid(format!("a destination may send at most {MAX_DESTINATION_HEADERS} headers")));
    }
    for name in c.headers.keys() {
        crate::check::label("a header name", name, 256)?;
    }
    for event in &c.events {
        crate::check::label("an event type", event, 64)?;
    }
    crate::check::json_size("a destination's headers", &c.headers)?;
    if let Some(p) = &c.payload {
        crate::check::json_size("a destination's payload template", p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DestinationConfig {
        DestinationConfig {
            url: "https://hooks.example.com/x".into(),
            events: vec!["workflow_failure".into()],
            ..Default::default()
        }
    }

    #[test]
    fn configs_are_checked() {
        assert!(check_config(&config()).is_ok());
        assert!(check_config(&DestinationConfig { url: " ".into(), ..config() }).is_err());
        assert!(check_config(&DestinationConfig { url: "x".repeat(3000), ..config() }).is_err());
        let many = (0..40).map(|i| (format!("h{i}"), "v".to_owned())).collect();
        assert!(check_config(&DestinationConfig { headers: many, ..config() }).is_err());
        let empty = [(String::new(), "v".to_owned())].into_iter().collect();
        assert!(check_config(&DestinationConfig { headers: empty, ..config() }).is_err());
        assert!(check_config(&DestinationConfig { events: vec!["a\nb".into()], ..config() }).is_err());
    }

    #[test]
    fn states_parse_as_stored() {
        for s in [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Dropped] {
            assert_eq!(DeliveryState::parse(s.as_str()).unwrap(), s);
        }
        assert!(DeliveryState::parse("x").is_err());
    }
}
