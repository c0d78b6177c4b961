//! The queue: where workflow steps wait, are claimed by a worker under a
//! lease and complete. The same rows are the task history: a step row keeps
//! its input, output or error, and its times, once it has run.
//!
//! # The model
//!
//! An execution is one run of one version of a workflow, for one user. Its
//! steps are rows of `steps`, one per run of a step: a step inside a fan-out
//! runs once per instance, `instance` naming which (`"2"`, or `"2.0"` in a
//! nested fan-out; empty outside fan-outs). `(execution, step, instance)`
//! is unique, so queuing is idempotent: a successor queued twice (a
//! completion repeated after a crash) is one row, and a resumed execution
//! never runs a completed step again. A step's idempotency key is derived
//! from that triple, so it is the same on every attempt and every restart.
//!
//! What comes next is the executor's business (it reads the definition);
//! the store makes each move atomic. A [`Completion`] stores a step's
//! outcome, queues its successors, settles a fan-out's join and sets the
//! execution's status in one transaction, fenced on the lease token: a
//! worker whose lease expired (it froze, and the step was given to another)
//! gets [`Error::LeaseLost`] and changes nothing. Successors are queued only
//! while the execution is still running: once it has ended (a failed step
//! ended it, or it finished), stragglers complete their own rows and queue
//! nothing, and ending an execution as failed cancels its queued steps.
//!
//! A fan-out step completes as [`Outcome::FannedOut`]: it waits with a count
//! of pending instances, and the completion of the last step of each
//! instance carries a [`Join`] that counts one down; the one that reaches
//! zero finishes the fan-out and queues what follows it.
//!
//! # Claims and leases
//!
//! [`QueueStore::claim_steps`] takes up to `limit` queued steps whose time
//! has come, oldest first, and leases them: a token, a lease expiry that
//! [`QueueStore::heartbeat`] extends, and a hard deadline it never extends
//! past. PostgreSQL claims with `FOR UPDATE SKIP LOCKED` in a CTE, so several
//! processes share one database; SQLite claims inside the single writer's
//! `BEGIN IMMEDIATE`, which makes claims serial. [`QueueStore::reap`] gives
//! the steps of expired leases back to the queue (a crash restart) and fails
//! a step, and its execution, at the `max_restarts`-th.
//!
//! A claim is the one write that does not wait for the disk: it commits
//! without a flush (SQLite `synchronous=NORMAL`, PostgreSQL
//! `synchronous_commit` off, for that transaction alone). Losing it to a
//! power cut loses nothing accepted: the worker that held the lease died
//! with the machine, and the step is simply queued again, with its
//! idempotency key (without counting a restart). Order is kept: the next
//! durable commit (any completion) flushes the claims before it. A process
//! crash loses no claim at all. This saves a flush between a trigger and its
//! first step, and one per claim under load.
//!
//! Methods take `now` from the caller, as `CredentialStore::credentials_expiring`
//! does, so tests own the clock. Not here yet (the advanced workflow issue):
//! the per-project count of executing steps and parking a rate-limited step.
//!
//! # Leadership
//!
//! Leadership of the scheduler and reapers on PostgreSQL is a one-key
//! advisory lock of a fixed id. PostgreSQL keeps one-key and two-key
//! advisory locks apart: the two-key form, with a first key naming the
//! concern, is for a concern's locks on things that have no row to lock.
//! `NOTIFY` is a wake-up hint only, polling the fallback.

mod sql;

