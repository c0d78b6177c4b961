//! Integration triggers: a plugin's webhook and polling triggers, and a
//! definition's declarative webhooks, starting workflows.
//!
//! A workflow with an Integration trigger listens for each account a user
//! enabled it with through a *subscription* (store: `triggers`), which this
//! module keeps in line with the enablements ([`Engine::sync_subscriptions`],
//! after every change of a user's enablements and every five minutes for
//! everyone):
//!
//! - for a per-subscription webhook trigger, the plugin's `subscribe`
//!   registers a provider hook on the subscription's own URL
//!   (`{public URL}/webhooks/{project}/{integration}/{subscription}`); a
//!   failed `subscribe` is retried with backoff, and `unsubscribe` runs when
//!   the workflow is turned off or undeployed;
//! - an app-wide webhook trigger needs nothing at the provider: its events
//!   name their account by routing key (stored from the plugin's connection
//!   test);
//! - a polling trigger is polled every interval, once per firing across
//!   processes (the store's poll lease), its cursor stored with the events
//!   the poll found.
//!
//! Every event is stored before anything runs (by the webhook ingress, or
//! with the poll's cursor); routing it starts the listening workflows, each
//! once per event and account (the executions' once-key), then marks it
//! routed. An event a crash left unrouted is routed again by the sweep, so
//! none is lost and none starts a workflow twice.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use weft_store::{
    CredentialId, CredentialStatus, ExecutionId, NewExecution, NewSubscription, NewTriggerEvent, ProjectId,
    Subscription, SubscriptionKind, SubscriptionStatus, SubscriptionUpdate, TriggerEvent, TriggerEventId, WorkflowId,
};

use super::matching::{EventMatch, admitted};
use super::{Engine, Started, TriggerError, new_step, now};
use crate::definition::TriggerKind;
use crate::plan::Next;

/// How a plugin serves one of its triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerSpec {
    /// How its events arrive.
    pub kind: SubscriptionKind,
    /// Seconds between polls (polling triggers).
    pub interval_secs: Option<u32>,
    /// The settings that narrow which events a workflow takes
    /// ([`super::matching`]).
    pub matches: Vec<EventMatch>,
}

/// What a poll found.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    /// The events, in order.
    pub events: Vec<NewTriggerEvent>,
    /// Where the next poll continues (`None` keeps the last one).
    pub cursor: Option<String>,
}

/// An integration's triggers, run as the subscription's account (wired by
/// the server: a plugin's by the plugin host, a definition's declarative
/// webhooks by their setup requests).
#[async_trait::async_trait]
pub trait TriggerPlugins: Send + Sync + 'static {
    /// How `integration` serves `trigger` in `project`: its plugin's, or
    /// the project's definition of it (a custom integration's declarative
    /// webhooks); `None` when it has no such trigger.
    async fn trigger(&self, project: ProjectId, integration: &str, trigger: &str) -> Option<TriggerSpec>;

    /// Registers the provider webhook of `subscription` at `webhook_url`;
    /// what to keep for `unsubscribe`, or why it failed.
    async fn subscribe(
        &self,
        integration: &str,
        subscription: &Subscription,
        webhook_url: &str,
    ) -> Result<Value, String>;

    /// Removes what `subscribe` registered.
    async fn unsubscribe(&self, integration: &str, subscription: &Subscription) -> Result<(), String>;

    /// Polls `subscription` from its cursor.
    async fn poll(&self, integration: &str, subscription: &Subscription) -> Result<Polled, String>;
}

/// How often the trigger loop looks for polls due and subscriptions to
/// retry, and for events a crash left unrouted.
const TICK: Duration = Duration::from_secs(1);

/// How often every user's subscriptions are checked against their
/// enablements.
const RECONCILE_EVERY: Duration = Duration::from_secs(300);

/// An event younger than this may still be routed by the process that
/// received it; older and unrouted, the sweep routes it.
const UNROUTED_AFTER: time::Duration = time::Duration::seconds(10);

/// A poll's lease: another process may poll the subscription again after
/// it (the poll is then taken to have died).
const POLL_LEASE: Duration = Duration::from_secs(120);

/// The longest wait before a failed `subscribe` is tried again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

/// The default poll interval: once a minute, as the reference polls.
pub const DEFAULT_POLL_SECS: u32 = 60;

/// What a workflow wants subscribed for one account.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    integration: String,
    trigger: String,
    config: Value,
    spec: TriggerSpec,
}

impl Engine {
    fn trigger_plugins(&self) -> Option<&dyn TriggerPlugins> {
        self.deps.triggers.as_deref()
    }

