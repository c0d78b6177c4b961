//! The queue: executions start with their first steps, steps are claimed
//! under leases, completions are fenced on the lease token and queue what
//! follows, the reaper restarts abandoned steps and fails them at the limit.

use crate::harness::{Db, project};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use time::OffsetDateTime;
use weft_store::{
    ClaimedStep, Completion, Error, ExecutionStatus, Join, NewExecution, NewStep, Outcome, ProjectId, StepState, Store,
    WorkflowId,
};

pub(crate) const LEASE: Duration = Duration::from_secs(30);
pub(crate) const DEADLINE: Duration = Duration::from_secs(600);

/// Now, at microseconds (what both backends keep).
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap()
}

pub(crate) fn at(t: OffsetDateTime, secs: i64) -> OffsetDateTime {
    t + time::Duration::seconds(secs)
}

pub(crate) fn execution(project: ProjectId, first: &[&str]) -> NewExecution {
    NewExecution {
        project,
        workflow: WorkflowId::new(),
        version: 3,
        integration: "slack".into(),
        user: Some("user-1".into()),
        credential: None,
        trigger_step: "trigger".into(),
        trigger_kind: "TRIGGER/APP_EVENT".into(),
        trigger_output: json!({"event": "created"}),
        first: first.iter().map(|s| NewStep::new(*s, "ACTION/REQUEST")).collect(),
    }
}

pub(crate) fn done(step: &ClaimedStep, output: Value) -> Completion {
    Completion {
        project: step.project,
        id: step.id,
        token: step.lease.token,
        outcome: Outcome::Succeeded { input: json!({}), output },
        next: vec![],
        join: None,
        execution: None,
        response: None,
        tasks: 1,
        follow: None,
    }
}

pub(crate) async fn claim(s: &dyn Store, t: OffsetDateTime, limit: u32) -> Vec<ClaimedStep> {
    s.claim_steps(t, LEASE, DEADLINE, limit).await.expect("claim")
}

pub(crate) async fn claim_one(s: &dyn Store, t: OffsetDateTime) -> ClaimedStep {
    let mut claimed = claim(s, t, 1).await;
    assert_eq!(claimed.len(), 1, "one step is due");
    claimed.remove(0)
}

pub async fn start_claim_complete(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let new = execution(p, &["a"]);
    let workflow = new.workflow;
    let id = s.start_execution(new, t).await.unwrap();
    let a = claim_one(s, t).await;
    assert_eq!((a.step.as_str(), a.instance.as_str(), a.execution), ("a", "", id));
    assert_eq!((a.workflow, a.version, a.user.as_deref()), (workflow, 3, Some("user-1")));
    assert_eq!((a.attempt, a.restarts), (0, 0));
    assert_eq!(a.lease.until, at(t, 30));
    assert!(claim(s, t, 10).await.is_empty(), "a leased step is not claimed again");
    let mut c = done(&a, json!({"n": 1}));
    c.next = vec![NewStep::new("b", "ACTION/REQUEST")];
    s.complete_step(c, t).await.unwrap();
    let b = claim_one(s, t).await;
    assert_eq!(b.step, "b");
    let mut c = done(&b, json!({"n": 2}));
    c.execution = Some(ExecutionStatus::Succeeded);
    c.response = Some(json!({"status": 200}));
    s.complete_step(c, at(t, 1)).await.unwrap();

    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!(
        (e.status, e.ended_at, e.response),
        (ExecutionStatus::Succeeded, Some(at(t, 1)), Some(json!({"status": 200})))
    );
    let steps = s.execution_steps(p, id).await.unwrap();
    let seen: Vec<(&str, StepState, Option<&Value>)> =
        steps.iter().map(|r| (r.step.as_str(), r.state, r.output.as_ref())).collect();
    assert_eq!(
        seen,
        vec![
            ("trigger", StepState::Succeeded, Some(&json!({"event": "created"}))),
            ("a", StepState::Succeeded, Some(&json!({"n": 1}))),
            ("b", StepState::Succeeded, Some(&json!({"n": 2}))),
        ]
    );
    let keys: HashSet<&str> = steps.iter().map(|r| r.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), 3, "every step has its own idempotency key");
    assert!(claim(s, at(t, 60), 10).await.is_empty());
}