use crate::ids::{CredentialId, ProjectId};
use crate::{Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

crate::ids::id_type!(
    /// A workflow of a project.
    WorkflowId
);
crate::ids::id_type!(
    /// One execution (run) of a workflow.
    ExecutionId
);
crate::ids::id_type!(
    /// One run of one step of an execution (a row of the queue).
    StepRunId
);

/// Longest step id accepted, in characters.
pub const MAX_STEP_ID_LEN: usize = 200;

/// Longest fan-out instance path accepted, in characters.
const MAX_INSTANCE_LEN: usize = 200;

/// Longest step or trigger type accepted, in characters.
const MAX_KIND_LEN: usize = 64;

/// Executions listed per page, at most.
pub const MAX_EXECUTIONS_PAGE: u32 = 100;

/// Where an execution is. These are the reference's values; waiting work
/// (a delay, a retry's back-off) is `Delayed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// Steps are queued or running.
    Executing,
    /// Waiting for a delay or a retry.
    Delayed,
    /// Every step ran; ended.
    Succeeded,
    /// A step failed; ended.
    Failed,
}

impl ExecutionStatus {
    /// As stored and shown: `EXECUTING`, `DELAYED`, `SUCCEEDED`, `FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Executing => "EXECUTING",
            Self::Delayed => "DELAYED",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
        }
    }

    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl std::str::FromStr for ExecutionStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "EXECUTING" => Self::Executing,
            "DELAYED" => Self::Delayed,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            other => return Err(Error::Invalid(format!("unknown execution status {other:?}"))),
        })
    }
}

/// Where one step run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepState {
    /// Waiting in the queue (maybe until a later `run_after`).
    Queued,
    /// Claimed by a worker under a lease.
    Running,
    /// A fan-out waiting for its instances.
    Waiting,
    /// Ran and succeeded (its output stored).
    Succeeded,
    /// Ran and failed (its error stored).
    Failed,
    /// Never ran: its execution ended first.
    Cancelled,
}

impl StepState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for StepState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "waiting" => Self::Waiting,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => return Err(Error::Invalid(format!("unknown step state {other:?}"))),
        })
    }
}

/// A step to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStep {
    /// The step's id in the definition.
    pub step: String,
    /// Its type as the history shows it (`ACTION/REQUEST`).
    pub kind: String,
    /// Its fan-out instance path; empty outside fan-outs.
    pub instance: String,
    /// Not before this time (a delay, a retry); `None` runs it now.
    pub run_after: Option<OffsetDateTime>,
}

impl NewStep {
    /// `step` of type `kind` outside any fan-out, to run now.
    pub fn new(step: impl Into<String>, kind: impl Into<String>) -> Self {
        Self { step: step.into(), kind: kind.into(), instance: String::new(), run_after: None }
    }

    /// In the fan-out instance `instance`.
    pub fn in_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = instance.into();
        self
    }

    /// Not before `at`.
    pub fn after(mut self, at: OffsetDateTime) -> Self {
        self.run_after = Some(at);
        self
    }

    fn check(&self) -> Result<()> {
        crate::check::label("step id", &self.step, MAX_STEP_ID_LEN)?;
        crate::check::label("step type", &self.kind, MAX_KIND_LEN)?;
        if self.instance.len() > MAX_INSTANCE_LEN || self.instance.contains('\0') {
            return Err(Error::Invalid(format!("fan-out instance path {:?} is not accepted", self.instance)));
        }
        Ok(())
    }
}

/// An execution to start: its row, the trigger's output (stored as the
/// trigger's own step row, succeeded) and its first steps, in one
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExecution {
    /// The project.
    pub project: ProjectId,
    /// The workflow.
    pub workflow: WorkflowId,
    /// The deployed version it runs, for its whole life.
    pub version: u32,
    /// The workflow's integration type.
    pub integration: String,
    /// The connected user it runs for, if any.
    pub user: Option<String>,
    /// The user's account it runs with (`X-Paragon-Credential`), if any.
    pub credential: Option<CredentialId>,
    /// The trigger's step id in the definition.
    pub trigger_step: String,
    /// The trigger's type as the history shows it (`TRIGGER/APP_EVENT`).
    pub trigger_kind: String,
    /// What the trigger outputs (the event, the request).
    pub trigger_output: Value,
    /// The steps to queue first.
    pub first: Vec<NewStep>,
}

