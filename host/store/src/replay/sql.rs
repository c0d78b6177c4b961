//! [`ReplayStore`] for both backends: the same statements.

use super::ReplayStore;
use crate::backends::for_both_backends;
use crate::queue::{ExecutionStatus, StepState, idempotency_key};
use crate::rows::Ts;
use crate::{Error, ExecutionId, ProjectId, Result};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// What is copied of the old execution.
#[derive(sqlx::FromRow)]
struct ExecutionCopy {
    workflow_id: Uuid,
    version: i32,
    integration: String,
    user_id: Option<String>,
    credential_id: Option<Uuid>,
    trigger_kind: String,
    status: String,
    queued: i64,
}

/// What is copied of each of its steps.
#[derive(sqlx::FromRow)]
struct StepCopy {
    id: Uuid,
    seq: i64,
    step: String,
    instance: String,
    kind: String,
    prev: Option<Uuid>,
    state: String,
    pending: Option<i32>,
    input: Option<Json<Value>>,
    output: Option<Json<Value>>,
    error: Option<Json<Value>>,
    created_at: Ts,
    started_at: Option<Ts>,
    ended_at: Option<Ts>,
}

/// Whether a step of the old execution runs again: the failed step, and
/// anything that had not ended when it failed (a waiting fan-out never gets
/// here: [`check`] refuses it).
fn runs_again(state: StepState) -> bool {
    state != StepState::Succeeded
}

/// A recorded value the copy keeps: none for a step that runs again.
fn kept(again: bool, v: &Option<Json<Value>>) -> Option<Json<&Value>> {
    if again { None } else { v.as_ref().map(|j| Json(&j.0)) }
}

/// Checks that `steps` of a FAILED execution can be taken up where they
/// failed; the states of the steps, parsed.
fn check(steps: &[StepCopy]) -> Result<Vec<StepState>> {
    let states = steps.iter().map(|s| s.state.parse::<StepState>()).collect::<Result<Vec<_>>>()?;
    let inside_fan_out = steps
        .iter()
        .zip(&states)
        .any(|(s, state)| *state == StepState::Waiting || (!s.instance.is_empty() && *state != StepState::Succeeded));
    if inside_fan_out {
        return Err(Error::Invalid(
            "this execution failed inside a fan-out, which cannot be taken up from its failed step; \
             replay it whole (without `from`)"
                .into(),
        ));
    }
    if !states.contains(&StepState::Failed) {
        return Err(Error::Invalid("this execution has no failed step to take up; replay it whole".into()));
    }
    Ok(states)
}

for_both_backends! {
    #[async_trait]
    impl ReplayStore for Db {
        async fn resume_failed(
            &self,
            project: ProjectId,
            from: ExecutionId,
            now: OffsetDateTime,
        ) -> Result<ExecutionId> {
            let at = Ts(now);
            let mut tx = self.begin_write().await?;
            let old: Option<ExecutionCopy> = sqlx::query_as(
                "SELECT workflow_id, version, integration, user_id, credential_id, trigger_kind, status, queued \
                 FROM executions WHERE project_id = $1 AND id = $2",
            )
            .bind(project.as_uuid())
            .bind(from.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
            let old = old.ok_or(Error::NotFound("execution"))?;
            if old.status != ExecutionStatus::Failed.as_str() {
                return Err(Error::Conflict(format!(
                    "only a FAILED execution can be replayed from its failed step; this one is {}",
                    old.status
                )));
            }
            let steps: Vec<StepCopy> = sqlx::query_as(
                "SELECT id, seq, step, instance, kind, prev, state, pending, input, output, error, created_at, \
                 started_at, ended_at FROM steps WHERE project_id = $1 AND execution_id = $2 ORDER BY seq",
            )
            .bind(project.as_uuid())
            .bind(from.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let states = check(&steps)?;
            let id = ExecutionId::new();
            sqlx::query(
                "INSERT INTO executions (id, project_id, workflow_id, version, integration, user_id, credential_id, \
                 trigger_kind, status, queued, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(old.workflow_id)
            .bind(old.version)
            .bind(&old.integration)
            .bind(&old.user_id)
            .bind(old.credential_id)
            .bind(&old.trigger_kind)
            .bind(ExecutionStatus::Executing.as_str())
            .bind(old.queued)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let new_ids: HashMap<Uuid, Uuid> = steps.iter().map(|s| (s.id, Uuid::new_v4())).collect();
            for (s, state) in steps.iter().zip(states) {
                let again = runs_again(state);
                sqlx::query(
                    "INSERT INTO steps (id, project_id, execution_id, seq, step, instance, kind, prev, state, \
                     run_after, pending, idempotency_key, input, output, error, created_at, started_at, ended_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                )
                .bind(new_ids[&s.id])
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(s.seq)
                .bind(&s.step)
                .bind(&s.instance)
                .bind(&s.kind)
                .bind(s.prev.and_then(|p| new_ids.get(&p).copied()))
                .bind(if again { StepState::Queued } else { state }.as_str())
                .bind(at)
                .bind(if again { None } else { s.pending })
                .bind(idempotency_key(id, &s.step, &s.instance))
                .bind(kept(again, &s.input))
                .bind(kept(again, &s.output))
                .bind(kept(again, &s.error))
                .bind(if again { at } else { s.created_at })
                .bind(if again { None } else { s.started_at })
                .bind(if again { None } else { s.ended_at })
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(id)
        }
    }
}
