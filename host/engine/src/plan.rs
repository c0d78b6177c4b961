//! The execution plan: where each step stands in the nested sequences,
//! and what a finished step leads to.
//!
//! Every answer is a [`Next`], and every `Next` is what one completion of
//! the queue (`weft_store::Completion`) stores along with the step's
//! outcome, so each move of an execution is one transaction:
//!
//! | `Next` | completion |
//! |---|---|
//! | `Run(steps)` | `next: steps` (a [`Queued`] is a `NewStep`; its `wait` becomes `run_after`) |
//! | `Join { fan_out, instance, then: Run(steps) }` | `join: Join { step: fan_out, instance, then: steps, finish: None }` |
//! | `Join { fan_out, instance, then: Finish }` | `join: Join { step: fan_out, instance, then: [], finish: Some(Succeeded) }` |
//! | `Join { …, then: Join { … } }` | a fan-out ending the body of another: the inner join's last instance also ends one instance of the outer fan-out (see [`Next::Join`]) |
//! | `Finish` | `execution: Some(Succeeded)` |
//!
//! A fan-out instance is named by its path: `"2"` for the third item of a
//! fan-out at the top level, `"2.0"` for the first item of a fan-out inside
//! that instance; steps outside any fan-out have the empty path. A step's
//! path has one number per fan-out around it.

use std::collections::HashMap;
use std::time::Duration;

use crate::definition::{Step, StepKind, Workflow};
use crate::{Error, Result};

/// A step to queue (the store's `NewStep`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The step's id.
    pub step: String,
    /// Its type as the task history shows it (`ACTION/REQUEST`).
    pub kind: &'static str,
    /// Its fan-out instance path.
    pub instance: String,
    /// For a Delay step, its wait: queue it to run no earlier than now plus
    /// this, so the wait is a parked row rather than a sleeping worker, and
    /// whatever follows it (a join, the end) waits too.
    pub wait: Option<Duration>,
}

/// What a finished step leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Queue these steps: the next one in the sequence, the first of a
    /// branch, or the first of each fan-out instance.
    Run(Vec<Queued>),
    /// The step ended one instance of `fan_out` (whose own path is
    /// `instance`): count it down; the last instance to end goes on with
    /// `then`. When the fan-out is itself the last step of another's body,
    /// `then` is a `Join` of that outer fan-out, to be applied in the same
    /// transaction as the inner one's last count.
    Join {
        /// The fan-out's id.
        fan_out: String,
        /// The fan-out's own instance path.
        instance: String,
        /// What follows the fan-out.
        then: Box<Next>,
    },
    /// Nothing follows: the execution succeeded.
    Finish,
}

/// Where a step's output is, as a running step reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// The step's stored output at this instance path.
    Output {
        /// The instance path of the step run to read.
        instance: String,
    },
    /// A fan-out around the reader: the item `index` of the fan-out's
    /// stored items (at `instance`), offered as `{"instance": item}`.
    Item {
        /// The fan-out's own instance path.
        instance: String,
        /// The item's index.
        index: usize,
    },
}

#[derive(Debug)]
struct Node {
    seq: usize,
    index: usize,
    /// Fan-outs around the step.
    depth: usize,
    /// The sequences nested in it: `then` and `else`, or a fan-out's body.
    nested: Nested,
}

#[derive(Debug, Clone, Copy)]
enum Nested {
    None,
    Branches { then: usize, otherwise: usize },
    Body(usize),
}

#[derive(Debug)]
struct Seq {
    steps: Vec<usize>,
    owner: Owner,
}

/// What a sequence belongs to, which says what follows its last step.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Top,
    Branch(usize),
    Body(usize),
}

/// A workflow compiled for execution. Built from a workflow that passed
/// [`crate::load`]'s checks (ids unique, steps present).
#[derive(Debug)]
pub struct Plan {
    workflow: Workflow,
    /// Per node: id, history type and a Delay step's wait.
    steps: Vec<(String, &'static str, Option<Duration>)>,
    nodes: Vec<Node>,
    seqs: Vec<Seq>,
    by_id: HashMap<String, usize>,
}

impl Plan {
    /// Compiles `workflow`.
    pub fn new(workflow: &Workflow) -> Self {
        let mut plan = Self {
            workflow: workflow.clone(),
            steps: Vec::new(),
            nodes: Vec::new(),
            seqs: Vec::new(),
            by_id: HashMap::new(),
        };
        plan.add_seq(&workflow.steps, Owner::Top, 0);
        plan
    }

