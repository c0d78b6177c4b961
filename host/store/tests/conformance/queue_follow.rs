//! Following: a completion queues its lone successor already leased to the
//! completing worker, which runs it without a claim; the lease behaves as a
//! claim's (heartbeat, fence, reaper), and nothing is followed once the
//! execution has ended.

use crate::harness::{Db, project};
use crate::queue::{LEASE, at, claim, claim_one, done, execution, now};
use serde_json::json;
use time::OffsetDateTime;
use weft_store::{
    ClaimedStep, Completion, Error, ExecutionStatus, Follow, Lease, NewStep, Outcome, StepRunId, StepState,
};

/// A completion of `step` that queues `next` and follows it.
pub(crate) fn followed(step: &ClaimedStep, next: &str, t: OffsetDateTime) -> (Completion, Follow) {
    let lease = Lease { token: uuid::Uuid::new_v4(), until: at(t, 30), deadline: at(t, 600) };
    let follow = Follow { id: StepRunId::new(), lease };
    let mut c = done(step, json!({"from": step.step}));
    c.next = vec![NewStep::new(next, "ACTION/REQUEST")];
    c.follow = Some(follow);
    (c, follow)
}

pub async fn a_followed_successor_runs_without_a_claim(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let a = claim_one(s, t).await;
    let (c, follow) = followed(&a, "b", t);
    let next = c.next[0].clone();
    assert!(s.complete_step(c, t).await.unwrap().followed);
    assert!(claim(s, t, 10).await.is_empty(), "the followed step is leased already");
    let b = follow.claimed(&a, &next);
    let stored = s.get_step_run(p, id, b.id).await.unwrap();
    assert_eq!((stored.step.as_str(), stored.state, stored.started_at), ("b", StepState::Running, Some(t)));
    assert_eq!(stored.idempotency_key, b.idempotency_key, "the key is the one a claim would give");
    assert_eq!((b.workflow, b.version, b.user.as_deref(), b.attempt), (a.workflow, a.version, a.user.as_deref(), 0));
    assert_eq!(s.heartbeat(p, b.id, b.lease.token, at(t, 1), LEASE).await.unwrap(), at(t, 31));
    let stale = done(&ClaimedStep { lease: a.lease, ..b.clone() }, json!("stale"));
    assert!(matches!(s.complete_step(stale, at(t, 2)).await, Err(Error::LeaseLost)), "fenced on its own lease");
    let mut last = done(&b, json!({"n": 2}));
    last.execution = Some(ExecutionStatus::Succeeded);
    assert!(!s.complete_step(last, at(t, 2)).await.unwrap().followed);
    let e = s.get_execution(p, id).await.unwrap();
    assert_eq!((e.status, e.tasks), (ExecutionStatus::Succeeded, 2));
    let states: Vec<(String, StepState)> =
        s.execution_steps(p, id).await.unwrap().into_iter().map(|r| (r.step, r.state)).collect();
    assert_eq!(
        states,
        vec![
            ("trigger".into(), StepState::Succeeded),
            ("a".into(), StepState::Succeeded),
            ("b".into(), StepState::Succeeded)
        ]
    );
}

pub async fn followed_successors_commit_together(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let one = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let two = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let claimed = claim(s, t, 10).await;
    assert_eq!(claimed.len(), 2);
    let (first, f1) = followed(&claimed[0], "b", t);
    let (mut second, _) = followed(&claimed[1], "b", t);
    // A plain successor beside them stays for any worker.
    second.follow = None;
    let results = s.complete_steps(vec![first, second], t).await;
    let followed: Vec<bool> = results.into_iter().map(|r| r.unwrap().followed).collect();
    assert_eq!(followed, vec![true, false]);
    let free = claim(s, t, 10).await;
    assert_eq!(free.len(), 1, "only the successor that was not followed is claimed");
    assert_eq!(free[0].execution, claimed[1].execution);
    let b = s.get_step_run(p, claimed[0].execution, f1.id).await.unwrap();
    assert_eq!((b.step.as_str(), b.state), ("b", StepState::Running));
    assert!([one, two].contains(&claimed[0].execution));
}

