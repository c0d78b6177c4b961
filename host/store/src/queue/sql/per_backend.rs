//! What the two backends do differently in the queue, side by side: how
//! steps are claimed (`LEASE_QUEUED_STEPS`, `lease_queued`), how expired
//! leases are found (`EXPIRED_LEASES`), and which completions PostgreSQL
//! stores in one statement (`set_based`, `complete_set`).
//!
//! # Concurrency limits
//!
//! A project may be limited to so many running steps at once
//! (`projects.concurrency_limit`, the reference's concurrency SLA). A claim
//! counts each limited project's running steps (those holding a lease) and
//! takes at most its free slots; the other due steps stay queued ("Not
//! Started" in the Task History) and are claimed as slots free up. A step
//! that follows its predecessor (see [`Follow`](crate::Follow)) takes the
//! slot its predecessor gives up in the same transaction, so following
//! never raises the count. Claims of limited projects are serial: on SQLite
//! by the single writer; on PostgreSQL each claim locks the limited
//! projects' rows before it counts, in a statement of its own so that it
//! reads every claim committed before it, so the limit holds across every
//! process. A limit set while a claim runs applies from the next one.

use super::{Completed, Completion, ExecutionStatus, LeasedRow, Result};
use crate::rows::Ts;
use crate::{PgStore, SqliteStore};
use uuid::Uuid;

/// What a claim returns: the leased step's columns, then its execution's
/// facts (the ones [`LeasedRow`] decodes after the step's).
macro_rules! leased_columns {
    () => {
        "id, project_id, execution_id, step, instance, attempt, restarts, pauses, idempotency_key, run_after, \
         lease_until, deadline"
    };
}

/// The due steps a claim takes (`picked`), given a `busy` table of the
/// limited projects' free slots: the oldest due steps, skipping full
/// projects, at most `free` of each limited project's, `$5` in all. A
/// window four times the batch leaves room for the steps of projects with
/// fewer slots than due steps. The first argument locks the window's rows
/// (PostgreSQL's `FOR UPDATE … SKIP LOCKED`); the second is a project's
/// free slots, NULL for an unlimited project.
macro_rules! due_within_slots {
    ($lock:expr, $free:expr) => {
        concat!(
            "due AS (SELECT steps.id, steps.project_id, steps.run_after FROM steps \
             WHERE steps.state = 'queued' AND steps.run_after <= $1 \
             AND steps.project_id NOT IN (SELECT project_id FROM busy WHERE free <= 0) \
             ORDER BY steps.run_after LIMIT $5 * (CASE WHEN EXISTS (SELECT 1 FROM busy) THEN 4 ELSE 1 END)",
            $lock,
            "), picked AS (SELECT d.id FROM (SELECT due.id, due.run_after, \
             row_number() OVER (PARTITION BY due.project_id ORDER BY due.run_after) AS rn, ",
            $free,
            " AS free FROM due LEFT JOIN busy ON busy.project_id = due.project_id) d \
             WHERE d.free IS NULL OR d.rn <= d.free ORDER BY d.run_after LIMIT $5)"
        )
    };
}

/// The executions, each once, of the claimed steps whose execution was
/// DELAYED: the claim sets them running again.
fn delayed_executions(leased: &[LeasedRow]) -> Vec<Uuid> {
    let mut delayed: Vec<Uuid> = leased
        .iter()
        .filter(|r| r.execution_status == ExecutionStatus::Delayed.as_str())
        .map(|r| r.execution_id)
        .collect();
    delayed.sort_unstable();
    delayed.dedup();
    delayed
}

impl SqliteStore {
    /// SQLite stores every completion by [`complete`]'s statements: they
    /// run in process, with no round trip to save.
    pub(super) fn set_based(_: &Completion) -> bool {
        false
    }

    /// Nothing to store in one statement (see [`SqliteStore::set_based`]).
    pub(super) async fn complete_set(
        _: &mut sqlx::SqliteConnection,
        _: &[Completion],
        _: &mut [Option<Result<Completed>>],
        _: Ts,
    ) -> Result<()> {
        Ok(())
    }

