//! Workflows: a project's workflow definitions, their immutable versions,
//! which version new executions run, and which users enabled them.
//!
//! The store keeps a definition as the JSON document it is given and never
//! reads it: validating and compiling it is the engine's. Deploying freezes
//! a definition the engine has validated into a new version and points the
//! workflow at it; an execution records the version it started on and stays
//! on it. What triggers the deployed version (its kind, and a key such as
//! an app event's name) is given at deploy time and kept on the workflow,
//! so a trigger finds the workflows it starts with one indexed read.
//!
//! Versions are numbered from 1 per workflow and never change: restoring an
//! old version writes a new one (and makes it the draft).

mod sql;

use crate::ids::{CredentialId, ProjectId};
use crate::queue::WorkflowId;
use crate::{Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

/// Longest workflow name accepted, in characters.
pub const MAX_WORKFLOW_NAME_LEN: usize = 200;

/// Largest definition accepted, in bytes of JSON.
pub const MAX_DEFINITION_BYTES: usize = 1 << 20;

/// A workflow as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Its id.
    pub id: WorkflowId,
    /// The project.
    pub project: ProjectId,
    /// Its name.
    pub name: String,
    /// The integration type it belongs to.
    pub integration: String,
    /// The draft: the definition as last saved.
    pub definition: Value,
    /// The number of versions written so far (the newest one's number).
    pub versions: u32,
    /// The version new executions run; `None` while undeployed.
    pub deployed_version: Option<u32>,
    /// What triggers the deployed version.
    pub trigger: Option<TriggerKey>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// What triggers a deployed workflow: a kind (`appEvent`, `request`, ...)
/// and, where the kind has one, what it listens to (an app event's name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TriggerKey {
    /// The trigger's kind.
    pub kind: String,
    /// What it listens to, if anything.
    pub key: Option<String>,
}

/// A workflow to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflow {
    /// Its name.
    pub name: String,
    /// The integration type it belongs to.
    pub integration: String,
    /// The first draft.
    pub definition: Value,
}

/// Why a version was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionKind {
    /// Saved by hand.
    Saved,
    /// Written by a deploy.
    Deployed,
    /// An older version restored.
    Restored,
}

impl VersionKind {
    /// As stored: `saved`, `deployed`, `restored`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::Deployed => "deployed",
            Self::Restored => "restored",
        }
    }
}

impl std::str::FromStr for VersionKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "saved" => Self::Saved,
            "deployed" => Self::Deployed,
            "restored" => Self::Restored,
            other => return Err(Error::Invalid(format!("unknown version kind {other:?}"))),
        })
    }
}

/// One version of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowVersion {
    /// The workflow.
    pub workflow: WorkflowId,
    /// Its number, from 1.
    pub version: u32,
    /// Why it was written.
    pub kind: VersionKind,
    /// The definition, as frozen.
    pub definition: Value,
    /// When it was written.
    pub created_at: OffsetDateTime,
}

/// One user's enablement of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Enablement {
    /// The workflow.
    pub workflow: WorkflowId,
    /// The connected user.
    pub user: String,
    /// The account it runs with; `None` for the user's first account.
    pub credential: Option<CredentialId>,
    /// Since when.
    pub enabled_at: OffsetDateTime,
}

