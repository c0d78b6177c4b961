//! Event destinations: their lifecycle, the events a failed execution
//! writes, dispatch to the subscribed destinations once, claims under a
//! lease, attempts that reset or count failures up to the automatic
//! disable, and one project never seeing another's.

use crate::harness::{Db, project};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;
use weft_store::{
    AttemptOutcome, Completion, DeliveryState, DestinationConfig, DestinationId, Error, ExecutionStatus, NewExecution,
    NewStep, Outcome, ProjectId, Store, WorkflowId,
};

const LEASE: Duration = Duration::from_secs(30);

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap()
}

fn at(t: OffsetDateTime, secs: i64) -> OffsetDateTime {
    t + time::Duration::seconds(secs)
}

fn config(url: &str, events: &[&str]) -> DestinationConfig {
    DestinationConfig {
        url: url.into(),
        headers: BTreeMap::from([("X-Team".to_owned(), "ops".to_owned())]),
        sealed_headers: None,
        payload: None,
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Runs a one-step execution of `project` to failure.
async fn fail_an_execution(s: &dyn Store, project: ProjectId, t: OffsetDateTime) -> weft_store::ExecutionId {
    let new = NewExecution {
        project,
        workflow: WorkflowId::new(),
        version: 1,
        integration: "slack".into(),
        user: Some("user-1".into()),
        credential: None,
        trigger_step: "trigger".into(),
        trigger_kind: "TRIGGER/APP_EVENT".into(),
        trigger_output: json!({}),
        first: vec![NewStep::new("call", "ACTION/REQUEST")],
    };
    let id = s.start_execution(new, t).await.unwrap();
    let step = s.claim_steps(t, LEASE, Duration::from_secs(600), 1).await.unwrap().remove(0);
    let c = Completion {
        project: step.project,
        id: step.id,
        token: step.lease.token,
        outcome: Outcome::Failed { input: json!({}), error: json!({"message": "no"}) },
        next: vec![],
        join: None,
        execution: Some(ExecutionStatus::Failed),
        response: None,
        tasks: 0,
        follow: None,
    };
    s.complete_step(c, t).await.unwrap();
    id
}

pub async fn lifecycle(db: Db) {
    let s = db.store;
    let a = project(&*s, "A").await.id;
    let first = s.create_destination(a, config("https://one.example/hook", &["workflow_failure"])).await.unwrap();
    assert_eq!((first.kind.as_str(), first.enabled, first.consecutive_failures), ("webhook", true, 0));
    assert_eq!(first.headers["X-Team"], "ops");
    let template = json!({"text": "{{$.event.message}}"});
    let second = s
        .create_destination(
            a,
            DestinationConfig { payload: Some(template.clone()), ..config("https://two.example", &["x", "y"]) },
        )
        .await
        .unwrap();
    let listed = s.list_destinations(a).await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()], "oldest first, every field round-trips");
    assert_eq!(s.get_destination(a, second.id).await.unwrap().payload, Some(template));

    let changed = s.update_destination(a, first.id, config("https://new.example", &["credentials_failure"])).await;
    let changed = changed.unwrap();
    assert_eq!(
        (changed.url.as_str(), changed.events.clone()),
        ("https://new.example", vec!["credentials_failure".into()])
    );
    assert!(changed.updated_at >= first.updated_at);

    let off = s.set_destination_enabled(a, first.id, false, "paused by an operator").await.unwrap();
    assert!(!off.enabled);
    assert_eq!(off.disabled_reason.as_deref(), Some("paused by an operator"));
    assert!(off.disabled_at.is_some());
    let on = s.set_destination_enabled(a, first.id, true, "").await.unwrap();
    assert!(on.enabled && on.disabled_reason.is_none() && on.disabled_at.is_none());

    s.delete_destination(a, first.id).await.unwrap();
    assert!(matches!(s.get_destination(a, first.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_destination(a, first.id).await, Err(Error::NotFound(_))));
    let refused = s.create_destination(a, config(" ", &[])).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    let missing = s.create_destination(ProjectId::new(), config("https://x.example", &[])).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

pub async fn failed_executions_write_events_only_for_projects_with_destinations(db: Db) {
    let s = &*db.store;
    let t = now();
    let quiet = project(s, "Quiet").await.id;
    fail_an_execution(s, quiet, t).await;
    assert!(s.list_events(quiet, 10).await.unwrap().is_empty(), "no destination, no event");

    let watched = project(s, "Watched").await.id;
    s.create_destination(watched, config("https://hooks.example", &["workflow_failure"])).await.unwrap();
    let execution = fail_an_execution(s, watched, t).await;
    let events = s.list_events(watched, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "workflow_failure");
    assert_eq!(events[0].payload["workflowExecution"]["id"], json!(execution.to_string()));
    let pending = s.pending_events(100).await.unwrap();
    assert_eq!(pending.iter().map(|e| e.id).collect::<Vec<_>>(), vec![events[0].id]);
}

pub async fn events_are_dispatched_once_to_subscribed_destinations(db: Db) {
    let s = &*db.store;
    let t = now();
    let a = project(s, "A").await.id;
    let wf = s.create_destination(a, config("https://wf.example", &["workflow_failure"])).await.unwrap();
    let both = s
        .create_destination(a, config("https://both.example", &["workflow_failure", "credentials_failure"]))
        .await
        .unwrap();
    let off = s.create_destination(a, config("https://off.example", &["credentials_failure"])).await.unwrap();
    s.set_destination_enabled(a, off.id, false, "off").await.unwrap();
    let event = s.insert_event(a, "credentials_failure", object(json!({"type": "credentials_failure"}))).await;
    let event = event.unwrap();
    let body = json!({"type": "credentials_failure", "message": "built"});
    assert_eq!(s.dispatch_event(&event, &body, t).await.unwrap(), 1, "only the enabled subscriber");
    assert_eq!(s.dispatch_event(&event, &body, t).await.unwrap(), 0, "dispatched once");
    assert!(s.pending_events(100).await.unwrap().is_empty());
    assert!(s.list_deliveries(a, wf.id, 10).await.unwrap().is_empty());
    let queued = s.list_deliveries(a, both.id, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    let d = &queued[0];
    assert_eq!((d.event_id, d.event_type.as_str(), &d.event), (event.id, "credentials_failure", &body));
    assert_eq!((d.state, d.attempts, d.next_attempt_at), (DeliveryState::Pending, 0, t));
}

pub async fn attempts_retry_then_disable_after_failures_in_a_row(db: Db) {
    let s = &*db.store;
    let t = now();
    let a = project(s, "A").await.id;
    let dest = s.create_destination(a, config("https://hooks.example", &["workflow_failure"])).await.unwrap();
    for n in 0..3 {
        let e = s.insert_event(a, "workflow_failure", Map::new()).await.unwrap();
        s.dispatch_event(&e, &json!({"n": n}), t).await.unwrap();
    }
    // The first succeeds: the count stays at 0.
    let claimed = s.claim_deliveries(t, LEASE, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].delivery.attempts, claimed[0].destination.id), (1, dest.id));
    assert!(s.claim_deliveries(t, LEASE, 1).await.unwrap().iter().all(|c| c.delivery.id != claimed[0].delivery.id));
    let ok = s.record_attempt(&claimed[0], AttemptOutcome::Delivered { status: 204 }, 2, t).await.unwrap();
    assert_eq!((ok.consecutive_failures, ok.disabled), (0, false));
    let again = s.record_attempt(&claimed[0], AttemptOutcome::Delivered { status: 204 }, 2, t).await;
    assert!(matches!(again, Err(Error::LeaseLost)), "recorded once: {again:?}");

    // The one claimed second above has a lease still: only after it expires
    // is it claimed again, and its attempts count both claims.
    let later = at(t, 31);
    let claimed = s.claim_deliveries(later, LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let fail = |retry: Option<OffsetDateTime>| AttemptOutcome::Failed {
        status: Some(500),
        error: "HTTP 500".into(),
        retry_at: retry,
    };
    let first = s.record_attempt(&claimed[0], fail(Some(at(later, 5))), 2, later).await.unwrap();
    assert_eq!((first.consecutive_failures, first.disabled), (1, false));
    let row = s.list_deliveries(a, dest.id, 10).await.unwrap().into_iter().find(|d| d.id == claimed[0].delivery.id);
    let row = row.unwrap();
    assert_eq!((row.state, row.last_status, row.next_attempt_at), (DeliveryState::Pending, Some(500), at(later, 5)));
    assert!(s.claim_deliveries(at(later, 4), LEASE, 10).await.unwrap().is_empty(), "not before its time");
    // The second failure in a row disables the destination and drops the
    // first delivery's next attempt.
    let second = s.record_attempt(&claimed[1], fail(None), 2, later).await.unwrap();
    assert_eq!((second.consecutive_failures, second.disabled), (2, true));
    let d = s.get_destination(a, dest.id).await.unwrap();
    assert!(!d.enabled);
    assert!(d.disabled_reason.as_deref().unwrap().contains("HTTP 500"), "{:?}", d.disabled_reason);
    let states: Vec<_> = s.list_deliveries(a, dest.id, 10).await.unwrap().iter().map(|d| d.state).collect();
    assert_eq!(states.iter().filter(|s| **s == DeliveryState::Dropped).count(), 1, "{states:?}");
    assert_eq!(states.iter().filter(|s| **s == DeliveryState::Failed).count(), 1, "{states:?}");
    assert!(s.claim_deliveries(at(later, 60), LEASE, 10).await.unwrap().is_empty());
    // Enabled again, it starts counting from 0.
    let on = s.set_destination_enabled(a, dest.id, true, "").await.unwrap();
    assert_eq!(on.consecutive_failures, 0);
}

pub async fn destination_tenancy(db: Db) {
    let s = &*db.store;
    let a = project(s, "A").await.id;
    let b = project(s, "B").await.id;
    let theirs = s.create_destination(b, config("https://b.example", &["workflow_failure"])).await.unwrap();
    assert!(s.list_destinations(a).await.unwrap().is_empty());
    assert!(matches!(s.get_destination(a, theirs.id).await, Err(Error::NotFound(_))));
    let update = s.update_destination(a, theirs.id, config("https://evil.example", &[])).await;
    assert!(matches!(update, Err(Error::NotFound(_))));
    assert!(matches!(s.set_destination_enabled(a, theirs.id, false, "x").await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_destination(a, theirs.id).await, Err(Error::NotFound(_))));
    assert!(s.list_deliveries(a, theirs.id, 10).await.unwrap().is_empty());
    assert!(matches!(s.get_destination(a, DestinationId::new()).await, Err(Error::NotFound(_))));
    assert_eq!(s.get_destination(b, theirs.id).await.unwrap().url, "https://b.example", "untouched");
    // A's failure reaches none of B's destinations.
    fail_an_execution(s, a, now()).await;
    assert!(s.list_events(a, 10).await.unwrap().is_empty());
}

/// Ended deliveries and dispatched events go once past the cutoff, a
/// pending delivery stays however old.
pub async fn the_outbox_forgets_what_it_is_done_with(db: Db) {
    let s = &*db.store;
    let t = now();
    let a = project(s, "A").await.id;
    let dest = s.create_destination(a, config("https://hooks.example", &["workflow_failure"])).await.unwrap();
    for n in 0..2 {
        let e = s.insert_event(a, "workflow_failure", Map::new()).await.unwrap();
        s.dispatch_event(&e, &json!({"n": n}), t).await.unwrap();
    }
    let claimed = s.claim_deliveries(t, LEASE, 1).await.unwrap();
    s.record_attempt(&claimed[0], AttemptOutcome::Delivered { status: 204 }, 2, t).await.unwrap();
    assert_eq!(s.purge_event_outbox(t, 100).await.unwrap(), 0, "nothing ended before the cutoff");
    assert_eq!(s.purge_event_outbox(at(t, 1), 1).await.unwrap(), 2, "one of each kind per call");
    assert_eq!(s.purge_event_outbox(at(t, 1), 100).await.unwrap(), 1, "the other event");
    assert_eq!(s.purge_event_outbox(at(t, 1), 100).await.unwrap(), 0);
    let left = s.list_deliveries(a, dest.id, 10).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].state, DeliveryState::Pending, "a pending delivery is kept");
    assert!(s.list_events(a, 10).await.unwrap().is_empty());
}
