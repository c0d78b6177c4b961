//! The harness's one line of counts, and the figures derived from the
//! faults and the provider's calls.

use super::check::{Accepted, Counts};
use super::cluster::Deployment;
use super::faults::Fault;
use super::provider::Call;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The warning a worker logs when the fence refuses its completion.
pub(super) const STALE_COMPLETION: &str = "a step's lease was lost before it completed";
/// What a process logs when it takes the scheduler's lead.
pub(super) const TAKEOVER: &str = "this process now runs the scheduler";
/// The warning a worker logs when the fence refuses its heartbeat.
const STALE_HEARTBEAT: &str = "a step's lease could not be renewed";

/// What a run did and what the checks counted.
pub(super) struct Summary<'a> {
    pub(super) backend: &'a str,
    pub(super) seed: u64,
    pub(super) processes: usize,
    pub(super) deployment: &'a Deployment,
    pub(super) faults: &'a [Fault],
    pub(super) accepted: &'a [Accepted],
    /// Events a fault cut before they were answered.
    pub(super) cut: usize,
    pub(super) counts: &'a Counts,
    pub(super) calls: &'a [Call],
    /// Injecting the faults, settling, the whole run.
    pub(super) times: [Duration; 3],
}

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (d, c) = (self.deployment, self.counts);
        let starts = sorted(d.start_times().iter().map(|t| t.as_millis() as u64));
        let answered = sorted(self.accepted.iter().map(|a| a.answered_in.as_millis() as u64));
        let recovery = recovery_ms(self.faults, self.calls);
        let kills = self.faults.iter().filter(|f| !f.freeze).count();
        write!(f, "crash harness [{}] seed={}: ", self.backend, self.seed)?;
        write!(f, "processes={} starts={} (to listening {}) | ", self.processes, d.starts(), p50_p99(&starts))?;
        write!(f, "faults={} (kills={kills} freezes={} ", self.faults.len(), self.faults.len() - kills)?;
        let landed = self.faults.iter().filter(|f| !f.in_flight.is_empty()).count();
        write!(f, "with a provider call in flight={landed}) | ")?;
        write!(f, "events accepted={} (answered {}) ", self.accepted.len(), p50_p99(&answered))?;
        write!(f, "cut by a fault={} | executions stored={} succeeded={} ", self.cut, c.stored, c.succeeded)?;
        write!(f, "step rows={} | provider calls={} duplicates={} ", c.step_rows, c.calls, c.duplicate_calls)?;
        write!(f, "(re-runs of a call a fault cut={}, ", interrupted_reruns(self.faults, self.calls))?;
        write!(
            f,
            "steps called more than once={}, most calls of one step={}) | ",
            c.keys_called_twice, c.max_calls_per_key
        )?;
        write!(f, "restarts={} (most of one step={}) retried steps={} | ", c.restarts, c.max_restarts, c.retried)?;
        write!(f, "scheduler: leads taken={} firings={} ", d.logged(TAKEOVER), c.firings)?;
        write!(f, "over {} s | ", c.firing_span)?;
        write!(f, "fenced: stale completions={} ", d.logged(STALE_COMPLETION))?;
        write!(f, "heartbeats={} | ", d.logged(STALE_HEARTBEAT))?;
        write!(f, "recovery fault->re-run {} (n={}) | ", p50_p99(&recovery), recovery.len())?;
        let [faulting, settling, total] = self.times.map(|t| t.as_secs_f64());
        write!(f, "time: faults {faulting:.1}s settle {settling:.1}s total {total:.1}s")
    }
}

fn sorted(values: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut values: Vec<u64> = values.collect();
    values.sort_unstable();
    values
}

/// `p50=…ms p99=…ms` of sorted `samples`.
fn p50_p99(samples: &[u64]) -> String {
    format!("p50={}ms p99={}ms", percentile(samples, 50), percentile(samples, 99))
}

/// For each step a fault interrupted (a call of the victim in flight), the
/// time from the fault to the next call for that step, in milliseconds.
fn recovery_ms(faults: &[Fault], calls: &[Call]) -> Vec<u64> {
    let mut samples = Vec::new();
    for f in faults {
        for key in &f.in_flight {
            let next = calls.iter().find(|c| &c.key == key && c.start > f.at);
            if let Some(c) = next {
                samples.push((c.start - f.at).as_millis() as u64);
            }
        }
    }
    sorted(samples.into_iter())
}

/// The duplicate calls that re-run a call a fault cut before its answer
/// (the victim had the previous call of the step in flight when it was
/// hit). The others re-run steps hit between their answer and their
/// completion, or claimed and lost while their process was frozen.
fn interrupted_reruns(faults: &[Fault], calls: &[Call]) -> usize {
    let mut hit: HashMap<&str, Vec<Instant>> = HashMap::new();
    for f in faults {
        for key in &f.in_flight {
            hit.entry(key.as_str()).or_default().push(f.at);
        }
    }
    let mut previous: HashMap<&str, Instant> = HashMap::new();
    let mut reruns = 0;
    for c in calls {
        if let Some(before) = previous.insert(c.key.as_str(), c.start) {
            let times = hit.get(c.key.as_str()).map(Vec::as_slice).unwrap_or_default();
            reruns += usize::from(times.iter().any(|t| *t > before && *t < c.start));
        }
    }
    reruns
}

/// The `p`th percentile of sorted `samples` (0 when there are none).
fn percentile(samples: &[u64], p: usize) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples[((samples.len() - 1) * p) / 100]
}