/// Workflows, versions and enablements.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Creates a workflow with its first draft (no version yet).
    async fn create_workflow(&self, project: ProjectId, new: NewWorkflow) -> Result<Workflow>;

    /// One workflow of the project.
    async fn get_workflow(&self, project: ProjectId, id: WorkflowId) -> Result<Workflow>;

    /// The project's workflows, oldest first; of one integration if given.
    async fn list_workflows(&self, project: ProjectId, integration: Option<&str>) -> Result<Vec<Workflow>>;

    /// Replaces the name and/or the draft; the deployed version is
    /// untouched.
    async fn update_workflow(
        &self,
        project: ProjectId,
        id: WorkflowId,
        name: Option<String>,
        definition: Option<Value>,
    ) -> Result<Workflow>;

    /// Deletes a workflow with its versions and enablements (its executions
    /// stay, as history).
    async fn delete_workflow(&self, project: ProjectId, id: WorkflowId) -> Result<()>;

    /// Writes `definition` (already validated) as a new version of `kind`
    /// and makes it the draft; with `deploy`, new executions run it and it
    /// is triggered by `deploy`'s key. Returns the version's number.
    async fn write_version(
        &self,
        project: ProjectId,
        id: WorkflowId,
        kind: VersionKind,
        definition: Value,
        deploy: Option<TriggerKey>,
    ) -> Result<u32>;

    /// Stops new executions of the workflow (running ones finish on their
    /// version).
    async fn undeploy_workflow(&self, project: ProjectId, id: WorkflowId) -> Result<Workflow>;

    /// One version of a workflow.
    async fn get_workflow_version(&self, project: ProjectId, id: WorkflowId, version: u32) -> Result<WorkflowVersion>;

    /// A workflow's versions, newest first.
    async fn list_workflow_versions(&self, project: ProjectId, id: WorkflowId) -> Result<Vec<WorkflowVersion>>;

    /// The deployed workflows that `trigger` starts, with their deployed
    /// versions' numbers.
    async fn deployed_with_trigger(&self, project: ProjectId, trigger: &TriggerKey) -> Result<Vec<Workflow>>;

    /// Enables a workflow for a user (idempotent); with `credential`, for
    /// that account.
    async fn enable_workflow(
        &self,
        project: ProjectId,
        id: WorkflowId,
        user: &str,
        credential: Option<CredentialId>,
    ) -> Result<Enablement>;

    /// Disables it for a user: for one account, or (`None`) for all of
    /// theirs. Returns how many enablements were removed.
    async fn disable_workflow(
        &self,
        project: ProjectId,
        id: WorkflowId,
        user: &str,
        credential: Option<CredentialId>,
    ) -> Result<u64>;

    /// A user's enablements, of every workflow of the project.
    async fn user_enablements(&self, project: ProjectId, user: &str) -> Result<Vec<Enablement>>;

    /// The enablements of a workflow by the given users (all users if
    /// `users` is `None`).
    async fn workflow_enablements(
        &self,
        project: ProjectId,
        id: WorkflowId,
        users: Option<&[String]>,
    ) -> Result<Vec<Enablement>>;
}

/// Checks a new or replaced draft.
pub(crate) fn check_definition(definition: &Value) -> Result<()> {
    if !definition.is_object() {
        return Err(Error::invalid("a workflow definition must be a JSON object"));
    }
    let size = serde_json::to_vec(definition).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_DEFINITION_BYTES {
        return Err(Error::TooLarge {
            what: "workflow definition",
            size: size as u64,
            limit: MAX_DEFINITION_BYTES as u64,
        });
    }
    Ok(())
}

/// Checks a workflow's name.
pub(crate) fn check_name(name: &str) -> Result<&str> {
    crate::check::label("workflow name", name, MAX_WORKFLOW_NAME_LEN)
}

/// Checks a workflow's integration type.
pub(crate) fn check_integration(integration: &str) -> Result<&str> {
    crate::check::label("integration type", integration, crate::integrations::MAX_INTEGRATION_TYPE_LEN)
}

/// How an enablement's account is stored: its id, or empty for "the
/// user's first account" (a primary key column cannot be NULL).
pub(crate) fn credential_key(credential: Option<CredentialId>) -> String {
    credential.map(|c| c.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definitions_are_objects_of_bounded_size() {
        assert!(check_definition(&json!({"steps": []})).is_ok());
        assert!(matches!(check_definition(&json!([1])), Err(Error::Invalid(_))));
        let huge = json!({"x": "y".repeat(MAX_DEFINITION_BYTES)});
        assert!(matches!(check_definition(&huge), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn version_kinds_round_trip() {
        for k in [VersionKind::Saved, VersionKind::Deployed, VersionKind::Restored] {
            assert_eq!(k.as_str().parse::<VersionKind>().unwrap(), k);
        }
    }
}
