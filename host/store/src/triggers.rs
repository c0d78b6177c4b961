//! Integration triggers: what the host keeps so that a plugin's webhook and
//! polling triggers start workflows.
//!
//! - **Subscriptions.** What listens to a trigger for an account
//!   (credential), by [`SubscriptionScope`]: one workflow's (a plugin's
//!   trigger, configured by the workflow), one per account and trigger
//!   shared by its user's workflows (a definition's webhook), or one per
//!   integration and trigger (an app-level webhook set up programmatically,
//!   sent as one account). Each has the trigger, its config, its kind (a
//!   provider webhook registered per subscription, the app-wide webhook, or
//!   polling), what `subscribe` returned (the provider's hook id...), the
//!   values a webhook handshake kept (sealed), a status, and for polling the
//!   cursor and the next poll. The engine keeps them in line with the users'
//!   enablements; the store only keeps them consistent (one per workflow and
//!   account, per account and trigger, per integration and trigger; gone
//!   with the workflow or the account).
//! - **Routing keys.** What an app-wide webhook event names its account by
//!   (a Slack team, a HubSpot portal), as the plugin's connection test
//!   reported them, per account.
//! - **Events.** Each event a delivery or a poll produced, stored before the
//!   provider is answered and before any workflow runs, de-duplicated by the
//!   provider's event id within its integration (and, for a per-subscription
//!   URL or a poll, within its subscription), and marked routed once the
//!   executions it starts are stored. Unrouted events are found again after
//!   a crash; routed ones are purged after their retention.
//!
//! A poll is claimed with a lease (the next poll time pushed past the lease
//! and a random token) and finished only with that token, in one
//! transaction with the events it found: of several processes, one polls a
//! subscription per firing, and a poll that outlived its lease cannot move
//! the cursor that its successor moved.

mod sql;

use crate::ids::{CredentialId, IntegrationId, ProjectId};
use crate::queue::WorkflowId;
use crate::{Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

crate::ids::id_type!(
    /// A workflow's subscription to a plugin trigger for one account (also
    /// the last segment of its per-subscription webhook URL).
    SubscriptionId
);
crate::ids::id_type!(
    /// One event a plugin trigger produced.
    TriggerEventId
);

/// Longest trigger key accepted, in characters.
pub const MAX_TRIGGER_KEY_LEN: usize = 200;

/// Longest routing key or dedupe key accepted, in characters.
pub const MAX_EVENT_KEY_LEN: usize = 500;

/// Longest poll cursor accepted, in bytes.
pub const MAX_CURSOR_BYTES: usize = 16 * 1024;

/// Largest event payload accepted, in bytes of JSON.
pub const MAX_EVENT_PAYLOAD_BYTES: usize = 8 << 20;

/// How a subscription's events reach the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionKind {
    /// A provider webhook the plugin registers for this subscription, on the
    /// subscription's own URL.
    Webhook,
    /// The provider's app-wide webhook; events name their account by
    /// routing key.
    AppWebhook,
    /// The host polls the plugin on a schedule.
    Polling,
}

impl SubscriptionKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::AppWebhook => "appWebhook",
            Self::Polling => "polling",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "webhook" => Self::Webhook,
            "appWebhook" => Self::AppWebhook,
            "polling" => Self::Polling,
            _ => return Err(Error::corrupt("unknown subscription kind")),
        })
    }
}

/// Whose a subscription is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionScope {
    /// One workflow's, for one account: a plugin's trigger, whose config
    /// the workflow gives.
    Workflow,
    /// One per account and trigger, shared by every workflow of the
    /// account's user on the trigger.
    Account,
    /// One per integration and trigger: an app-level hook, set up as one
    /// account for everyone.
    App,
}

impl SubscriptionScope {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Account => "account",
            Self::App => "app",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "workflow" => Self::Workflow,
            "account" => Self::Account,
            "app" => Self::App,
            _ => return Err(Error::corrupt("unknown subscription scope")),
        })
    }
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// Stored; the provider side (the plugin's `subscribe`) is not done yet.
    Pending,
    /// Receiving events.
    Active,
    /// The last `subscribe` failed (see `last_error`); retried at
    /// `next_run_at`.
    Failed,
}

impl SubscriptionStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Active => "ACTIVE",
            Self::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "PENDING" => Self::Pending,
            "ACTIVE" => Self::Active,
            "FAILED" => Self::Failed,
            _ => return Err(Error::corrupt("unknown subscription status")),
        })
    }
}

