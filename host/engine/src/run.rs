//! Running workflows: workers that claim queued steps from the store, run
//! each one (a request through the egress client, an integration request
//! through the credential service's authorised path, a condition, a
//! fan-out, a response, a delay) and store its outcome together with what
//! the plan says comes next, in one completion fenced on the step's lease.
//!
//! A worker holds nothing an execution needs between steps: everything is
//! in the store (outputs, the queue), so any worker of any process can take
//! the next step, and a worker that dies mid-step only costs a restart of
//! that step after its lease expires (the store's reaper). Steps that call
//! out carry their idempotency key (`Idempotency-Key` on Request steps), so
//! a provider can tell a repeat from a new call.
//!
//! Integration Action and Function steps need the plugin host, which this
//! crate reaches only through [`StepPlugins`] (wired by the server); a step
//! of those kinds fails with a clear error when no implementation is given.

mod accounts;
mod bound;
mod commit;
mod context;
mod execute;
mod ingest;
mod integration;
mod matching;
mod paginate;
mod permissions;
mod preset;
mod replay;
mod retention;
mod schedule;
mod subscriptions;
mod trigger;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Notify, broadcast};
use weft_store::{ClaimedStep, Completion, ExecutionId, ExecutionStatus, Join, NewStep, Outcome, Store, WorkflowId};

use crate::plan::{Next, Plan, Queued};

pub use accounts::missing_settings;
pub use integration::{DEFAULT_POLL_SECS, Polled, TriggerPlugins, TriggerSpec};
pub use matching::{EVENT_FIELD_KEYWORD, EventMatch};
pub use replay::{ReplayError, ReplayFrom};
pub use trigger::{
    AppEvent, Awaited, RequestRefused, RequestStarted, Started, TriggerError, WorkflowRequest, stored_integration,
    trigger_key,
};

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Workers claiming steps in this process.
    pub workers: usize,
    /// Steps a worker claims at once.
    pub batch: u32,
    /// Completions stored in one transaction at most (group commit, see
    /// `run/commit.rs`); 1 stores each in a transaction of its own.
    pub group_commit: u32,
    /// Steps of one execution a worker runs in a row: a step's lone
    /// successor, due now, is queued already leased to the worker in the
    /// completion's own transaction ([`weft_store::Follow`]) and run next
    /// without a claim, up to this many times, then queued for any worker
    /// (so a long chain gives way to queued work). 0 queues every step.
    pub follow: u32,
    /// Committers storing the workers' completions (with group commit):
    /// each takes what has arrived while the others wait for their
    /// transactions.
    pub committers: usize,
    /// A lease's length; renewed while a step runs.
    pub lease: Duration,
    /// The longest a step may run, renewals included.
    pub step_deadline: Duration,
    /// How often an idle worker looks for work (a trigger wakes it sooner).
    pub poll: Duration,
    /// Crash restarts of a step before it fails.
    pub max_restarts: u32,
    /// Attempts of an auto-retried step after its first.
    pub max_retries: u32,
    /// The first retry's wait; each next one waits longer (10, 20, 30, 50,
    /// 80 s with the default of 10 s).
    pub retry_base: Duration,
    /// How long a step answered 429 without `Retry-After` waits.
    pub rate_limit_wait: Duration,
    /// The longest a rate-limited step waits at once, whatever the provider
    /// asks.
    pub max_pause: Duration,
    /// Rate-limit pauses of a step before a rate limit fails it like any
    /// other error (auto-retry then applies).
    pub max_pauses: u32,
    /// The most items of a fan-out whose body runs at once, unless the
    /// step says (`maxParallel`); 0: every item at once.
    pub fan_out_parallel: u32,
    /// The most pages a paginated request step fetches; past it the step
    /// ends with the results so far and an error.
    pub max_pages: u32,
    /// How long an outbound request of a step may take.
    pub request_timeout: Duration,
    /// The largest answer a step's request reads.
    pub max_response_bytes: u64,
    /// The largest input or output of a step, in bytes of JSON; a step over
    /// it fails, naming itself (a file's bytes travel as hex, twice their
    /// size, so the default leaves room for a 50 MB file).
    pub max_step_bytes: u64,
    /// How long a request to a workflow with a Response step waits for it
    /// before it is answered 542 (the execution goes on).
    pub response_timeout: Duration,
    /// How long the history keeps an execution after it ended; `None`
    /// keeps it for ever.
    pub retention: Option<Duration>,
    /// The scheduler leader's lease (at least two seconds): a standby takes
    /// over once a leader has not renewed it for this long.
    pub scheduler_lease: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            workers: 4,
            // Slots of 32 (claims of up to 32): with following and two
            // committers, `cargo xtask bench queue` on two cores gives
            // PostgreSQL about 20 % more batched steps per second than with
            // 16, and SQLite as much.
            batch: 32,
            group_commit: 64,
            // Following a chain saves a claim (a statement, and on
            // PostgreSQL a round trip) per step; `cargo xtask bench queue`
            // measures what it buys (tests/src/bin/bench/queue.rs).
            follow: 32,
            committers: 2,
            lease: Duration::from_secs(30),
            step_deadline: Duration::from_secs(15 * 60),
            poll: Duration::from_millis(250),
            max_restarts: 3,
            max_retries: 5,
            retry_base: Duration::from_secs(10),
            fan_out_parallel: 0,
            max_pages: 1000,
            rate_limit_wait: Duration::from_secs(60),
            max_pause: Duration::from_secs(24 * 3600),
            max_pauses: 100,
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 50 << 20,
            max_step_bytes: 128 << 20,
            response_timeout: Duration::from_secs(55),
            retention: Some(Duration::from_secs(90 * 24 * 3600)),
            scheduler_lease: Duration::from_secs(5),
        }
    }
}