/// An execution as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Its id.
    pub id: ExecutionId,
    /// The project.
    pub project: ProjectId,
    /// The workflow.
    pub workflow: WorkflowId,
    /// The version it runs.
    pub version: u32,
    /// The workflow's integration type.
    pub integration: String,
    /// The user it runs for.
    pub user: Option<String>,
    /// The account it runs with.
    pub credential: Option<CredentialId>,
    /// The trigger's type.
    pub trigger_kind: String,
    /// Where it is.
    pub status: ExecutionStatus,
    /// The tasks it counted so far.
    pub tasks: u64,
    /// What a Response step answered, once one has.
    pub response: Option<Value>,
    /// When it started.
    pub created_at: OffsetDateTime,
    /// When it ended.
    pub ended_at: Option<OffsetDateTime>,
}

/// One step run as stored: the queue's row and the history's record.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    /// Its id.
    pub id: StepRunId,
    /// The execution.
    pub execution: ExecutionId,
    /// The step's id in the definition.
    pub step: String,
    /// Its fan-out instance path.
    pub instance: String,
    /// Its type as the history shows it.
    pub kind: String,
    /// The step run whose completion queued it (the trigger's for the
    /// first steps); `None` for the trigger.
    pub prev: Option<StepRunId>,
    /// Where it is.
    pub state: StepState,
    /// Retries after failures so far.
    pub attempt: u32,
    /// Leases that expired so far (crashed or frozen workers).
    pub restarts: u32,
    /// The key that stays the same on every attempt and restart.
    pub idempotency_key: String,
    /// Its resolved input, once it ran.
    pub input: Option<Value>,
    /// Its output, once it succeeded.
    pub output: Option<Value>,
    /// Its error, once it failed.
    pub error: Option<Value>,
    /// Not before.
    pub run_after: OffsetDateTime,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// When a worker first took it.
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    pub ended_at: Option<OffsetDateTime>,
}

/// A lease on a claimed step: what a heartbeat and the completion present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The token that fences the completion.
    pub token: Uuid,
    /// Until when it holds unless renewed.
    pub until: OffsetDateTime,
    /// The hard deadline no heartbeat extends past.
    pub deadline: OffsetDateTime,
}

/// A step claimed by a worker, with what it needs to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedStep {
    /// The step run.
    pub id: StepRunId,
    /// The project.
    pub project: ProjectId,
    /// The execution.
    pub execution: ExecutionId,
    /// The workflow.
    pub workflow: WorkflowId,
    /// The version the execution runs.
    pub version: u32,
    /// The user it runs for.
    pub user: Option<String>,
    /// The account it runs with.
    pub credential: Option<CredentialId>,
    /// The step's id in the definition.
    pub step: String,
    /// Its fan-out instance path.
    pub instance: String,
    /// Retries after failures so far.
    pub attempt: u32,
    /// Leases that expired so far.
    pub restarts: u32,
    /// Rate-limit pauses so far ([`Outcome::Paused`]).
    pub pauses: u32,
    /// The key that stays the same on every attempt and restart.
    pub idempotency_key: String,
    /// The lease.
    pub lease: Lease,
}

/// How a claimed step ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It succeeded with `output`.
    Succeeded {
        /// Its resolved input.
        input: Value,
        /// Its output.
        output: Value,
    },
    /// It failed for good with `error`.
    Failed {
        /// Its resolved input.
        input: Value,
        /// The error, as the history shows it.
        error: Value,
    },
    /// It failed and runs again at `run_after` (an auto-retry): back in
    /// the queue with one more attempt.
    Retry {
        /// The error of this attempt.
        error: Value,
        /// When to run it again.
        run_after: OffsetDateTime,
    },
    /// It was refused for a rate limit and waits for the provider's window
    /// until `run_after`, back in the queue with one more pause and no more
    /// attempts (a Smart Rate Limit: the suspended request is sent again).
    Paused {
        /// Why it waits.
        error: Value,
        /// When to run it again.
        run_after: OffsetDateTime,
    },
    /// A fan-out: it waits for `instances` instances, whose first steps are
    /// the completion's `next`. With no instance it simply succeeds.
    FannedOut {
        /// Its resolved input.
        input: Value,
        /// Its output (the items).
        output: Value,
        /// How many instances run.
        instances: u32,
    },
}