    fn add_seq(&mut self, steps: &[Step], owner: Owner, depth: usize) -> usize {
        let seq = self.seqs.len();
        self.seqs.push(Seq { steps: Vec::new(), owner });
        for (index, step) in steps.iter().enumerate() {
            let node = self.nodes.len();
            self.nodes.push(Node { seq, index, depth, nested: Nested::None });
            self.steps.push((step.id.clone(), step.kind.history_type(), step.delay()));
            self.by_id.entry(step.id.clone()).or_insert(node);
            self.seqs[seq].steps.push(node);
            self.nodes[node].nested = match &step.kind {
                StepKind::Conditional { then, otherwise, .. } => Nested::Branches {
                    then: self.add_seq(then, Owner::Branch(node), depth),
                    otherwise: self.add_seq(otherwise, Owner::Branch(node), depth),
                },
                StepKind::FanOut { steps, .. } => Nested::Body(self.add_seq(steps, Owner::Body(node), depth + 1)),
                _ => Nested::None,
            };
        }
        seq
    }

    /// The workflow compiled.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// The definition of step `id`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.workflow.step(id)
    }

    /// What the trigger leads to: the first step (`Finish` only for a
    /// workflow without steps, which `load` refuses).
    pub fn first(&self) -> Next {
        match self.seqs[0].steps.first() {
            Some(&first) => Next::Run(vec![self.queued(first, String::new())]),
            None => Next::Finish,
        }
    }

    /// What follows step `step` of instance `instance` once it succeeded
    /// (or failed with `continueWorkflowOnError`). For a conditional or a
    /// fan-out, [`Plan::branch`] and [`Plan::instances`] say what runs
    /// first; this is what follows them once they are done.
    pub fn after(&self, step: &str, instance: &str) -> Result<Next> {
        let node = self.node(step, instance)?;
        Ok(self.go_on(node, instance))
    }

    /// What a conditional leads to: the first step of the branch chosen,
    /// or, when that branch is empty, what follows the conditional.
    pub fn branch(&self, step: &str, instance: &str, yes: bool) -> Result<Next> {
        let node = self.node(step, instance)?;
        let Nested::Branches { then, otherwise } = self.nodes[node].nested else {
            return Err(Error::WrongKind { step: step.into(), expected: "conditional" });
        };
        let seq = if yes { then } else { otherwise };
        Ok(match self.seqs[seq].steps.first() {
            Some(&first) => Next::Run(vec![self.queued(first, instance.to_owned())]),
            None => self.go_on(node, instance),
        })
    }

    /// What a fan-out over `n` items leads to: the first step of its body
    /// for each of the first `started` items (at least one; the others
    /// start as these end, see [`Plan::instance`]), each with its instance
    /// path (`"i"` at the top level, `"<instance>.i"` inside another
    /// fan-out); with no item, what follows the fan-out.
    pub fn instances(&self, step: &str, instance: &str, n: u32, started: u32) -> Result<Next> {
        let node = self.node(step, instance)?;
        let Nested::Body(body) = self.nodes[node].nested else {
            return Err(Error::WrongKind { step: step.into(), expected: "fan-out" });
        };
        let Some(&first) = self.seqs[body].steps.first() else { return Ok(self.go_on(node, instance)) };
        Ok(if n == 0 {
            self.go_on(node, instance)
        } else {
            Next::Run((0..n.min(started.max(1))).map(|i| self.queued(first, child(instance, i))).collect())
        })
    }

    /// The first step of item `i` of fan-out `step` (at `instance`): what
    /// starts a later item of a fan-out that runs a bounded number at once.
    pub fn instance(&self, step: &str, instance: &str, i: u32) -> Result<Queued> {
        let node = self.node(step, instance)?;
        let Nested::Body(body) = self.nodes[node].nested else {
            return Err(Error::WrongKind { step: step.into(), expected: "fan-out" });
        };
        let first = *self.seqs[body].steps.first().ok_or_else(|| Error::UnknownStep(format!("{step}.steps[0]")))?;
        Ok(self.queued(first, child(instance, i)))
    }