/// The retry schedule as multiples of the base (the reference's 10, 20, 30,
/// 50, 80 s), the last repeated.
const RETRY_STEPS: [u32; 5] = [1, 2, 3, 5, 8];

/// The wait before retry `attempt + 1`: the schedule's, give or take up to
/// a fifth at random, so that steps failing together (a provider's outage)
/// do not all come back in the same instant.
pub(crate) fn retry_wait(base: Duration, attempt: u32) -> Duration {
    jittered(base * RETRY_STEPS[(attempt as usize).min(RETRY_STEPS.len() - 1)])
}

/// `nominal`, give or take up to a fifth at random.
pub(crate) fn jittered(nominal: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    if nominal.is_zero() || getrandom::getrandom(&mut bytes).is_err() {
        return nominal;
    }
    // A factor in [0.8, 1.2), in thousandths.
    let factor = 800 + u32::from_le_bytes(bytes) % 400;
    nominal * factor / 1000
}

/// Integration actions and function steps, run by the plugin host.
#[async_trait::async_trait]
pub trait StepPlugins: Send + Sync + 'static {
    /// Runs `action` of `integration` as the user's account `credential`
    /// with `input`; its output, or an error as the history shows it. An
    /// error with `"rateLimit": {"retryAfterMs": ms}` (`null`: the engine's
    /// default window) is a Smart Rate Limit: the step waits in the queue
    /// and is run again, using no retry.
    async fn run_action(
        &self,
        project: weft_store::ProjectId,
        integration: &str,
        credential: weft_store::CredentialId,
        action: &str,
        input: Value,
        idempotency_key: &str,
    ) -> Result<Value, Value>;

    /// Runs the function-step component `function` with `parameters`, as
    /// step `step` of `workflow`.
    async fn run_function(
        &self,
        project: weft_store::ProjectId,
        function: &str,
        workflow: WorkflowId,
        step: &str,
        parameters: Value,
        idempotency_key: &str,
    ) -> Result<Value, Value>;

    /// Runs a Function step's JavaScript `code` with `parameters`: its
    /// output (`{"result": …}`, and `logs`, the console's lines, when it
    /// wrote any), or its error as the history shows it (the message, where
    /// in the code, and the console's lines).
    async fn run_code(
        &self,
        project: weft_store::ProjectId,
        code: &str,
        parameters: Value,
        idempotency_key: &str,
    ) -> Result<Value, Value> {
        let _ = (project, code, parameters, idempotency_key);
        Err(
            serde_json::json!({"message": "JavaScript function steps are not available: no JavaScript runtime is installed"}),
        )
    }
}

/// What the executor calls out through.
pub struct EngineDeps {
    /// Executions, steps, workflows, users.
    pub store: Arc<dyn Store>,
    /// The one outbound client (Request steps).
    pub egress: Arc<dyn weft_egress::Egress>,
    /// The authorised path (Integration Request steps) and environment
    /// secrets.
    pub credentials: Arc<weft_credentials::Credentials>,
    /// Integration actions and function steps, when the plugin host is
    /// wired.
    pub plugins: Option<Arc<dyn StepPlugins>>,
    /// Plugin triggers (subscribe, unsubscribe, poll), when the plugin host
    /// is wired; without them Integration triggers never fire.
    pub triggers: Option<Arc<dyn TriggerPlugins>>,
    /// How it runs.
    pub settings: EngineSettings,
}