pub async fn stale_completions_are_refused(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let first = claim_one(s, t).await;
    // The worker froze: its lease expires and the reaper gives the step back.
    let reaped = s.reap(at(t, 31), 3, 100).await.unwrap();
    assert_eq!((reaped.requeued, reaped.failed), (1, 0));
    let second = claim_one(s, at(t, 32)).await;
    assert_eq!((second.id, second.restarts), (first.id, 1));
    assert_ne!(second.lease.token, first.lease.token);
    assert_eq!(second.idempotency_key, first.idempotency_key, "the key survives a restart");
    // The frozen worker wakes up: everything it presents is refused.
    let stale = s.heartbeat(p, first.id, first.lease.token, at(t, 33), LEASE).await;
    assert!(matches!(stale, Err(Error::LeaseLost)), "{stale:?}");
    let mut c = done(&first, json!("stale"));
    c.next = vec![NewStep::new("from-stale", "ACTION/REQUEST")];
    assert!(matches!(s.complete_step(c, at(t, 33)).await, Err(Error::LeaseLost)));
    s.complete_step(done(&second, json!("fresh")), at(t, 34)).await.unwrap();
    // Completing twice is refused too.
    assert!(matches!(s.complete_step(done(&second, json!("again")), at(t, 35)).await, Err(Error::LeaseLost)));
    let steps = s.execution_steps(p, second.execution).await.unwrap();
    assert_eq!(steps.len(), 2, "the stale completion queued nothing");
    assert_eq!(steps[1].output, Some(json!("fresh")));
}

pub async fn the_reaper_fails_a_step_past_its_restarts(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a", "b"]), t).await.unwrap();
    let mut clock = t;
    // "a" is abandoned three times (restarts allowed: 2), "b" waits queued.
    for round in 0..3 {
        let claimed = claim(s, clock, 10).await;
        let a = claimed.iter().find(|c| c.step == "a").expect("a is claimed");
        assert_eq!(a.restarts, round);
        for other in claimed.iter().filter(|c| c.step != "a") {
            // Hand "b" back to the queue unrun, as a retry due later.
            let retry = Outcome::Retry { error: json!({}), run_after: at(t, 10_000) };
            let c = Completion { outcome: retry, ..done(other, Value::Null) };
            s.complete_step(c, clock).await.unwrap();
        }
        clock = at(clock, 31);
        let reaped = s.reap(clock, 2, 100).await.unwrap();
        let expected = if round < 2 { (1, 0) } else { (0, 1) };
        assert_eq!((reaped.requeued, reaped.failed), expected, "round {round}");
    }
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    let steps = s.execution_steps(p, id).await.unwrap();
    let a = steps.iter().find(|r| r.step == "a").unwrap();
    assert_eq!((a.state, a.restarts), (StepState::Failed, 3));
    assert_eq!(a.error.as_ref().unwrap()["code"], "STEP_ABANDONED");
    let b = steps.iter().find(|r| r.step == "b").unwrap();
    assert_eq!(b.state, StepState::Cancelled, "a failed execution's queued steps never run");
    assert!(claim(s, at(t, 20_000), 10).await.is_empty());
}

pub async fn successors_are_queued_once(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a", "b"]), t).await.unwrap();
    let claimed = claim(s, t, 10).await;
    assert_eq!(claimed.len(), 2);
    // Both name "c" as their successor (and "a" twice): one row.
    for step in &claimed {
        let mut c = done(step, Value::Null);
        c.next = vec![NewStep::new("c", "ACTION/REQUEST"), NewStep::new("c", "ACTION/REQUEST")];
        s.complete_step(c, t).await.unwrap();
    }
    let c = claim(s, t, 10).await;
    assert_eq!(c.iter().map(|c| c.step.as_str()).collect::<Vec<_>>(), vec!["c"]);
    assert_eq!(s.execution_steps(p, id).await.unwrap().len(), 4);
}