    /// Leases queued steps: `$1` now, `$2` the token, `$3` the lease
    /// expiry, `$4` the deadline, `$5` how many, oldest first, within each
    /// limited project's free slots (see the module docs).
    /// The single writer makes claims serial, so the slots it counts are
    /// exact and no row lock is needed. The execution's facts come from one
    /// primary-key lookup each (SQLite's `RETURNING` cannot join).
    pub(super) const LEASE_QUEUED_STEPS: &str = concat!(
        "WITH busy AS (SELECT p.id AS project_id, p.concurrency_limit - (SELECT count(*) FROM steps r \
         WHERE r.project_id = p.id AND r.lease_until IS NOT NULL) AS free \
         FROM projects p WHERE p.concurrency_limit IS NOT NULL), ",
        due_within_slots!("", "busy.free"),
        " UPDATE steps SET state = 'running', lease_token = $2, lease_until = $3, deadline = $4, \
         started_at = COALESCE(started_at, $1) WHERE id IN (SELECT id FROM picked) RETURNING ",
        leased_columns!(),
        ", (SELECT e.workflow_id FROM executions e WHERE e.id = steps.execution_id) AS workflow_id, \
         (SELECT e.version FROM executions e WHERE e.id = steps.execution_id) AS version, \
         (SELECT e.user_id FROM executions e WHERE e.id = steps.execution_id) AS user_id, \
         (SELECT e.credential_id FROM executions e WHERE e.id = steps.execution_id) AS credential_id, \
         (SELECT e.status FROM executions e WHERE e.id = steps.execution_id) AS execution_status"
    );

    /// Running steps whose lease or deadline passed before `$1`, up to `$2`:
    /// a lease never outlives its deadline (the claim and the heartbeat cap
    /// it there), so an expired lease covers both.
    pub(super) const EXPIRED_LEASES: &str = "SELECT id, execution_id, restarts FROM steps \
         WHERE lease_until < $1 AND state = 'running' ORDER BY lease_until LIMIT $2";

    /// Leases up to `limit` queued steps in one volatile write transaction
    /// (see [`QueueStore::claim_steps`]); a delayed execution of a claimed
    /// step runs again.
    pub(super) async fn lease_queued(
        &self,
        now: Ts,
        token: Uuid,
        until: Ts,
        deadline: Ts,
        limit: u32,
    ) -> Result<Vec<LeasedRow>> {
        let mut tx = self.begin_volatile().await?;
        let leased: Vec<LeasedRow> = sqlx::query_as(Self::LEASE_QUEUED_STEPS)
            .bind(now)
            .bind(token)
            .bind(until)
            .bind(deadline)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        for execution in delayed_executions(&leased) {
            sqlx::query("UPDATE executions SET status = 'EXECUTING' WHERE id = $1 AND status = 'DELAYED'")
                .bind(execution)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(leased)
    }
}

impl PgStore {
    /// Leases queued steps (parameters as on SQLite) in one statement,
    /// which commits alone. Several processes claim at once: each skips the
    /// rows another is taking, so claims never wait on each other nor take
    /// a row twice. The same statement reads every execution's facts, and
    /// turns `synchronous_commit` off for its own transaction (`set_config`
    /// local to it): a claim does not wait for the WAL flush (see
    /// [`QueueStore::claim_steps`]).
    pub(super) const LEASE_QUEUED_STEPS: &str = "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)), \
         picked AS (SELECT steps.id FROM steps, relaxed WHERE state = 'queued' AND run_after <= $1 \
         ORDER BY run_after LIMIT $5 FOR UPDATE OF steps SKIP LOCKED), \
         leased AS (UPDATE steps SET state = 'running', lease_token = $2, lease_until = $3, deadline = $4, \
         started_at = COALESCE(started_at, $1) FROM picked WHERE steps.id = picked.id RETURNING \
         steps.id, steps.project_id, steps.execution_id, steps.step, steps.instance, steps.attempt, steps.restarts, \
         steps.pauses, steps.idempotency_key, steps.run_after, steps.lease_until, steps.deadline) \
         SELECT leased.*, e.workflow_id, e.version, e.user_id, e.credential_id, e.status AS execution_status \
         FROM leased JOIN executions e ON e.id = leased.execution_id";

