//! The fault loop: SIGKILL a process (and start a new one in its place) or
//! freeze it with SIGSTOP for longer than a lease (and thaw it with
//! SIGCONT), one fault at a time at short random intervals, preferring a
//! process that has a provider call in flight so the fault lands mid-step.
//! Faults overlap: a process is frozen or restarting while the next fault
//! hits another.

use super::cluster::{Deployment, Process};
use super::provider::StepProvider;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// A small seeded generator (SplitMix64): a run is replayed from its seed.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Milliseconds in `range`.
    pub(super) fn millis(&mut self, range: (u64, u64)) -> Duration {
        Duration::from_millis(self.between(range.0, range.1))
    }
}

/// What the fault loop does.
pub(super) struct FaultPlan {
    /// Kills (each followed by a new process in the victim's place).
    pub(super) kills: u32,
    /// Freezes, in a random order among the kills.
    pub(super) freezes: u32,
    /// How long a freeze lasts, milliseconds (longer than a lease).
    pub(super) freeze_ms: (u64, u64),
    /// The pause between two faults, milliseconds.
    pub(super) gap_ms: (u64, u64),
    /// How long to wait for a process with a call in flight before
    /// hitting any process.
    pub(super) wait_for_busy: Duration,
    /// How long a process is up (started or thawed) before it may be hit
    /// again: time to take events and run steps.
    pub(super) min_up: Duration,
}

impl FaultPlan {
    /// Kills and freezes.
    pub(super) fn faults(&self) -> u32 {
        self.kills + self.freezes
    }
}

/// One injected fault.
#[derive(Debug, Clone)]
pub(super) struct Fault {
    pub(super) at: Instant,
    pub(super) freeze: bool,
    /// The idempotency keys of the provider calls the victim had in flight.
    pub(super) in_flight: Vec<String>,
}

enum Slot {
    /// Up since then.
    Up(Process, Instant),
    Frozen(Process, Instant),
    Starting(JoinHandle<Process>),
    Empty,
}

/// The processes, each up, frozen or starting; the base URLs of those up
/// are shared with whoever sends events.
pub(super) struct Fleet {
    deployment: Arc<Deployment>,
    slots: Vec<Slot>,
    /// Base URLs of the processes that are up (`None` for the others).
    pub(super) targets: Arc<Mutex<Vec<Option<String>>>>,
}

impl Fleet {
    /// Starts `n` processes.
    pub(super) async fn start(deployment: Arc<Deployment>, n: usize) -> Self {
        let mut fleet = Self { deployment, slots: Vec::new(), targets: Arc::new(Mutex::new(vec![None; n])) };
        for _ in 0..n {
            let p = fleet.deployment.start().await;
            fleet.slots.push(Slot::Up(p, Instant::now()));
        }
        fleet.publish();
        fleet
    }

    /// The base URL of a process that is up.
    pub(super) fn any_base(&self) -> String {
        self.targets.lock().unwrap().iter().flatten().next().cloned().expect("a process up")
    }

    fn publish(&self) {
        let bases = self.slots.iter().map(|s| if let Slot::Up(p, _) = s { Some(p.base.clone()) } else { None });
        *self.targets.lock().unwrap() = bases.collect();
    }

    /// The pids of the processes alive (up or frozen).
    fn pids(&self) -> Vec<u32> {
        let pid = |s: &Slot| match s {
            Slot::Up(p, _) | Slot::Frozen(p, _) => Some(p.pid),
            _ => None,
        };
        self.slots.iter().filter_map(pid).collect()
    }

    /// Thaws the frozen processes whose time has come (all of them with
    /// `all`) and takes in those that finished starting.
    async fn tick(&mut self, all: bool) {
        let now = Instant::now();
        let mut changed = false;
        for slot in &mut self.slots {
            let due = match slot {
                Slot::Frozen(_, until) => all || *until <= now,
                Slot::Starting(handle) => all || handle.is_finished(),
                _ => false,
            };
            if !due {
                continue;
            }
            *slot = match std::mem::replace(slot, Slot::Empty) {
                Slot::Frozen(p, _) => {
                    p.thaw();
                    Slot::Up(p, Instant::now())
                }
                Slot::Starting(handle) => Slot::Up(handle.await.expect("a restarted process"), Instant::now()),
                other => other,
            };
            changed = true;
        }
        if changed {
            self.publish();
        }
    }