pub async fn fan_out_joins_after_the_last_instance(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["fan"]), t).await.unwrap();
    let fan = claim_one(s, t).await;
    let mut c = done(&fan, Value::Null);
    c.outcome = Outcome::FannedOut { input: json!({}), output: json!([1, 2, 3]), instances: 3 };
    c.next = (0..3).map(|i| NewStep::new("body", "ACTION/REQUEST").in_instance(i.to_string())).collect();
    s.complete_step(c, t).await.unwrap();
    let bodies = claim(s, t, 10).await;
    assert_eq!(bodies.len(), 3);
    let instances: HashSet<&str> = bodies.iter().map(|b| b.instance.as_str()).collect();
    assert_eq!(instances, HashSet::from(["0", "1", "2"]));
    let mut keys: Vec<String> = bodies.iter().map(|b| b.idempotency_key.clone()).collect();
    keys.sort();
    assert_eq!(keys, (0..3).map(|i| format!("{id}:body:{i}")).collect::<Vec<_>>(), "each instance has its own key");
    for (n, body) in bodies.iter().enumerate() {
        let mut c = done(body, json!(n));
        c.join = Some(Join {
            step: "fan".into(),
            instance: String::new(),
            then: vec![NewStep::new("after", "ACTION/REQUEST")],
            each: vec![],
            finish: None,
            outer: None,
        });
        s.complete_step(c, t).await.unwrap();
        let fan_row = s.execution_steps(p, id).await.unwrap().into_iter().find(|r| r.step == "fan").unwrap();
        let next = claim(s, t, 10).await;
        if n < 2 {
            assert_eq!(fan_row.state, StepState::Waiting);
            assert!(next.is_empty(), "nothing follows before every instance is done");
        } else {
            assert_eq!(fan_row.state, StepState::Succeeded);
            assert_eq!(next.iter().map(|c| c.step.as_str()).collect::<Vec<_>>(), vec!["after"]);
        }
    }
}

pub async fn a_failure_ends_the_execution(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a", "b", "c"]), t).await.unwrap();
    let claimed = claim(s, t, 2).await;
    assert_eq!(claimed.len(), 2);
    let (failing, straggler) = (&claimed[0], &claimed[1]);
    let mut c = done(failing, Value::Null);
    c.outcome = Outcome::Failed { input: json!({"x": 1}), error: json!({"message": "provider said no"}) };
    c.execution = Some(ExecutionStatus::Failed);
    s.complete_step(c, t).await.unwrap();
    // The step still running completes its own row and queues nothing.
    let mut c = done(straggler, json!("late"));
    c.next = vec![NewStep::new("d", "ACTION/REQUEST")];
    c.execution = Some(ExecutionStatus::Succeeded);
    s.complete_step(c, t).await.unwrap();
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed, "an ended execution keeps its status");
    let steps = s.execution_steps(p, id).await.unwrap();
    let state = |name: &str| steps.iter().find(|r| r.step == name).map(|r| r.state);
    assert_eq!(state(&failing.step), Some(StepState::Failed));
    assert_eq!(state(&straggler.step), Some(StepState::Succeeded));
    let third = ["a", "b", "c"].into_iter().find(|n| *n != failing.step && *n != straggler.step).unwrap();
    assert_eq!(state(third), Some(StepState::Cancelled));
    assert_eq!(state("d"), None);
    assert!(claim(s, t, 10).await.is_empty());
}

pub async fn retries_wait_and_keep_their_key(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let first = claim_one(s, t).await;
    let c = Completion {
        outcome: Outcome::Retry { error: json!({"message": "429"}), run_after: at(t, 10) },
        execution: Some(ExecutionStatus::Delayed),
        ..done(&first, Value::Null)
    };
    s.complete_step(c, t).await.unwrap();
    assert_eq!(s.get_execution(p, id).await.unwrap().status, ExecutionStatus::Delayed);
    assert!(claim(s, at(t, 9), 10).await.is_empty(), "not before its time");
    let again = claim_one(s, at(t, 10)).await;
    assert_eq!((again.id, again.attempt, again.restarts), (first.id, 1, 0));
    assert_eq!(again.idempotency_key, first.idempotency_key);
    assert_eq!(s.get_execution(p, id).await.unwrap().status, ExecutionStatus::Executing, "claimed, it runs again");
}

pub async fn heartbeats_stop_at_the_deadline(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let claimed = s.claim_steps(t, Duration::from_secs(5), Duration::from_secs(20), 1).await.unwrap().remove(0);
    assert_eq!((claimed.lease.until, claimed.lease.deadline), (at(t, 5), at(t, 20)));
    let until = s.heartbeat(p, claimed.id, claimed.lease.token, at(t, 4), Duration::from_secs(5)).await.unwrap();
    assert_eq!(until, at(t, 9));
    let until = s.heartbeat(p, claimed.id, claimed.lease.token, at(t, 8), Duration::from_secs(60)).await.unwrap();
    assert_eq!(until, at(t, 20), "never past the deadline");
    let late = s.heartbeat(p, claimed.id, claimed.lease.token, at(t, 21), Duration::from_secs(5)).await;
    assert!(matches!(late, Err(Error::LeaseLost)), "{late:?}");
    // Past its deadline the reaper takes it back, even with a fresh lease.
    assert_eq!(s.reap(at(t, 21), 3, 10).await.unwrap().requeued, 1);
}

