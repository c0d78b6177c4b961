//! Event destinations: monitoring events of a project (`workflow_failure`,
//! `credentials_failure`) sent to the webhooks its operators configured.
//!
//! This crate owns what a destination may be ([`Destinations::check`]: an
//! http(s) URL the egress policy allows, headers Weft may send, a payload
//! template whose placeholders read the event, known event types), what an
//! event looks like when it leaves ([`event`]: the reference's shapes),
//! how a template turns it into a body ([`template`]), and the worker that
//! delivers them ([`Destinations::run`]): it dispatches the outbox's new
//! events to the subscribed destinations, POSTs each delivery through the
//! one egress client, retries with exponential backoff and jitter, and lets
//! the store disable a destination after too many failures in a row.
//!
//! It does not own the rows (`weft-store`: destinations, the event outbox,
//! deliveries) nor who writes events: the queue writes a
//! `workflow_failure` in the transaction that fails an execution, and the
//! credential service a `credentials_failure` when a credential turns
//! INVALID. The admin API (`weft-api`) calls [`Destinations::check`] and
//! [`Destinations::send_test`]; the server starts [`Destinations::run`].
#![deny(missing_docs)]

mod deliver;
pub mod event;
pub mod template;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use weft_egress::{Egress, EgressPolicy};
use weft_store::{Destination, DestinationConfig, DestinationId, ProjectId, Store};

pub use deliver::{Attempt, backoff};
pub use event::{CREDENTIALS_FAILURE, EVENT_TYPES, WORKFLOW_FAILURE};
pub use template::{Template, render_payload};

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DestinationSettings {
    /// Attempts of one delivery before it is given up.
    pub max_attempts: u32,
    /// The wait before the first retry; each next one doubles (plus up to
    /// a quarter of jitter), up to `max_retry_wait`.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub max_retry_wait: Duration,
    /// Failed attempts in a row after which a destination is disabled (0:
    /// never). A 2xx answer starts the count again.
    pub disable_after: u32,
    /// The time one attempt may take.
    pub timeout: Duration,
    /// How often the worker looks for events and due deliveries.
    pub poll: Duration,
    /// Deliveries claimed (and sent side by side) at once.
    pub batch: u32,
    /// How long a claimed delivery is kept from other workers.
    pub lease: Duration,
    /// How long ended deliveries and dispatched events are kept (the
    /// deliveries API shows them); `None` keeps them for ever.
    pub retention: Option<Duration>,
}

impl Default for DestinationSettings {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            retry_base: Duration::from_secs(10),
            max_retry_wait: Duration::from_secs(3600),
            disable_after: 10,
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            batch: 32,
            lease: Duration::from_secs(60),
            retention: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// What the service is built from.
pub struct DestinationDeps {
    /// Destinations, the outbox and what events are built from.
    pub store: Arc<dyn Store>,
    /// The one outbound client.
    pub egress: Arc<dyn Egress>,
    /// The policy that client enforces, for checking URLs up front.
    pub policy: EgressPolicy,
    /// This server's public URL (an execution's link in its event).
    pub public_url: String,
    /// How deliveries are made.
    pub settings: DestinationSettings,
    /// Seals and opens destinations' header values (the vault's side).
    pub headers: Arc<dyn HeaderVault>,
}

/// Seals and opens a destination's header values: the server implements it
/// with the vault (`weft_credentials::DestinationHeaders`), so this crate
/// keeps no secret in clear and never decrypts itself.
pub trait HeaderVault: Send + Sync {
    /// `headers` sealed for `destination` of `project`.
    fn seal(
        &self,
        project: ProjectId,
        destination: DestinationId,
        headers: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, String>;

    /// What [`HeaderVault::seal`] sealed.
    fn open(
        &self,
        project: ProjectId,
        destination: DestinationId,
        sealed: &[u8],
    ) -> Result<BTreeMap<String, String>, String>;
}

/// Why a destination's configuration is refused: the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The field (`url`, `headers`, `payload`, `events`).
    pub field: &'static str,
    /// What is wrong and what to send instead.
    pub reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.field, self.reason)
    }
}

