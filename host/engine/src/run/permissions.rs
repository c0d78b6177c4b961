//! Workflow Permissions at run time (see [`crate::permissions`]): asked by
//! triggers before they start an execution and by the API before a user
//! enables or sees a workflow; enforced on existing enablements when a
//! user's metadata changes or a workflow's new version is deployed.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use weft_store::{ProjectId, WorkflowId};

use super::{Engine, TriggerError};
use crate::permissions::permits;

/// A user's metadata, read once for several workflows.
pub(crate) struct UserMeta {
    user: String,
    meta: Option<Map<String, Value>>,
}

impl UserMeta {
    pub(crate) fn new(user: &str) -> Self {
        Self { user: user.to_owned(), meta: None }
    }
}

impl Engine {
    /// Whether `version` of `workflow` may run for (and be enabled by)
    /// `user`.
    pub async fn permitted(
        &self,
        project: ProjectId,
        workflow: WorkflowId,
        version: u32,
        user: &str,
    ) -> Result<bool, TriggerError> {
        self.permitted_for(project, workflow, version, &mut UserMeta::new(user)).await
    }

    /// The deployed workflows of `integration` that `user` is permitted,
    /// each with its plan, reading the user's metadata at most once.
    pub async fn permitted_deployed(
        &self,
        project: ProjectId,
        integration: &str,
        user: &str,
    ) -> Result<Vec<(weft_store::Workflow, std::sync::Arc<crate::Plan>)>, TriggerError> {
        let mut meta = UserMeta::new(user);
        let mut out = Vec::new();
        for w in self.deps.store.list_workflows(project, Some(integration)).await? {
            let Some(version) = w.deployed_version else { continue };
            if self.permitted_for(project, w.id, version, &mut meta).await? {
                let plan = self.plan_of(project, w.id, version).await.map_err(TriggerError::Workflow)?;
                out.push((w, plan));
            }
        }
        Ok(out)
    }

    /// As [`Engine::permitted`], reading the user's metadata at most once
    /// across calls with the same `user`.
    pub(crate) async fn permitted_for(
        &self,
        project: ProjectId,
        workflow: WorkflowId,
        version: u32,
        user: &mut UserMeta,
    ) -> Result<bool, TriggerError> {
        let plan = self.plan_of(project, workflow, version).await.map_err(TriggerError::Workflow)?;
        if plan.workflow().permissions.is_none() {
            return Ok(true);
        }
        if user.meta.is_none() {
            user.meta = Some(match self.deps.store.get_user(project, &user.user).await {
                Ok(u) => u.metadata,
                Err(weft_store::Error::NotFound(_)) => Map::new(),
                Err(e) => return Err(e.into()),
            });
        }
        Ok(permits(plan.workflow(), &user.user, user.meta.as_ref().unwrap_or(&Map::new())))
    }

    /// Turns off `user`'s workflows whose deployed version's permissions
    /// the user no longer meets (their metadata changed). Returns how many
    /// enablements were removed.
    pub async fn enforce_permissions_of_user(&self, project: ProjectId, user: &str) -> Result<u64, TriggerError> {
        let store = &self.deps.store;
        let workflows: BTreeSet<WorkflowId> =
            store.user_enablements(project, user).await?.into_iter().map(|e| e.workflow).collect();
        let mut meta = UserMeta::new(user);
        let mut off = 0;
        for id in workflows {
            let Some(version) = store.get_workflow(project, id).await?.deployed_version else { continue };
            if !self.permitted_for(project, id, version, &mut meta).await? {
                off += store.disable_workflow(project, id, user, None).await?;
                tracing::info!(project = %project, workflow = %id, "workflow turned off: the user no longer meets its permissions");
            }
        }
        if off > 0 {
            self.sync_subscriptions(project, user).await?;
        }
        Ok(off)
    }

    /// Turns off `workflow` for the users who do not meet its deployed
    /// version's permissions (a new version was deployed). Returns how many
    /// enablements were removed.
    pub async fn enforce_permissions_of_workflow(
        &self,
        project: ProjectId,
        workflow: WorkflowId,
    ) -> Result<u64, TriggerError> {
        let store = &self.deps.store;
        let Some(version) = store.get_workflow(project, workflow).await?.deployed_version else { return Ok(0) };
        let plan = self.plan_of(project, workflow, version).await.map_err(TriggerError::Workflow)?;
        if plan.workflow().permissions.is_none() {
            return Ok(0);
        }
        let users: BTreeSet<String> =
            store.workflow_enablements(project, workflow, None).await?.into_iter().map(|e| e.user).collect();
        let mut off = 0;
        for user in users {
            if !self.permitted_for(project, workflow, version, &mut UserMeta::new(&user)).await? {
                off += store.disable_workflow(project, workflow, &user, None).await?;
            }
        }
        if off > 0 {
            tracing::info!(project = %project, workflow = %workflow, off, "workflow turned off for users who do not meet its permissions");
        }
        Ok(off)
    }
}