pub async fn concurrent_claims_take_each_step_once(db: Db) {
    let s = db.store.clone();
    let p = project(&*s, "A").await.id;
    let t = now();
    for _ in 0..40 {
        s.start_execution(execution(p, &["a", "b", "c", "d", "e"]), t).await.unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = s.claim_steps(t, LEASE, DEADLINE, 7).await.expect("claim");
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|c| c.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (200, 200), "every step claimed exactly once");
}

pub async fn queue_tenancy(db: Db) {
    let s = &*db.store;
    let (a, b) = (project(s, "A").await.id, project(s, "B").await.id);
    let t = now();
    let id = s.start_execution(execution(a, &["x"]), t).await.unwrap();
    assert!(matches!(s.get_execution(b, id).await, Err(Error::NotFound("execution"))));
    assert!(matches!(s.execution_steps(b, id).await, Err(Error::NotFound("execution"))));
    let claimed = claim_one(s, t).await;
    assert_eq!(claimed.project, a);
    let foreign = Completion { project: b, ..done(&claimed, Value::Null) };
    assert!(matches!(s.complete_step(foreign, t).await, Err(Error::LeaseLost)));
    assert!(matches!(s.heartbeat(b, claimed.id, claimed.lease.token, t, LEASE).await, Err(Error::LeaseLost)));
    s.complete_step(done(&claimed, Value::Null), t).await.unwrap();
    // An execution of an unknown project is refused.
    let unknown = s.start_execution(execution(ProjectId::new(), &["x"]), t).await;
    assert!(matches!(unknown, Err(Error::NotFound("project"))), "{unknown:?}");
    // Deleting a project deletes its executions and steps.
    s.delete_project(a).await.unwrap();
    assert!(claim(s, at(t, 3600), 10).await.is_empty());
}

pub async fn history_links_steps_and_counts_tasks(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let a = claim_one(s, t).await;
    let mut c = done(&a, json!({"big": "x".repeat(1000)}));
    c.next = vec![NewStep::new("b", "ACTION/FUNCTION"), NewStep::new("c", "ACTION/DELAY")];
    s.complete_step(c, t).await.unwrap();
    for step in claim(s, t, 10).await {
        let mut c = done(&step, Value::Null);
        c.tasks = 2;
        s.complete_step(c, t).await.unwrap();
    }
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!((e.tasks, e.integration.as_str(), e.trigger_kind.as_str()), (5, "slack", "TRIGGER/APP_EVENT"));
    let steps = s.execution_steps(p, id).await.unwrap();
    let (trigger, a_row) = (&steps[0], &steps[1]);
    assert_eq!((trigger.kind.as_str(), trigger.prev), ("TRIGGER/APP_EVENT", None));
    assert_eq!((a_row.kind.as_str(), a_row.prev), ("ACTION/REQUEST", Some(trigger.id)));
    assert!(steps[2..].iter().all(|r| r.prev == Some(a_row.id)), "b and c were queued by a");
    let kinds: Vec<&str> = steps.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, vec!["TRIGGER/APP_EVENT", "ACTION/REQUEST", "ACTION/FUNCTION", "ACTION/DELAY"]);
    let one = s.get_step_run(p, id, a_row.id).await.unwrap();
    assert_eq!(one.output.unwrap()["big"].as_str().map(str::len), Some(1000));
    assert!(one.started_at.is_some() && one.ended_at.is_some());
    // Another project, or another execution, sees no such step.
    let b = project(s, "B").await.id;
    assert!(matches!(s.get_step_run(b, id, a_row.id).await, Err(Error::NotFound("step execution"))));
    let other = s.start_execution(execution(p, &["z"]), t).await.unwrap();
    assert!(matches!(s.get_step_run(p, other, a_row.id).await, Err(Error::NotFound("step execution"))));
    // Found by step and instance, as a step reads another's output.
    let found = s.find_step_run(p, id, "a", "").await.unwrap().expect("a ran");
    assert_eq!(found.id, a_row.id);
    assert_eq!(s.find_step_run(p, id, "a", "0").await.unwrap(), None, "no such instance");
    assert_eq!(s.find_step_run(p, id, "zz", "").await.unwrap(), None);
    assert_eq!(s.find_step_run(b, id, "a", "").await.unwrap(), None, "another project sees nothing");
}

