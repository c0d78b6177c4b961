//! Unit tests of the queue's pure parts.

use super::*;

#[test]
fn statuses_round_trip() {
    for s in [ExecutionStatus::Executing, ExecutionStatus::Delayed, ExecutionStatus::Succeeded, ExecutionStatus::Failed]
    {
        assert_eq!(s.as_str().parse::<ExecutionStatus>().unwrap(), s);
    }
    for s in [
        StepState::Queued,
        StepState::Running,
        StepState::Waiting,
        StepState::Succeeded,
        StepState::Failed,
        StepState::Cancelled,
    ] {
        assert_eq!(s.as_str().parse::<StepState>().unwrap(), s);
    }
    assert!("DONE".parse::<ExecutionStatus>().is_err());
}

#[test]
fn idempotency_keys_name_the_step_and_instance() {
    let e = ExecutionId::new();
    assert_eq!(idempotency_key(e, "s1", ""), format!("{e}:s1"));
    assert_ne!(idempotency_key(e, "s1", "0"), idempotency_key(e, "s1", "1"));
    assert_ne!(idempotency_key(e, "s1", ""), idempotency_key(ExecutionId::new(), "s1", ""));
}

#[test]
fn nul_characters_are_replaced_everywhere() {
    let mut v = serde_json::json!({"a\0": ["x\0y", {"k": "\0"}], "n": 1});
    storable(&mut v);
    assert_eq!(v, serde_json::json!({"a\u{FFFD}": ["x\u{FFFD}y", {"k": "\u{FFFD}"}], "n": 1}));
}

#[test]
fn a_fan_out_with_instances_must_queue_them() {
    let c = Completion {
        project: ProjectId::new(),
        id: StepRunId::new(),
        token: Uuid::new_v4(),
        outcome: Outcome::FannedOut { input: Value::Null, output: Value::Null, instances: 2 },
        next: vec![],
        join: None,
        execution: None,
        response: None,
        tasks: 0,
        follow: None,
    };
    assert!(matches!(check_completion(&c), Err(Error::Invalid(_))));
}

#[test]
fn only_a_lone_successor_due_now_is_followed() {
    let now = OffsetDateTime::now_utc();
    let lease = Lease { token: Uuid::new_v4(), until: now, deadline: now };
    let c = Completion {
        project: ProjectId::new(),
        id: StepRunId::new(),
        token: Uuid::new_v4(),
        outcome: Outcome::Succeeded { input: Value::Null, output: Value::Null },
        next: vec![NewStep::new("b", "FUNCTION")],
        join: None,
        execution: None,
        response: None,
        tasks: 1,
        follow: Some(Follow { id: StepRunId::new(), lease }),
    };
    assert!(check_completion(&c).is_ok());
    let two = Completion { next: vec![NewStep::new("b", "FUNCTION"), NewStep::new("c", "FUNCTION")], ..c.clone() };
    let later = Completion { next: vec![NewStep::new("b", "DELAY").after(now)], ..c.clone() };
    let ending = Completion { execution: Some(ExecutionStatus::Succeeded), ..c.clone() };
    let failed = Completion { outcome: Outcome::Failed { input: Value::Null, error: Value::Null }, ..c.clone() };
    for refused in [two, later, ending, failed, Completion { next: vec![], ..c }] {
        assert!(matches!(check_completion(&refused), Err(Error::Invalid(_))), "{refused:?}");
    }
}
