//! The queue's rows: what each statement reads back, the columns it
//! names, and the conversion into the public types (the only place a queue
//! row is mapped).

use super::count;
use crate::queue::{ClaimedStep, Execution, Lease, StepRun, WorkflowId};
use crate::rows::Ts;
use crate::{Error, Result};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(super) struct ExecutionRow {
    pub(super) id: Uuid,
    pub(super) project_id: Uuid,
    pub(super) workflow_id: Uuid,
    pub(super) version: i32,
    pub(super) integration: String,
    pub(super) user_id: Option<String>,
    pub(super) credential_id: Option<Uuid>,
    pub(super) trigger_kind: String,
    pub(super) status: String,
    pub(super) tasks: i64,
    pub(super) response: Option<Json<Value>>,
    pub(super) created_at: Ts,
    pub(super) ended_at: Option<Ts>,
}

/// The columns [`ExecutionRow`] decodes.
macro_rules! execution_columns {
    () => {
        "id, project_id, workflow_id, version, integration, user_id, credential_id, trigger_kind, status, tasks, \
         response, created_at, ended_at"
    };
}
pub(super) use execution_columns;

impl TryFrom<ExecutionRow> for Execution {
    type Error = Error;
    fn try_from(r: ExecutionRow) -> Result<Self> {
        Ok(Execution {
            id: r.id.into(),
            project: r.project_id.into(),
            workflow: r.workflow_id.into(),
            version: count(r.version)?,
            integration: r.integration,
            user: r.user_id,
            credential: r.credential_id.map(Into::into),
            trigger_kind: r.trigger_kind,
            status: r.status.parse()?,
            tasks: u64::try_from(r.tasks)
                .map_err(|_| Error::Invalid(format!("a stored count is negative: {}", r.tasks)))?,
            response: r.response.map(|j| j.0),
            created_at: r.created_at.0,
            ended_at: r.ended_at.map(|t| t.0),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct StepRow {
    pub(super) id: Uuid,
    pub(super) execution_id: Uuid,
    pub(super) step: String,
    pub(super) instance: String,
    pub(super) kind: String,
    pub(super) prev: Option<Uuid>,
    pub(super) state: String,
    pub(super) attempt: i32,
    pub(super) restarts: i32,
    pub(super) idempotency_key: String,
    pub(super) input: Option<Json<Value>>,
    pub(super) output: Option<Json<Value>>,
    pub(super) error: Option<Json<Value>>,
    pub(super) run_after: Ts,
    pub(super) created_at: Ts,
    pub(super) started_at: Option<Ts>,
    pub(super) ended_at: Option<Ts>,
}

/// The columns [`StepRow`] decodes.
macro_rules! step_columns {
    () => {
        "id, execution_id, step, instance, kind, prev, state, attempt, restarts, idempotency_key, input, output, \
         error, run_after, created_at, started_at, ended_at"
    };
}
pub(super) use step_columns;

impl TryFrom<StepRow> for StepRun {
    type Error = Error;
    fn try_from(r: StepRow) -> Result<Self> {
        Ok(StepRun {
            id: r.id.into(),
            execution: r.execution_id.into(),
            step: r.step,
            instance: r.instance,
            kind: r.kind,
            prev: r.prev.map(Into::into),
            state: r.state.parse()?,
            attempt: count(r.attempt)?,
            restarts: count(r.restarts)?,
            idempotency_key: r.idempotency_key,
            input: r.input.map(|j| j.0),
            output: r.output.map(|j| j.0),
            error: r.error.map(|j| j.0),
            run_after: r.run_after.0,
            created_at: r.created_at.0,
            started_at: r.started_at.map(|t| t.0),
            ended_at: r.ended_at.map(|t| t.0),
        })
    }
}

/// A step as the claim leased it, with the facts of its execution.
#[derive(sqlx::FromRow)]
pub(super) struct LeasedRow {
    pub(super) id: Uuid,
    pub(super) project_id: Uuid,
    pub(super) execution_id: Uuid,
    pub(super) step: String,
    pub(super) instance: String,
    pub(super) attempt: i32,
    pub(super) restarts: i32,
    pub(super) pauses: i32,
    pub(super) idempotency_key: String,
    pub(super) run_after: Ts,
    pub(super) lease_until: Ts,
    pub(super) deadline: Ts,
    pub(super) workflow_id: Uuid,
    pub(super) version: i32,
    pub(super) user_id: Option<String>,
    pub(super) credential_id: Option<Uuid>,
    /// The execution's status when the step was claimed.
    pub(super) execution_status: String,
}

impl LeasedRow {
    pub(super) fn claimed(self, token: Uuid) -> Result<ClaimedStep> {
        Ok(ClaimedStep {
            id: self.id.into(),
            project: self.project_id.into(),
            execution: self.execution_id.into(),
            workflow: WorkflowId::from(self.workflow_id),
            version: count(self.version)?,
            user: self.user_id,
            credential: self.credential_id.map(Into::into),
            step: self.step,
            instance: self.instance,
            attempt: count(self.attempt)?,
            restarts: count(self.restarts)?,
            pauses: count(self.pauses)?,
            idempotency_key: self.idempotency_key,
            lease: Lease { token, until: self.lease_until.0, deadline: self.deadline.0 },
        })
    }
}

/// A step whose lease expired, as the reaper reads it.
#[derive(sqlx::FromRow)]
pub(super) struct ExpiredRow {
    pub(super) id: Uuid,
    pub(super) execution_id: Uuid,
    pub(super) restarts: i32,
}
