//! What the two backends do differently in the queue, side by side: how
//! steps are claimed (`LEASE_QUEUED_STEPS`, `lease_queued`), how expired
//! leases are found (`EXPIRED_LEASES`), and which completions PostgreSQL
//! stores in one statement (`set_based`, `complete_set`).

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
    /// expiry, `$4` the deadline, `$5` how many, oldest first. The single
    /// writer makes claims serial: no row lock needed. The execution's facts
    /// come from one primary-key lookup each (SQLite's `RETURNING` cannot
    /// join).
    pub(super) const LEASE_QUEUED_STEPS: &str = concat!(
        "UPDATE steps SET state = 'running', lease_token = $2, lease_until = $3, deadline = $4, \
         started_at = COALESCE(started_at, $1) \
         WHERE id IN (SELECT id FROM steps WHERE state = 'queued' AND run_after <= $1 ORDER BY run_after LIMIT $5) \
         RETURNING ",
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

    /// As on SQLite, skipping rows a claim or another reaper holds.
    pub(super) const EXPIRED_LEASES: &str = "SELECT id, execution_id, restarts FROM steps \
         WHERE lease_until < $1 AND state = 'running' ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED";

    /// Leases up to `limit` queued steps in one statement (see
    /// [`PgStore::LEASE_QUEUED_STEPS`]); a delayed execution of a claimed
    /// step runs again, by a second statement only then. (Inside the claim,
    /// that update was planned as a scan of every execution, paid by every
    /// claim.) Should the process stop between the two, the execution shows
    /// DELAYED until its step, reaped, is claimed again.
    pub(super) async fn lease_queued(
        &self,
        now: Ts,
        token: Uuid,
        until: Ts,
        deadline: Ts,
        limit: u32,
    ) -> Result<Vec<LeasedRow>> {
        let mut conn = self.write_one().await?;
        let leased = sqlx::query_as(Self::LEASE_QUEUED_STEPS)
            .bind(now)
            .bind(token)
            .bind(until)
            .bind(deadline)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
        let woken = delayed_executions(&leased);
        if !woken.is_empty() {
            sqlx::query("UPDATE executions SET status = 'EXECUTING' WHERE id = ANY($1) AND status = 'DELAYED'")
                .bind(&woken)
                .execute(&mut *conn)
                .await?;
        }
        conn.commit().await?;
        Ok(leased)
    }
}