/// The workflow engine: triggers start executions, workers run their steps.
pub struct Engine {
    deps: EngineDeps,
    /// The provider events' group commit, started on first use.
    ingest: std::sync::OnceLock<ingest::Ingest>,
    plans: Mutex<HashMap<(WorkflowId, u32), Arc<Plan>>>,
    wake: Notify,
    ended: broadcast::Sender<ExecutionId>,
}

/// Executions announced as they end, at most, before a slow listener
/// misses some.
const ENDED_BACKLOG: usize = 1024;

impl Engine {
    /// An engine over `deps`; call [`Engine::run`] to start its workers.
    pub fn new(deps: EngineDeps) -> Arc<Self> {
        let (ended, _) = broadcast::channel(ENDED_BACKLOG);
        Arc::new(Self {
            deps,
            ingest: std::sync::OnceLock::new(),
            plans: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            ended,
        })
    }

    /// Executions as this process's workers end them, announced once the
    /// completion that ends one is stored: a hint for waiters in this
    /// process, which read the store for the outcome. An execution ended by
    /// another process is not announced, and a listener that falls more
    /// than a thousand behind misses some, so a waiter also polls.
    pub fn ended(&self) -> broadcast::Receiver<ExecutionId> {
        self.ended.subscribe()
    }

    /// After a completion of a step of `execution` is stored: successors
    /// may be queued (unless the one successor was followed: its worker
    /// runs it), and `ends` says whether it ended the execution.
    fn stored(&self, execution: ExecutionId, ends: Option<ExecutionStatus>, done: &weft_store::Completed) {
        if !done.followed {
            self.wake();
        }
        if ends.is_some() {
            // Nobody listening is fine.
            let _ = self.ended.send(execution);
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.deps.settings
    }

    /// Runs the workers (and the reaper) until `stop` resolves; steps in
    /// flight then finish, and what is still queued stays for the next
    /// start.
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()> + Send) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let (completer, committed) = commit::Completer::new(self.deps.settings.group_commit);
        // Several committers take turns at the queue: while one waits for
        // its transaction, the next gathers what arrived meanwhile.
        let queue = committed.map(|q| Arc::new(tokio::sync::Mutex::new(q)));
        let committers: Vec<_> = (0..self.deps.settings.committers.max(1))
            .filter_map(|_| {
                let (engine, queue) = (self.clone(), queue.clone()?);
                Some(tokio::spawn(async move { engine.commit(queue).await }))
            })
            .collect();
        let mut tasks = Vec::new();
        for n in 0..self.deps.settings.workers.max(1) {
            let (engine, rx, completer) = (self.clone(), rx.clone(), completer.clone());
            tasks.push(tokio::spawn(engine.work(n, rx, completer)));
        }
        drop(completer);
        let (engine, reaper_rx) = (self.clone(), rx.clone());
        tasks.push(tokio::spawn(async move { engine.reap(reaper_rx).await }));
        let (engine, history_rx) = (self.clone(), rx.clone());
        tasks.push(tokio::spawn(async move { engine.keep_history(history_rx).await }));
        let (engine, triggers_rx) = (self.clone(), rx.clone());
        tasks.push(tokio::spawn(async move { engine.run_triggers(triggers_rx).await }));
        let (engine, schedules_rx) = (self.clone(), rx.clone());
        tasks.push(tokio::spawn(async move { engine.run_schedules(schedules_rx).await }));
        stop.await;
        let _ = tx.send(true);
        self.wake.notify_waiters();
        for t in tasks {
            let _ = t.await;
        }
        // The workers are done, and with them every completion: the
        // committer stores what they handed over, then stops.
        for c in committers {
            let _ = c.await;
        }
    }

    /// Wakes an idle worker (new steps were queued). One at a time: a
    /// worker that claims a full batch wakes the next, so a single step
    /// does not send every idle worker to the store. When none is idle,
    /// the next worker to finish its batch claims again without waiting.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// A worker: holds up to `batch` steps at once, each running as a
    /// chain ([`Engine::run_chain`]: the step, then the successors it
    /// follows) in a task of its own, and claims again once half its slots
    /// are free (so claims stay batches under load), when woken with a slot
    /// free, or at the poll interval. A chain holds its slot until its last
    /// completion is stored, which bounds the completions in flight. (Chains
    /// are tasks, not futures the worker polls: a chain holding a store
    /// connection must go on while the worker waits for one to claim.)
    async fn work(
        self: Arc<Self>,
        worker: usize,
        mut stop: tokio::sync::watch::Receiver<bool>,
        completer: commit::Completer,
    ) {
        let s = &self.deps.settings;
        let slots = usize::try_from(s.batch.max(1)).unwrap_or(usize::MAX);
        let mut chains = tokio::task::JoinSet::new();
        let mut claim = true;
        while !*stop.borrow() {
            let free = slots - chains.len();
            if claim && free > 0 {
                let limit = u32::try_from(free).unwrap_or(u32::MAX);
                let claimed = self.deps.store.claim_steps(now(), s.lease, s.step_deadline, limit).await;
                let steps = claimed.unwrap_or_else(|e| {
                    tracing::warn!(worker, error = %e, "claiming workflow steps failed; retrying");
                    Vec::new()
                });
                if steps.len() >= free {
                    // More may be waiting.
                    self.wake();
                }
                for step in steps {
                    let (engine, completer, stop) = (self.clone(), completer.clone(), stop.clone());
                    chains.spawn(async move { engine.run_chain(step, &completer, stop).await });
                }
            }
            let free = slots - chains.len();
            claim = tokio::select! {
                Some(ended) = chains.join_next(), if !chains.is_empty() => {
                    if let Err(e) = ended {
                        tracing::error!(worker, error = %e, "a workflow step's task ended abnormally");
                    }
                    (slots - chains.len()) * 2 >= slots
                }
                _ = self.wake.notified(), if free > 0 => true,
                _ = tokio::time::sleep(s.poll), if free > 0 => true,
                _ = stop.changed() => false,
            };
        }
        while chains.join_next().await.is_some() {}
    }

    /// Runs `step`, then, while its completion hands the next step to this
    /// worker ([`EngineSettings::follow`]), that one, and so on; returns once
    /// the last completion is stored.
    async fn run_chain(
        &self,
        mut step: ClaimedStep,
        completer: &commit::Completer,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut followed = 0;
        loop {
            let may_follow = followed < self.deps.settings.follow && !*stop.borrow();
            let Some((stored, next)) = self.run_step(&step, completer, may_follow).await else {
                return;
            };
            match stored.result().await {
                Ok(done) => match next {
                    Some(next) if done.followed => {
                        followed += 1;
                        step = next;
                    }
                    _ => return,
                },
                // Another worker has it now (this one was too slow): its
                // completion is the one that counts.
                Err(weft_store::Error::LeaseLost) => {
                    tracing::warn!(
                        step = %step.step, execution = %step.execution,
                        "a step's lease was lost before it completed"
                    );
                    return;
                }
                Err(e) => {
                    tracing::error!(step = %step.step, error = %e, "storing a step's completion failed");
                    return;
                }
            }
        }
    }

    /// The reaper: gives the steps of dead workers back to the queue.
    async fn reap(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let every = (self.deps.settings.lease / 2).max(Duration::from_millis(100));
        while !*stop.borrow() {
            match self.deps.store.reap(now(), self.deps.settings.max_restarts, 1000).await {
                Ok(r) if r.requeued + r.failed > 0 => {
                    tracing::warn!(requeued = r.requeued, failed = r.failed, "abandoned workflow steps reaped");
                    self.wake();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reaping workflow steps failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// The compiled plan of a workflow version, loaded once.
    async fn plan(&self, step: &ClaimedStep) -> Result<Arc<Plan>, String> {
        self.plan_of(step.project, step.workflow, step.version).await
    }

    /// The compiled plan of `version` of `workflow`, loaded once (versions
    /// never change).
    pub(crate) async fn plan_of(
        &self,
        project: weft_store::ProjectId,
        workflow: WorkflowId,
        version: u32,
    ) -> Result<Arc<Plan>, String> {
        let key = (workflow, version);
        if let Some(plan) = self.plans.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(plan.clone());
        }
        let version = self
            .deps
            .store
            .get_workflow_version(project, workflow, version)
            .await
            .map_err(|e| format!("the workflow version is unreadable: {e}"))?;
        let workflow = crate::load::from_value(version.definition, "workflow")
            .map_err(|e| format!("the deployed workflow no longer passes its checks: {e}"))?;
        let plan = Arc::new(Plan::new(&workflow));
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).insert(key, plan.clone());
        Ok(plan)
    }

    /// Runs one claimed step, renewing its lease while it runs, and hands
    /// its completion to `completer`; `None` when the lease was lost while
    /// it ran. With `may_follow`, a lone successor due now is leased to this
    /// worker in the same completion, and returned as the step to run next
    /// once the completion says it was followed.
    async fn run_step(
        &self,
        step: &ClaimedStep,
        completer: &commit::Completer,
        may_follow: bool,
    ) -> Option<(commit::Stored, Option<ClaimedStep>)> {
        let heartbeat = async {
            let s = &self.deps.settings;
            loop {
                tokio::time::sleep(s.lease / 3).await;
                let renewed = self.deps.store.heartbeat(step.project, step.id, step.lease.token, now(), s.lease).await;
                if let Err(e) = renewed {
                    tracing::warn!(step = %step.step, error = %e, "a step's lease could not be renewed");
                    return;
                }
            }
        };
        let mut completion = tokio::select! {
            c = self.execute(step) => c,
            () = heartbeat => return None,
        };
        let next = may_follow.then(|| self.follow(step, &mut completion)).flatten();
        Some((completer.complete(self, completion, step.execution).await, next))
    }

    /// Leases `completion`'s successor to this worker when it can be
    /// followed (see [`weft_store::Follow`]): the step to run next if the
    /// store queues it so.
    fn follow(&self, step: &ClaimedStep, completion: &mut Completion) -> Option<ClaimedStep> {
        if !completion.followable() {
            return None;
        }
        let next = completion.next.first()?;
        let s = &self.deps.settings;
        let at = now();
        let deadline = at + time::Duration::try_from(s.step_deadline).ok()?;
        let until = (at + time::Duration::try_from(s.lease).ok()?).min(deadline);
        let lease = weft_store::Lease { token: uuid::Uuid::new_v4(), until, deadline };
        let follow = weft_store::Follow { id: weft_store::StepRunId::new(), lease };
        completion.follow = Some(follow);
        Some(follow.claimed(step, next))
    }

    /// What became of a step, as a completion: the outcome, and what the
    /// plan queues next.
    async fn execute(&self, step: &ClaimedStep) -> Completion {
        let mut completion = Completion {
            project: step.project,
            id: step.id,
            token: step.lease.token,
            outcome: Outcome::Failed { input: Value::Null, error: Value::Null },
            next: Vec::new(),
            join: None,
            execution: None,
            response: None,
            tasks: 0,
            follow: None,
        };
        let plan = match self.plan(step).await {
            Ok(p) => p,
            Err(message) => return fail(completion, Value::Null, &message),
        };
        let ran = execute::run(self, &plan, step).await;
        completion.tasks = ran.tasks;
        completion.response = ran.response;
        let (continue_on_error, auto_retry) =
            plan.step(&step.step).map(|d| (d.continue_workflow_on_error, d.auto_retry)).unwrap_or((false, false));
        let next = match ran.result {
            Ok(Ran { outcome, next }) => {
                completion.outcome = outcome;
                next
            }
            Err(failure)
                if step.pauses < self.deps.settings.max_pauses
                    && let Some(wait) = execute::rate_limited(&failure.error) =>
            {
                // A Smart Rate Limit: the step waits for the provider's
                // window, parked in the queue (no worker, no retry counted),
                // and its execution shows DELAYED until it is claimed again.
                let wait = wait.min(self.deps.settings.max_pause);
                let run_after = now() + time::Duration::try_from(wait).unwrap_or_default();
                let mut error = failure.error;
                error["resumesAt"] = Value::String(run_after.format(&Rfc3339).unwrap_or_default());
                completion.outcome = Outcome::Paused { error, run_after };
                completion.execution = Some(ExecutionStatus::Delayed);
                return completion;
            }
            Err(failure) if auto_retry && failure.retriable && step.attempt < self.deps.settings.max_retries => {
                let wait = retry_wait(self.deps.settings.retry_base, step.attempt);
                completion.outcome = Outcome::Retry {
                    error: failure.error,
                    run_after: now() + time::Duration::try_from(wait).unwrap_or_default(),
                };
                // A failed attempt counts no task (`execute::run`), so a
                // retried step counts one, when it succeeds. The execution
                // stays EXECUTING and the step shows as running while it
                // waits (the reference's "Running").
                return completion;
            }
            Err(failure) if continue_on_error => {
                completion.outcome = Outcome::Succeeded { input: failure.input, output: failure.error };
                plan.after(&step.step, &step.instance)
            }
            Err(failure) => {
                completion.outcome = Outcome::Failed { input: failure.input, error: failure.error };
                completion.execution = Some(ExecutionStatus::Failed);
                return completion;
            }
        };
        match next {
            Ok(next) => apply(&mut completion, next),
            Err(e) => return fail(completion, Value::Null, &format!("the plan cannot go on: {e}")),
        }
        if completion.join.is_some()
            && let Err(e) = self.start_next_items(&plan, step, &mut completion).await
        {
            completion.join = None;
            completion.next.clear();
            return fail(completion, Value::Null, &format!("the fan-out cannot go on: {e}"));
        }
        completion
    }
}

/// What a step that ran produced, and what the plan says follows.
pub(crate) struct Ran {
    pub(crate) outcome: Outcome,
    pub(crate) next: crate::Result<Next>,
}

/// A step that failed: its resolved input, its error as the history shows
/// it, and whether another attempt may succeed.
pub(crate) struct Failure {
    pub(crate) input: Value,
    pub(crate) error: Value,
    pub(crate) retriable: bool,
}

/// What [`execute::run`] hands back.
pub(crate) struct Executed {
    pub(crate) result: Result<Ran, Failure>,
    pub(crate) tasks: u32,
    pub(crate) response: Option<Value>,
}

fn fail(mut completion: Completion, input: Value, message: &str) -> Completion {
    tracing::error!(message, "a workflow step cannot run");
    completion.outcome = Outcome::Failed { input, error: serde_json::json!({ "message": message }) };
    completion.execution = Some(ExecutionStatus::Failed);
    completion
}

/// Puts what the plan says follows into the completion.
fn apply(completion: &mut Completion, next: Next) {
    match next {
        Next::Run(queued) => completion.next = queued.into_iter().map(new_step).collect(),
        Next::Finish => completion.execution = Some(ExecutionStatus::Succeeded),
        Next::Join { fan_out, instance, then } => completion.join = Some(join(fan_out, instance, *then)),
    }
}

/// A plan's join as the store's: what follows the fan-out once its last
/// instance ends.
fn join(fan_out: String, instance: String, then: Next) -> Join {
    let mut j = Join { step: fan_out, instance, then: Vec::new(), each: Vec::new(), finish: None, outer: None };
    match then {
        Next::Run(queued) => j.then = queued.into_iter().map(new_step).collect(),
        Next::Finish => j.finish = Some(ExecutionStatus::Succeeded),
        Next::Join { fan_out, instance, then } => j.outer = Some(Box::new(join(fan_out, instance, *then))),
    }
    j
}

/// The steps a new execution of `plan` queues first, as the store's.
pub(crate) fn first_steps(plan: &Plan) -> Vec<NewStep> {
    match plan.first() {
        Next::Run(queued) => queued.into_iter().map(new_step).collect(),
        _ => Vec::new(),
    }
}

/// A plan's queued step as the store's, a Delay step parked until its time.
pub(crate) fn new_step(q: Queued) -> NewStep {
    let mut step = NewStep::new(q.step, q.kind).in_instance(q.instance);
    if let Some(wait) = q.wait {
        step = step.after(now() + time::Duration::try_from(wait).unwrap_or_default());
    }
    step
}

/// Now, at the microsecond (what the store keeps).
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_give_or_take_a_fifth() {
        let base = Duration::from_millis(1000);
        for (attempt, nominal) in [(0u32, 1000u64), (1, 2000), (2, 3000), (3, 5000), (4, 8000), (9, 8000)] {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..50 {
                let got = retry_wait(base, attempt).as_millis() as u64;
                assert!(got >= nominal * 8 / 10 && got < nominal * 12 / 10, "attempt {attempt}: {got} ms");
                seen.insert(got);
            }
            // Jittered: fifty draws do not all land on one value.
            assert!(seen.len() > 1, "attempt {attempt}: no jitter");
        }
        assert_eq!(retry_wait(Duration::ZERO, 2), Duration::ZERO);
    }
}
