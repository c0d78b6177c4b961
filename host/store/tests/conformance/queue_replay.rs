//! Bounded fan-outs (an instance's end queues the next item, `Join::each`),
//! rate-limit pauses (`Outcome::Paused`) and resuming a failed execution at
//! its failed step (`ReplayStore`).

use crate::harness::{Db, project};
use crate::queue::{at, claim, claim_one, done, execution, now};
use serde_json::{Value, json};
use time::OffsetDateTime;
use weft_store::{Error, ExecutionId, ExecutionStatus, Join, NewStep, Outcome, ProjectId, StepState, Store};

/// A join of the top-level fan-out `fan` queuing `each` as it counts down.
fn join(each: Vec<NewStep>) -> Join {
    Join {
        step: "fan".into(),
        instance: String::new(),
        then: vec![NewStep::new("after", "ACTION/REQUEST")],
        each,
        finish: None,
        outer: None,
    }
}

/// An execution whose fan-out `fan` ran at `t` over `items`, the first `started`
/// of them queued (as `body`); its id.
async fn fanned_out(s: &dyn Store, p: ProjectId, t: OffsetDateTime, items: Value, started: usize) -> ExecutionId {
    let id = s.start_execution(execution(p, &["fan"]), t).await.unwrap();
    let fan = claim_one(s, t).await;
    let n = items.as_array().map_or(0, Vec::len);
    let mut c = done(&fan, Value::Null);
    c.outcome = Outcome::FannedOut { input: json!({}), output: items, instances: n as u32 };
    c.next = (0..started).map(|i| NewStep::new("body", "ACTION/REQUEST").in_instance(i.to_string())).collect();
    s.complete_step(c, t).await.unwrap();
    id
}

pub async fn an_instance_end_queues_the_next_item(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    // Three items, one at a time: only the first is queued.
    let id = fanned_out(s, p, t, json!(["x", "y", "z"]), 1).await;
    for i in 0..3 {
        let running = claim(s, t, 10).await;
        let names: Vec<(&str, &str)> = running.iter().map(|r| (r.step.as_str(), r.instance.as_str())).collect();
        let item = i.to_string();
        assert_eq!(names, vec![("body", item.as_str())], "one item at a time");
        let mut c = done(&running[0], json!(i));
        let next = (i < 2).then(|| NewStep::new("body", "ACTION/REQUEST").in_instance((i + 1).to_string()));
        c.join = Some(join(next.into_iter().collect()));
        s.complete_step(c, t).await.unwrap();
    }
    let after = claim_one(s, t).await;
    assert_eq!(after.step, "after", "what follows runs once all three ended");
    let fan_row = s.execution_steps(p, id).await.unwrap().into_iter().find(|r| r.step == "fan").unwrap();
    assert_eq!(fan_row.state, StepState::Succeeded);
    // A next item is checked as any queued step is.
    let id = fanned_out(s, p, t, json!([1, 2]), 1).await;
    let body = claim_one(s, t).await;
    let mut c = done(&body, Value::Null);
    c.join = Some(join(vec![NewStep::new("", "ACTION/REQUEST")]));
    assert!(matches!(s.complete_step(c, t).await, Err(Error::Invalid(_))));
    assert_eq!(s.get_execution(p, id).await.unwrap().status, ExecutionStatus::Executing);
}

/// An execution of `a` then `b` in which `b` failed; its id.
async fn failed_at_b(s: &dyn Store, p: ProjectId) -> ExecutionId {
    let t = now();
    let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let a = claim_one(s, t).await;
    let mut c = done(&a, json!({"from": "a"}));
    c.next = vec![NewStep::new("b", "ACTION/REQUEST")];
    s.complete_step(c, t).await.unwrap();
    let b = claim_one(s, t).await;
    let mut c = done(&b, Value::Null);
    c.outcome = Outcome::Failed { input: json!({"x": 1}), error: json!({"message": "no"}) };
    c.execution = Some(ExecutionStatus::Failed);
    c.tasks = 0;
    s.complete_step(c, t).await.unwrap();
    id
}