/// The end of one fan-out instance: counts the fan-out's pending instances
/// down; the last one finishes the fan-out and queues `then` (and, for a
/// fan-out that ends an outer fan-out's instance, settles that one too).
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// The fan-out's step id.
    pub step: String,
    /// The fan-out's own instance path (empty unless it is nested).
    pub instance: String,
    /// What follows the fan-out, queued by the last instance.
    pub then: Vec<NewStep>,
    /// What this instance's end queues, last or not: the first step of
    /// the next item of a fan-out that runs a bounded number at once.
    pub each: Vec<NewStep>,
    /// The execution's status to set when the last instance is done and
    /// nothing follows (it succeeded), if any.
    pub finish: Option<ExecutionStatus>,
    /// When this fan-out is itself the last step of an instance of an
    /// outer fan-out: that instance's end, settled once this fan-out's last
    /// instance is done.
    pub outer: Option<Box<Join>>,
}

/// The completion of a claimed step, stored in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The project.
    pub project: ProjectId,
    /// The step run.
    pub id: StepRunId,
    /// The lease it was claimed with.
    pub token: Uuid,
    /// How it ended.
    pub outcome: Outcome,
    /// What to queue next (a fan-out's instances' first steps included).
    pub next: Vec<NewStep>,
    /// The fan-out instance this step ends, if it ends one.
    pub join: Option<Join>,
    /// The execution's new status, if it changes (`Failed` ends it and
    /// cancels its queued steps; `Succeeded` ends it).
    pub execution: Option<ExecutionStatus>,
    /// What a Response step answers, stored on the execution.
    pub response: Option<Value>,
    /// Tasks this step counts (added to the execution's).
    pub tasks: u32,
    /// Queue the one successor in `next` already leased to the caller (see
    /// [`Follow`]); `None` queues it for any worker to claim.
    pub follow: Option<Follow>,
}

impl Completion {
    /// Whether its successor may be followed ([`Follow`]): a succeeded
    /// step's one successor, due now, in a completion that neither joins a
    /// fan-out nor changes its execution's status.
    pub fn followable(&self) -> bool {
        matches!(self.next.as_slice(), [next] if next.run_after.is_none())
            && self.join.is_none()
            && self.execution.is_none()
            && matches!(self.outcome, Outcome::Succeeded { .. })
    }
}

/// A successor the completing worker runs next itself: the completion
/// inserts it already running, under `lease`, so no claim is needed for it
/// (a continuation: most workflows are chains of steps, and each claim is a
/// statement and a round trip). It is the completion's only successor, with
/// no later `run_after`, in a completion that neither joins a fan-out nor
/// changes its execution's status. The step is leased only if the
/// completion queues it (its execution still runs and the step was not
/// queued before): [`Completed::followed`] says so, and only then does the
/// caller run it ([`Follow::claimed`]); otherwise nothing of it is written.
/// Should the caller die before it runs it, the lease expires and the
/// reaper queues it again, as for any claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// The id of the successor's row.
    pub id: StepRunId,
    /// Its lease.
    pub lease: Lease,
}

impl Follow {
    /// The successor as a claimed step, once [`Completed::followed`]:
    /// `from` is the completed step (same execution, version, user and
    /// account), `next` the completion's successor.
    pub fn claimed(&self, from: &ClaimedStep, next: &NewStep) -> ClaimedStep {
        ClaimedStep {
            id: self.id,
            project: from.project,
            execution: from.execution,
            workflow: from.workflow,
            version: from.version,
            user: from.user.clone(),
            credential: from.credential,
            step: next.step.clone(),
            instance: next.instance.clone(),
            attempt: 0,
            restarts: 0,
            pauses: 0,
            idempotency_key: idempotency_key(from.execution, &next.step, &next.instance),
            lease: self.lease,
        }
    }
}

