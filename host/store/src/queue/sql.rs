//! The queue in SQL: the rows, and [`QueueStore`] for both backends. Only
//! the claim's text differs: PostgreSQL skips rows other processes hold
//! (`FOR UPDATE SKIP LOCKED`), SQLite's single writer needs no lock.
//!
//! Every change of a step is one `UPDATE` fenced on what the caller
//! believes (its lease token, the state): when the row no longer matches,
//! nothing changes and the caller is told ([`Error::LeaseLost`]).
//!
//! The queue is the store's largest concern, so its SQL has three files
//! under `sql/`: the rows and their conversions (`rows.rs`), what the
//! backends do differently side by side (`per_backend.rs`), and
//! PostgreSQL's one-statement completions (`complete_set.rs`).

use super::{
    ClaimedStep, Completed, Completion, Execution, ExecutionId, ExecutionPage, ExecutionQuery, ExecutionStatus, Follow,
    Join, MAX_EXECUTIONS_PAGE, NewExecution, NewStep, Outcome, Reaped, StepRun, StepRunId, StepState, check_completion,
    idempotency_key, later, storable, storable_completion,
};
use crate::backends::for_both_backends;
use crate::error::WriteContext;
use crate::rows::{Ts, convert, one};
use crate::{Error, PgStore, ProjectId, QueueStore, Result, SqliteStore};
use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::types::Json;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The SQL twin of [`idempotency_key`](super::idempotency_key), for keys
/// made in a statement: `$execution:$step`, then `:$instance` in a fan-out.
/// The arguments are SQL expressions (an execution's `uuid` prints as
/// [`ExecutionId`] does).
macro_rules! idempotency_key_sql {
    ($execution:literal, $step:literal, $instance:literal) => {
        concat!(
            $execution,
            "::text || ':' || ",
            $step,
            " || CASE WHEN ",
            $instance,
            " = '' THEN '' ELSE ':' || ",
            $instance,
            " END"
        )
    };
}

mod complete_set;
mod per_backend;
mod rows;

use rows::{ExecutionRow, ExpiredRow, LeasedRow, StepRow, execution_columns, step_columns};

/// A stored count (never negative).
fn count(n: i32) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Invalid(format!("a stored count is negative: {n}")))
}

/// A count to store.
fn stored_count(n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::Invalid(format!("{n} is too large a count")))
}

/// How many steps a list queues, as the count stored.
fn steps_count(steps: &[NewStep]) -> Result<i64> {
    i64::try_from(steps.len()).map_err(|_| Error::Invalid("too many steps".into()))
}

/// The row state and columns an outcome writes.
struct Written<'a> {
    state: StepState,
    input: Option<&'a Value>,
    output: Option<&'a Value>,
    error: Option<&'a Value>,
    pending: Option<i32>,
}

