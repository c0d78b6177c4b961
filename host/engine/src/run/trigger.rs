//! Starting executions. An app event starts every deployed workflow that
//! listens to it and that the user enabled, each on its deployed version,
//! with the event's payload as the trigger's output. The payload is not
//! checked against the event's schema (the reference does not either: the
//! schema is example data for building workflows).

use serde_json::Value;
use weft_store::{ExecutionId, NewExecution, ProjectId, TriggerKey};

use super::{Engine, new_step};
use crate::plan::Next;

/// An app event sent for a user.
#[derive(Debug, Clone)]
pub struct AppEvent {
    /// The project.
    pub project: ProjectId,
    /// The connected user it is sent for.
    pub user: String,
    /// The event's name.
    pub name: String,
    /// Its payload: the trigger's output.
    pub payload: Value,
}

/// The executions a trigger started.
#[derive(Debug, Clone, Default)]
pub struct Started {
    /// One per workflow started.
    pub executions: Vec<ExecutionId>,
}

/// Why a trigger could not start its executions.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] weft_store::Error),
    /// A deployed workflow cannot be read (logged; internal).
    #[error("a deployed workflow cannot be started: {0}")]
    Workflow(String),
}

impl Engine {
    /// Starts the workflows `event` triggers for its user.
    pub async fn app_event(&self, event: AppEvent) -> Result<Started, TriggerError> {
        let store = &self.deps.store;
        let key = TriggerKey { kind: "appEvent".into(), key: Some(event.name.clone()) };
        let workflows = store.deployed_with_trigger(event.project, &key).await?;
        if workflows.is_empty() {
            return Ok(Started::default());
        }
        let enabled = store.user_enablements(event.project, &event.user).await?;
        let mut started = Started::default();
        for w in workflows {
            let Some(version) = w.deployed_version else { continue };
            // Once per enablement: one per account the user enabled it for.
            for e in enabled.iter().filter(|e| e.workflow == w.id) {
                let plan = self.plan_of(event.project, w.id, version).await.map_err(TriggerError::Workflow)?;
                let first = match plan.first() {
                    Next::Run(queued) => queued.into_iter().map(new_step).collect(),
                    _ => Vec::new(),
                };
                let trigger = &plan.workflow().trigger;
                let new = NewExecution {
                    project: event.project,
                    workflow: w.id,
                    version,
                    integration: w.integration.clone(),
                    user: Some(event.user.clone()),
                    credential: e.credential,
                    trigger_step: trigger.id.clone(),
                    trigger_kind: trigger.kind.history_type().to_owned(),
                    trigger_output: event.payload.clone(),
                    first,
                };
                started.executions.push(store.start_execution(new, super::now()).await?);
            }
        }
        if !started.executions.is_empty() {
            self.wake();
        }
        Ok(started)
    }
}
