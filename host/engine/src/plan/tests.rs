use super::*;
use crate::load::{Format, parse};
use proptest::prelude::*;
use std::collections::VecDeque;

/// Conditionals inside fan-outs and fan-outs inside conditionals:
///
/// ```text
/// s1 (delay 1 min)
/// cond1 ─ then: t1, t2 ─ else: (empty)
/// fan1 ─ body: f1
///             cond2 ─ then: fan2 ─ body: g1
///                   ─ else: e1
/// last
/// ```
const NESTED: &str = r#"
name: Nested
trigger: {type: appEvent, event: E}
steps:
  - {id: s1, type: delay, value: 1}
  - id: cond1
    type: conditional
    if: {left: true, operator: isTrue}
    then:
      - {id: t1, type: delay, value: 1, unit: SECONDS}
      - {id: t2, type: delay, value: 1, unit: SECONDS}
  - id: fan1
    type: fanOut
    iterator: [1, 2, 3]
    steps:
      - {id: f1, type: delay, value: 1, unit: SECONDS}
      - id: cond2
        type: conditional
        if: {left: "{{fan1.output.instance}}", operator: numberGreaterThan, right: 1}
        then:
          - id: fan2
            type: fanOut
            iterator: [a, b]
            steps:
              - {id: g1, type: delay, value: 1, unit: SECONDS}
        else:
          - {id: e1, type: delay, value: 1, unit: SECONDS}
  - {id: last, type: delay, value: 2, unit: HOURS}
"#;

fn plan(yaml: &str) -> Plan {
    Plan::new(&parse(yaml, Format::Yaml, "plan.yaml").unwrap())
}

/// `step` at `instance` as the plan should queue it: its history type and
/// wait as the definition gives them.
fn q(p: &Plan, step: &str, instance: &str) -> Queued {
    let s = p.step(step).unwrap();
    Queued { step: step.into(), kind: s.kind.history_type(), instance: instance.into(), wait: s.delay() }
}

fn run(p: &Plan, steps: &[(&str, &str)]) -> Next {
    Next::Run(steps.iter().map(|(s, i)| q(p, s, i)).collect())
}

fn join(fan_out: &str, instance: &str, then: Next) -> Next {
    Next::Join { fan_out: fan_out.into(), instance: instance.into(), then: Box::new(then) }
}

#[test]
fn the_top_level_runs_in_order_and_finishes() {
    let p = plan(NESTED);
    let s1 = Queued {
        step: "s1".into(),
        kind: "ACTION/DELAY",
        instance: String::new(),
        wait: Some(Duration::from_secs(60)),
    };
    assert_eq!(p.first(), Next::Run(vec![s1]));
    let cond1 = Queued { step: "cond1".into(), kind: "ACTION/CONDITIONAL", instance: String::new(), wait: None };
    assert_eq!(p.after("s1", "").unwrap(), Next::Run(vec![cond1]));
    let last = Queued {
        step: "last".into(),
        kind: "ACTION/DELAY",
        instance: String::new(),
        wait: Some(Duration::from_secs(7200)),
    };
    assert_eq!(p.after("fan1", "").unwrap(), Next::Run(vec![last]));
    assert_eq!(p.after("last", "").unwrap(), Next::Finish);
}

#[test]
fn a_branch_starts_at_its_first_step_and_rejoins_after_the_conditional() {
    let p = plan(NESTED);
    assert_eq!(p.branch("cond1", "", true).unwrap(), run(&p, &[("t1", "")]));
    assert_eq!(p.after("t1", "").unwrap(), run(&p, &[("t2", "")]));
    let fan1 = run(&p, &[("fan1", "")]);
    assert_eq!(p.after("t2", "").unwrap(), fan1);
    // The empty `else` goes straight on.
    assert_eq!(p.branch("cond1", "", false).unwrap(), fan1);
}

#[test]
fn a_fan_out_starts_each_instance_and_joins_at_the_end_of_its_body() {
    let p = plan(NESTED);
    assert_eq!(p.instances("fan1", "", 3, u32::MAX).unwrap(), run(&p, &[("f1", "0"), ("f1", "1"), ("f1", "2")]));
    assert_eq!(p.instances("fan1", "", 0, u32::MAX).unwrap(), run(&p, &[("last", "")]));
    let cond2 = run(&p, &[("cond2", "1")]);
    assert_eq!(p.after("f1", "1").unwrap(), cond2);
    // A conditional inside a fan-out: its branches end the instance.
    assert_eq!(p.branch("cond2", "1", false).unwrap(), run(&p, &[("e1", "1")]));
    assert_eq!(p.after("e1", "1").unwrap(), join("fan1", "", run(&p, &[("last", "")])));
    assert_eq!(p.after("cond2", "2").unwrap(), join("fan1", "", run(&p, &[("last", "")])));
}

