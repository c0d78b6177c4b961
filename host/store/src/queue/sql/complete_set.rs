//! PostgreSQL stores most completions in one statement, however many there
//! are: each is a round trip otherwise (a statement for the step's row, one
//! for its execution, one per successor, and the transaction's own), and
//! round trips, not the disk, were what bounded PostgreSQL's steps per
//! second (the `queue` benchmark measures it).
//!
//! The statement takes the completions as arrays, one element each, and
//! their successors as arrays of their own that name their completion. Its
//! parts do what [`complete`](super) does, set-wise: the fence (a stale
//! completion's row does not match, and nothing else of it is written);
//! each execution's row locked and read (is it still running?), then its
//! tasks, response and successor count updated, and its end when a
//! completion finishes it; the successors, numbered per execution in the
//! completions' order, while the execution was running. It returns the
//! step rows it fenced.
//!
//! It serves the completions that only write their own row, count tasks,
//! queue successors or finish their execution as succeeded
//! ([`PgStore::set_based`]): a retry, a fan-out instance's end (a join) and
//! a failure (which cancels the execution's queued steps) take the general
//! path. Completions keep their order: one that comes after a completion
//! finishing its execution (`late`) queues nothing, as it would one
//! statement later, and the caller hands over runs of consecutive
//! set-based ones (a completion on the general path between them is
//! stored in its place).

use super::{Completed, Completion, Error, ExecutionStatus, Outcome, PgStore, Result, Written};
use crate::rows::Ts;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// `$1`..`$13`: the completions (id, project, token, state, input, output,
/// error, pending, ended at, tasks, response, successor count, whether it
/// finishes its execution); `$14`..`$20`: the successors (their
/// completion's 1-based position, their 1-based position among its
/// successors, id, step, instance, kind, run after); `$21`: now;
/// `$22`..`$24`: the successors' leases when followed (token, until,
/// deadline; null otherwise). It answers the fenced completions' lease
/// tokens, and the followed successors' ids it inserted, marked `true`.
///
/// A fenced row is matched back to its completion by position, never by
/// the step's id: a batch may hold a stale completion of a step beside the
/// live one (a worker froze, the step was leased again to another worker
/// of the same process), and joining by id would count the live one's
/// tasks and successors once more for the stale one.
const COMPLETE_SET: &str = concat!(
    "WITH d AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], \
     $7::jsonb[], $8::int4[], $9::timestamptz[], $10::int8[], $11::jsonb[], $12::int8[], $13::bool[]) \
     WITH ORDINALITY AS d(id, project_id, token, state, input, output, error, pending, ended_at, tasks, response, n, \
     finish, ord)), \
     fenced AS (UPDATE steps s SET state = d.state, input = d.input, output = d.output, error = d.error, \
     pending = d.pending, ended_at = d.ended_at, lease_token = NULL, lease_until = NULL, deadline = NULL \
     FROM d WHERE s.id = d.id AND s.project_id = d.project_id AND s.lease_token = d.token AND s.state = 'running' \
     RETURNING d.ord, d.token, s.execution_id), \
     fd AS (SELECT d.ord, d.tasks, d.n, d.finish, d.response, f.execution_id, \
     COALESCE(bool_or(d.finish) OVER (PARTITION BY f.execution_id ORDER BY d.ord \
     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS late \
     FROM fenced f JOIN d ON d.ord = f.ord), \
     per_execution AS (SELECT fd.execution_id, sum(fd.tasks) AS tasks, \
     COALESCE(sum(fd.n) FILTER (WHERE NOT fd.late), 0) AS n, bool_or(fd.finish) AS finish, \
     (array_agg(fd.response ORDER BY fd.ord DESC) FILTER (WHERE fd.response IS NOT NULL))[1] AS response \
     FROM fd GROUP BY fd.execution_id), \
     locked AS (SELECT e.id, e.status NOT IN ('SUCCEEDED', 'FAILED') AS running \
     FROM executions e JOIN per_execution p ON p.execution_id = e.id ORDER BY e.id FOR UPDATE OF e), \
     counted AS (UPDATE executions e SET tasks = e.tasks + p.tasks, response = COALESCE(p.response, e.response), \
     queued = CASE WHEN l.running THEN e.queued + p.n ELSE e.queued END, \
     status = CASE WHEN l.running AND p.finish THEN 'SUCCEEDED' ELSE e.status END, \
     ended_at = CASE WHEN l.running AND p.finish THEN $21 ELSE e.ended_at END \
     FROM per_execution p JOIN locked l ON l.id = p.execution_id WHERE e.id = p.execution_id \
     RETURNING e.id, e.queued, p.n, l.running), \
     x AS (SELECT * FROM unnest($14::int8[], $15::int8[], $16::uuid[], $17::text[], $18::text[], $19::text[], \
     $20::timestamptz[], $22::uuid[], $23::timestamptz[], $24::timestamptz[]) \
     AS x(owner, k, id, step, instance, kind, run_after, token, until, deadline)), \
     queued AS (INSERT INTO steps (id, project_id, execution_id, seq, step, instance, kind, prev, state, run_after, \
     idempotency_key, created_at, lease_token, lease_until, deadline, started_at) \
     SELECT x.id, d.project_id, c.id, c.queued - c.n + row_number() OVER (PARTITION BY c.id ORDER BY d.ord, x.k), \
     x.step, x.instance, x.kind, d.id, CASE WHEN x.token IS NULL THEN 'queued' ELSE 'running' END, \
     COALESCE(x.run_after, $21), ",
    idempotency_key_sql!("c.id", "x.step", "x.instance"),
    ", $21, x.token, x.until, x.deadline, CASE WHEN x.token IS NULL THEN NULL ELSE $21 END \
     FROM x JOIN d ON d.ord = x.owner JOIN fd ON fd.ord = d.ord JOIN counted c ON c.id = fd.execution_id \
     WHERE c.running AND NOT fd.late ON CONFLICT (execution_id, step, instance) DO NOTHING RETURNING id, lease_token) \
     SELECT token, false FROM fenced UNION ALL SELECT id, true FROM queued WHERE lease_token IS NOT NULL"
);

