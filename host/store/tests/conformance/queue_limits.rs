//! A project's concurrency limit: a claim takes at most the project's free
//! slots (its limit less its running steps), other projects are not held
//! back, a following step keeps its predecessor's slot, and concurrent
//! claims, from one store or two (two processes), never go over the limit.

use crate::harness::{Db, project};
use crate::queue::{DEADLINE, LEASE, at, claim, done, execution, now};
use crate::queue_follow::followed;
use serde_json::json;
use std::sync::Arc;
use weft_store::{ClaimedStep, Error, NewStep, ProjectId, Store};

/// How many of `claimed` belong to `project`.
fn of(claimed: &[ClaimedStep], project: ProjectId) -> usize {
    claimed.iter().filter(|c| c.project == project).count()
}

pub async fn a_claim_takes_at_most_a_limited_projects_free_slots(db: Db) {
    let s = &*db.store;
    let (a, b) = (project(s, "A").await.id, project(s, "B").await.id);
    let limited = s.set_concurrency_limit(a, Some(2)).await.unwrap();
    assert_eq!(limited.concurrency_limit, Some(2));
    assert_eq!(s.get_project(a).await.unwrap().concurrency_limit, Some(2));
    assert_eq!(s.get_project(b).await.unwrap().concurrency_limit, None);
    assert!(matches!(s.set_concurrency_limit(a, Some(0)).await, Err(Error::Invalid(_))));
    assert!(matches!(s.set_concurrency_limit(ProjectId::new(), Some(3)).await, Err(Error::NotFound(_))));
    let t = now();
    // A's steps are older than B's: a claim still takes B's past A's full slots.
    for _ in 0..5 {
        s.start_execution(execution(a, &["a"]), at(t, -10)).await.unwrap();
    }
    for _ in 0..3 {
        s.start_execution(execution(b, &["b"]), t).await.unwrap();
    }
    let first = claim(s, t, 10).await;
    assert_eq!((of(&first, a), of(&first, b)), (2, 3), "{first:?}");
    assert!(claim(s, t, 10).await.is_empty(), "A is full, B has nothing due");

    // A completion frees its slot for the next claim.
    let ended = first.iter().find(|c| c.project == a).unwrap();
    s.complete_step(done(ended, json!("done")), t).await.unwrap();
    let next = claim(s, t, 10).await;
    assert_eq!(of(&next, a), 1, "{next:?}");

    // A step that follows its predecessor keeps that slot: A stays at two.
    let running = first.iter().filter(|c| c.project == a).find(|c| c.id != ended.id).unwrap();
    let (c, follow) = followed(running, "a2", t);
    assert!(s.complete_step(c, t).await.unwrap().followed);
    assert!(claim(s, t, 10).await.is_empty(), "the follower holds the slot");
    let follower = follow.claimed(running, &NewStep::new("a2", "ACTION/REQUEST"));

    // An expired lease goes back to the queue and frees its slot.
    s.heartbeat(a, follower.id, follower.lease.token, t, LEASE).await.unwrap();
    s.reap(at(t, 31), 5, 100).await.unwrap();
    let again = claim(s, at(t, 32), 10).await;
    assert_eq!(of(&again, a), 2, "both slots were freed by the reaper: {again:?}");

    // Lifted: every due step of A is claimed.
    s.set_concurrency_limit(a, None).await.unwrap();
    let rest = claim(s, at(t, 33), 10).await;
    assert_eq!(of(&rest, a), 2, "{rest:?}");
}

/// Claims at once, from two stores on one database (on SQLite the single
/// writer serialises them; on PostgreSQL the limited project's row lock):
/// together they take exactly the free slots, each step once.
pub async fn concurrent_claims_stay_within_the_limit(db: Db) {
    let s = db.store.clone();
    let other = db.reopen().await;
    let p = project(&*s, "A").await.id;
    s.set_concurrency_limit(p, Some(5)).await.unwrap();
    let t = now();
    for _ in 0..40 {
        s.start_execution(execution(p, &["a"]), t).await.unwrap();
    }
    let mut held: Vec<ClaimedStep> = Vec::new();
    for round in 0..4 {
        let stores: Vec<Arc<dyn Store>> = vec![s.clone(), other.clone(), s.clone(), other.clone()];
        let start = Arc::new(tokio::sync::Barrier::new(stores.len()));
        let claimers: Vec<_> = stores
            .into_iter()
            .map(|store| {
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    store.claim_steps(t, LEASE, DEADLINE, 3).await.expect("claim")
                })
            })
            .collect();
        let mut taken = Vec::new();
        for c in claimers {
            taken.extend(c.await.unwrap());
        }
        let free = 5 - held.len();
        assert_eq!(taken.len(), free, "round {round}: the free slots, no more: {taken:?}");
        held.extend(taken);
        let ids: std::collections::HashSet<_> = held.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), held.len(), "each step once");
        // Two end; the next round may take two.
        for c in held.drain(..2) {
            s.complete_step(done(&c, json!("done")), t).await.unwrap();
        }
    }
    other.close().await;
}