#[test]
fn a_bounded_fan_out_starts_its_first_items_and_one_more_at_a_time() {
    let p = plan(NESTED);
    assert_eq!(p.instances("fan1", "", 5, 2).unwrap(), run(&p, &[("f1", "0"), ("f1", "1")]));
    // A bound of 0 still starts one; more than the items starts them all.
    assert_eq!(p.instances("fan1", "", 5, 0).unwrap(), run(&p, &[("f1", "0")]));
    assert_eq!(p.instances("fan1", "", 2, 9).unwrap(), run(&p, &[("f1", "0"), ("f1", "1")]));
    assert_eq!(p.instance("fan1", "", 2).unwrap(), q(&p, "f1", "2"));
    assert_eq!(p.instance("fan2", "1", 3).unwrap(), q(&p, "g1", "1.3"));
    assert!(matches!(p.instance("cond1", "", 0), Err(Error::WrongKind { .. })));
    assert_eq!(p.max_parallel("fan1"), None);
}

#[test]
fn a_fan_out_in_a_conditional_in_a_fan_out_nests_instances_and_joins() {
    let p = plan(NESTED);
    let fan2 = run(&p, &[("fan2", "1")]);
    assert_eq!(p.branch("cond2", "1", true).unwrap(), fan2);
    assert_eq!(p.instances("fan2", "1", 2, u32::MAX).unwrap(), run(&p, &[("g1", "1.0"), ("g1", "1.1")]));
    // The inner body's end joins the inner fan-out, whose end joins the
    // outer one's instance.
    assert_eq!(p.after("g1", "1.1").unwrap(), join("fan2", "1", join("fan1", "", run(&p, &[("last", "")]))));
    // An inner fan-out over nothing ends the outer instance at once.
    assert_eq!(p.instances("fan2", "1", 0, u32::MAX).unwrap(), join("fan1", "", run(&p, &[("last", "")])));
}

#[test]
fn endings_reach_the_end_of_the_workflow() {
    let p = plan(
        r#"
name: Ends
trigger: {type: appEvent, event: E}
steps:
  - id: c0
    type: conditional
    if: {left: true, operator: isTrue}
    then:
      - id: fx
        type: fanOut
        iterator: [1]
        steps:
          - id: cy
            type: conditional
            if: {left: true, operator: isTrue}
            then: [{id: y1, type: delay, value: 1, unit: SECONDS}]
"#,
    );
    assert_eq!(p.after("y1", "4").unwrap(), join("fx", "", Next::Finish));
    assert_eq!(p.branch("cy", "4", false).unwrap(), join("fx", "", Next::Finish));
    assert_eq!(p.branch("c0", "", false).unwrap(), Next::Finish);
    assert_eq!(p.instances("fx", "", 0, u32::MAX).unwrap(), Next::Finish);
}

#[test]
fn outputs_are_located_from_the_reader_s_instance() {
    let p = plan(NESTED);
    let out = |i: &str| Located::Output { instance: i.into() };
    assert_eq!(p.locate("g1", "1.0", "s1").unwrap(), out(""));
    assert_eq!(p.locate("g1", "1.0", "f1").unwrap(), out("1"));
    assert_eq!(p.locate("g1", "1.0", "cond2").unwrap(), out("1"));
    assert_eq!(p.locate("g1", "1.0", "trigger").unwrap(), out(""), "the trigger is outside every fan-out");
    assert_eq!(p.locate("g1", "1.0", "fan1").unwrap(), Located::Item { instance: String::new(), index: 1 });
    assert_eq!(p.locate("g1", "1.0", "fan2").unwrap(), Located::Item { instance: "1".into(), index: 0 });
    assert_eq!(p.locate("last", "", "s1").unwrap(), out(""));
    assert!(matches!(p.locate("g1", "1", "s1"), Err(Error::Instance { .. })));
    assert!(matches!(p.locate("last", "", "nope"), Err(Error::UnknownStep(_))));
}

#[test]
fn questions_that_do_not_fit_the_workflow_are_errors() {
    let p = plan(NESTED);
    assert!(matches!(p.after("nope", ""), Err(Error::UnknownStep(s)) if s == "nope"));
    for (step, instance) in [("g1", "1"), ("g1", "01.0"), ("g1", "1.x"), ("s1", "0"), ("f1", ""), ("f1", "1.")] {
        assert!(matches!(p.after(step, instance), Err(Error::Instance { .. })), "{step} at {instance:?}");
    }
    assert!(matches!(p.branch("s1", "", true), Err(Error::WrongKind { expected: "conditional", .. })));
    assert!(matches!(p.instances("cond1", "", 2, u32::MAX), Err(Error::WrongKind { expected: "fan-out", .. })));
    assert_eq!(p.step("g1").map(|s| s.id.as_str()), Some("g1"));
    assert_eq!(p.workflow().name, "Nested");
}

/// A step tree for the property test: leaves, conditionals, fan-outs.
#[derive(Debug, Clone)]
enum Shape {
    Leaf,
    Cond(Vec<Shape>, Vec<Shape>),
    Fan(Vec<Shape>),
}