pub async fn executions_are_listed_with_filters_and_pages(db: Db) {
    use weft_store::{ExecutionQuery, ExecutionStatus as S};
    let s = &*db.store;
    let (p, other) = (project(s, "A").await.id, project(s, "B").await.id);
    let t = now();
    let mut ids = Vec::new();
    for i in 0..7i64 {
        let mut new = execution(p, if i % 3 == 0 { &[] } else { &["a"] });
        new.user = Some(format!("u{}", i % 2));
        if i >= 5 {
            new.integration = "hubspot".into();
        }
        ids.push(s.start_execution(new, at(t, i)).await.unwrap());
    }
    s.start_execution(execution(other, &["a"]), t).await.unwrap();
    let list = |q: ExecutionQuery| async move { s.list_executions(p, &q).await.unwrap() };
    let all = list(ExecutionQuery { limit: 100, ..Default::default() }).await;
    assert_eq!(all.total, 7, "the other project's is not counted");
    assert_eq!(all.executions.iter().map(|e| e.id).collect::<Vec<_>>(), ids.iter().rev().copied().collect::<Vec<_>>());
    let asc = list(ExecutionQuery { limit: 3, offset: 3, ascending: true, ..Default::default() }).await;
    assert_eq!((asc.total, asc.executions.iter().map(|e| e.id).collect::<Vec<_>>()), (7, ids[3..6].to_vec()));
    let u1 = list(ExecutionQuery { user: Some("u1".into()), limit: 100, ..Default::default() }).await;
    assert_eq!(u1.total, 3);
    let hubspot = list(ExecutionQuery { integration: Some("hubspot".into()), limit: 100, ..Default::default() }).await;
    assert_eq!(hubspot.total, 2);
    let done = list(ExecutionQuery { status: Some(S::Succeeded), limit: 100, ..Default::default() }).await;
    assert_eq!(done.total, 3, "executions with no step end at once");
    let window = list(ExecutionQuery {
        after: Some(at(t, 1)),
        before: Some(at(t, 5)),
        ascending: true,
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(window.executions.iter().map(|e| e.id).collect::<Vec<_>>(), ids[2..5].to_vec());
    let capped = list(ExecutionQuery { limit: 10_000, ..Default::default() }).await;
    assert_eq!(capped.executions.len(), 7);
    let none = list(ExecutionQuery { workflow: Some(WorkflowId::new()), limit: 100, ..Default::default() }).await;
    assert_eq!((none.total, none.executions.len()), (0, 0));
}

pub async fn nested_fan_outs_join_inside_out(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["outer"]), t).await.unwrap();
    let fan = |step: &ClaimedStep, n: u32, body: &str| {
        let mut c = done(step, Value::Null);
        c.outcome = Outcome::FannedOut { input: json!({}), output: json!([]), instances: n };
        let prefix = if step.instance.is_empty() { String::new() } else { format!("{}.", step.instance) };
        c.next = (0..n).map(|i| NewStep::new(body, "ACTION/FAN_OUT").in_instance(format!("{prefix}{i}"))).collect();
        c
    };
    // outer: 2 instances, each a fan-out "inner" of 2 instances of "leaf".
    let outer = claim_one(s, t).await;
    s.complete_step(fan(&outer, 2, "inner"), t).await.unwrap();
    for inner in claim(s, t, 10).await {
        s.complete_step(fan(&inner, 2, "leaf"), t).await.unwrap();
    }
    let leaves = claim(s, t, 10).await;
    let instances: HashSet<&str> = leaves.iter().map(|l| l.instance.as_str()).collect();
    assert_eq!(instances, HashSet::from(["0.0", "0.1", "1.0", "1.1"]));
    for (n, leaf) in leaves.iter().enumerate() {
        let parent = leaf.instance.split('.').next().unwrap().to_owned();
        let mut c = done(leaf, json!(n));
        // The leaf ends the inner instance; the inner fan-out ends the outer's.
        c.join = Some(Join {
            step: "inner".into(),
            instance: parent,
            then: vec![],
            each: vec![],
            finish: None,
            outer: Some(Box::new(Join {
                step: "outer".into(),
                instance: String::new(),
                then: vec![],
                each: vec![],
                finish: Some(ExecutionStatus::Succeeded),
                outer: None,
            })),
        });
        s.complete_step(c, t).await.unwrap();
        let status = s.get_execution(p, id).await.unwrap().status;
        let expected = if n == 3 { ExecutionStatus::Succeeded } else { ExecutionStatus::Executing };
        assert_eq!(status, expected, "after leaf {n}");
    }
    let steps = s.execution_steps(p, id).await.unwrap();
    assert!(steps.iter().all(|r| r.state == StepState::Succeeded), "{steps:?}");
    assert_eq!(steps.len(), 1 + 1 + 2 + 4);
}