    /// The claim when some projects are limited: as
    /// [`PgStore::LEASE_QUEUED_STEPS`], within the free slots of the
    /// projects `$6` (their limits `$7`), whose rows the caller's
    /// transaction has locked.
    const LEASE_WITHIN_SLOTS: &str = concat!(
        "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)), \
         busy AS (SELECT l.project_id, l.max_running - (SELECT count(*) FROM steps r \
         WHERE r.project_id = l.project_id AND r.lease_until IS NOT NULL) AS free \
         FROM unnest($6::uuid[], $7::int8[]) AS l(project_id, max_running), relaxed), ",
        due_within_slots!(" FOR UPDATE OF steps SKIP LOCKED", "busy.free"),
        ", leased AS (UPDATE steps SET state = 'running', lease_token = $2, lease_until = $3, deadline = $4, \
         started_at = COALESCE(started_at, $1) FROM picked WHERE steps.id = picked.id RETURNING \
         steps.id, steps.project_id, steps.execution_id, steps.step, steps.instance, steps.attempt, steps.restarts, \
         steps.pauses, steps.idempotency_key, steps.run_after, steps.lease_until, steps.deadline) \
         SELECT leased.*, e.workflow_id, e.version, e.user_id, e.credential_id, e.status AS execution_status \
         FROM leased JOIN executions e ON e.id = leased.execution_id"
    );

    /// As on SQLite, skipping rows a claim or another reaper holds.
    pub(super) const EXPIRED_LEASES: &str = "SELECT id, execution_id, restarts FROM steps \
         WHERE lease_until < $1 AND state = 'running' ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED";

    /// Leases up to `limit` queued steps in one statement (see
    /// [`PgStore::LEASE_QUEUED_STEPS`]); a delayed execution of a claimed
    /// step runs again, by a second statement only then. (Inside the claim,
    /// that update was planned as a scan of every execution, paid by every
    /// claim.) Should the process stop between the two, the execution shows
    /// DELAYED until its step, reaped, is claimed again. When projects are
    /// limited, the claim runs in a transaction that first locks their rows
    /// (see the module docs).
    pub(super) async fn lease_queued(
        &self,
        now: Ts,
        token: Uuid,
        until: Ts,
        deadline: Ts,
        limit: u32,
    ) -> Result<Vec<LeasedRow>> {
        let limited: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM projects WHERE concurrency_limit IS NOT NULL")
            .fetch_all(self.read())
            .await?;
        if !limited.is_empty() {
            return self.lease_within_slots(now, token, until, deadline, limit, &limited).await;
        }
        let mut conn = self.write_one().await?;
        let leased = sqlx::query_as(Self::LEASE_QUEUED_STEPS)
            .bind(now)
            .bind(token)
            .bind(until)
            .bind(deadline)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
        Self::wake(&mut conn, &leased).await?;
        conn.commit().await?;
        Ok(leased)
    }

    /// [`PgStore::lease_queued`] with limited projects: their rows locked
    /// first (`FOR NO KEY UPDATE`, which inserts referring to them do not
    /// wait for), then the claim, in its own statement so that it reads
    /// what the claims before it committed.
    async fn lease_within_slots(
        &self,
        now: Ts,
        token: Uuid,
        until: Ts,
        deadline: Ts,
        limit: u32,
        limited: &[Uuid],
    ) -> Result<Vec<LeasedRow>> {
        let mut tx = self.begin_write().await?;
        let limits: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT id, concurrency_limit::int8 FROM projects WHERE id = ANY($1) AND concurrency_limit IS NOT NULL \
             ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(limited)
        .fetch_all(&mut *tx)
        .await?;
        let (ids, maxima): (Vec<Uuid>, Vec<i64>) = limits.into_iter().unzip();
        let leased = sqlx::query_as(Self::LEASE_WITHIN_SLOTS)
            .bind(now)
            .bind(token)
            .bind(until)
            .bind(deadline)
            .bind(i64::from(limit))
            .bind(&ids)
            .bind(&maxima)
            .fetch_all(&mut *tx)
            .await?;
        Self::wake(&mut tx, &leased).await?;
        tx.commit().await?;
        Ok(leased)
    }

    /// Sets the delayed executions of claimed steps running again.
    async fn wake(conn: &mut sqlx::PgConnection, leased: &[LeasedRow]) -> Result<()> {
        let woken = delayed_executions(leased);
        if !woken.is_empty() {
            sqlx::query("UPDATE executions SET status = 'EXECUTING' WHERE id = ANY($1) AND status = 'DELAYED'")
                .bind(&woken)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