/// A workflow's subscription to a plugin trigger for one account.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// The project.
    pub project: ProjectId,
    /// The integration whose plugin serves the trigger.
    pub integration: IntegrationId,
    /// The listening workflow (scope `Workflow` only).
    pub workflow: Option<WorkflowId>,
    /// Whose it is.
    pub scope: SubscriptionScope,
    /// The account it listens for (for scope `App`, the account its setup
    /// requests are sent as).
    pub credential: CredentialId,
    /// The account's user.
    pub user: String,
    /// The plugin's trigger key.
    pub trigger: String,
    /// How events arrive.
    pub kind: SubscriptionKind,
    /// The trigger's config, as the workflow gives it (`{}` when shared).
    pub config: Value,
    /// What the plugin's `subscribe` returned, once it succeeded.
    pub state: Option<Value>,
    /// What a webhook handshake kept, sealed by weft-vault (owner: this
    /// subscription; see [`crate::SealedColumn::SubscriptionPersisted`]).
    pub persisted: Option<Vec<u8>>,
    /// Where it stands.
    pub status: SubscriptionStatus,
    /// Why the last `subscribe` or poll failed.
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The poll cursor (polling only).
    pub cursor: Option<String>,
    /// Seconds between polls (polling only).
    pub interval_secs: Option<u32>,
    /// The next poll, or the next `subscribe` attempt of a failed one.
    pub next_run_at: Option<OffsetDateTime>,
    /// When it was stored.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A subscription to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// The integration whose plugin serves the trigger.
    pub integration: IntegrationId,
    /// The listening workflow: given for scope `Workflow`, else `None`.
    pub workflow: Option<WorkflowId>,
    /// Whose it is.
    pub scope: SubscriptionScope,
    /// The account it listens for (its user is read from it).
    pub credential: CredentialId,
    /// The plugin's trigger key.
    pub trigger: String,
    /// How events arrive.
    pub kind: SubscriptionKind,
    /// The trigger's config.
    pub config: Value,
    /// Seconds between polls (polling only).
    pub interval_secs: Option<u32>,
    /// The status to start in: `Active` when nothing has to be done at the
    /// provider (app-wide webhooks), else `Pending`.
    pub status: SubscriptionStatus,
    /// The first poll (polling only).
    pub next_run_at: Option<OffsetDateTime>,
}

/// A change of a subscription's provider side.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionUpdate {
    /// The new status.
    pub status: SubscriptionStatus,
    /// What `subscribe` returned (kept when `None`).
    pub state: Option<Value>,
    /// Why it failed (cleared when `None`).
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The next attempt or poll.
    pub next_run_at: Option<OffsetDateTime>,
}

/// A polling subscription claimed for one poll.
#[derive(Debug, Clone, PartialEq)]
pub struct PollClaim {
    /// The subscription as it was claimed.
    pub subscription: Subscription,
    /// The token that finishes this poll.
    pub lease: Uuid,
}

/// An event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTriggerEvent {
    /// The subscription it arrived on (a per-subscription URL or a poll);
    /// `None` for the app-wide webhook.
    pub subscription: Option<SubscriptionId>,
    /// The plugin's trigger key.
    pub trigger: String,
    /// The account it names, for the app-wide webhook.
    pub routing_key: Option<String>,
    /// The provider's event id.
    pub dedupe_key: Option<String>,
    /// When it happened at the provider.
    pub occurred_at: Option<OffsetDateTime>,
    /// The event: what the trigger outputs.
    pub payload: Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    /// Its id.
    pub id: TriggerEventId,
    /// The project.
    pub project: ProjectId,
    /// The integration.
    pub integration: IntegrationId,
    /// See [`NewTriggerEvent::subscription`].
    pub subscription: Option<SubscriptionId>,
    /// The plugin's trigger key.
    pub trigger: String,
    /// See [`NewTriggerEvent::routing_key`].
    pub routing_key: Option<String>,
    /// See [`NewTriggerEvent::dedupe_key`].
    pub dedupe_key: Option<String>,
    /// When it happened at the provider.
    pub occurred_at: Option<OffsetDateTime>,
    /// The event.
    pub payload: Value,
    /// When Weft received it.
    pub received_at: OffsetDateTime,
    /// When the executions it starts were stored.
    pub routed_at: Option<OffsetDateTime>,
}