pub async fn a_followed_successor_of_a_dead_worker_is_reaped(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let a = claim_one(s, t).await;
    let (c, follow) = followed(&a, "b", t);
    assert!(s.complete_step(c, t).await.unwrap().followed);
    // The worker dies before it runs it: its lease expires like a claim's.
    let reaped = s.reap(at(t, 31), 3, 100).await.unwrap();
    assert_eq!((reaped.requeued, reaped.failed), (1, 0));
    let again = claim_one(s, at(t, 32)).await;
    assert_eq!((again.id, again.step.as_str(), again.restarts), (follow.id, "b", 1));
    assert_ne!(again.lease.token, follow.lease.token);
}

pub async fn nothing_is_followed_once_the_execution_ended(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a", "c"]), t).await.unwrap();
    let claimed = claim(s, t, 10).await;
    let (a, c) = if claimed[0].step == "a" { (&claimed[0], &claimed[1]) } else { (&claimed[1], &claimed[0]) };
    let failing = Completion {
        outcome: Outcome::Failed { input: json!({}), error: json!({"message": "no"}) },
        execution: Some(ExecutionStatus::Failed),
        ..done(c, json!(null))
    };
    s.complete_step(failing, t).await.unwrap();
    let (straggler, follow) = followed(a, "b", t);
    assert!(!s.complete_step(straggler, t).await.unwrap().followed, "an ended execution queues nothing");
    assert!(matches!(s.get_step_run(p, id, follow.id).await, Err(Error::NotFound(_))));
    assert_eq!(s.get_execution(p, id).await.unwrap().status, ExecutionStatus::Failed);
}

pub async fn only_a_lone_successor_is_followed(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
    let a = claim_one(s, t).await;
    let (mut two, _) = followed(&a, "b", t);
    two.next.push(NewStep::new("c", "ACTION/REQUEST"));
    assert!(matches!(s.complete_step(two.clone(), t).await, Err(Error::Invalid(_))));
    let results = s.complete_steps(vec![two], t).await;
    assert!(matches!(results[0], Err(Error::Invalid(_))), "{results:?}");
    let steps = s.execution_steps(p, id).await.unwrap();
    assert_eq!(steps.len(), 2, "nothing of a refused completion is stored");
    assert_eq!(steps[1].state, StepState::Running);
}

/// A worker froze holding a step; the step went back to the queue and
/// another worker of the same process ran it again, so both completions
/// reach one batch: the live one is stored once (its tasks counted once,
/// its successor queued once), the stale one is refused, whatever their
/// order in the batch.
pub async fn a_stale_and_a_live_completion_of_one_step_in_one_batch(db: Db) {
    let s = &*db.store;
    let p = project(s, "A").await.id;
    let t = now();
    for stale_first in [true, false] {
        let id = s.start_execution(execution(p, &["a"]), t).await.unwrap();
        let stale = claim_one(s, t).await;
        s.reap(at(t, 31), 3, 100).await.unwrap();
        let live = claim_one(s, at(t, 32)).await;
        assert_eq!(live.id, stale.id, "the same step, leased again");
        let (from_live, follow) = followed(&live, "b", t);
        let (from_stale, _) = followed(&stale, "b", t);
        let batch = if stale_first { vec![from_stale, from_live] } else { vec![from_live, from_stale] };
        let mut results = s.complete_steps(batch, at(t, 33)).await;
        if !stale_first {
            results.reverse();
        }
        assert!(matches!(results[0], Err(Error::LeaseLost)), "{results:?}");
        assert!(results[1].as_ref().is_ok_and(|c| c.followed), "{results:?}");
        let e = s.get_execution(p, id).await.unwrap();
        assert_eq!(e.tasks, 1, "the step's task is counted once");
        let rows = s.execution_steps(p, id).await.unwrap();
        let b: Vec<_> = rows.iter().filter(|r| r.step == "b").collect();
        assert_eq!(b.len(), 1, "{rows:?}");
        assert_eq!(b[0].id, follow.id, "the live completion's successor");
        // The successor is the live worker's: it completes under its lease.
        let next = follow.claimed(&live, &NewStep::new("b", "ACTION/REQUEST"));
        let mut last = done(&next, json!("b"));
        last.execution = Some(ExecutionStatus::Succeeded);
        s.complete_step(last, at(t, 34)).await.unwrap();
        let e = s.get_execution(p, id).await.unwrap();
        assert_eq!((e.status, e.tasks), (ExecutionStatus::Succeeded, 2));
    }
}
