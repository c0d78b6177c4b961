//! Integration triggers: a plugin's webhook and polling triggers, and a
//! definition's declarative webhooks, starting workflows.
//!
//! A workflow with an Integration trigger listens for each account a user
//! enabled it with through a *subscription* (store: `triggers`), which
//! [`super::subscriptions`] keeps in line with the enablements
//! ([`Engine::sync_subscriptions`], after every change of a user's
//! enablements and every five minutes for everyone). A plugin's trigger has
//! one per workflow and account (the workflow configures it); a definition's
//! webhook one per account and trigger, which every workflow of the user on
//! the trigger shares, and an app-level one set up by API requests also one
//! per integration and trigger (the provider hook, sent as one account):
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
    CredentialStatus, ExecutionId, NewExecution, NewTriggerEvent, ProjectId, Subscription, SubscriptionKind,
    SubscriptionScope, SubscriptionStatus, TriggerEvent, TriggerEventId, WorkflowId,
};

use super::matching::{EventMatch, admitted};
use super::{Engine, Started, TriggerError, first_steps, now};
use crate::definition::TriggerKind;

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
    /// Whose its subscriptions are: a plugin's trigger, each workflow's
    /// (`Workflow`); a definition's webhook, each account's (`Account`), or
    /// for an app-level one also the app's (`App`: one provider hook for the
    /// integration when `kind` is `Webhook`; the accounts' own subscriptions
    /// then only mark who listens).
    pub scope: SubscriptionScope,
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

/// The default poll interval: once a minute, as the reference polls.
pub const DEFAULT_POLL_SECS: u32 = 60;

impl Engine {
    pub(super) fn trigger_plugins(&self) -> Option<&dyn TriggerPlugins> {
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
            let workflows = match (s.scope, s.workflow) {
                (SubscriptionScope::Workflow, Some(w)) => vec![w],
                (SubscriptionScope::Account, _) => self.listening_workflows(s).await?,
                // The app's hook names no user: its events are routed by
                // routing key to the accounts' subscriptions.
                _ => Vec::new(),
            };
            for w in workflows {
                if let Some(id) = self.start_for(event, s, w, meta).await? {
                    started.push(id);
                }
            }
        }
        if !started.is_empty() {
            tracing::info!(project = %project, event = %event.id, trigger = %event.trigger, executions = started.len(), "integration trigger: workflows started");
        }
        Ok(started)
    }

    /// The workflows an account's shared subscription `s` starts: those its
    /// user enabled with its account (or with none, when it is the account
    /// they run with), on its trigger. Whether each is deployed and still on
    /// the trigger is `start_for`'s check.
    async fn listening_workflows(&self, s: &Subscription) -> Result<Vec<WorkflowId>, TriggerError> {
        let store = &self.deps.store;
        let mut out = Vec::new();
        let mut default = None;
        for e in store.user_enablements(s.project, &s.user).await? {
            let mine = match e.credential {
                Some(c) => c == s.credential,
                None => {
                    if default.is_none() {
                        let integration = store.get_integration(s.project, s.integration).await?;
                        default = Some(
                            super::subscriptions::default_account(
                                store.as_ref(),
                                s.project,
                                &s.user,
                                &integration.integration_type,
                            )
                            .await?,
                        );
                    }
                    default.flatten() == Some(s.credential)
                }
            };
            if mine && !out.contains(&e.workflow) {
                out.push(e.workflow);
            }
        }
        Ok(out)
    }

    /// Starts `workflow` for `event` through `s`, unless it no longer
    /// listens, its user is stopped or not permitted, its account is not
    /// usable, or it already ran for this event and account.
    async fn start_for(
        &self,
        event: &TriggerEvent,
        s: &Subscription,
        workflow: WorkflowId,
        meta: &mut super::permissions::UserMeta,
    ) -> Result<Option<ExecutionId>, TriggerError> {
        let store = &self.deps.store;
        let project = event.project;
        let w = match store.get_workflow(project, workflow).await {
            Ok(w) => w,
            Err(weft_store::Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (Some(version), Some(trigger)) = (w.deployed_version, &w.trigger) else { return Ok(None) };
        if trigger.kind != "integration" || trigger.key.as_deref() != Some(event.trigger.as_str()) {
            return Ok(None);
        }
        match store.get_credential(project, s.credential).await {
            Ok(c) if c.status == CredentialStatus::Valid && c.integration_id == event.integration => {}
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
        let first = first_steps(&plan);
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
        // Unique per workflow: each workflow starts once per event and account.
        let once = format!("event:{}:{}", event.id, s.credential);
        Ok(store.start_execution_once(new, &once, now()).await?)
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