pub async fn once_keys_start_one_execution(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let new = execution(p, &["a"]);
    let first = s.start_execution_once(new.clone(), "credential-1", t).await.unwrap();
    let first = first.expect("the first execution with a key starts");
    // The same key again: nothing stored, whoever asks.
    assert_eq!(s.start_execution_once(new.clone(), "credential-1", at(t, 1)).await.unwrap(), None);
    let page = s.list_executions(p, &weft_store::ExecutionQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(page.executions.iter().map(|e| e.id).collect::<Vec<_>>(), vec![first]);
    assert_eq!(claim(s, t, 10).await.len(), 1, "one first step queued");
    // Another key, another workflow with the same key, and plain starts
    // are all their own executions.
    assert!(s.start_execution_once(new.clone(), "credential-2", t).await.unwrap().is_some());
    let mut other = new.clone();
    other.workflow = WorkflowId::new();
    assert!(s.start_execution_once(other, "credential-1", t).await.unwrap().is_some());
    s.start_execution(new.clone(), t).await.unwrap();
    s.start_execution(new.clone(), t).await.unwrap();
    // Concurrent starts with one key: exactly one wins.
    let key = "credential-3";
    let starts = (0..8).map(|_| s.start_execution_once(new.clone(), key, t));
    let won = futures::future::join_all(starts).await.into_iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert_eq!(won, 1);
    // A key is scoped to its project.
    let q = project(s, "B").await.id;
    let mut theirs = new.clone();
    theirs.project = q;
    assert!(s.start_execution_once(theirs, "credential-1", t).await.unwrap().is_some());
    assert!(matches!(s.start_execution_once(new, &"k".repeat(401), t).await, Err(Error::Invalid(_))));
}

/// A provider's binary answer read as text holds NUL characters, which
/// PostgreSQL's jsonb refuses: both backends store U+FFFD instead, and the
/// completion goes through.
pub async fn text_with_nul_characters_is_stored(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let mut new = execution(p, &["a"]);
    new.trigger_output = json!({"raw": "trigger\0"});
    let id = s.start_execution(new, t).await.unwrap();
    let a = claim_one(s, t).await;
    let mut c = done(&a, json!({"body": "\0PNG\0", "k\0": 1}));
    c.execution = Some(ExecutionStatus::Succeeded);
    s.complete_step(c, t).await.unwrap();
    let steps = s.execution_steps(p, id).await.unwrap();
    assert_eq!(steps[0].output, Some(json!({"raw": "trigger\u{FFFD}"})));
    assert_eq!(steps[1].output, Some(json!({"body": "\u{FFFD}PNG\u{FFFD}", "k\u{FFFD}": 1})));
}

/// Retention: executions that ended before the cutoff go, with their
/// steps; running ones and newer ones stay, in every project.
pub async fn old_executions_are_purged(db: Db) {
    let s = &*db.store;
    let (p, q) = (project(s, "A").await.id, project(s, "B").await.id);
    let t = now();
    let finish = |id| async move {
        let step = claim_one(s, t).await;
        assert_eq!(step.execution, id);
        let mut c = done(&step, json!({}));
        c.execution = Some(ExecutionStatus::Succeeded);
        s.complete_step(c, t).await.unwrap();
    };
    let old_a = s.start_execution(execution(p, &["a"]), at(t, -100)).await.unwrap();
    finish(old_a).await;
    let old_b = s.start_execution(execution(q, &["a"]), at(t, -100)).await.unwrap();
    finish(old_b).await;
    // Ended without steps (nothing to run), long ago.
    let empty = s.start_execution(execution(p, &[]), at(t, -200)).await.unwrap();
    // Still running, started long ago.
    let running = s.start_execution(execution(p, &["a"]), at(t, -300)).await.unwrap();
    // The cutoff is before the finishes (at t): only the empty one ended before it.
    assert_eq!(s.purge_executions(at(t, -1), 100).await.unwrap(), 1);
    assert!(matches!(s.get_execution(p, empty).await, Err(Error::NotFound(_))));
    // After them: both projects' ended executions go, two at most per pass.
    assert_eq!(s.purge_executions(at(t, 1), 1).await.unwrap(), 1);
    assert_eq!(s.purge_executions(at(t, 1), 100).await.unwrap(), 1);
    for (project, id) in [(p, old_a), (q, old_b)] {
        assert!(matches!(s.get_execution(project, id).await, Err(Error::NotFound(_))));
        assert!(s.execution_steps(project, id).await.unwrap_or_default().is_empty(), "steps go with it");
    }
    assert_eq!(s.get_execution(p, running).await.unwrap().status, ExecutionStatus::Executing);
    assert_eq!(s.execution_steps(p, running).await.unwrap().len(), 2);
}

pub async fn completions_commit_together_each_fenced(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    for _ in 0..4 {
        s.start_execution(execution(p, &["a"]), t).await.unwrap();
    }
    let mut claimed = claim(s, t, 10).await;
    assert_eq!(claimed.len(), 4);
    // The third one's worker froze: its step went back to the queue and to
    // another worker, which holds it now.
    s.reap(at(t, 31), 3, 100).await.unwrap();
    let mut fresh = claim(s, at(t, 32), 10).await;
    assert_eq!(fresh.len(), 4, "every lease had expired");
    let stale = claimed.remove(2);
    fresh.retain(|f| f.id != stale.id);
    let mut batch: Vec<Completion> = fresh
        .iter()
        .map(|step| {
            let mut c = done(step, json!({"step": step.id.to_string()}));
            c.next = vec![NewStep::new("b", "ACTION/REQUEST")];
            c
        })
        .collect();
    let mut from_stale = done(&stale, json!("stale"));
    from_stale.next = vec![NewStep::new("from-stale", "ACTION/REQUEST")];
    batch.insert(1, from_stale);
    // One that fails its checks: a fan-out with instances queues them.
    let mut invalid = done(&fresh[0], Value::Null);
    invalid.outcome = Outcome::FannedOut { input: json!({}), output: json!([1]), instances: 1 };
    batch.push(invalid);

    let results = s.complete_steps(batch, at(t, 33)).await;
    assert_eq!(results.len(), 5);
    assert!(results[0].is_ok() && results[2].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(Error::LeaseLost)), "{:?}", results[1]);
    assert!(matches!(results[4], Err(Error::Invalid(_))), "{:?}", results[4]);

    // The fresh completions are stored with their successors; the stale
    // one wrote nothing (its step is still the other worker's).
    for step in &fresh {
        let rows = s.execution_steps(p, step.execution).await.unwrap();
        let a = rows.iter().find(|r| r.step == "a").unwrap();
        assert_eq!((a.state, a.output.clone()), (StepState::Succeeded, Some(json!({"step": step.id.to_string()}))));
        assert!(rows.iter().any(|r| r.step == "b" && r.state == StepState::Queued && r.prev == Some(a.id)));
    }
    let rows = s.execution_steps(p, stale.execution).await.unwrap();
    let a = rows.iter().find(|r| r.step == "a").unwrap();
    assert_eq!((a.state, a.output.as_ref()), (StepState::Running, None));
    assert!(!rows.iter().any(|r| r.step == "from-stale"));
    let next = claim(s, at(t, 34), 10).await;
    assert_eq!(next.iter().filter(|c| c.step == "b").count(), 3, "{next:?}");
    assert_eq!(next.len(), 3, "the stale step's successor was never queued");
}

