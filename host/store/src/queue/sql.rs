//! The queue in SQL: the rows, and [`QueueStore`] for both backends. Only
//! the claim's text differs: PostgreSQL skips rows other processes hold
//! (`FOR UPDATE SKIP LOCKED`), SQLite's single writer needs no lock.
//!
//! Every change of a step is one `UPDATE` fenced on what the caller
//! believes (its lease token, the state): when the row no longer matches,
//! nothing changes and the caller is told ([`Error::LeaseLost`]).

use super::{
    ClaimedStep, Completion, Execution, ExecutionId, ExecutionPage, ExecutionQuery, ExecutionStatus, Join, Lease,
    MAX_EXECUTIONS_PAGE, NewExecution, NewStep, Outcome, Reaped, StepRun, StepRunId, StepState, WorkflowId,
    check_completion, idempotency_key, later, storable, storable_completion,
};
use crate::backends::for_both_backends;
use crate::error::WriteContext;
use crate::rows::{Ts, convert, one};
use crate::{Error, PgStore, ProjectId, QueueStore, Result, SqliteStore};
use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::types::Json;
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    id: Uuid,
    project_id: Uuid,
    workflow_id: Uuid,
    version: i32,
    integration: String,
    user_id: Option<String>,
    credential_id: Option<Uuid>,
    trigger_kind: String,
    status: String,
    tasks: i64,
    response: Option<Json<Value>>,
    created_at: Ts,
    ended_at: Option<Ts>,
}

/// The columns [`ExecutionRow`] decodes.
macro_rules! execution_columns {
    () => {
        "id, project_id, workflow_id, version, integration, user_id, credential_id, trigger_kind, status, tasks, \
         response, created_at, ended_at"
    };
}

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
struct StepRow {
    id: Uuid,
    execution_id: Uuid,
    step: String,
    instance: String,
    kind: String,
    prev: Option<Uuid>,
    state: String,
    attempt: i32,
    restarts: i32,
    idempotency_key: String,
    input: Option<Json<Value>>,
    output: Option<Json<Value>>,
    error: Option<Json<Value>>,
    run_after: Ts,
    created_at: Ts,
    started_at: Option<Ts>,
    ended_at: Option<Ts>,
}

/// The columns [`StepRow`] decodes.
macro_rules! step_columns {
    () => {
        "id, execution_id, step, instance, kind, prev, state, attempt, restarts, idempotency_key, input, output, \
         error, run_after, created_at, started_at, ended_at"
    };
}

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

/// A step as the claim leased it (its execution's facts come separately).
#[derive(sqlx::FromRow)]
struct LeasedRow {
    id: Uuid,
    project_id: Uuid,
    execution_id: Uuid,
    step: String,
    instance: String,
    attempt: i32,
    restarts: i32,
    idempotency_key: String,
    run_after: Ts,
    lease_until: Ts,
    deadline: Ts,
}

/// The columns [`LeasedRow`] decodes.
macro_rules! leased_columns {
    () => {
        "id, project_id, execution_id, step, instance, attempt, restarts, idempotency_key, run_after, lease_until, \
         deadline"
    };
}

/// A step whose lease expired, as the reaper reads it.
#[derive(sqlx::FromRow)]
struct ExpiredRow {
    id: Uuid,
    execution_id: Uuid,
    restarts: i32,
}

/// A stored count (never negative).
fn count(n: i32) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Invalid(format!("a stored count is negative: {n}")))
}

/// A count to store.
fn stored_count(n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::Invalid(format!("{n} is too large a count")))
}

/// The row state and columns an outcome writes.
struct Written {
    state: StepState,
    input: Option<Value>,
    output: Option<Value>,
    error: Option<Value>,
    pending: Option<i32>,
}

impl Written {
    fn of(outcome: Outcome) -> Result<Self> {
        Ok(match outcome {
            Outcome::Succeeded { input, output } => Self {
                state: StepState::Succeeded,
                input: Some(input),
                output: Some(output),
                error: None,
                pending: None,
            },
            Outcome::Failed { input, error } => {
                Self { state: StepState::Failed, input: Some(input), output: None, error: Some(error), pending: None }
            }
            Outcome::FannedOut { input, output, instances } => Self {
                state: if instances == 0 { StepState::Succeeded } else { StepState::Waiting },
                input: Some(input),
                output: Some(output),
                error: None,
                pending: (instances > 0).then(|| stored_count(instances)).transpose()?,
            },
            // Written by its own statement (back to the queue).
            Outcome::Retry { .. } => unreachable!("a retry is not a final write"),
        })
    }
}