    /// The most items of fan-out `step` whose body runs at once, as its
    /// definition says (`maxParallel`); `None` leaves it to the engine.
    pub fn max_parallel(&self, step: &str) -> Option<u32> {
        match self.step(step).map(|s| &s.kind) {
            Some(StepKind::FanOut { max_parallel, .. }) => *max_parallel,
            _ => None,
        }
    }

    /// Where the output of `target` is, as read by step `reader` running
    /// at `instance`. `target` is one the reader may read (checked by
    /// `load`): the trigger, a step at the same or an outer fan-out level,
    /// or a fan-out around the reader.
    pub fn locate(&self, reader: &str, instance: &str, target: &str) -> Result<Located> {
        self.node(reader, instance)?;
        // The trigger's output is the execution's, outside every fan-out.
        if target == self.workflow.trigger.id {
            return Ok(Located::Output { instance: String::new() });
        }
        let t = self.by_id.get(target).copied().ok_or_else(|| Error::UnknownStep(target.into()))?;
        let depth = self.nodes[t].depth;
        let prefix: Vec<&str> = if instance.is_empty() { Vec::new() } else { instance.split('.').collect() };
        let own = prefix
            .get(..depth)
            .ok_or_else(|| Error::Instance { step: target.into(), instance: instance.into() })?
            .join(".");
        if matches!(self.nodes[t].nested, Nested::Body(_)) && self.encloses(t, reader) {
            let index = prefix[depth]
                .parse()
                .map_err(|_| Error::Instance { step: reader.into(), instance: instance.into() })?;
            return Ok(Located::Item { instance: own, index });
        }
        Ok(Located::Output { instance: own })
    }

    /// Whether `reader` is inside the body of the fan-out node `fan`.
    fn encloses(&self, fan: usize, reader: &str) -> bool {
        let mut seq = self.by_id.get(reader).map(|&n| self.nodes[n].seq);
        while let Some(s) = seq {
            match self.seqs[s].owner {
                Owner::Top => return false,
                Owner::Body(n) if n == fan => return true,
                Owner::Body(n) | Owner::Branch(n) => seq = Some(self.nodes[n].seq),
            }
        }
        false
    }

    /// The node of `step`, with `instance` checked against its nesting.
    fn node(&self, step: &str, instance: &str) -> Result<usize> {
        let node = self.by_id.get(step).copied().ok_or_else(|| Error::UnknownStep(step.into()))?;
        let parts: Vec<&str> = if instance.is_empty() { Vec::new() } else { instance.split('.').collect() };
        let numbers = parts.iter().all(|p| p.parse::<u32>().is_ok_and(|n| n.to_string() == *p));
        if parts.len() != self.nodes[node].depth || !numbers {
            return Err(Error::Instance { step: step.into(), instance: instance.into() });
        }
        Ok(node)
    }

    /// What follows `node` (at `instance`) in its sequence, or after the
    /// sequence ends.
    fn go_on(&self, node: usize, instance: &str) -> Next {
        let Node { seq, index, .. } = self.nodes[node];
        if let Some(&next) = self.seqs[seq].steps.get(index + 1) {
            return Next::Run(vec![self.queued(next, instance.to_owned())]);
        }
        match self.seqs[seq].owner {
            Owner::Top => Next::Finish,
            Owner::Branch(conditional) => self.go_on(conditional, instance),
            Owner::Body(fan) => {
                let outer = parent(instance);
                Next::Join {
                    fan_out: self.steps[fan].0.clone(),
                    instance: outer.to_owned(),
                    then: Box::new(self.go_on(fan, outer)),
                }
            }
        }
    }

    fn queued(&self, node: usize, instance: String) -> Queued {
        let (step, kind, wait) = &self.steps[node];
        Queued { step: step.clone(), kind, instance, wait: *wait }
    }
}

/// The path of item `i` inside `instance`.
fn child(instance: &str, i: u32) -> String {
    if instance.is_empty() { i.to_string() } else { format!("{instance}.{i}") }
}

/// The instance path one fan-out out.
fn parent(instance: &str) -> &str {
    instance.rsplit_once('.').map_or("", |(outer, _)| outer)
}

#[cfg(test)]
mod tests;