pub async fn a_batch_that_fails_is_stored_one_completion_at_a_time(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    for _ in 0..3 {
        s.start_execution(execution(p, &["a"]), t).await.unwrap();
    }
    let claimed = claim(s, t, 10).await;
    let mut batch: Vec<Completion> = claimed
        .iter()
        .map(|step| {
            let mut c = done(step, json!("ok"));
            c.next = vec![NewStep::new("b", "ACTION/REQUEST")];
            c
        })
        .collect();
    // The middle one passes the checks but fails half-way in the database:
    // its step row is written before its join finds no fan-out waiting.
    batch[1].join = Some(Join {
        step: "no-such-fan-out".into(),
        instance: String::new(),
        then: vec![],
        each: vec![],
        finish: None,
        outer: None,
    });
    let results = s.complete_steps(batch, t).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(Error::Invalid(_))), "{:?}", results[1]);
    for (n, step) in claimed.iter().enumerate() {
        let rows = s.execution_steps(p, step.execution).await.unwrap();
        let a = rows.iter().find(|r| r.step == "a").unwrap();
        if n == 1 {
            // Rolled back whole: the step is still leased, nothing queued.
            assert_eq!((a.state, rows.len()), (StepState::Running, 2));
        } else {
            assert_eq!((a.state, rows.len()), (StepState::Succeeded, 3));
        }
    }
    // The failed one can still be completed by its worker.
    s.complete_steps(vec![done(&claimed[1], json!("later"))], t).await.remove(0).unwrap();
}

