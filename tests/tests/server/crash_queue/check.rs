//! The invariants, read from the database once every process is gone, and
//! from the provider's record of calls.

use super::provider::Call;
use std::collections::{BTreeMap, HashMap};
use weft_store::{Execution, ExecutionQuery, ExecutionStatus, ProjectId, StepState, Store, WorkflowId};

/// The request steps of the harness's workflow and the fan-out's items.
pub(super) const REQUEST_STEPS: [&str; 3] = ["a", "b", "c"];
pub(super) const FAN_OUT: &str = "each";
pub(super) const FANNED: &str = "f";
/// The delay step between the fan-out and `b`.
pub(super) const DELAY: &str = "pause";
pub(super) const ITEMS: u32 = 3;
/// Tasks an execution counts: one per request (the fan-out counts none).
const TASKS: u64 = REQUEST_STEPS.len() as u64 + ITEMS as u64;

/// An execution the API accepted (answered 201 with its id).
#[derive(Debug, Clone)]
pub(super) struct Accepted {
    pub(super) run: String,
    pub(super) execution: String,
    /// How long the API took to answer.
    pub(super) answered_in: std::time::Duration,
}

/// What the checks counted.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) stored: usize,
    pub(super) succeeded: usize,
    pub(super) step_rows: usize,
    pub(super) restarts: u64,
    pub(super) max_restarts: u32,
    pub(super) calls: usize,
    pub(super) duplicate_calls: usize,
    pub(super) keys_called_twice: usize,
    pub(super) max_calls_per_key: usize,
    /// Steps that succeeded after an auto-retry.
    pub(super) retried: usize,
    /// The scheduled workflow's executions, and the seconds from its first
    /// firing to its last.
    pub(super) firings: usize,
    pub(super) firing_span: usize,
}

/// Every execution of the project's `workflow`, oldest first.
async fn all_executions(store: &dyn Store, project: ProjectId, workflow: &str) -> Vec<Execution> {
    let workflow: WorkflowId = workflow.parse().expect("a workflow id");
    let mut all = Vec::new();
    loop {
        let query = ExecutionQuery {
            workflow: Some(workflow),
            ascending: true,
            offset: all.len() as u64,
            limit: 100,
            ..Default::default()
        };
        let page = store.list_executions(project, &query).await.expect("list executions");
        let done = page.executions.is_empty();
        all.extend(page.executions);
        if done || all.len() as u64 >= page.total {
            return all;
        }
    }
}

/// The idempotency key a step run of `execution` must carry.
fn key_of(execution: &str, step: &str, instance: &str) -> String {
    if instance.is_empty() { format!("{execution}:{step}") } else { format!("{execution}:{step}:{instance}") }
}

/// Checks every invariant of the executions of `workflow` (the event's);
/// panics on the first broken one, with what broke.
pub(super) async fn check(
    store: &dyn Store,
    project: ProjectId,
    workflow: &str,
    accepted: &[Accepted],
    calls: &[Call],
) -> Counts {
    let executions = all_executions(store, project, workflow).await;
    let by_id: HashMap<String, &Execution> = executions.iter().map(|e| (e.id.to_string(), e)).collect();
    // No accepted execution is lost.
    for a in accepted {
        assert!(by_id.contains_key(&a.execution), "accepted execution {} (run {}) is lost", a.execution, a.run);
    }
    let mut counts = Counts { stored: executions.len(), calls: calls.len(), ..Counts::default() };
    // The run each execution's event carried, to check the calls by.
    let mut run_to_execution: HashMap<String, String> = HashMap::new();
    for e in &executions {
        let run = check_execution(store, project, e, calls, &mut counts).await;
        assert!(run_to_execution.insert(run.clone(), e.id.to_string()).is_none(), "two executions of run {run}");
    }
    for a in accepted {
        assert_eq!(run_to_execution.get(&a.run), Some(&a.execution), "run {} started another execution", a.run);
    }
    check_calls(calls, &run_to_execution, &mut counts);
    counts
}