pub async fn a_failed_execution_resumes_at_its_failed_step(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let old = failed_at_b(s, p).await;
    let t = at(now(), 5);
    let new = s.resume_failed(p, old, t).await.unwrap();
    assert_ne!(new, old);
    let e = s.get_execution(p, new).await.unwrap();
    let before = s.get_execution(p, old).await.unwrap();
    assert_eq!((e.status, e.tasks, e.created_at), (ExecutionStatus::Executing, 0, t));
    assert_eq!(
        (e.workflow, e.version, e.user.clone(), e.trigger_kind.clone()),
        (before.workflow, 3, before.user.clone(), before.trigger_kind.clone())
    );
    // The trigger and `a` kept what they recorded; `b` waits to run again.
    let steps = s.execution_steps(p, new).await.unwrap();
    let states: Vec<(&str, StepState)> = steps.iter().map(|r| (r.step.as_str(), r.state)).collect();
    assert_eq!(states, vec![("trigger", StepState::Succeeded), ("a", StepState::Succeeded), ("b", StepState::Queued)]);
    assert_eq!(steps[0].output, Some(json!({"event": "created"})));
    assert_eq!(steps[1].output, Some(json!({"from": "a"})));
    assert_eq!((steps[2].input.clone(), steps[2].error.clone()), (None, None));
    assert_eq!(steps[2].prev, Some(steps[1].id), "the chain is the new execution's own");
    assert_eq!(steps[1].prev, Some(steps[0].id));
    let b = claim_one(s, t).await;
    assert_eq!((b.execution, b.step.as_str()), (new, "b"));
    assert_eq!(b.idempotency_key, format!("{new}:b"), "a fresh key: the replay does the work again");
    let mut c = done(&b, json!("ok"));
    c.execution = Some(ExecutionStatus::Succeeded);
    s.complete_step(c, t).await.unwrap();
    let e = s.get_execution(p, new).await.unwrap();
    assert_eq!((e.status, e.tasks), (ExecutionStatus::Succeeded, 1));
    // The old execution is as it was.
    let again = s.get_execution(p, old).await.unwrap();
    assert_eq!((again.status, again.tasks), (ExecutionStatus::Failed, before.tasks));
    assert_eq!(s.execution_steps(p, old).await.unwrap()[2].state, StepState::Failed);

    // Refused: one that did not fail, an unknown one, another project's.
    assert!(matches!(s.resume_failed(p, new, t).await, Err(Error::Conflict(_))));
    assert!(matches!(s.resume_failed(p, ExecutionId::new(), t).await, Err(Error::NotFound(_))));
    let other = project(s, "B").await.id;
    assert!(matches!(s.resume_failed(other, old, t).await, Err(Error::NotFound(_))));
}

pub async fn a_failure_inside_a_fan_out_is_not_resumed(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = fanned_out(s, p, t, json!([1, 2]), 2).await;
    let body = claim_one(s, t).await;
    let mut c = done(&body, Value::Null);
    c.outcome = Outcome::Failed { input: json!({}), error: json!({"message": "no"}) };
    c.execution = Some(ExecutionStatus::Failed);
    s.complete_step(c, t).await.unwrap();
    let refused = s.resume_failed(p, id, t).await;
    assert!(matches!(&refused, Err(Error::Invalid(m)) if m.contains("replay it whole")), "{refused:?}");
}

pub async fn a_paused_step_waits_without_using_an_attempt(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let first = claim_one(s, t).await;
    let mut c = done(&first, Value::Null);
    c.outcome = Outcome::Paused { error: json!({"rateLimit": {"retryAfterMs": 5000}}), run_after: at(t, 5) };
    c.execution = Some(ExecutionStatus::Delayed);
    c.tasks = 0;
    s.complete_step(c, t).await.unwrap();
    assert_eq!(s.get_execution(p, id).await.unwrap().status, ExecutionStatus::Delayed);
    let parked = s.get_step_run(p, id, first.id).await.unwrap();
    assert_eq!((parked.state, parked.run_after), (StepState::Queued, at(t, 5)));
    assert_eq!(parked.error, Some(json!({"rateLimit": {"retryAfterMs": 5000}})));
    assert!(claim(s, at(t, 4), 10).await.is_empty(), "not before the window");
    let again = claim_one(s, at(t, 5)).await;
    assert_eq!((again.id, again.attempt, again.pauses, again.restarts), (first.id, 0, 1, 0), "a pause, not a retry");
    assert_eq!(again.idempotency_key, first.idempotency_key);
    assert_eq!(s.get_execution(p, id).await.unwrap().status, ExecutionStatus::Executing);
    // Paused again, it counts another pause.
    let mut c = done(&again, Value::Null);
    c.outcome = Outcome::Paused { error: json!({}), run_after: at(t, 9) };
    s.complete_step(c, at(t, 5)).await.unwrap();
    assert_eq!(claim_one(s, at(t, 9)).await.pauses, 2);
}
