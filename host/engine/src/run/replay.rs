//! Replay (the Task History's `POST …/workflow-executions/{id}/replay`):
//! a new execution of the same version of the workflow, for the same user
//! and account, with the trigger's recorded output, from the first step; or,
//! with [`ReplayFrom::Failed`] (Weft's extension), from the failed step,
//! reusing what the steps before it recorded (see `weft_store::ReplayStore`).
//! The replayed execution is left as it was.

use super::{Engine, first_steps, now};
use weft_store::{ExecutionId, NewExecution, ProjectId};

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// From the first step (the reference's replay).
    Start,
    /// From the failed step, reusing the outputs recorded before it.
    Failed,
}

/// Why a replay could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The store refused or failed (unknown execution, one that did not
    /// fail, a failure inside a fan-out: the caller's; else internal).
    #[error(transparent)]
    Store(#[from] weft_store::Error),
    /// The execution's version cannot be read or run (internal; logged).
    #[error("the execution's workflow version cannot be run: {0}")]
    Workflow(String),
}

impl Engine {
    /// Replays `execution` of `project` from `from`; the new execution.
    pub async fn replay(
        &self,
        project: ProjectId,
        execution: ExecutionId,
        from: ReplayFrom,
    ) -> Result<ExecutionId, ReplayError> {
        let store = &self.deps.store;
        let id = match from {
            ReplayFrom::Failed => store.resume_failed(project, execution, now()).await?,
            ReplayFrom::Start => {
                let old = store.get_execution(project, execution).await?;
                let plan = self.plan_of(project, old.workflow, old.version).await.map_err(ReplayError::Workflow)?;
                // The trigger's row alone, by the queue's key (not every step
                // of a perhaps large execution).
                let trigger_id = &plan.workflow().trigger.id;
                let trigger = store
                    .find_step_run(project, execution, trigger_id, "")
                    .await?
                    .ok_or_else(|| ReplayError::Workflow("the execution has no trigger step".into()))?;
                let first = first_steps(&plan);
                let new = NewExecution {
                    project,
                    workflow: old.workflow,
                    version: old.version,
                    integration: old.integration,
                    user: old.user,
                    credential: old.credential,
                    trigger_step: trigger.step,
                    trigger_kind: old.trigger_kind,
                    trigger_output: trigger.output.unwrap_or_default(),
                    first,
                };
                store.start_execution(new, now()).await?
            }
        };
        tracing::info!(project = %project, replayed = %execution, execution = %id, ?from, "execution replayed");
        self.wake();
        Ok(id)
    }
}