/// Binds `$1`..`$7` of [`execution_filters!`] on `$query`: the project and
/// each optional filter of `$q`, in that order.
macro_rules! bind_execution_filters {
    ($query:expr, $project:expr, $q:expr) => {
        $query
            .bind($project.as_uuid())
            .bind(&$q.user)
            .bind($q.workflow.map(|w| w.as_uuid()))
            .bind(&$q.integration)
            .bind($q.status.map(|s| s.as_str()))
            .bind($q.before.map(Ts))
            .bind($q.after.map(Ts))
    };
}

for_both_backends! {
    /// Queues `steps` of an execution, numbered after those queued before;
    /// a step already queued (or run) is left as it is.
    async fn queue_steps(
        conn: &mut Conn,
        project: ProjectId,
        execution: Uuid,
        steps: &[NewStep],
        prev: Uuid,
        now: Ts,
    ) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let n = i64::try_from(steps.len()).map_err(|_| Error::Invalid("too many steps".into()))?;
        let last: i64 = sqlx::query_scalar("UPDATE executions SET queued = queued + $2 WHERE id = $1 RETURNING queued")
            .bind(execution)
            .bind(n)
            .fetch_one(&mut *conn)
            .await?;
        for (i, s) in (last - n + 1..).zip(steps) {
            sqlx::query(
                "INSERT INTO steps (id, project_id, execution_id, seq, step, instance, kind, prev, state, run_after, \
                 idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11) \
                 ON CONFLICT (execution_id, step, instance) DO NOTHING",
            )
            .bind(Uuid::new_v4())
            .bind(project.as_uuid())
            .bind(execution)
            .bind(i)
            .bind(&s.step)
            .bind(&s.instance)
            .bind(&s.kind)
            .bind(prev)
            .bind(s.run_after.map(Ts).unwrap_or(now))
            .bind(idempotency_key(execution.into(), &s.step, &s.instance))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Whether the execution still runs (its successors may be queued).
    async fn still_running(conn: &mut Conn, execution: Uuid) -> Result<bool> {
        let status: String = sqlx::query_scalar("SELECT status FROM executions WHERE id = $1")
            .bind(execution)
            .fetch_one(&mut *conn)
            .await?;
        Ok(!status.parse::<ExecutionStatus>()?.is_final())
    }

    /// Sets the execution's status, unless it has already ended; a final
    /// status stamps the end, and a failure cancels its queued steps.
    async fn set_status(conn: &mut Conn, execution: Uuid, status: ExecutionStatus, now: Ts) -> Result<()> {
        let ended = status.is_final().then_some(now);
        let changed = sqlx::query(
            "UPDATE executions SET status = $2, ended_at = $3 \
             WHERE id = $1 AND status NOT IN ('SUCCEEDED', 'FAILED')",
        )
        .bind(execution)
        .bind(status.as_str())
        .bind(ended)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if changed > 0 && status == ExecutionStatus::Failed {
            sqlx::query("UPDATE steps SET state = 'cancelled', ended_at = $2 WHERE execution_id = $1 AND state = 'queued'")
                .bind(execution)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Counts one instance of a fan-out down; the last one finishes it,
    /// queues what follows and, when the fan-out ends an instance of an
    /// outer one, counts that one down in turn.
    async fn join(conn: &mut Conn, project: ProjectId, execution: Uuid, join: &Join, prev: Uuid, now: Ts) -> Result<()> {
        let mut current = Some(join);
        while let Some(j) = current {
            let pending: Option<i32> = sqlx::query_scalar(
                "UPDATE steps SET pending = pending - 1 \
                 WHERE execution_id = $1 AND step = $2 AND instance = $3 AND state = 'waiting' RETURNING pending",
            )
            .bind(execution)
            .bind(&j.step)
            .bind(&j.instance)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(pending) = pending else {
                return Err(Error::Invalid(format!("no fan-out {:?} waits for its instances", j.step)));
            };
            if pending > 0 {
                return Ok(());
            }
            sqlx::query(
                "UPDATE steps SET state = 'succeeded', pending = NULL, ended_at = $4 \
                 WHERE execution_id = $1 AND step = $2 AND instance = $3",
            )
            .bind(execution)
            .bind(&j.step)
            .bind(&j.instance)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            queue_steps(conn, project, execution, &j.then, prev, now).await?;
            if let Some(status) = j.finish {
                set_status(conn, execution, status, now).await?;
            }
            current = j.outer.as_deref();
        }
        Ok(())
    }

    impl Db {
        /// Stores a new execution (see [`QueueStore::start_execution`]);
        /// `None` when `once` is given and the workflow has an execution
        /// with that key already.
        async fn insert_execution(
            &self,
            mut new: NewExecution,
            once: Option<&str>,
            now: OffsetDateTime,
        ) -> Result<Option<ExecutionId>> {
            crate::check::label("step id", &new.trigger_step, crate::MAX_STEP_ID_LEN)?;
            crate::check::label("trigger type", &new.trigger_kind, 64)?;
            storable(&mut new.trigger_output);
            for s in &new.first {
                s.check()?;
            }
            let (id, at, trigger_row) = (ExecutionId::new(), Ts(now), Uuid::new_v4());
            crate::check::label("integration type", &new.integration, crate::integrations::MAX_INTEGRATION_TYPE_LEN)?;
            let status = if new.first.is_empty() { ExecutionStatus::Succeeded } else { ExecutionStatus::Executing };
            let mut tx = self.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO executions (id, project_id, workflow_id, version, integration, user_id, credential_id, \
                 trigger_kind, status, queued, created_at, ended_at, once_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12)",
            )
            .bind(id.as_uuid())
            .bind(new.project.as_uuid())
            .bind(new.workflow.as_uuid())
            .bind(stored_count(new.version)?)
            .bind(&new.integration)
            .bind(&new.user)
            .bind(new.credential.map(|c| c.as_uuid()))
            .bind(&new.trigger_kind)
            .bind(status.as_str())
            .bind(at)
            .bind(status.is_final().then_some(at))
            .bind(once)
            .execute(&mut *tx)
            .await
            .on_write("execution exists", "project");
            match inserted {
                Err(Error::Conflict(_)) if once.is_some() => return Ok(None),
                other => other?,
            };
            sqlx::query(
                "INSERT INTO steps (id, project_id, execution_id, seq, step, instance, kind, state, run_after, \
                 idempotency_key, output, created_at, started_at, ended_at) \
                 VALUES ($1, $2, $3, 1, $4, '', $5, 'succeeded', $6, $7, $8, $6, $6, $6)",
            )
            .bind(trigger_row)
            .bind(new.project.as_uuid())
            .bind(id.as_uuid())
            .bind(&new.trigger_step)
            .bind(&new.trigger_kind)
            .bind(at)
            .bind(idempotency_key(id, &new.trigger_step, ""))
            .bind(Json(&new.trigger_output))
            .execute(&mut *tx)
            .await?;
            queue_steps(&mut tx, new.project, id.as_uuid(), &new.first, trigger_row, at).await?;
            tx.commit().await?;
            Ok(Some(id))
        }
    }

    #[async_trait]
    impl QueueStore for Db {
        async fn start_execution(&self, new: NewExecution, now: OffsetDateTime) -> Result<ExecutionId> {
            self.insert_execution(new, None, now).await?.ok_or_else(|| Error::Conflict("execution exists".into()))
        }

        async fn start_execution_once(
            &self,
            new: NewExecution,
            once: &str,
            now: OffsetDateTime,
        ) -> Result<Option<ExecutionId>> {
            crate::check::label("once key", once, 400)?;
            self.insert_execution(new, Some(once), now).await
        }

        async fn claim_steps(
            &self,
            now: OffsetDateTime,
            lease_for: Duration,
            deadline_for: Duration,
            limit: u32,
        ) -> Result<Vec<ClaimedStep>> {
            let (until, deadline) = (later(now, lease_for)?, later(now, deadline_for)?);
            let token = Uuid::new_v4();
            let mut tx = self.begin_write().await?;
            let mut leased: Vec<LeasedRow> = sqlx::query_as(Db::LEASE_QUEUED_STEPS)
                .bind(Ts(now))
                .bind(token)
                .bind(Ts(until.min(deadline)))
                .bind(Ts(deadline))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            leased.sort_by_key(|r| r.run_after.0);
            // The facts of each execution, read once per execution; a
            // delayed one is running again.
            let mut executions: HashMap<Uuid, ExecutionRow> = HashMap::new();
            for r in &leased {
                if executions.contains_key(&r.execution_id) {
                    continue;
                }
                sqlx::query("UPDATE executions SET status = 'EXECUTING' WHERE id = $1 AND status = 'DELAYED'")
                    .bind(r.execution_id)
                    .execute(&mut *tx)
                    .await?;
                let row: ExecutionRow =
                    sqlx::query_as(concat!("SELECT ", execution_columns!(), " FROM executions WHERE id = $1"))
                        .bind(r.execution_id)
                        .fetch_one(&mut *tx)
                        .await?;
                executions.insert(r.execution_id, row);
            }
            tx.commit().await?;
            let mut claimed = Vec::with_capacity(leased.len());
            for r in leased {
                let e = &executions[&r.execution_id];
                claimed.push(ClaimedStep {
                    id: r.id.into(),
                    project: r.project_id.into(),
                    execution: r.execution_id.into(),
                    workflow: WorkflowId::from(e.workflow_id),
                    version: count(e.version)?,
                    user: e.user_id.clone(),
                    credential: e.credential_id.map(Into::into),
                    step: r.step,
                    instance: r.instance,
                    attempt: count(r.attempt)?,
                    restarts: count(r.restarts)?,
                    idempotency_key: r.idempotency_key,
                    lease: Lease { token, until: r.lease_until.0, deadline: r.deadline.0 },
                });
            }
            Ok(claimed)
        }

        async fn heartbeat(
            &self,
            project: ProjectId,
            id: StepRunId,
            token: Uuid,
            now: OffsetDateTime,
            lease_for: Duration,
        ) -> Result<OffsetDateTime> {
            let wanted = later(now, lease_for)?;
            let mut tx = self.write_one().await?;
            let until: Option<Ts> = sqlx::query_scalar(
                "UPDATE steps SET lease_until = CASE WHEN $4 < deadline THEN $4 ELSE deadline END \
                 WHERE project_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running' AND deadline > $5 \
                 RETURNING lease_until",
            )
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(token)
            .bind(Ts(wanted))
            .bind(Ts(now))
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            until.map(|t| t.0).ok_or(Error::LeaseLost)
        }

        async fn complete_step(&self, mut c: Completion, now: OffsetDateTime) -> Result<()> {
            check_completion(&c)?;
            storable_completion(&mut c);
            let at = Ts(now);
            let mut tx = self.begin_write().await?;
            let execution: Option<Uuid> = if let Outcome::Retry { error, run_after } = &c.outcome {
                sqlx::query_scalar(
                    "UPDATE steps SET state = 'queued', attempt = attempt + 1, error = $4, run_after = $5, \
                     lease_token = NULL, lease_until = NULL, deadline = NULL \
                     WHERE project_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running' \
                     RETURNING execution_id",
                )
                .bind(c.project.as_uuid())
                .bind(c.id.as_uuid())
                .bind(c.token)
                .bind(Json(error))
                .bind(Ts(*run_after))
                .fetch_optional(&mut *tx)
                .await?
            } else {
                let w = Written::of(c.outcome.clone())?;
                sqlx::query_scalar(
                    "UPDATE steps SET state = $4, input = $5, output = $6, error = $7, pending = $8, ended_at = $9, \
                     lease_token = NULL, lease_until = NULL, deadline = NULL \
                     WHERE project_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running' \
                     RETURNING execution_id",
                )
                .bind(c.project.as_uuid())
                .bind(c.id.as_uuid())
                .bind(c.token)
                .bind(w.state.as_str())
                .bind(w.input.as_ref().map(Json))
                .bind(w.output.as_ref().map(Json))
                .bind(w.error.as_ref().map(Json))
                .bind(w.pending)
                // A fan-out that waits has not ended.
                .bind((w.state != StepState::Waiting).then_some(at))
                .fetch_optional(&mut *tx)
                .await?
            };
            let Some(execution) = execution else {
                return Err(Error::LeaseLost);
            };
            if c.tasks > 0 {
                sqlx::query("UPDATE executions SET tasks = tasks + $2 WHERE id = $1")
                    .bind(execution)
                    .bind(i64::from(c.tasks))
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(response) = &c.response {
                sqlx::query("UPDATE executions SET response = $2 WHERE id = $1")
                    .bind(execution)
                    .bind(Json(response))
                    .execute(&mut *tx)
                    .await?;
            }
            // Once the execution has ended, a straggler queues nothing.
            if still_running(&mut tx, execution).await? {
                queue_steps(&mut tx, c.project, execution, &c.next, c.id.as_uuid(), at).await?;
                if let Some(j) = &c.join {
                    join(&mut tx, c.project, execution, j, c.id.as_uuid(), at).await?;
                }
                if let Some(status) = c.execution {
                    set_status(&mut tx, execution, status, at).await?;
                }
            }
            tx.commit().await?;
            Ok(())
        }

        async fn reap(&self, now: OffsetDateTime, max_restarts: u32, limit: u32) -> Result<Reaped> {
            let at = Ts(now);
            let mut tx = self.begin_write().await?;
            let expired: Vec<ExpiredRow> = sqlx::query_as(Db::EXPIRED_LEASES)
                .bind(at)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let mut reaped = Reaped::default();
            for r in expired {
                let restarts = count(r.restarts)? + 1;
                if restarts > max_restarts {
                    let error = json!({
                        "message": format!("the step's worker stopped {restarts} times without finishing it"),
                        "code": "STEP_ABANDONED",
                    });
                    sqlx::query(
                        "UPDATE steps SET state = 'failed', restarts = $2, error = $3, ended_at = $4, \
                         lease_token = NULL, lease_until = NULL, deadline = NULL WHERE id = $1",
                    )
                    .bind(r.id)
                    .bind(stored_count(restarts)?)
                    .bind(Json(&error))
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    set_status(&mut tx, r.execution_id, ExecutionStatus::Failed, at).await?;
                    reaped.failed += 1;
                } else {
                    sqlx::query(
                        "UPDATE steps SET state = 'queued', restarts = $2, run_after = $3, \
                         lease_token = NULL, lease_until = NULL, deadline = NULL WHERE id = $1",
                    )
                    .bind(r.id)
                    .bind(stored_count(restarts)?)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    reaped.requeued += 1;
                }
            }
            tx.commit().await?;
            Ok(reaped)
        }

        async fn purge_executions(&self, ended_before: OffsetDateTime, limit: u32) -> Result<u64> {
            let mut tx = self.begin_write().await?;
            let deleted = sqlx::query(
                "DELETE FROM executions WHERE id IN \
                 (SELECT id FROM executions WHERE ended_at IS NOT NULL AND ended_at < $1 ORDER BY ended_at LIMIT $2)",
            )
            .bind(Ts(ended_before))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(deleted)
        }

        async fn get_execution(&self, project: ProjectId, id: ExecutionId) -> Result<Execution> {
            let row: Option<ExecutionRow> = sqlx::query_as(concat!(
                "SELECT ",
                execution_columns!(),
                " FROM executions WHERE project_id = $1 AND id = $2"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.read())
            .await?;
            one(row.ok_or(Error::NotFound("execution"))?)
        }

        async fn execution_steps(&self, project: ProjectId, id: ExecutionId) -> Result<Vec<StepRun>> {
            // Tell "no such execution" from one without steps.
            self.get_execution(project, id).await?;
            let rows: Vec<StepRow> = sqlx::query_as(concat!(
                "SELECT ",
                step_columns!(),
                " FROM steps WHERE project_id = $1 AND execution_id = $2 ORDER BY seq"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn get_step_run(&self, project: ProjectId, execution: ExecutionId, id: StepRunId) -> Result<StepRun> {
            let row: Option<StepRow> = sqlx::query_as(concat!(
                "SELECT ",
                step_columns!(),
                " FROM steps WHERE project_id = $1 AND execution_id = $2 AND id = $3"
            ))
            .bind(project.as_uuid())
            .bind(execution.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.read())
            .await?;
            one(row.ok_or(Error::NotFound("step execution"))?)
        }

        async fn find_step_run(
            &self,
            project: ProjectId,
            execution: ExecutionId,
            step: &str,
            instance: &str,
        ) -> Result<Option<StepRun>> {
            let row: Option<StepRow> = sqlx::query_as(concat!(
                "SELECT ",
                step_columns!(),
                " FROM steps WHERE project_id = $1 AND execution_id = $2 AND step = $3 AND instance = $4"
            ))
            .bind(project.as_uuid())
            .bind(execution.as_uuid())
            .bind(step)
            .bind(instance)
            .fetch_optional(self.read())
            .await?;
            row.map(StepRun::try_from).transpose()
        }

        async fn list_executions(&self, project: ProjectId, q: &ExecutionQuery) -> Result<ExecutionPage> {
            let limit = i64::from(q.limit.min(MAX_EXECUTIONS_PAGE));
            let offset = i64::try_from(q.offset).map_err(|_| Error::invalid("offset is too large"))?;
            let text = if q.ascending { Db::LIST_EXECUTIONS_ASC } else { Db::LIST_EXECUTIONS_DESC };
            let rows: Vec<ExecutionRow> = bind_execution_filters!(sqlx::query_as(text), project, q)
                .bind(limit)
                .bind(offset)
                .fetch_all(self.read())
                .await?;
            let count = concat!("SELECT COUNT(*) FROM executions WHERE ", execution_filters!());
            let total: i64 = bind_execution_filters!(sqlx::query_scalar(count), project, q).fetch_one(self.read()).await?;
            Ok(ExecutionPage { executions: convert(rows)?, total: u64::try_from(total).unwrap_or(0) })
        }
    }
}

/// The filters of an execution listing: `$1` the project, then the optional
/// user, workflow, integration, status, started before and started after.
macro_rules! execution_filters {
    () => {
        "project_id = $1 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR workflow_id = $3) \
         AND ($4 IS NULL OR integration = $4) AND ($5 IS NULL OR status = $5) \
         AND ($6 IS NULL OR created_at < $6) AND ($7 IS NULL OR created_at > $7)"
    };
}
use execution_filters;

/// Lists executions in each order: the filters, then `$8` the page size and
/// `$9` the offset. The id breaks ties, so pages never overlap.
macro_rules! list_executions {
    ($order:literal) => {
        concat!(
            "SELECT ",
            execution_columns!(),
            " FROM executions WHERE ",
            execution_filters!(),
            " ORDER BY created_at ",
            $order,
            ", id ",
            $order,
            " LIMIT $8 OFFSET $9"
        )
    };
}

impl SqliteStore {
    const LIST_EXECUTIONS_ASC: &str = list_executions!("ASC");
    const LIST_EXECUTIONS_DESC: &str = list_executions!("DESC");
}

impl PgStore {
    const LIST_EXECUTIONS_ASC: &str = list_executions!("ASC");
    const LIST_EXECUTIONS_DESC: &str = list_executions!("DESC");
}

/// Leases queued steps: `$1` now, `$2` the token, `$3` the lease expiry,
/// `$4` the deadline, `$5` how many. Oldest first.
impl SqliteStore {
    /// The single writer makes claims serial: no row lock needed.
    const LEASE_QUEUED_STEPS: &str = concat!(
        "UPDATE steps SET state = 'running', lease_token = $2, lease_until = $3, deadline = $4, \
         started_at = COALESCE(started_at, $1) \
         WHERE id IN (SELECT id FROM steps WHERE state = 'queued' AND run_after <= $1 ORDER BY run_after LIMIT $5) \
         RETURNING ",
        leased_columns!()
    );

    /// Running steps whose lease or deadline passed before `$1`, up to `$2`.
    const EXPIRED_LEASES: &str = "SELECT id, execution_id, restarts FROM steps \
         WHERE state = 'running' AND (lease_until < $1 OR deadline < $1) ORDER BY lease_until LIMIT $2";
}

impl PgStore {
    /// Several processes claim at once: each skips the rows another is
    /// taking, so claims never wait on each other nor take a row twice.
    const LEASE_QUEUED_STEPS: &str = concat!(
        "WITH picked AS (SELECT id FROM steps WHERE state = 'queued' AND run_after <= $1 \
         ORDER BY run_after LIMIT $5 FOR UPDATE SKIP LOCKED) \
         UPDATE steps SET state = 'running', lease_token = $2, lease_until = $3, deadline = $4, \
         started_at = COALESCE(started_at, $1) FROM picked WHERE steps.id = picked.id RETURNING ",
        "steps.id, steps.project_id, steps.execution_id, steps.step, steps.instance, steps.attempt, steps.restarts, \
         steps.idempotency_key, steps.run_after, steps.lease_until, steps.deadline"
    );

    /// As on SQLite, skipping rows a claim or another reaper holds.
    const EXPIRED_LEASES: &str = "SELECT id, execution_id, restarts FROM steps \
         WHERE state = 'running' AND (lease_until < $1 OR deadline < $1) ORDER BY lease_until LIMIT $2 \
         FOR UPDATE SKIP LOCKED";
}