pub async fn completions_of_one_execution_apply_in_order(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a", "b", "c"]), t).await.unwrap();
    let claimed = claim(s, t, 2).await;
    let mut failing = done(&claimed[0], Value::Null);
    failing.outcome = Outcome::Failed { input: json!({}), error: json!({"message": "no"}) };
    failing.execution = Some(ExecutionStatus::Failed);
    // The second ends after the first failed the execution: a straggler.
    let mut straggler = done(&claimed[1], json!("late"));
    straggler.next = vec![NewStep::new("d", "ACTION/REQUEST")];
    let results = s.complete_steps(vec![failing, straggler], t).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!((e.status, e.tasks), (ExecutionStatus::Failed, 2));
    let rows = s.execution_steps(p, id).await.unwrap();
    let state = |name: &str| rows.iter().find(|r| r.step == name).map(|r| r.state);
    assert_eq!(state(&claimed[1].step), Some(StepState::Succeeded));
    assert_eq!(state("d"), None, "a straggler queues nothing");
    assert!(claim(s, t, 10).await.is_empty(), "the third step was cancelled");
    assert!(s.complete_steps(vec![], t).await.is_empty());

    // The same with an execution that succeeds: what follows its end in
    // the batch queues nothing, what precedes it does.
    let id = s.start_execution(execution(p, &["a", "b", "c"]), t).await.unwrap();
    let claimed = claim(s, t, 3).await;
    let mut before = done(&claimed[0], json!(0));
    before.next = vec![NewStep::new("x", "ACTION/REQUEST")];
    let mut finishing = done(&claimed[1], json!(1));
    finishing.execution = Some(ExecutionStatus::Succeeded);
    let mut after = done(&claimed[2], json!(2));
    after.next = vec![NewStep::new("y", "ACTION/REQUEST")];
    let results = s.complete_steps(vec![before, finishing, after], at(t, 5)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!((e.status, e.ended_at, e.tasks), (ExecutionStatus::Succeeded, Some(at(t, 5)), 3));
    let rows = s.execution_steps(p, id).await.unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(names, ["trigger", "a", "b", "c", "x"], "y followed the end");
}

pub async fn completions_of_one_execution_count_together(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a", "b"]), t).await.unwrap();
    let mut claimed = claim(s, t, 2).await;
    claimed.sort_by(|x, y| x.step.cmp(&y.step));
    let (a, b) = (&claimed[0], &claimed[1]);
    let mut from_a = done(a, json!("a"));
    (from_a.tasks, from_a.response) = (2, Some(json!({"from": "a"})));
    from_a.next = vec![NewStep::new("c", "ACTION/REQUEST")];
    let mut from_b = done(b, json!("b"));
    (from_b.tasks, from_b.response) = (3, Some(json!({"from": "b"})));
    from_b.next = vec![NewStep::new("d", "ACTION/REQUEST"), NewStep::new("e", "ACTION/REQUEST").in_instance("0")];
    let results = s.complete_steps(vec![from_a, from_b], t).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!((e.tasks, e.response), (5, Some(json!({"from": "b"}))), "tasks add up; the last response stays");
    let rows = s.execution_steps(p, id).await.unwrap();
    let order: Vec<&str> = rows.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(order, ["trigger", "a", "b", "c", "d", "e"], "numbered in the completions' order");
    let row = |name: &str| rows.iter().find(|r| r.step == name).unwrap();
    assert_eq!((row("c").prev, row("d").prev, row("e").prev), (Some(a.id), Some(b.id), Some(b.id)));
    assert_eq!(row("c").idempotency_key, format!("{id}:c"));
    assert_eq!(row("e").idempotency_key, format!("{id}:e:0"));
    assert_eq!(row("e").instance, "0");
    assert_eq!(claim(s, t, 10).await.len(), 3);
}
