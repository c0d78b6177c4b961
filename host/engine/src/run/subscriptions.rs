//! Keeping integration trigger subscriptions in line with enablements (see
//! [`super::integration`] for what a subscription is).
//!
//! A user's enabled, deployed workflows with an Integration trigger each
//! want, for the account they run with (the enablement's, else the user's
//! first usable account of the integration):
//! - a plugin's trigger: a subscription of its own (scope `Workflow`,
//!   carrying the workflow's trigger config);
//! - a definition's webhook: the account's subscription to the trigger
//!   (scope `Account`), one however many of the user's workflows use it,
//!   removed when the last of them is turned off or the account goes;
//! - an app-level webhook set up by API requests: also the app's provider
//!   hook (scope `App`), one per integration and trigger, subscribed when
//!   its first account listens and unsubscribed after its last.
//!
//! A workflow's subscription stored for a definition's webhook before
//! shared ones existed is adopted as its account's (same provider hook, same
//! URL) rather than registered again.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use weft_store::{
    CredentialId, CredentialStatus, IntegrationId, NewSubscription, ProjectId, Store, Subscription, SubscriptionKind,
    SubscriptionScope, SubscriptionStatus, SubscriptionUpdate, WorkflowId,
};

use super::integration::{DEFAULT_POLL_SECS, TriggerSpec};
use super::{Engine, TriggerError, now};
use crate::definition::TriggerKind;

/// The longest wait before a failed `subscribe` is tried again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

/// Where a wanted subscription of a user goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Place {
    /// A workflow's, for an account.
    Workflow(WorkflowId, CredentialId),
    /// An account's, for a trigger.
    Account(CredentialId, String),
}

/// What a user's enablements want subscribed in one place.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    integration: String,
    trigger: String,
    config: Value,
    kind: SubscriptionKind,
    interval_secs: Option<u32>,
}

