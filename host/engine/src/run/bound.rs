//! Fan-outs that run a bounded number of items at once (`maxParallel` on
//! the step, else `workflows.fan_out_parallel`; none: every item at once).
//!
//! A fan-out over `n` items with bound `b` queues the first steps of items
//! `0..b`; when item `i` ends, the same completion queues the first step of
//! item `i + b` if there is one (the store's `Join::each`). Each ending item
//! starts at most one, and item `j ≥ b` starts only once item `j - b` ended,
//! so at most `b` run at any time, in whatever order they end, and every
//! item starts. The fan-out still counts all `n` down before what follows
//! it runs. Knowing whether item `i + b` exists takes one read of the
//! fan-out's recorded items, made only for bounded fan-outs.

use super::{Engine, new_step};
use crate::plan::Plan;
use serde_json::Value;
use weft_store::{ClaimedStep, Completion};

impl Engine {
    /// The bound of fan-out `step`, if it has one.
    pub(crate) fn fan_out_bound(&self, plan: &Plan, step: &str) -> Option<u32> {
        plan.max_parallel(step).or(Some(self.deps.settings.fan_out_parallel).filter(|b| *b > 0))
    }

    /// Adds to every join `completion` makes (a fan-out instance's end, and
    /// the outer ones it may end in turn) the next item that end starts, for
    /// bounded fan-outs.
    pub(crate) async fn start_next_items(
        &self,
        plan: &Plan,
        step: &ClaimedStep,
        completion: &mut Completion,
    ) -> Result<(), String> {
        let mut level = completion.join.as_mut();
        while let Some(j) = level {
            if let Some(bound) = self.fan_out_bound(plan, &j.step) {
                // The item that ends: the component of the step's instance
                // path one level below the fan-out's own path.
                let depth = if j.instance.is_empty() { 0 } else { j.instance.split('.').count() };
                let ended: u32 = step
                    .instance
                    .split('.')
                    .nth(depth)
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| format!("instance {:?} is not inside fan-out {:?}", step.instance, j.step))?;
                if let Some(next) = ended.checked_add(bound)
                    && next < self.fan_out_items(step, &j.step, &j.instance).await?
                {
                    let first = plan.instance(&j.step, &j.instance, next).map_err(|e| e.to_string())?;
                    j.each.push(new_step(first));
                }
            }
            level = j.outer.as_deref_mut();
        }
        Ok(())
    }

    /// How many items fan-out `fan_out` (at `instance`) of `step`'s
    /// execution iterates over, as it recorded them.
    async fn fan_out_items(&self, step: &ClaimedStep, fan_out: &str, instance: &str) -> Result<u32, String> {
        let run = self
            .deps
            .store
            .find_step_run(step.project, step.execution, fan_out, instance)
            .await
            .map_err(|e| format!("the fan-out's items are unreadable: {e}"))?
            .ok_or_else(|| format!("fan-out {fan_out:?} has no record"))?;
        match run.output {
            Some(Value::Array(items)) => Ok(u32::try_from(items.len()).unwrap_or(u32::MAX)),
            _ => Err(format!("fan-out {fan_out:?} recorded no items")),
        }
    }
}