impl<'a> Written<'a> {
    /// What a final outcome writes; a retry is not one (it goes back to the
    /// queue by a statement of its own).
    fn of(outcome: &'a Outcome) -> Result<Self> {
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
                state: if *instances == 0 { StepState::Succeeded } else { StepState::Waiting },
                input: Some(input),
                output: Some(output),
                error: None,
                pending: (*instances > 0).then(|| stored_count(*instances)).transpose()?,
            },
            Outcome::Retry { .. } | Outcome::Paused { .. } => {
                return Err(Error::Invalid("a retry or a pause is not a final outcome".into()));
            }
        })
    }

    /// When the step ended: now, unless it is a fan-out that waits.
    fn ended_at(&self, now: Ts) -> Option<Ts> {
        (self.state != StepState::Waiting).then_some(now)
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
    /// Inserts `steps` of an execution, numbered from `first` on (the
    /// caller has counted them into the execution's `queued`); a step
    /// already queued (or run) is left as it is. With `follow`, the first
    /// step is inserted running under its lease (see [`Follow`](super::Follow));
    /// the answer says whether it was.
    #[allow(clippy::too_many_arguments)]
    async fn insert_steps(
        conn: &mut Conn,
        project: ProjectId,
        execution: Uuid,
        steps: &[NewStep],
        first: i64,
        prev: Uuid,
        now: Ts,
        follow: Option<&Follow>,
    ) -> Result<bool> {
        let mut followed = false;
        for (i, s) in (first..).zip(steps) {
            let leased = follow.filter(|_| i == first);
            let inserted = sqlx::query(
                "INSERT INTO steps (id, project_id, execution_id, seq, step, instance, kind, prev, state, run_after, \
                 idempotency_key, created_at, lease_token, lease_until, deadline, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $12, $9, $10, $11, $13, $14, $15, $16) \
                 ON CONFLICT (execution_id, step, instance) DO NOTHING",
            )
            .bind(leased.map_or_else(Uuid::new_v4, |f| f.id.as_uuid()))
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
            .bind(if leased.is_some() { StepState::Running } else { StepState::Queued }.as_str())
            .bind(leased.map(|f| f.lease.token))
            .bind(leased.map(|f| Ts(f.lease.until)))
            .bind(leased.map(|f| Ts(f.lease.deadline)))
            .bind(leased.map(|_| now))
            .execute(&mut *conn)
            .await?;
            followed |= leased.is_some() && inserted.rows_affected() == 1;
        }
        Ok(followed)
    }

    /// Queues `steps` of an execution, numbered after those queued before.
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
        let n = steps_count(steps)?;
        let last: i64 = sqlx::query_scalar("UPDATE executions SET queued = queued + $2 WHERE id = $1 RETURNING queued")
            .bind(execution)
            .bind(n)
            .fetch_one(&mut *conn)
            .await?;
        insert_steps(conn, project, execution, steps, last - n + 1, prev, now, None).await?;
        Ok(())
    }

    /// Stores a completion inside the caller's transaction (see
    /// [`Completion`]). First its own row, fenced on the lease: a stale
    /// completion stops there, having written nothing. Then one statement
    /// on the execution counts the step's tasks, stores its response and,
    /// while the execution still runs, numbers its successors; on
    /// PostgreSQL it also locks the execution's row, so the status it reads
    /// cannot change before the successors are inserted. Once the execution
    /// has ended, a straggler queues nothing (nor follows anything).
    async fn complete(conn: &mut Conn, c: &Completion, at: Ts) -> Result<Completed> {
        let again = match &c.outcome {
            Outcome::Retry { error, run_after } => Some((error, run_after, 1, 0)),
            Outcome::Paused { error, run_after } => Some((error, run_after, 0, 1)),
            _ => None,
        };
        let execution: Option<Uuid> = if let Some((error, run_after, attempts, pauses)) = again {
            sqlx::query_scalar(
                "UPDATE steps SET state = 'queued', attempt = attempt + $6, pauses = pauses + $7, error = $4, \
                 run_after = $5, lease_token = NULL, lease_until = NULL, deadline = NULL \
                 WHERE project_id = $1 AND id = $2 AND lease_token = $3 AND state = 'running' \
                 RETURNING execution_id",
            )
            .bind(c.project.as_uuid())
            .bind(c.id.as_uuid())
            .bind(c.token)
            .bind(Json(error))
            .bind(Ts(*run_after))
            .bind(attempts)
            .bind(pauses)
            .fetch_optional(&mut *conn)
            .await?
        } else {
            let w = Written::of(&c.outcome)?;
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
            .bind(w.input.map(Json))
            .bind(w.output.map(Json))
            .bind(w.error.map(Json))
            .bind(w.pending)
            .bind(w.ended_at(at))
            .fetch_optional(&mut *conn)
            .await?
        };
        let Some(execution) = execution else {
            return Err(Error::LeaseLost);
        };
        let n = steps_count(&c.next)?;
        let (status, queued): (String, i64) = sqlx::query_as(
            "UPDATE executions SET tasks = tasks + $2, response = COALESCE($3, response), \
             queued = CASE WHEN status IN ('SUCCEEDED', 'FAILED') THEN queued ELSE queued + $4 END \
             WHERE id = $1 RETURNING status, queued",
        )
        .bind(execution)
        .bind(i64::from(c.tasks))
        .bind(c.response.as_ref().map(Json))
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
        if status.parse::<ExecutionStatus>()?.is_final() {
            return Ok(Completed::default());
        }
        let followed =
            insert_steps(conn, c.project, execution, &c.next, queued - n + 1, c.id.as_uuid(), at, c.follow.as_ref())
                .await?;
        if let Some(j) = &c.join {
            join(conn, c.project, execution, j, c.id.as_uuid(), at).await?;
        }
        if let Some(status) = c.execution {
            set_status(conn, execution, status, at).await?;
        }
        Ok(Completed { followed })
    }

    /// Stores the completions whose result is not set yet in one
    /// transaction, in order, setting each one's result: runs of
    /// consecutive ones that the backend stores in one statement
    /// ([`PgStore::complete_set`]) that way (all of them in that one
    /// statement alone when they all are), the others one by one. `None`
    /// when one failed for another reason than its lease, and then nothing
    /// is stored.
    async fn complete_together(
        db: &Db,
        completions: &[Completion],
        results: &mut [Option<Result<Completed>>],
        at: Ts,
    ) -> Option<()> {
        let pending = completions.iter().zip(results.iter()).filter(|(_, r)| r.is_none());
        if pending.clone().all(|(c, _)| Db::set_based(c)) && pending.count() > 0 {
            // One statement, atomic alone: no transaction around it.
            let mut conn = db.write_one().await.ok()?;
            Db::complete_set(&mut conn, completions, results, at).await.ok()?;
            return conn.commit().await.ok();
        }
        let mut tx = db.begin_write().await.ok()?;
        let mut run = 0;
        for (i, c) in completions.iter().enumerate() {
            if results[i].is_some() || Db::set_based(c) {
                continue;
            }
            Db::complete_set(&mut tx, &completions[run..i], &mut results[run..i], at).await.ok()?;
            run = i + 1;
            results[i] = match complete(&mut tx, c, at).await {
                Ok(completed) => Some(Ok(completed)),
                // Its fence matched nothing: nothing of it was written.
                Err(Error::LeaseLost) => Some(Err(Error::LeaseLost)),
                Err(_) => return None,
            };
        }
        Db::complete_set(&mut tx, &completions[run..], &mut results[run..], at).await.ok()?;
        tx.commit().await.ok()
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
            // The `workflow_failure` event, in the transaction that fails
            // the execution, for the project's event destinations (when it
            // has an enabled one: the dispatcher builds the rest).
            sqlx::query(
                "INSERT INTO project_events (id, project_id, event_type, payload, created_at) \
                 SELECT $2, e.project_id, 'workflow_failure', $3, $4 FROM executions e WHERE e.id = $1 \
                 AND EXISTS (SELECT 1 FROM event_destinations d WHERE d.project_id = e.project_id AND d.enabled)",
            )
            .bind(execution)
            .bind(Uuid::new_v4())
            .bind(Json(json!({ "workflowExecution": { "id": execution } })))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Counts one instance of a fan-out down and queues what its end starts
    /// (a bounded fan-out's next item); the last one finishes it, queues
    /// what follows and, when the fan-out ends an instance of an
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
            queue_steps(conn, project, execution, &j.each, prev, now).await?;
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
            // The trigger's row is the first; the first steps follow it.
            let queued = 1 + steps_count(&new.first)?;
            let mut tx = self.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO executions (id, project_id, workflow_id, version, integration, user_id, credential_id, \
                 trigger_kind, status, queued, created_at, ended_at, once_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
            .bind(queued)
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
            insert_steps(&mut tx, new.project, id.as_uuid(), &new.first, 2, trigger_row, at, None).await?;
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
            let mut leased = self.lease_queued(Ts(now), token, Ts(until.min(deadline)), Ts(deadline), limit).await?;
            leased.sort_by_key(|r| r.run_after.0);
            leased.into_iter().map(|r| r.claimed(token)).collect()
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

        async fn complete_step(&self, mut c: Completion, now: OffsetDateTime) -> Result<Completed> {
            check_completion(&c)?;
            storable_completion(&mut c);
            let at = Ts(now);
            if Db::set_based(&c) {
                // One statement, atomic alone: no transaction around it.
                let mut conn = self.write_one().await?;
                let mut result = [None];
                Db::complete_set(&mut conn, std::slice::from_ref(&c), &mut result, at).await?;
                conn.commit().await?;
                let [result] = result;
                return result.unwrap_or(Err(Error::LeaseLost));
            }
            let mut tx = self.begin_write().await?;
            let completed = complete(&mut tx, &c, at).await?;
            tx.commit().await?;
            Ok(completed)
        }

        async fn complete_steps(
            &self,
            mut completions: Vec<Completion>,
            now: OffsetDateTime,
        ) -> Vec<Result<Completed>> {
            completions.iter_mut().for_each(storable_completion);
            let mut results: Vec<Option<Result<Completed>>> =
                completions.iter().map(|c| check_completion(c).err().map(Err)).collect();
            if complete_together(self, &completions, &mut results, Ts(now)).await.is_some() {
                return results.into_iter().map(|r| r.unwrap_or(Ok(Completed::default()))).collect();
            }
            // One of them (or the database) failed: each on its own.
            let mut each = Vec::with_capacity(completions.len());
            for (c, checked) in completions.into_iter().zip(results) {
                each.push(match checked {
                    Some(Err(invalid)) if !matches!(invalid, Error::LeaseLost) => Err(invalid),
                    _ => self.complete_step(c, now).await,
                });
            }
            each
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