fn shapes() -> impl Strategy<Value = Vec<Shape>> {
    let node = Just(Shape::Leaf).prop_recursive(5, 40, 3, |inner| {
        prop_oneof![
            Just(Shape::Leaf),
            (prop::collection::vec(inner.clone(), 0..3), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(a, b)| Shape::Cond(a, b)),
            prop::collection::vec(inner, 1..3).prop_map(Shape::Fan),
        ]
    });
    prop::collection::vec(node, 1..4)
}

fn to_json(shapes: &[Shape], next: &mut usize) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = shapes
        .iter()
        .map(|s| {
            *next += 1;
            let id = format!("s{next}");
            match s {
                Shape::Leaf => serde_json::json!({"id": id, "type": "delay", "value": 1}),
                Shape::Cond(a, b) => serde_json::json!({
                    "id": id, "type": "conditional", "if": {"left": true, "operator": "isTrue"},
                    "then": to_json(a, next), "else": to_json(b, next)
                }),
                Shape::Fan(body) => {
                    serde_json::json!({"id": id, "type": "fanOut", "iterator": [], "steps": to_json(body, next)})
                }
            }
        })
        .collect();
    serde_json::Value::Array(steps)
}

/// A choice that both interpreters make the same way.
fn pick(seed: u64, step: &str, instance: &str, salt: u8) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (seed, step, instance, salt).hash(&mut h);
    h.finish()
}

/// Runs the definition directly, recursively: what should run.
fn interpret(steps: &[Step], instance: &str, seed: u64, log: &mut Vec<(String, String)>) {
    for step in steps {
        log.push((step.id.clone(), instance.to_owned()));
        match &step.kind {
            StepKind::Conditional { then, otherwise, .. } => {
                let yes = pick(seed, &step.id, instance, 0).is_multiple_of(2);
                interpret(if yes { then } else { otherwise }, instance, seed, log);
            }
            StepKind::FanOut { steps, .. } => {
                for i in 0..(pick(seed, &step.id, instance, 1) % 4) as u32 {
                    interpret(steps, &child(instance, i), seed, log);
                }
            }
            _ => {}
        }
    }
}

/// Runs the plan the way the queue would: a queue of rows, a pending
/// count per waiting fan-out, one completion per step.
fn simulate(p: &Plan, seed: u64) -> (Vec<(String, String)>, u32) {
    fn apply(next: Next, queue: &mut VecDeque<Queued>, pending: &mut HashMap<(String, String), u32>, done: &mut u32) {
        match next {
            Next::Run(steps) => queue.extend(steps),
            Next::Join { fan_out, instance, then } => {
                let left = pending.get_mut(&(fan_out.clone(), instance.clone())).expect("a fan-out waits");
                *left -= 1;
                if *left == 0 {
                    pending.remove(&(fan_out, instance));
                    apply(*then, queue, pending, done);
                }
            }
            Next::Finish => *done += 1,
        }
    }
    let (mut queue, mut pending, mut done, mut log) = (VecDeque::new(), HashMap::new(), 0, Vec::new());
    apply(p.first(), &mut queue, &mut pending, &mut done);
    // Take rows from either end so instances interleave.
    let mut turn = seed;
    while let Some(Queued { step, instance, .. }) =
        if turn.is_multiple_of(2) { queue.pop_front() } else { queue.pop_back() }
    {
        turn = turn.rotate_left(1);
        log.push((step.clone(), instance.clone()));
        let next = match &p.step(&step).unwrap().kind {
            StepKind::Conditional { .. } => {
                p.branch(&step, &instance, pick(seed, &step, &instance, 0).is_multiple_of(2))
            }
            StepKind::FanOut { .. } => {
                let n = (pick(seed, &step, &instance, 1) % 4) as u32;
                if n > 0 {
                    pending.insert((step.clone(), instance.clone()), n);
                }
                p.instances(&step, &instance, n, u32::MAX)
            }
            _ => p.after(&step, &instance),
        };
        apply(next.unwrap(), &mut queue, &mut pending, &mut done);
    }
    assert!(pending.is_empty(), "fan-outs still waiting: {pending:?}");
    (log, done)
}

proptest! {
    #[test]
    fn the_plan_runs_what_the_definition_says(shapes in shapes(), seed in any::<u64>()) {
        let steps = to_json(&shapes, &mut 0);
        let document = serde_json::json!({"name": "P", "trigger": {"type": "appEvent", "event": "E"}, "steps": steps});
        let workflow = crate::load::from_value(document, "generated").unwrap();
        let p = Plan::new(&workflow);
        let (mut ran, finished) = simulate(&p, seed);
        let mut expected = Vec::new();
        interpret(&workflow.steps, "", seed, &mut expected);
        prop_assert_eq!(finished, 1);
        ran.sort();
        expected.sort();
        prop_assert_eq!(ran, expected);
    }
}