/// Storage of integration triggers.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    /// Replaces the routing keys of `credential`. `NotFound("credential")`
    /// for an account of another project or none.
    async fn set_routing_keys(&self, project: ProjectId, credential: CredentialId, keys: &[String]) -> Result<()>;

    /// The accounts of `integration` that reported `key`.
    async fn credentials_by_routing_key(
        &self,
        project: ProjectId,
        integration: IntegrationId,
        key: &str,
    ) -> Result<Vec<CredentialId>>;

    /// Stores a subscription. `Conflict` when its place is taken (the
    /// workflow has one for the account; the account, or for scope `App` the
    /// integration, has one for the trigger); `NotFound` for a workflow,
    /// account or integration of another project or none; `Invalid` when a
    /// workflow is given for a shared scope or none for scope `Workflow`.
    async fn create_subscription(
        &self,
        project: ProjectId,
        new: NewSubscription,
        now: OffsetDateTime,
    ) -> Result<Subscription>;

    /// One subscription.
    async fn get_subscription(&self, project: ProjectId, id: SubscriptionId) -> Result<Subscription>;

    /// The project's subscriptions (of one user when given), oldest first.
    async fn list_subscriptions(&self, project: ProjectId, user: Option<&str>) -> Result<Vec<Subscription>>;

    /// The active subscriptions of `trigger` for any of `credentials`: who
    /// an app-wide event is for.
    async fn subscriptions_for(
        &self,
        project: ProjectId,
        integration: IntegrationId,
        trigger: &str,
        credentials: &[CredentialId],
    ) -> Result<Vec<Subscription>>;

    /// Records the outcome of a `subscribe` (or of its retry).
    async fn update_subscription(
        &self,
        project: ProjectId,
        id: SubscriptionId,
        update: SubscriptionUpdate,
        now: OffsetDateTime,
    ) -> Result<Subscription>;

    /// Keeps what a webhook handshake persisted (sealed bytes), replacing
    /// what an earlier handshake kept.
    async fn set_subscription_persisted(&self, project: ProjectId, id: SubscriptionId, sealed: Vec<u8>) -> Result<()>;

    /// Makes a workflow's subscription its account's, shared by its user's
    /// workflows on the trigger (scope `Account`, no workflow, config `{}`),
    /// keeping its provider side: a subscription stored before shared ones
    /// existed is adopted rather than registered again. `Conflict` when the
    /// account already has one for the trigger.
    async fn share_subscription(&self, project: ProjectId, id: SubscriptionId) -> Result<Subscription>;

    /// Deletes a subscription (its events stay until purged).
    async fn delete_subscription(&self, project: ProjectId, id: SubscriptionId) -> Result<()>;

    /// Webhook subscriptions, of every project, whose `subscribe` is to be
    /// tried (again): pending ones last changed before `pending_before`
    /// (younger ones are still being subscribed by whoever made them), and
    /// failed ones whose `next_run_at` has come.
    async fn subscriptions_to_retry(
        &self,
        now: OffsetDateTime,
        pending_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Subscription>>;

    /// Claims up to `limit` active polling subscriptions, of every project,
    /// whose next poll has come: each is pushed `lease` into the future so
    /// no other process takes it, and comes with the token that finishes it.
    async fn claim_polls(&self, now: OffsetDateTime, lease: std::time::Duration, limit: u32) -> Result<Vec<PollClaim>>;

    /// Finishes a poll in one transaction: stores its events (as
    /// [`TriggerStore::record_events`]), its cursor, its next poll and its
    /// error (cleared when `None`). `Conflict("poll lease")`, and nothing
    /// stored, when the lease was lost (the subscription was claimed again
    /// or is gone). Returns the ids of the events that were new.
    #[allow(clippy::too_many_arguments)]
    async fn finish_poll(
        &self,
        project: ProjectId,
        id: SubscriptionId,
        lease: Uuid,
        cursor: Option<&str>,
        events: Vec<NewTriggerEvent>,
        error: Option<&str>,
        next_run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<TriggerEventId>>;

    /// Stores the events of one delivery in one transaction, each unless
    /// its dedupe key was seen before: the new event's id, or `None` for a
    /// duplicate.
    async fn record_events(
        &self,
        project: ProjectId,
        integration: IntegrationId,
        events: Vec<NewTriggerEvent>,
        now: OffsetDateTime,
    ) -> Result<Vec<Option<TriggerEventId>>>;

    /// [`TriggerStore::record_events`] for several deliveries (each a
    /// project, integration and events) in one transaction: one result per
    /// delivery, in order. Any failure fails them all (the caller may then
    /// store them one by one to tell whose it was).
    async fn record_event_batches(
        &self,
        deliveries: Vec<(ProjectId, IntegrationId, Vec<NewTriggerEvent>)>,
        now: OffsetDateTime,
    ) -> Result<Vec<Vec<Option<TriggerEventId>>>>;

    /// Marks several events routed in one transaction (unknown ones are
    /// skipped).
    async fn mark_events_routed(&self, events: &[(ProjectId, TriggerEventId)], now: OffsetDateTime) -> Result<()>;

    /// One event.
    async fn get_trigger_event(&self, project: ProjectId, id: TriggerEventId) -> Result<TriggerEvent>;

    /// Events of every project received before `before` and not yet routed,
    /// oldest first.
    async fn unrouted_events(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<TriggerEvent>>;

    /// Marks an event routed.
    async fn mark_event_routed(&self, project: ProjectId, id: TriggerEventId, now: OffsetDateTime) -> Result<()>;

    /// Deletes up to `limit` events received before `before` (unrouted ones
    /// too: past the retention they are dead letters). Returns how many.
    async fn purge_trigger_events(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;
}

pub(crate) fn check_trigger(trigger: &str) -> Result<&str> {
    crate::check::label("trigger key", trigger, MAX_TRIGGER_KEY_LEN)
}

pub(crate) fn check_event_key<'a>(what: &str, key: &'a str) -> Result<&'a str> {
    crate::check::label(what, key, MAX_EVENT_KEY_LEN)
}

pub(crate) fn check_cursor(cursor: &str) -> Result<&str> {
    if cursor.len() > MAX_CURSOR_BYTES {
        return Err(Error::TooLarge { what: "poll cursor", size: cursor.len() as u64, limit: MAX_CURSOR_BYTES as u64 });
    }
    Ok(cursor)
}

/// An event's payload made storable, within its size limit.
pub(crate) fn check_event(event: &mut NewTriggerEvent) -> Result<()> {
    check_trigger(&event.trigger)?;
    if let Some(k) = &event.routing_key {
        check_event_key("routing key", k)?;
    }
    if let Some(k) = &event.dedupe_key {
        check_event_key("dedupe key", k)?;
    }
    crate::queue::storable(&mut event.payload);
    let size = serde_json::to_vec(&event.payload).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_EVENT_PAYLOAD_BYTES {
        return Err(Error::TooLarge {
            what: "trigger event payload",
            size: size as u64,
            limit: MAX_EVENT_PAYLOAD_BYTES as u64,
        });
    }
    Ok(())
}

/// The config a subscription stores: an object (`{}` when none).
pub(crate) fn check_config(config: &Value) -> Result<()> {
    if !config.is_object() {
        return Err(Error::invalid("a trigger's config must be a JSON object"));
    }
    crate::check::json_size("trigger config", config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_and_statuses_round_trip() {
        for k in [SubscriptionKind::Webhook, SubscriptionKind::AppWebhook, SubscriptionKind::Polling] {
            assert_eq!(SubscriptionKind::parse(k.as_str()).unwrap(), k);
        }
        for s in [SubscriptionStatus::Pending, SubscriptionStatus::Active, SubscriptionStatus::Failed] {
            assert_eq!(SubscriptionStatus::parse(s.as_str()).unwrap(), s);
        }
        for s in [SubscriptionScope::Workflow, SubscriptionScope::Account, SubscriptionScope::App] {
            assert_eq!(SubscriptionScope::parse(s.as_str()).unwrap(), s);
        }
        assert!(SubscriptionKind::parse("cron").is_err());
        assert!(SubscriptionStatus::parse("active").is_err());
    }

    #[test]
    fn events_are_checked_and_made_storable() {
        let mut e = NewTriggerEvent {
            subscription: None,
            trigger: "MESSAGE".into(),
            routing_key: Some("T1".into()),
            dedupe_key: Some("Ev1".into()),
            occurred_at: None,
            payload: json!({"text": "a\u{0}b"}),
        };
        check_event(&mut e).unwrap();
        assert_eq!(e.payload["text"], "a\u{fffd}b");
        e.dedupe_key = Some("x".repeat(MAX_EVENT_KEY_LEN + 1));
        assert!(matches!(check_event(&mut e), Err(Error::Invalid(_))));
        e.dedupe_key = None;
        e.trigger = String::new();
        assert!(check_event(&mut e).is_err());
        assert!(check_config(&json!([])).is_err());
        assert!(check_config(&json!({"channel": "C1"})).is_ok());
        assert!(matches!(check_cursor(&"c".repeat(MAX_CURSOR_BYTES + 1)), Err(Error::TooLarge { .. })));
    }
}