    /// Routes stored events (see the module docs); returns the executions
    /// they started. An event that cannot be routed now stays unrouted for
    /// the sweep.
    pub async fn route_events(&self, project: ProjectId, ids: &[TriggerEventId]) -> Started {
        let mut started = Started::default();
        for id in ids {
            let event = match self.deps.store.get_trigger_event(project, *id).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(project = %project, event = %id, error = %e, "a trigger event cannot be read");
                    continue;
                }
            };
            match self.route_event(&event).await {
                Ok(ids) => started.executions.extend(ids),
                Err(e) => {
                    tracing::warn!(project = %project, event = %id, error = %e, "routing a trigger event failed; the sweep retries")
                }
            }
        }
        if !started.executions.is_empty() {
            self.wake();
        }
        started
    }

    /// Routes one stored event without marking it (the caller marks it with
    /// others): whether it was routed.
    pub(crate) async fn route_unmarked(&self, project: ProjectId, id: TriggerEventId) -> bool {
        let routed = match self.deps.store.get_trigger_event(project, id).await {
            Ok(event) => self.start_listeners(&event).await,
            Err(e) => Err(e.into()),
        };
        match routed {
            Ok(started) => {
                if !started.is_empty() {
                    self.wake();
                }
                true
            }
            Err(e) => {
                tracing::warn!(project = %project, event = %id, error = %e, "routing a trigger event failed; the sweep retries");
                false
            }
        }
    }

    /// Starts the workflows listening to `event`, once each per account,
    /// and marks it routed.
    async fn route_event(&self, event: &TriggerEvent) -> Result<Vec<ExecutionId>, TriggerError> {
        let started = self.start_listeners(event).await?;
        self.deps.store.mark_event_routed(event.project, event.id, now()).await?;
        Ok(started)
    }

    /// Starts the workflows listening to `event`, once each per account.
    async fn start_listeners(&self, event: &TriggerEvent) -> Result<Vec<ExecutionId>, TriggerError> {
        let store = &self.deps.store;
        let project = event.project;
        let subscriptions = match event.subscription {
            Some(id) => match store.get_subscription(project, id).await {
                Ok(s) if s.trigger == event.trigger => vec![s],
                Ok(_) | Err(weft_store::Error::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            },
            None => match &event.routing_key {
                Some(key) => {
                    let accounts = store.credentials_by_routing_key(project, event.integration, key).await?;
                    store.subscriptions_for(project, event.integration, &event.trigger, &accounts).await?
                }
                None => {
                    tracing::info!(project = %project, event = %event.id, trigger = %event.trigger, "an app-wide event names no account (no routing key); dropped");
                    Vec::new()
                }
            },
        };
        let mut started = Vec::new();
        let mut meta = HashMap::new();
        for s in subscriptions.iter().filter(|s| s.status == SubscriptionStatus::Active) {
            let meta = meta.entry(s.user.clone()).or_insert_with(|| super::permissions::UserMeta::new(&s.user));
            if let Some(id) = self.start_for(event, s, meta).await? {
                started.push(id);
            }
        }
        if !started.is_empty() {
            tracing::info!(project = %project, event = %event.id, trigger = %event.trigger, executions = started.len(), "integration trigger: workflows started");
        }
        Ok(started)
    }

    /// Starts `s`'s workflow for `event`, unless it no longer listens, its
    /// user is stopped or not permitted, its account is not usable, or it
    /// already ran for this event and account.
    async fn start_for(
        &self,
        event: &TriggerEvent,
        s: &Subscription,
        meta: &mut super::permissions::UserMeta,
    ) -> Result<Option<ExecutionId>, TriggerError> {
        let store = &self.deps.store;
        let project = event.project;
        let w = match store.get_workflow(project, s.workflow).await {
            Ok(w) => w,
            Err(weft_store::Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (Some(version), Some(trigger)) = (w.deployed_version, &w.trigger) else { return Ok(None) };
        if trigger.kind != "integration" || trigger.key.as_deref() != Some(event.trigger.as_str()) {
            return Ok(None);
        }
        match store.get_credential(project, s.credential).await {
            Ok(c) if c.status == CredentialStatus::Valid => {}
            Ok(_) | Err(weft_store::Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        if self.user_stopped(project, &s.user).await? || !self.permitted_for(project, w.id, version, meta).await? {
            return Ok(None);
        }
        let plan = self.plan_of(project, w.id, version).await.map_err(TriggerError::Workflow)?;
        let spec = match (&plan.workflow().trigger.kind, self.trigger_plugins()) {
            (TriggerKind::Integration(t), Some(p)) => p.trigger(project, &w.integration, &t.event).await,
            _ => None,
        };
        if let (TriggerKind::Integration(t), Some(spec)) = (&plan.workflow().trigger.kind, spec)
            && !admitted(&spec.matches, &t.config, &event.payload)
        {
            tracing::debug!(project = %project, event = %event.id, workflow = %w.id, "the workflow's trigger settings do not take this event");
            return Ok(None);
        }
        let first = match plan.first() {
            Next::Run(queued) => queued.into_iter().map(new_step).collect(),
            _ => Vec::new(),
        };
        let t = &plan.workflow().trigger;
        let new = NewExecution {
            project,
            workflow: w.id,
            version,
            integration: w.integration.clone(),
            user: Some(s.user.clone()),
            credential: Some(s.credential),
            trigger_step: t.id.clone(),
            trigger_kind: t.kind.history_type().to_owned(),
            trigger_output: event.payload.clone(),
            first,
        };
        let once = format!("event:{}:{}", event.id, s.credential);
        Ok(store.start_execution_once(new, &once, now()).await?)
    }

    /// Brings `user`'s subscriptions in line with their enablements: one per
    /// enabled, deployed workflow with an Integration trigger and account
    /// it runs with (the enablement's account, else the user's first usable
    /// account of the integration); subscribes what is missing and removes
    /// (unsubscribing at the provider) what is no longer wanted or changed.
    pub async fn sync_subscriptions(&self, project: ProjectId, user: &str) -> Result<(), TriggerError> {
        let Some(plugins) = self.trigger_plugins() else { return Ok(()) };
        let store = &self.deps.store;
        let mut wanted: HashMap<(WorkflowId, CredentialId), Wanted> = HashMap::new();
        let enablements = store.user_enablements(project, user).await?;
        let mut accounts = None;
        for e in enablements {
            let w = match store.get_workflow(project, e.workflow).await {
                Ok(w) => w,
                Err(weft_store::Error::NotFound(_)) => continue,
                Err(err) => return Err(err.into()),
            };
            let Some(version) = w.deployed_version else { continue };
            if w.trigger.as_ref().map(|t| t.kind.as_str()) != Some("integration") {
                continue;
            }
            let plan = self.plan_of(project, w.id, version).await.map_err(TriggerError::Workflow)?;
            let TriggerKind::Integration(t) = &plan.workflow().trigger.kind else { continue };
            let Some(spec) = plugins.trigger(project, &w.integration, &t.event).await else {
                tracing::warn!(project = %project, workflow = %w.id, trigger = %t.event, "the integration has no such trigger; not subscribed");
                continue;
            };
            let credential = match e.credential {
                Some(c) => c,
                None => {
                    if accounts.is_none() {
                        accounts = Some(store.list_user_credentials(project, user).await?);
                    }
                    let integration = store.get_integration_by_type(project, &w.integration).await?;
                    let first = accounts
                        .iter()
                        .flatten()
                        .find(|c| c.integration_id == integration.id && c.status == CredentialStatus::Valid);
                    match first {
                        Some(c) => c.id,
                        None => continue,
                    }
                }
            };
            let want =
                Wanted { integration: w.integration.clone(), trigger: t.event.clone(), config: t.config.clone(), spec };
            wanted.insert((w.id, credential), want);
        }
        for s in store.list_subscriptions(project, Some(user)).await? {
            let keep = wanted
                .get(&(s.workflow, s.credential))
                .is_some_and(|w| w.trigger == s.trigger && w.config == s.config && w.spec.kind == s.kind);
            if keep {
                wanted.remove(&(s.workflow, s.credential));
            } else {
                self.remove_subscription(&s).await?;
            }
        }
        for ((workflow, credential), want) in wanted {
            let integration = store.get_integration_by_type(project, &want.integration).await?;
            let polling = want.spec.kind == SubscriptionKind::Polling;
            let new = NewSubscription {
                integration: integration.id,
                workflow,
                credential,
                trigger: want.trigger.clone(),
                kind: want.spec.kind,
                config: want.config.clone(),
                interval_secs: polling.then(|| want.spec.interval_secs.unwrap_or(DEFAULT_POLL_SECS)),
                status: match want.spec.kind {
                    SubscriptionKind::Webhook => SubscriptionStatus::Pending,
                    _ => SubscriptionStatus::Active,
                },
                next_run_at: polling.then(now),
            };
            let s = match store.create_subscription(project, new, now()).await {
                Ok(s) => s,
                // Another process made it meanwhile.
                Err(weft_store::Error::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            tracing::info!(project = %project, workflow = %workflow, subscription = %s.id, trigger = %s.trigger, kind = s.kind.as_str(), "integration trigger subscribed");
            if s.kind == SubscriptionKind::Webhook {
                self.subscribe(&want.integration, &s).await?;
            }
        }
        Ok(())
    }

    /// [`Engine::sync_subscriptions`] for every user of `workflow` (after it
    /// was deployed, undeployed or had its permissions change).
    pub async fn sync_workflow(&self, project: ProjectId, workflow: WorkflowId) -> Result<(), TriggerError> {
        if self.trigger_plugins().is_none() {
            return Ok(());
        }
        let store = &self.deps.store;
        let mut users: std::collections::BTreeSet<String> =
            store.workflow_enablements(project, workflow, None).await?.into_iter().map(|e| e.user).collect();
        users.extend(
            store
                .list_subscriptions(project, None)
                .await?
                .into_iter()
                .filter(|s| s.workflow == workflow)
                .map(|s| s.user),
        );
        for user in users {
            self.sync_subscriptions(project, &user).await?;
        }
        Ok(())
    }

    /// Removes (unsubscribing at the provider) every subscription of
    /// `workflow`: before it is deleted, while its accounts can still call
    /// the provider.
    pub async fn drop_workflow_subscriptions(
        &self,
        project: ProjectId,
        workflow: WorkflowId,
    ) -> Result<(), TriggerError> {
        for s in self.deps.store.list_subscriptions(project, None).await? {
            if s.workflow == workflow {
                self.remove_subscription(&s).await?;
            }
        }
        Ok(())
    }

    /// Removes (unsubscribing at the provider) the subscriptions of
    /// `user`'s accounts `credentials`: before the accounts are deleted,
    /// while they can still call the provider.
    pub async fn drop_account_subscriptions(
        &self,
        project: ProjectId,
        user: &str,
        credentials: &[CredentialId],
    ) -> Result<(), TriggerError> {
        for s in self.deps.store.list_subscriptions(project, Some(user)).await? {
            if credentials.contains(&s.credential) {
                self.remove_subscription(&s).await?;
            }
        }
        Ok(())
    }

    /// Runs the plugin's `subscribe` for `s` and stores the outcome: active
    /// with the plugin's state, or failed with a retry after a backoff.
    async fn subscribe(&self, integration: &str, s: &Subscription) -> Result<(), TriggerError> {
        let Some(plugins) = self.trigger_plugins() else { return Ok(()) };
        let url = format!(
            "{}/webhooks/{}/{}/{}",
            self.deps.credentials.public_url().trim_end_matches('/'),
            s.project,
            integration,
            s.id
        );
        let update = match plugins.subscribe(integration, s, &url).await {
            Ok(state) => SubscriptionUpdate {
                status: SubscriptionStatus::Active,
                state: Some(state),
                last_error: None,
                attempts: 0,
                next_run_at: None,
            },
            Err(why) => {
                let attempts = s.attempts.saturating_add(1);
                let wait = retry_wait(attempts);
                tracing::warn!(project = %s.project, subscription = %s.id, attempts, error = %why, retry_in_s = wait.as_secs(), "subscribing an integration trigger failed");
                SubscriptionUpdate {
                    status: SubscriptionStatus::Failed,
                    state: None,
                    last_error: Some(why),
                    attempts,
                    next_run_at: Some(now() + wait),
                }
            }
        };
        match self.deps.store.update_subscription(s.project, s.id, update, now()).await {
            Ok(_) | Err(weft_store::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Unsubscribes `s` at the provider where it was subscribed there, and
    /// deletes it. A failed `unsubscribe` is logged: the hook then points at
    /// a URL that answers 404.
    async fn remove_subscription(&self, s: &Subscription) -> Result<(), TriggerError> {
        let store = &self.deps.store;
        if s.kind == SubscriptionKind::Webhook
            && s.state.is_some()
            && let Some(plugins) = self.trigger_plugins()
        {
            let integration = store.get_integration(s.project, s.integration).await?.integration_type;
            if let Err(why) = plugins.unsubscribe(&integration, s).await {
                tracing::warn!(project = %s.project, subscription = %s.id, error = %why, "unsubscribing an integration trigger failed; its provider hook is left pointing at a dead URL");
            }
        }
        match store.delete_subscription(s.project, s.id).await {
            Ok(()) | Err(weft_store::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(project = %s.project, workflow = %s.workflow, subscription = %s.id, "integration trigger unsubscribed");
        Ok(())
    }

    /// The trigger loop: polls due, subscriptions to retry, unrouted events,
    /// and every few minutes a reconcile of every user's subscriptions.
    pub(crate) async fn run_triggers(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.trigger_plugins().is_none() {
            return;
        }
        let mut reconciled = tokio::time::Instant::now();
        let mut first = true;
        while !*stop.borrow() {
            if let Err(e) = self.trigger_tick().await {
                tracing::warn!(error = %e, "the integration trigger loop failed; retrying");
            }
            if first || reconciled.elapsed() >= RECONCILE_EVERY {
                first = false;
                reconciled = tokio::time::Instant::now();
                if let Err(e) = self.reconcile_all().await {
                    tracing::warn!(error = %e, "reconciling integration trigger subscriptions failed; retrying later");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// One round of the trigger loop.
    async fn trigger_tick(&self) -> Result<(), TriggerError> {
        let store = &self.deps.store;
        // Events a crash (or a failed route) left behind.
        for event in store.unrouted_events(now() - UNROUTED_AFTER, 100).await? {
            if let Err(e) = self.route_event(&event).await {
                tracing::warn!(event = %event.id, error = %e, "routing a trigger event failed; retrying later");
            }
        }
        // Subscriptions whose `subscribe` is due (again).
        for s in store.subscriptions_to_retry(now(), now() - time::Duration::minutes(1), 20).await? {
            let integration = store.get_integration(s.project, s.integration).await?.integration_type;
            self.subscribe(&integration, &s).await?;
        }
        // Polls due.
        let claims = store.claim_polls(now(), POLL_LEASE, 16).await?;
        let polls = claims.into_iter().map(|c| async move {
            if let Err(e) = self.poll_one(c.subscription, c.lease).await {
                tracing::warn!(error = %e, "a poll failed");
            }
        });
        futures::future::join_all(polls).await;
        Ok(())
    }

    /// Polls one claimed subscription and routes what it found.
    async fn poll_one(&self, s: Subscription, lease: uuid::Uuid) -> Result<(), TriggerError> {
        let Some(plugins) = self.trigger_plugins() else { return Ok(()) };
        let store = &self.deps.store;
        let integration = store.get_integration(s.project, s.integration).await?.integration_type;
        let interval = time::Duration::seconds(i64::from(s.interval_secs.unwrap_or(DEFAULT_POLL_SECS)));
        let (polled, error) = match plugins.poll(&integration, &s).await {
            Ok(p) => (p, None),
            Err(why) => {
                tracing::warn!(project = %s.project, subscription = %s.id, error = %why, "polling an integration trigger failed");
                (Polled::default(), Some(why))
            }
        };
        let events = polled
            .events
            .into_iter()
            .map(|mut e| {
                e.subscription = Some(s.id);
                e.routing_key = None;
                e
            })
            .collect();
        let finished = store
            .finish_poll(
                s.project,
                s.id,
                lease,
                polled.cursor.as_deref(),
                events,
                error.as_deref(),
                now() + interval,
                now(),
            )
            .await;
        match finished {
            Ok(ids) => {
                if !ids.is_empty() {
                    self.route_events(s.project, &ids).await;
                }
                Ok(())
            }
            Err(weft_store::Error::Conflict(_)) => {
                tracing::warn!(subscription = %s.id, "a poll outlived its lease; its result is dropped");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Syncs every user who enabled a deployed workflow with an
    /// Integration trigger, and every user who has subscriptions.
    async fn reconcile_all(&self) -> Result<(), TriggerError> {
        let store = &self.deps.store;
        for project in store.list_projects().await? {
            let mut users = std::collections::BTreeSet::new();
            for w in store.list_workflows(project.id, None).await? {
                if w.deployed_version.is_some() && w.trigger.as_ref().is_some_and(|t| t.kind == "integration") {
                    for e in store.workflow_enablements(project.id, w.id, None).await? {
                        users.insert(e.user);
                    }
                }
            }
            for s in store.list_subscriptions(project.id, None).await? {
                users.insert(s.user);
            }
            for user in users {
                self.sync_subscriptions(project.id, &user).await?;
            }
        }
        Ok(())
    }
}

/// The wait before the `attempts`-th retry of a failed `subscribe`: one
/// minute, doubling, at most an hour.
fn retry_wait(attempts: u32) -> Duration {
    let minutes = 1u64 << attempts.saturating_sub(1).min(10);
    Duration::from_secs(minutes * 60).min(MAX_RETRY_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_subscriptions_back_off_to_an_hour() {
        assert_eq!(retry_wait(1), Duration::from_secs(60));
        assert_eq!(retry_wait(2), Duration::from_secs(120));
        assert_eq!(retry_wait(4), Duration::from_secs(480));
        assert_eq!(retry_wait(7), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(u32::MAX), MAX_RETRY_WAIT);
    }
}
