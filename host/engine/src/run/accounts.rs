//! What a user's accounts mean for their workflows: an account that became
//! usable starts the integration's Integration Enabled workflows, once per
//! account; an account that was removed turns off the workflows that ran
//! with it.
//!
//! "Usable" is the reference's: the account is VALID and every required
//! integration-level User Setting is saved. Weft keeps User Setting values
//! in the account's configuration (`sharedSettings`); which of them an
//! integration requires is declared with the Connect Portal's settings, and
//! until an integration declares some none is missing. The check runs
//! whenever an account is connected or its configuration saved, and the
//! store's once-key makes repeats (and two processes racing) harmless.

use serde_json::json;
use weft_store::{CredentialId, CredentialStatus, NewExecution, ProjectId, TriggerKey};

use super::{Engine, Started, TriggerError, first_steps};

impl Engine {
    /// Starts the Integration Enabled workflows of `credential`'s
    /// integration for its user, unless each has already run for it; does
    /// nothing while the account is not usable or its user is disabled.
    pub async fn integration_enabled(
        &self,
        project: ProjectId,
        credential: CredentialId,
    ) -> Result<Started, TriggerError> {
        let store = &self.deps.store;
        let mut started = Started::default();
        let account = match store.get_credential(project, credential).await {
            Ok(c) => c,
            // Removed since: nothing to start.
            Err(weft_store::Error::NotFound(_)) => return Ok(started),
            Err(e) => return Err(e.into()),
        };
        if account.status != CredentialStatus::Valid {
            return Ok(started);
        }
        let key = TriggerKey { kind: "integrationEnabled".into(), key: None };
        let integration = store.get_integration(project, account.integration_id).await?;
        if !missing_settings(&integration, &account).is_empty() {
            return Ok(started);
        }
        let workflows: Vec<_> = store
            .deployed_with_trigger(project, &key)
            .await?
            .into_iter()
            .filter(|w| w.integration == integration.integration_type)
            .collect();
        if workflows.is_empty() || self.user_stopped(project, &account.user_id).await? {
            return Ok(started);
        }
        let mut meta = super::permissions::UserMeta::new(&account.user_id);
        for w in workflows {
            let Some(version) = w.deployed_version else { continue };
            if !self.permitted_for(project, w.id, version, &mut meta).await? {
                continue;
            }
            let plan = self.plan_of(project, w.id, version).await.map_err(TriggerError::Workflow)?;
            let trigger = &plan.workflow().trigger;
            let first = first_steps(&plan);
            let new = NewExecution {
                project,
                workflow: w.id,
                version,
                integration: w.integration.clone(),
                user: Some(account.user_id.clone()),
                credential: Some(account.id),
                trigger_step: trigger.id.clone(),
                trigger_kind: trigger.kind.history_type().to_owned(),
                trigger_output: json!({
                    "userId": account.user_id,
                    "integration": integration.integration_type,
                    "credentialId": account.id,
                    "providerId": account.provider_id,
                }),
                first,
            };
            let once = format!("integration-enabled:{}", account.id);
            if let Some(id) = store.start_execution_once(new, &once, super::now()).await? {
                tracing::info!(project = %project, workflow = %w.id, execution = %id, "integration enabled: workflow started");
                started.executions.push(id);
            }
        }
        if !started.executions.is_empty() {
            self.wake();
        }
        Ok(started)
    }

    /// Enables the integration's default-enabled workflows (`portal.
    /// defaultEnabled`) that `user` is permitted, for `credential`, when it
    /// is the user's first account of it and was just connected (a
    /// reconnected account, or a second one, changes nothing: a user who
    /// turned a workflow off keeps it off). Returns the workflows enabled.
    pub async fn enable_defaults(
        &self,
        project: ProjectId,
        credential: CredentialId,
    ) -> Result<Vec<weft_store::WorkflowId>, TriggerError> {
        let store = &self.deps.store;
        let account = store.get_credential(project, credential).await?;
        let others = store
            .list_user_credentials(project, &account.user_id)
            .await?
            .iter()
            .any(|c| c.integration_id == account.integration_id && c.id != account.id);
        // Version 1 is the account as first saved; a reconnect bumps it.
        if others || account.version != 1 {
            return Ok(Vec::new());
        }
        let integration = store.get_integration(project, account.integration_id).await?;
        let mut enabled = Vec::new();
        for (w, plan) in self.permitted_deployed(project, &integration.integration_type, &account.user_id).await? {
            if plan.workflow().portal.default_enabled {
                store.enable_workflow(project, w.id, &account.user_id, Some(account.id)).await?;
                enabled.push(w.id);
            }
        }
        if !enabled.is_empty() {
            tracing::info!(project = %project, credential = %credential, workflows = enabled.len(), "default-enabled workflows turned on for a new account");
        }
        Ok(enabled)
    }

    /// Turns off `user`'s workflows of `integration` after accounts were
    /// removed: those enabled for a removed account, and, once the user has
    /// no account of the integration left, all of them. Returns how many
    /// enablements were removed.
    pub async fn accounts_removed(
        &self,
        project: ProjectId,
        user: &str,
        integration: &str,
        removed: &[CredentialId],
    ) -> Result<u64, TriggerError> {
        let store = &self.deps.store;
        let integration_id = store.get_integration_by_type(project, integration).await?.id;
        let left = store
            .list_user_credentials(project, user)
            .await?
            .iter()
            .any(|c| c.integration_id == integration_id && !removed.contains(&c.id));
        let mut off = 0;
        for w in store.list_workflows(project, Some(integration)).await? {
            if left {
                for id in removed {
                    off += store.disable_workflow(project, w.id, user, Some(*id)).await?;
                }
            } else {
                off += store.disable_workflow(project, w.id, user, None).await?;
            }
        }
        if off > 0 {
            tracing::info!(project = %project, integration, off, "workflows turned off with the accounts they ran with");
        }
        Ok(off)
    }

    /// Whether `user`'s workflows must not start: the user is disabled.
    /// (A user never seen has no record, and is not.)
    pub(crate) async fn user_stopped(&self, project: ProjectId, user: &str) -> Result<bool, TriggerError> {
        match self.deps.store.get_user(project, user).await {
            Ok(u) => Ok(u.disabled),
            Err(weft_store::Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// The ids of the integration's required User Settings (its portal
/// configuration's `settings`) that the account has not saved a value for.
pub fn missing_settings(integration: &weft_store::Integration, account: &weft_store::Credential) -> Vec<String> {
    let declared = crate::definition::IntegrationPortal::of(&integration.portal_texts).settings;
    let saved = account.config.get("sharedSettings").and_then(|s| s.as_object());
    let filled = |id: &str| match saved.and_then(|s| s.get(id)) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    };
    declared.into_iter().filter(|s| s.required && !filled(&s.id)).map(|s| s.id).collect()
}