/// The account a user's workflows run with when the enablement names none:
/// their first usable account of `integration_type`.
pub(super) async fn default_account(
    store: &dyn Store,
    project: ProjectId,
    user: &str,
    integration_type: &str,
) -> Result<Option<CredentialId>, TriggerError> {
    let integration = match store.get_integration_by_type(project, integration_type).await {
        Ok(i) => i,
        Err(weft_store::Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let accounts = store.list_user_credentials(project, user).await?;
    Ok(accounts
        .iter()
        .find(|c| c.integration_id == integration.id && c.status == CredentialStatus::Valid)
        .map(|c| c.id))
}

impl Engine {
    /// Brings `user`'s subscriptions in line with their enablements (see
    /// the module docs): subscribes what is missing and removes
    /// (unsubscribing at the provider) what is no longer wanted or changed;
    /// then the app-level hooks their listening touched.
    pub async fn sync_subscriptions(&self, project: ProjectId, user: &str) -> Result<(), TriggerError> {
        let Some(plugins) = self.trigger_plugins() else { return Ok(()) };
        let store = &self.deps.store;
        let mut wanted: HashMap<Place, Wanted> = HashMap::new();
        let mut app_hooks: BTreeSet<(String, String)> = BTreeSet::new();
        for e in store.user_enablements(project, user).await? {
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
                None => match default_account(store.as_ref(), project, user, &w.integration).await? {
                    Some(c) => c,
                    None => continue,
                },
            };
            let (place, want) = wanted_for(&w.integration, w.id, credential, &t.event, &t.config, &spec);
            if spec.scope == SubscriptionScope::App && spec.kind == SubscriptionKind::Webhook {
                app_hooks.insert((w.integration.clone(), t.event.clone()));
            }
            wanted.insert(place, want);
        }
        for s in store.list_subscriptions(project, Some(user)).await? {
            let place = match (s.scope, s.workflow) {
                (SubscriptionScope::Workflow, Some(w)) => Place::Workflow(w, s.credential),
                (SubscriptionScope::Account, _) => Place::Account(s.credential, s.trigger.clone()),
                // The app's hooks are synced below, for every user.
                _ => continue,
            };
            let keep =
                wanted.get(&place).is_some_and(|w| w.trigger == s.trigger && w.config == s.config && w.kind == s.kind);
            if keep {
                wanted.remove(&place);
            } else if !self.adopt(&s, &mut wanted).await? {
                self.remove_subscription(&s).await?;
            }
        }
        for (place, want) in wanted {
            let (workflow, credential, scope) = match place {
                Place::Workflow(w, c) => (Some(w), c, SubscriptionScope::Workflow),
                Place::Account(c, _) => (None, c, SubscriptionScope::Account),
            };
            self.create_subscription(project, &want, workflow, credential, scope).await?;
        }
        self.sync_app_hooks(project, app_hooks).await
    }

    /// Adopts `s`, a workflow's subscription to a definition's webhook, as
    /// its account's when that is wanted and missing: its provider hook
    /// stays. Whether it did.
    async fn adopt(&self, s: &Subscription, wanted: &mut HashMap<Place, Wanted>) -> Result<bool, TriggerError> {
        let place = Place::Account(s.credential, s.trigger.clone());
        if s.scope != SubscriptionScope::Workflow || wanted.get(&place).is_none_or(|w| w.kind != s.kind) {
            return Ok(false);
        }
        match self.deps.store.share_subscription(s.project, s.id).await {
            Ok(_) => {
                wanted.remove(&place);
                tracing::info!(project = %s.project, subscription = %s.id, trigger = %s.trigger, "a workflow's webhook subscription adopted as its account's");
                Ok(true)
            }
            Err(weft_store::Error::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn create_subscription(
        &self,
        project: ProjectId,
        want: &Wanted,
        workflow: Option<WorkflowId>,
        credential: CredentialId,
        scope: SubscriptionScope,
    ) -> Result<(), TriggerError> {
        let store = &self.deps.store;
        let integration = store.get_integration_by_type(project, &want.integration).await?;
        let polling = want.kind == SubscriptionKind::Polling;
        let new = NewSubscription {
            integration: integration.id,
            workflow,
            scope,
            credential,
            trigger: want.trigger.clone(),
            kind: want.kind,
            config: want.config.clone(),
            interval_secs: polling.then(|| want.interval_secs.unwrap_or(DEFAULT_POLL_SECS)),
            status: match want.kind {
                SubscriptionKind::Webhook => SubscriptionStatus::Pending,
                _ => SubscriptionStatus::Active,
            },
            next_run_at: polling.then(now),
        };
        let s = match store.create_subscription(project, new, now()).await {
            Ok(s) => s,
            // Another process made it meanwhile.
            Err(weft_store::Error::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(project = %project, scope = scope.as_str(), subscription = %s.id, trigger = %s.trigger, kind = s.kind.as_str(), "integration trigger subscribed");
        if s.kind == SubscriptionKind::Webhook {
            self.subscribe(&want.integration, &s).await?;
        }
        Ok(())
    }

    /// Brings the project's app-level hooks (`extra`, and every one stored)
    /// in line with who listens: one while any account's subscription to
    /// its trigger is active, sent as the oldest such account; none after.
    async fn sync_app_hooks(&self, project: ProjectId, extra: BTreeSet<(String, String)>) -> Result<(), TriggerError> {
        let Some(plugins) = self.trigger_plugins() else { return Ok(()) };
        let store = &self.deps.store;
        let all = store.list_subscriptions(project, None).await?;
        let mut hooks: BTreeSet<(IntegrationId, String)> = BTreeSet::new();
        for (integration, trigger) in extra {
            hooks.insert((store.get_integration_by_type(project, &integration).await?.id, trigger));
        }
        hooks.extend(
            all.iter().filter(|s| s.scope == SubscriptionScope::App).map(|s| (s.integration, s.trigger.clone())),
        );
        for (integration, trigger) in hooks {
            let here = |s: &&Subscription| s.integration == integration && s.trigger == trigger;
            let app = all.iter().filter(here).find(|s| s.scope == SubscriptionScope::App);
            let integration_type = store.get_integration(project, integration).await?.integration_type;
            let spec = plugins.trigger(project, &integration_type, &trigger).await;
            let programmatic =
                spec.is_some_and(|s| s.scope == SubscriptionScope::App && s.kind == SubscriptionKind::Webhook);
            let listener = all
                .iter()
                .filter(here)
                .find(|s| s.scope == SubscriptionScope::Account && s.status == SubscriptionStatus::Active);
            match (app, listener) {
                (Some(app), listener) if !programmatic || listener.is_none() => self.remove_subscription(app).await?,
                (None, Some(first)) if programmatic => {
                    let want = Wanted {
                        integration: integration_type,
                        trigger: trigger.clone(),
                        config: json!({}),
                        kind: SubscriptionKind::Webhook,
                        interval_secs: None,
                    };
                    self.create_subscription(project, &want, None, first.credential, SubscriptionScope::App).await?;
                }
                _ => {}
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
        let mut users: BTreeSet<String> =
            store.workflow_enablements(project, workflow, None).await?.into_iter().map(|e| e.user).collect();
        users.extend(
            store
                .list_subscriptions(project, None)
                .await?
                .into_iter()
                .filter(|s| s.workflow == Some(workflow))
                .map(|s| s.user),
        );
        for user in users {
            self.sync_subscriptions(project, &user).await?;
        }
        Ok(())
    }

    /// Removes (unsubscribing at the provider) every subscription of
    /// `workflow`: before it is deleted, while its accounts can still call
    /// the provider. Returns the users who enabled it: the subscriptions
    /// they share with other workflows are theirs to sync once it is gone.
    pub async fn drop_workflow_subscriptions(
        &self,
        project: ProjectId,
        workflow: WorkflowId,
    ) -> Result<Vec<String>, TriggerError> {
        let store = &self.deps.store;
        for s in store.list_subscriptions(project, None).await? {
            if s.workflow == Some(workflow) {
                self.remove_subscription(&s).await?;
            }
        }
        let users: BTreeSet<String> =
            store.workflow_enablements(project, workflow, None).await?.into_iter().map(|e| e.user).collect();
        Ok(users.into_iter().collect())
    }

    /// Removes (unsubscribing at the provider) the subscriptions of
    /// `user`'s accounts `credentials`, an app-level hook sent as one of them
    /// included: before the accounts are deleted, while they can still call
    /// the provider. (The next sync sets such a hook up again as another
    /// listening account.)
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
    pub(super) async fn subscribe(&self, integration: &str, s: &Subscription) -> Result<(), TriggerError> {
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
    pub(super) async fn remove_subscription(&self, s: &Subscription) -> Result<(), TriggerError> {
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
        tracing::info!(project = %s.project, scope = s.scope.as_str(), subscription = %s.id, "integration trigger unsubscribed");
        Ok(())
    }
}

/// Where a workflow's enablement wants `spec`'s trigger subscribed for
/// `credential`, and what.
fn wanted_for(
    integration: &str,
    workflow: WorkflowId,
    credential: CredentialId,
    trigger: &str,
    config: &Value,
    spec: &TriggerSpec,
) -> (Place, Wanted) {
    let shared = |kind| Wanted {
        integration: integration.to_owned(),
        trigger: trigger.to_owned(),
        config: json!({}),
        kind,
        interval_secs: None,
    };
    match spec.scope {
        SubscriptionScope::Workflow => (
            Place::Workflow(workflow, credential),
            Wanted { config: config.clone(), interval_secs: spec.interval_secs, ..shared(spec.kind) },
        ),
        SubscriptionScope::Account => (Place::Account(credential, trigger.to_owned()), shared(spec.kind)),
        // The account only listens; the app's hook does the provider's side.
        SubscriptionScope::App => {
            (Place::Account(credential, trigger.to_owned()), shared(SubscriptionKind::AppWebhook))
        }
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