/// The completions' columns, one vector per array parameter.
#[derive(Default)]
struct Columns<'a> {
    id: Vec<Uuid>,
    project: Vec<Uuid>,
    token: Vec<Uuid>,
    state: Vec<&'static str>,
    input: Vec<Option<Json<&'a Value>>>,
    output: Vec<Option<Json<&'a Value>>>,
    error: Vec<Option<Json<&'a Value>>>,
    pending: Vec<Option<i32>>,
    ended_at: Vec<Option<OffsetDateTime>>,
    tasks: Vec<i64>,
    response: Vec<Option<Json<&'a Value>>>,
    n: Vec<i64>,
    finish: Vec<bool>,
}

/// The successors' columns.
#[derive(Default)]
struct Successors<'a> {
    owner: Vec<i64>,
    k: Vec<i64>,
    id: Vec<Uuid>,
    step: Vec<&'a str>,
    instance: Vec<&'a str>,
    kind: Vec<&'a str>,
    run_after: Vec<Option<OffsetDateTime>>,
    token: Vec<Option<Uuid>>,
    until: Vec<Option<OffsetDateTime>>,
    deadline: Vec<Option<OffsetDateTime>>,
}

impl PgStore {
    /// Whether [`PgStore::complete_set`] stores `c`: it only writes its own
    /// row, counts tasks, queues successors or finishes its execution as
    /// succeeded.
    pub(super) fn set_based(c: &Completion) -> bool {
        !matches!(c.outcome, Outcome::Retry { .. } | Outcome::Paused { .. })
            && c.join.is_none()
            && matches!(c.execution, None | Some(ExecutionStatus::Succeeded))
    }

    /// Stores `completions` (set-based, in a run as the module docs say),
    /// those whose result is not set yet, in one statement on `conn`, and
    /// sets their results (a stale one: [`Error::LeaseLost`]).
    pub(super) async fn complete_set(
        conn: &mut PgConnection,
        completions: &[Completion],
        results: &mut [Option<Result<Completed>>],
        now: Ts,
    ) -> Result<()> {
        let mut cols = Columns::default();
        let mut next = Successors::default();
        let mut taken = Vec::new();
        for (i, c) in completions.iter().enumerate() {
            if results[i].is_some() || !Self::set_based(c) {
                continue;
            }
            let w = Written::of(&c.outcome)?;
            let n = i64::try_from(c.next.len()).map_err(|_| Error::Invalid("too many steps".into()))?;
            taken.push(i);
            cols.id.push(c.id.as_uuid());
            cols.project.push(c.project.as_uuid());
            cols.token.push(c.token);
            cols.state.push(w.state.as_str());
            cols.input.push(w.input.map(Json));
            cols.output.push(w.output.map(Json));
            cols.error.push(w.error.map(Json));
            cols.pending.push(w.pending);
            cols.ended_at.push(w.ended_at(now).map(|t| t.0));
            cols.tasks.push(i64::from(c.tasks));
            cols.response.push(c.response.as_ref().map(Json));
            cols.n.push(n);
            cols.finish.push(c.execution == Some(ExecutionStatus::Succeeded));
            let owner = i64::try_from(taken.len()).unwrap_or(i64::MAX);
            for (k, s) in (1..).zip(&c.next) {
                // Only the first successor is ever followed.
                let follow = c.follow.filter(|_| k == 1);
                next.owner.push(owner);
                next.k.push(k);
                next.id.push(follow.map_or_else(Uuid::new_v4, |f| f.id.as_uuid()));
                next.step.push(&s.step);
                next.instance.push(&s.instance);
                next.kind.push(&s.kind);
                next.run_after.push(s.run_after);
                next.token.push(follow.map(|f| f.lease.token));
                next.until.push(follow.map(|f| f.lease.until));
                next.deadline.push(follow.map(|f| f.lease.deadline));
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        let answered: Vec<(Uuid, bool)> = sqlx::query_as(COMPLETE_SET)
            .bind(&cols.id)
            .bind(&cols.project)
            .bind(&cols.token)
            .bind(&cols.state)
            .bind(&cols.input)
            .bind(&cols.output)
            .bind(&cols.error)
            .bind(&cols.pending)
            .bind(&cols.ended_at)
            .bind(&cols.tasks)
            .bind(&cols.response)
            .bind(&cols.n)
            .bind(&cols.finish)
            .bind(&next.owner)
            .bind(&next.k)
            .bind(&next.id)
            .bind(&next.step)
            .bind(&next.instance)
            .bind(&next.kind)
            .bind(&next.run_after)
            .bind(now)
            .bind(&next.token)
            .bind(&next.until)
            .bind(&next.deadline)
            .fetch_all(conn)
            .await?;
        for i in taken {
            let c = &completions[i];
            let stored = answered.contains(&(c.token, false));
            let followed = c.follow.is_some_and(|f| answered.contains(&(f.id.as_uuid(), true)));
            results[i] = Some(if stored { Ok(Completed { followed }) } else { Err(Error::LeaseLost) });
        }
        Ok(())
    }
}