/// One execution: it succeeded, each of its steps ran once and succeeded
/// with an output from a call that carried its key; the run it is for.
async fn check_execution(
    store: &dyn Store,
    project: ProjectId,
    e: &Execution,
    calls: &[Call],
    counts: &mut Counts,
) -> String {
    let steps = store.execution_steps(project, e.id).await.expect("an execution's steps");
    let id = e.id.to_string();
    let summary =
        || steps.iter().map(|s| format!("{}[{}] {:?} {:?}", s.step, s.instance, s.state, s.error)).collect::<Vec<_>>();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "execution {id} ended {:?}: {:?}", e.status, summary());
    counts.succeeded += 1;
    // A completion applied twice would count its tasks twice.
    assert_eq!(e.tasks, TASKS, "execution {id} counted {} tasks: {:?}", e.tasks, summary());
    let mut rows: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut run = None;
    for s in &steps {
        *rows.entry((s.step.clone(), s.instance.clone())).or_default() += 1;
        counts.step_rows += 1;
        counts.restarts += u64::from(s.restarts);
        counts.max_restarts = counts.max_restarts.max(s.restarts);
        counts.retried += usize::from(s.attempt > 0);
        assert_eq!(s.state, StepState::Succeeded, "execution {id}: {:?}", summary());
        assert_eq!(s.idempotency_key, key_of(&id, &s.step, &s.instance), "execution {id}");
        if s.prev.is_none() {
            run = s.output.as_ref().and_then(|o| o["run"].as_str()).map(str::to_owned);
            continue;
        }
        if s.step == FAN_OUT || s.step == DELAY {
            continue;
        }
        // The stored output is the answer to one call, made for this step
        // with this step's key.
        let seq = s.output.as_ref().and_then(|o| o["response"]["body"]["call"].as_u64());
        let seq = seq.unwrap_or_else(|| panic!("execution {id} step {} stored {:?}", s.step, s.output));
        let call = &calls[seq as usize];
        assert_eq!((call.step.as_str(), call.key.as_str()), (s.step.as_str(), s.idempotency_key.as_str()));
    }
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in REQUEST_STEPS.iter().chain([&FAN_OUT, &DELAY, &"trigger"]) {
        expected.insert(((*s).to_owned(), String::new()), 1);
    }
    for i in 0..ITEMS {
        expected.insert((FANNED.to_owned(), i.to_string()), 1);
    }
    assert_eq!(rows, expected, "execution {id}: each step runs exactly once");
    run.unwrap_or_else(|| panic!("execution {id} has no trigger output with its run"))
}

/// Every provider call carries the key of the step it was made for: the
/// step its path names, of the execution its run started (duplicates
/// included); counts the duplicates.
fn check_calls(calls: &[Call], run_to_execution: &HashMap<String, String>, counts: &mut Counts) {
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for c in calls {
        let execution = run_to_execution.get(&c.run).unwrap_or_else(|| panic!("a call for unknown run {c:?}"));
        assert_eq!(c.key, key_of(execution, &c.step, &c.item), "call {} carries a wrong key", c.seq);
        *per_key.entry(c.key.as_str()).or_default() += 1;
    }
    assert_eq!(per_key.len(), run_to_execution.len() * TASKS as usize, "every request step called");
    counts.duplicate_calls = calls.len() - per_key.len();
    counts.keys_called_twice = per_key.values().filter(|n| **n > 1).count();
    counts.max_calls_per_key = per_key.values().copied().max().unwrap_or(0);
}

/// The scheduled workflow: each firing ran once however often its leader
/// was killed or frozen (the once-key and the lease), and every execution
/// of it succeeded.
pub(super) async fn check_schedule(store: &dyn Store, project: ProjectId, workflow: &str, counts: &mut Counts) {
    let executions = all_executions(store, project, workflow).await;
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for e in &executions {
        let id = e.id.to_string();
        assert_eq!(e.status, ExecutionStatus::Succeeded, "scheduled execution {id} ended {:?}", e.status);
        let steps = store.execution_steps(project, e.id).await.expect("an execution's steps");
        let trigger = steps.iter().find(|s| s.prev.is_none()).and_then(|s| s.output.as_ref());
        let at = trigger.and_then(|o| o["firedAt"].as_str()).unwrap_or_else(|| panic!("{id}: no firing time"));
        *fired.entry(at.to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = fired.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "firings run more than once: {twice:?}");
    assert!(!fired.is_empty(), "the schedule never fired");
    let second = |t: &str| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
    let (first, last) = (fired.keys().next().unwrap(), fired.keys().next_back().unwrap());
    counts.firings = fired.len();
    counts.firing_span = ((second(last) - second(first)).whole_seconds() + 1) as usize;
}