/// What storing a completion did besides storing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Completed {
    /// The successor of [`Completion::follow`] was queued leased to the
    /// caller, which now runs it.
    pub followed: bool,
}

/// Which executions to list: filters (all optional), the order and the
/// page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionQuery {
    /// Of this connected user.
    pub user: Option<String>,
    /// Of this workflow.
    pub workflow: Option<WorkflowId>,
    /// Of workflows of this integration type.
    pub integration: Option<String>,
    /// In this status.
    pub status: Option<ExecutionStatus>,
    /// Started before.
    pub before: Option<OffsetDateTime>,
    /// Started after.
    pub after: Option<OffsetDateTime>,
    /// Oldest first; newest first otherwise.
    pub ascending: bool,
    /// Skips this many.
    pub offset: u64,
    /// At most this many (capped at [`MAX_EXECUTIONS_PAGE`]).
    pub limit: u32,
}

/// A page of executions and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionPage {
    /// The page.
    pub executions: Vec<Execution>,
    /// How many executions match the filters.
    pub total: u64,
}

/// What a pass of the reaper did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Steps given back to the queue.
    pub requeued: u64,
    /// Steps failed (with their executions) at their last restart.
    pub failed: u64,
}

/// Workflow executions and the queue of their steps.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Stores a new execution, its trigger's output and its first steps, in
    /// one transaction. `NotFound("project")` for an unknown project.
    async fn start_execution(&self, new: NewExecution, now: OffsetDateTime) -> Result<ExecutionId>;

    /// As [`QueueStore::start_execution`], for an execution the workflow
    /// runs at most once per `once` key (an Integration Enabled workflow
    /// once per account): `None`, and nothing stored, when the workflow
    /// has an execution with that key already, whoever started it.
    async fn start_execution_once(
        &self,
        new: NewExecution,
        once: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ExecutionId>>;

    /// Leases up to `limit` queued steps whose `run_after` has come, oldest
    /// first: each lease holds for `lease_for`, renewable until
    /// `now + deadline_for`. Committed without waiting for the disk (see
    /// the module docs).
    async fn claim_steps(
        &self,
        now: OffsetDateTime,
        lease_for: Duration,
        deadline_for: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedStep>>;

    /// Renews a lease for `lease_for` (never past its deadline); returns the
    /// new expiry. [`Error::LeaseLost`] when the lease is no longer this
    /// token's or has passed its deadline.
    async fn heartbeat(
        &self,
        project: ProjectId,
        id: StepRunId,
        token: Uuid,
        now: OffsetDateTime,
        lease_for: Duration,
    ) -> Result<OffsetDateTime>;

    /// Stores a completion (see [`Completion`]); [`Error::LeaseLost`] when
    /// the step is no longer leased with its token, and then nothing
    /// changes.
    async fn complete_step(&self, completion: Completion, now: OffsetDateTime) -> Result<Completed>;

    /// Stores several completions in one transaction, in order, each as
    /// [`QueueStore::complete_step`] would and fenced on its own lease: a
    /// group commit, one flush to disk for all of them. The answer holds one
    /// result per completion, in their order; a stale one
    /// ([`Error::LeaseLost`]) or one that fails its checks changes nothing
    /// and fails alone. When storing a completion fails for any other reason
    /// (a database error), the batch is rolled back and each completion is
    /// then stored in a transaction of its own, so one bad completion never
    /// costs the others theirs.
    async fn complete_steps(&self, completions: Vec<Completion>, now: OffsetDateTime) -> Vec<Result<Completed>>;

    /// Gives steps whose lease expired (or whose deadline passed) before
    /// `now` back to the queue, counting a restart; a step at its
    /// `max_restarts`-th restart fails instead, with its execution. Handles
    /// up to `limit` steps per call.
    async fn reap(&self, now: OffsetDateTime, max_restarts: u32, limit: u32) -> Result<Reaped>;

    /// Deletes up to `limit` executions (with their steps) that ended
    /// before `ended_before`: the history's retention, across projects as
    /// the reaper works. Returns how many were deleted.
    async fn purge_executions(&self, ended_before: OffsetDateTime, limit: u32) -> Result<u64>;

    /// One execution of the project.
    async fn get_execution(&self, project: ProjectId, id: ExecutionId) -> Result<Execution>;

    /// An execution's step runs, in the order they were queued.
    async fn execution_steps(&self, project: ProjectId, id: ExecutionId) -> Result<Vec<StepRun>>;

    /// One step run of an execution.
    async fn get_step_run(&self, project: ProjectId, execution: ExecutionId, id: StepRunId) -> Result<StepRun>;

    /// The run of `step` in fan-out instance `instance` (empty outside
    /// fan-outs) of an execution, if it was queued: what a step reads of
    /// another's output, found by the queue's unique key.
    async fn find_step_run(
        &self,
        project: ProjectId,
        execution: ExecutionId,
        step: &str,
        instance: &str,
    ) -> Result<Option<StepRun>>;

    /// The project's executions that match `query`, one page of them.
    async fn list_executions(&self, project: ProjectId, query: &ExecutionQuery) -> Result<ExecutionPage>;
}

/// The idempotency key of a step run: the same on every attempt and every
/// restart, different for every step and instance of every execution.
pub(crate) fn idempotency_key(execution: ExecutionId, step: &str, instance: &str) -> String {
    if instance.is_empty() { format!("{execution}:{step}") } else { format!("{execution}:{step}:{instance}") }
}

/// The checks a completion passes before it is stored.
pub(crate) fn check_completion(c: &Completion) -> Result<()> {
    let mut joins = c.join.as_ref();
    let mut joined = Vec::new();
    while let Some(j) = joins {
        joined.extend(j.then.iter().chain(&j.each));
        joins = j.outer.as_deref();
    }
    for step in c.next.iter().chain(joined) {
        step.check()?;
    }
    if let Outcome::FannedOut { instances, .. } = c.outcome
        && instances > 0
        && c.next.is_empty()
    {
        return Err(Error::Invalid("a fan-out with instances queues their first steps".into()));
    }
    if c.follow.is_some() && !c.followable() {
        return Err(Error::Invalid(
            "only a succeeded step's one successor, due now, in a completion that neither joins nor ends, is followed"
                .into(),
        ));
    }
    Ok(())
}

/// Makes a JSON value storable on both backends: PostgreSQL's `jsonb`
/// refuses the NUL character in text (a provider's binary answer read as
/// text holds some), so each NUL in a string or a key becomes U+FFFD, the
/// replacement character, on SQLite too (both keep the same value).
pub(crate) fn storable(v: &mut Value) {
    const NUL: char = '\0';
    match v {
        Value::String(s) if s.contains(NUL) => *s = s.replace(NUL, "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(storable),
        Value::Object(fields) => {
            if fields.keys().any(|k| k.contains(NUL)) {
                let old = std::mem::take(fields);
                fields.extend(old.into_iter().map(|(k, v)| (k.replace(NUL, "\u{FFFD}"), v)));
            }
            fields.values_mut().for_each(storable);
        }
        _ => {}
    }
}

/// A completion's values made [`storable`].
pub(crate) fn storable_completion(c: &mut Completion) {
    match &mut c.outcome {
        Outcome::Succeeded { input, output } | Outcome::FannedOut { input, output, .. } => {
            storable(input);
            storable(output);
        }
        Outcome::Failed { input, error } => {
            storable(input);
            storable(error);
        }
        Outcome::Retry { error, .. } | Outcome::Paused { error, .. } => storable(error),
    }
    if let Some(r) = &mut c.response {
        storable(r);
    }
}

/// `now + d`, refused when out of range.
pub(crate) fn later(now: OffsetDateTime, d: Duration) -> Result<OffsetDateTime> {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d))
        .ok_or_else(|| Error::Invalid(format!("{d:?} from now is out of range")))
}

#[cfg(test)]
mod tests;