    /// Brings every process back up (thawed, restarted).
    pub(super) async fn settle(&mut self) {
        self.tick(true).await;
    }

    /// Kills every process (the end of the run).
    pub(super) async fn stop(&mut self) {
        self.settle().await;
        for slot in std::mem::take(&mut self.slots) {
            if let Slot::Up(p, _) = slot {
                p.kill().await;
            }
        }
        self.publish();
    }

    /// Runs `plan`, counting faults into `done` as it goes; the faults.
    pub(super) async fn inject(
        &mut self,
        plan: &FaultPlan,
        provider: &StepProvider,
        rng: &mut Rng,
        done: &AtomicU32,
    ) -> Vec<Fault> {
        let mut faults = Vec::new();
        let mut next = Instant::now() + rng.millis(plan.gap_ms);
        // Since when a process could be hit (the wait for a busy one).
        let mut eligible: Option<Instant> = None;
        let total = plan.kills + plan.freezes;
        let mut freezes_left = plan.freezes;
        while faults.len() < total as usize {
            self.tick(false).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            if Instant::now() < next {
                continue;
            }
            let ready = |s: &Slot| matches!(s, Slot::Up(_, since) if since.elapsed() >= plan.min_up);
            let up: Vec<usize> = (0..self.slots.len()).filter(|&i| ready(&self.slots[i])).collect();
            if up.is_empty() {
                continue;
            }
            let since = *eligible.get_or_insert_with(Instant::now);
            let in_flight = provider.in_flight(&self.pids());
            let busy: Vec<usize> = up.iter().copied().filter(|&i| in_flight.contains_key(&self.pid(i))).collect();
            if busy.is_empty() && since.elapsed() < plan.wait_for_busy {
                continue;
            }
            eligible = None;
            let pool = if busy.is_empty() { &up } else { &busy };
            let victim = pool[rng.between(0, pool.len() as u64 - 1) as usize];
            let keys = in_flight.get(&self.pid(victim)).cloned().unwrap_or_default();
            let left = u64::from(total) - faults.len() as u64;
            let freeze = rng.between(1, left) <= u64::from(freezes_left);
            freezes_left -= u32::from(freeze);
            let freeze_for = freeze.then(|| rng.millis(plan.freeze_ms));
            let at = self.hit(victim, freeze_for).await;
            faults.push(Fault { at, freeze, in_flight: keys });
            done.fetch_add(1, Ordering::Relaxed);
            next = Instant::now() + rng.millis(plan.gap_ms);
        }
        faults
    }

    /// Freezes the process of `slot` for `freeze_for`, or kills it (and
    /// starts a new one in its place) without; when it was hit.
    async fn hit(&mut self, slot: usize, freeze_for: Option<Duration>) -> Instant {
        let Slot::Up(p, _) = std::mem::replace(&mut self.slots[slot], Slot::Empty) else {
            unreachable!("only a process that is up is hit")
        };
        // No new event goes to the victim from now on.
        self.publish();
        let at = Instant::now();
        self.slots[slot] = match freeze_for {
            Some(d) => {
                p.freeze();
                Slot::Frozen(p, at + d)
            }
            None => {
                p.kill().await;
                let deployment = self.deployment.clone();
                Slot::Starting(tokio::spawn(async move { deployment.start().await }))
            }
        };
        self.publish();
        at
    }

    fn pid(&self, slot: usize) -> u32 {
        match &self.slots[slot] {
            Slot::Up(p, _) | Slot::Frozen(p, _) => p.pid,
            _ => 0,
        }
    }
}