/// Headers Weft sets itself, which a destination may not.
const OWN_HEADERS: [&str; 3] = ["host", "content-length", "content-type"];

/// The event destination service: checks, test sends and the worker.
pub struct Destinations {
    deps: DestinationDeps,
    wake: tokio::sync::Notify,
}

impl Destinations {
    /// The service over `deps`; [`Destinations::run`] starts its worker.
    pub fn new(deps: DestinationDeps) -> Arc<Self> {
        Arc::new(Self { deps, wake: tokio::sync::Notify::new() })
    }

    /// How deliveries are made.
    pub fn settings(&self) -> &DestinationSettings {
        &self.deps.settings
    }

    /// `config` as it is stored for `destination`: its header values
    /// sealed, only their names left in clear.
    pub fn seal(
        &self,
        project: ProjectId,
        destination: DestinationId,
        mut config: DestinationConfig,
    ) -> Result<DestinationConfig, String> {
        if config.headers.is_empty() {
            config.sealed_headers = None;
            return Ok(config);
        }
        config.sealed_headers = Some(self.deps.headers.seal(project, destination, &config.headers)?);
        config.headers.values_mut().for_each(String::clear);
        Ok(config)
    }

    /// The headers `destination` sends, opened (those stored in clear
    /// before sealing, as they are).
    pub(crate) fn header_values(&self, destination: &Destination) -> Result<BTreeMap<String, String>, String> {
        match &destination.sealed_headers {
            Some(sealed) => self.deps.headers.open(destination.project_id, destination.id, sealed),
            None => Ok(destination.headers.clone()),
        }
    }

    /// Checks a destination's configuration; the first problem found.
    pub fn check(&self, config: &DestinationConfig) -> Result<(), Refused> {
        let refuse = |field, reason: String| Err(Refused { field, reason });
        if let Err(e) = weft_catalog::check_outbound_url(&config.url, &self.deps.policy) {
            return refuse("url", format!("{e} (got {:?})", config.url));
        }
        if config.events.is_empty() {
            return refuse("events", format!("must name at least one event type of {EVENT_TYPES:?}"));
        }
        if let Some(unknown) = config.events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
            return refuse("events", format!("names {unknown:?}, which is not an event type; use {EVENT_TYPES:?}"));
        }
        for (name, value) in &config.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return refuse("headers", format!("{name:?} is not a valid header name"));
            }
            if http::HeaderValue::from_str(value).is_err() {
                return refuse("headers", format!("the value of {name:?} is not a valid header value"));
            }
            let lower = name.to_ascii_lowercase();
            if OWN_HEADERS.contains(&lower.as_str()) || weft_egress::is_hop_by_hop(&lower) {
                return refuse("headers", format!("{name:?} is set by Weft and cannot be configured"));
            }
        }
        if let Some(payload) = &config.payload
            && let Err(e) = Template::parse(payload.clone())
        {
            return refuse("payload", e);
        }
        Ok(())
    }

    /// Sends a sample event of the first type `destination` receives to
    /// it now, outside the outbox (no retry, no effect on its failure
    /// count); what came back.
    pub async fn send_test(&self, destination: &Destination, project_name: &str) -> Attempt {
        let kind = destination.events.first().map_or(WORKFLOW_FAILURE, String::as_str);
        let now = time::OffsetDateTime::now_utc();
        let event = event::sample(kind, destination.project_id, project_name, now);
        self.attempt(destination, &event).await
    }

    /// Wakes the worker (an event was recorded in this process).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The body `destination` receives for `event`.
    pub fn payload(destination: &Destination, event: &Value) -> Value {
        render_payload(destination.payload.as_ref(), event)
    }
}
