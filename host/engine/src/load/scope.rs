//! Which step outputs a step may read: the trigger's, and those of the
//! steps that have run before it on every path to it.
//!
//! Before a step run the steps before it in its sequence, the steps before
//! each enclosing conditional or fan-out, and those enclosing steps
//! themselves. A conditional's branches count as run once it is behind
//! (a step of the branch not taken reads as missing). A fan-out's body
//! does not: its steps ran once per item, and only the body itself can
//! read them, as it alone can read the fan-out's `instance`.

use std::collections::HashMap;

use crate::definition::{Step, StepKind, Workflow};
use crate::template::{Reference, Segment};

/// Which part of a step a nested step is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Branch {
    Then,
    Else,
    Body,
}

/// Where a step is.
pub(super) struct Place<'w> {
    pub step: &'w Step,
    /// JSON Pointer of the step in the document.
    pub pointer: String,
    /// The conditionals and fan-outs around it, outermost first.
    pub containers: Vec<(&'w str, Branch)>,
}

/// How a step that can be referenced stands to the step being checked.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seen<'w> {
    /// It ran before (a conditional or fan-out around included).
    Ran(&'w Step),
    /// A fan-out around the step: its `instance` is readable.
    Around,
    /// A fan-out that ran before: nothing of it is readable.
    FannedOut,
}

/// The scope as the walk stands: what is readable, and where it is.
pub(super) struct Scope<'w> {
    places: HashMap<&'w str, Place<'w>>,
    trigger: &'w str,
    visible: Vec<(&'w str, Seen<'w>)>,
    containers: Vec<(&'w str, Branch)>,
}

impl<'w> Scope<'w> {
    pub fn new(workflow: &'w Workflow) -> Self {
        let mut places = HashMap::new();
        let mut containers = Vec::new();
        index(&workflow.steps, "/steps", &mut containers, &mut places);
        Self { places, trigger: &workflow.trigger.id, visible: Vec::new(), containers: Vec::new() }
    }

    /// Where the first step of id `id` is.
    pub fn place(&self, id: &str) -> Option<&Place<'w>> {
        self.places.get(id)
    }

    /// How many conditionals and fan-outs are around the walk.
    pub fn depth(&self) -> usize {
        self.containers.len()
    }

    /// Whether a fan-out is around the walk.
    pub fn in_fan_out(&self) -> bool {
        self.containers.iter().any(|(_, b)| *b == Branch::Body)
    }

    /// A step was passed: later steps may read it.
    pub fn ran(&mut self, step: &'w Step) {
        self.visible.push((&step.id, Seen::Ran(step)));
    }

    /// Enters a branch of `step`; returns the mark [`Scope::leave`] needs.
    pub fn enter(&mut self, step: &'w Step, branch: Branch) -> usize {
        let mark = self.visible.len();
        let seen = if branch == Branch::Body { Seen::Around } else { Seen::Ran(step) };
        self.visible.push((&step.id, seen));
        self.containers.push((&step.id, branch));
        mark
    }

    /// Leaves a branch entered at `mark`, returning the steps it made
    /// readable (a conditional's, which stay readable after it).
    pub fn leave(&mut self, mark: usize) -> Vec<(&'w str, Seen<'w>)> {
        self.containers.pop();
        let mut added: Vec<_> = self.visible.drain(mark..).collect();
        added.remove(0);
        added
    }

    /// After a conditional: both branches' steps are readable.
    pub fn keep(&mut self, added: Vec<(&'w str, Seen<'w>)>) {
        self.visible.extend(added);
    }

    /// After a fan-out: it ran, but nothing of it is readable.
    pub fn fanned_out(&mut self, step: &'w Step) {
        self.visible.push((&step.id, Seen::FannedOut));
    }

    /// Whether `step` (the step being checked) may read `reference`; the
    /// reason to show when it may not.
    pub fn check(&self, step: &str, reference: &Reference) -> Result<(), String> {
        let Reference::Output { step: target, path } = reference else { return Ok(()) };
        if target == self.trigger {
            return Ok(());
        }
        match self.visible.iter().rev().find(|(id, _)| id == target).map(|(_, seen)| *seen) {
            Some(Seen::Ran(s)) if !s.kind.has_output() => {
                Err(format!("`{target}` is a {} step, which has no output", s.kind.name()))
            }
            Some(Seen::Ran(_)) => Ok(()),
            Some(Seen::Around) => match path.first() {
                None => Ok(()),
                Some(Segment::Key(k)) if k == "instance" => Ok(()),
                Some(_) => Err(format!("a fan-out's output is its item: write `{{{{{target}.output.instance…}}}}`")),
            },
            Some(Seen::FannedOut) => {
                Err(format!("`{target}` is a fan-out: its `instance` is only readable by the steps of its `steps`"))
            }
            None => Err(self.unreachable(step, target)),
        }
    }

    /// Why `target` cannot be read from `step`.
    fn unreachable(&self, step: &str, target: &str) -> String {
        let Some(place) = self.places.get(target) else {
            return format!("there is no step `{target}` (nor is it the trigger's id, `{}`)", self.trigger);
        };
        if target == step {
            return if matches!(place.step.kind, StepKind::FanOut { .. }) {
                format!("a fan-out's `instance` is only readable inside its `steps`, not by `{step}` itself")
            } else {
                format!("`{step}` cannot read its own output")
            };
        }
        let here = &self.containers;
        if let Some((fan, _)) = place.containers.iter().find(|c| c.1 == Branch::Body && !here.contains(c)) {
            return format!("`{target}` runs inside the fan-out `{fan}`, once per item; only its `steps` can read it");
        }
        for (id, branch) in &place.containers {
            let other = match branch {
                Branch::Then => Branch::Else,
                Branch::Else => Branch::Then,
                Branch::Body => continue,
            };
            if here.contains(&(*id, other)) {
                return format!(
                    "`{target}` is in the other branch of the conditional `{id}`, so it never runs before this step"
                );
            }
        }
        format!("`{target}` runs after this step; a step can only read the steps that run before it")
    }
}

fn index<'w>(
    steps: &'w [Step],
    pointer: &str,
    containers: &mut Vec<(&'w str, Branch)>,
    places: &mut HashMap<&'w str, Place<'w>>,
) {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{pointer}/{i}");
        let nested: [(&'w [Step], &str, Branch); 2] = match &step.kind {
            StepKind::Conditional { then, otherwise, .. } => {
                [(then, "then", Branch::Then), (otherwise, "else", Branch::Else)]
            }
            StepKind::FanOut { steps, .. } => [(steps, "steps", Branch::Body), (&[], "", Branch::Body)],
            _ => [(&[], "", Branch::Body), (&[], "", Branch::Body)],
        };
        places.entry(&step.id).or_insert_with(|| Place { step, pointer: at.clone(), containers: containers.clone() });
        for (children, key, branch) in nested {
            containers.push((&step.id, branch));
            index(children, &format!("{at}/{key}"), containers, places);
            containers.pop();
        }
    }
}
