//! TESTING.md part E, the crash harness of the queue (issues 15 and 18):
//! real `weft serve` processes on one database run a bounded batch of
//! executions whose steps call a recording provider, while the harness
//! kills them with SIGKILL (and starts new ones) and freezes them with
//! SIGSTOP for longer than a lease (zombies that still hold work and, once
//! thawed, try to complete it). The workload has a bounded fan-out, a
//! delay, a step the provider first answers 500 (auto-retried), one it
//! first answers 429 (a rate-limit pause), and a workflow scheduled every
//! second, whose leader the faults kill and freeze like any process. Then
//! every process is brought back, the schedule disabled, the executions
//! settle, and the invariants are checked from the database and the
//! provider's record:
//! - every execution the API accepted (201 with its id) exists and
//!   succeeded, and so did every other stored execution;
//! - each step of each execution has exactly one row, succeeded, and its
//!   stored output is the answer to a call made for it; each execution
//!   counted its tasks once (a completion applied twice would not; a retry
//!   or a pause counts none);
//! - every provider call, duplicates included, carries the idempotency key
//!   of the step it was made for;
//! - each firing of the schedule ran once, and each of its executions
//!   succeeded; the scheduler's lead changed hands;
//! - on PostgreSQL, thawed zombies' completions were refused by the lease
//!   fence (the engine's warning, counted in the processes' logs).
//!
//! It prints one line of counts to stderr (past the test capture, so it
//! shows in `.ci/run` too): faults, events and executions, provider calls
//! and duplicates, restarts, fenced completions and heartbeats, the time
//! from a fault to the re-run of a step it cut (p50/p99, which includes
//! the wait behind the backlog the faults build), and durations. The seed
//! is printed first; `WEFT_CRASH_SEED=<seed>` replays a run's choices (not
//! the timing of the processes).
//!
//! Restarts are not capped as in production (`max_restarts` 3): the
//! harness hits a process every few hundred milliseconds, and a kill
//! restarts every step its workers had claimed (a batch each, started or
//! not), so a step may be restarted dozens of times; the invariants above
//! must hold however often. The cap's own behaviour is tested with the
//! store.

mod check;
mod cluster;
mod faults;
mod provider;
mod summary;

use check::{Accepted, DELAY, FAN_OUT, FANNED, ITEMS};
use cluster::Deployment;
use faults::{Fault, FaultPlan, Fleet, Rng};
use provider::StepProvider;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use summary::{STALE_COMPLETION, Summary, TAKEOVER};

/// A step's lease: short, so frozen processes lose theirs quickly.
const LEASE_MS: u64 = 600;
/// How long the executions may take to settle once the faults stop.
const SETTLE: Duration = Duration::from_secs(120);
/// How long nothing may run before the executions count as settled: past
/// a firing of the every-second schedule.
const QUIET: Duration = Duration::from_secs(2);

/// Three processes on one PostgreSQL database, 190 kills and 130 freezes,
/// 200 executions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_survives_kills_and_freezes_of_three_processes_on_postgresql() {
    let run = Harness { postgres: true, processes: 3, executions: 200 };
    let plan = FaultPlan {
        kills: 190,
        freezes: 130,
        freeze_ms: (2 * LEASE_MS + 200, 3 * LEASE_MS),
        gap_ms: (20, 120),
        wait_for_busy: Duration::from_millis(300),
        min_up: Duration::from_millis(200),
    };
    let report = run.run(&plan).await;
    assert!(report.stale_completions > 0, "no thawed zombie's completion met the fence");
}

/// One process on SQLite, killed and restarted 60 times and frozen past
/// its lease 15 times, 100 executions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_survives_a_process_killed_and_restarted_on_sqlite() {
    let run = Harness { postgres: false, processes: 1, executions: 100 };
    let plan = FaultPlan {
        kills: 60,
        freezes: 15,
        freeze_ms: (2 * LEASE_MS + 200, 3 * LEASE_MS),
        gap_ms: (50, 250),
        wait_for_busy: Duration::from_millis(300),
        min_up: Duration::from_millis(500),
    };
    run.run(&plan).await;
}

/// One run of the harness.
struct Harness {
    postgres: bool,
    processes: usize,
    executions: u32,
}

/// What a run produced, for the test's own assertions.
struct Report {
    stale_completions: usize,
}

/// The project, its API key, a user's token, and the workflow, deployed
/// and enabled for that user.
#[derive(Clone)]
struct Setup {
    project: String,
    key: String,
    token: String,
}

impl Harness {
    async fn run(&self, plan: &FaultPlan) -> Report {
        let began = Instant::now();
        let seed = std::env::var("WEFT_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        let backend = if self.postgres { "postgresql" } else { "sqlite" };
        report(&format!("crash harness [{backend}]: seed {seed} (WEFT_CRASH_SEED={seed} replays its choices)"));
        let provider = StepProvider::start().await;
        let deployment = Arc::new(Deployment::new(
            self.postgres,
            vec![
                ("WEFT__WORKFLOWS__LEASE_MS", LEASE_MS.to_string()),
                ("WEFT__WORKFLOWS__POLL_MS", "50".to_owned()),
                ("WEFT__WORKFLOWS__MAX_RESTARTS", "1000".to_owned()),
                ("WEFT__CONNECT__SWEEP_INTERVAL_SECS", "0".to_owned()),
                // Auto-retries after about 100 ms; the scheduler's leader
                // replaced two seconds after it stops renewing.
                ("WEFT__WORKFLOWS__RETRY_BASE_MS", "100".to_owned()),
                ("WEFT__WORKFLOWS__SCHEDULER_LEASE_MS", "2000".to_owned()),
            ],
        ));
        let setup = Setup::create(&deployment);
        let run = self.exercise(plan, &deployment, &setup, &provider, seed).await;
        report(&format!(
            "crash harness [{backend}]: {} faults in {:.1}s, {} events accepted, settled in {:.1}s; checking",
            run.faults.len(),
            run.fault_time.as_secs_f64(),
            run.accepted.len(),
            run.settle_time.as_secs_f64()
        ));

        let store = weft_store::open(&deployment.location()).await.expect("open the database");
        let calls = provider.calls();
        let project = setup.project.parse().unwrap();
        let mut counts = check::check(store.as_ref(), project, &run.workflows.events, &run.accepted, &calls).await;
        check::check_schedule(store.as_ref(), project, &run.workflows.scheduled, &mut counts).await;
        store.close().await;
        let summary = Summary {
            backend,
            seed,
            processes: self.processes,
            deployment: &deployment,
            faults: &run.faults,
            accepted: &run.accepted,
            cut: run.cut,
            counts: &counts,
            calls: &calls,
            times: [run.fault_time, run.settle_time, began.elapsed()],
        };
        report(&summary.to_string());
        assert_eq!(run.accepted.len() as u32, self.executions, "events accepted within three tries each");
        // The workload met what it was built to: retries, rate-limit
        // pauses, and the scheduler's leader replaced.
        let (errors, limited) = provider.refusals();
        assert!(errors > 0 && counts.retried > 0, "no auto-retry ran ({errors} answers 500)");
        assert!(limited > 0, "no rate-limit pause");
        assert!(deployment.logged(TAKEOVER) >= 2, "the scheduler's leader was never replaced");
        Report { stale_completions: deployment.logged(STALE_COMPLETION) }
    }

    /// Starts the processes, deploys the workflow, sends the events while
    /// the faults are injected, brings every process back, waits until the
    /// executions settle, and stops the processes.
    async fn exercise(
        &self,
        plan: &FaultPlan,
        deployment: &Arc<Deployment>,
        setup: &Setup,
        provider: &StepProvider,
        seed: u64,
    ) -> Exercised {
        let mut fleet = Fleet::start(deployment.clone(), self.processes).await;
        let workflows = setup.deploy(&fleet.any_base(), provider).await;
        let done = Arc::new(AtomicU32::new(0));
        let submitter = tokio::spawn(submit(
            fleet.targets.clone(),
            setup.clone(),
            (self.executions, plan.faults()),
            done.clone(),
            seed ^ 0x5EED,
        ));
        let faulting = Instant::now();
        let faults = fleet.inject(plan, provider, &mut Rng::new(seed), &done).await;
        let fault_time = faulting.elapsed();
        fleet.settle().await;
        let (accepted, cut) = submitter.await.expect("the submitter");
        setup.stop_the_clock(&fleet.any_base(), &workflows).await;
        let settling = Instant::now();
        setup.settled(&fleet.any_base()).await;
        let settle_time = settling.elapsed();
        fleet.stop().await;
        Exercised { faults, accepted, cut, fault_time, settle_time, workflows }
    }
}

/// The harness's workflows' ids.
struct Workflows {
    /// Started by the harness's events.
    events: String,
    /// Fired every second by the scheduler.
    scheduled: String,
}

/// What [`Harness::exercise`] did.
struct Exercised {
    faults: Vec<Fault>,
    accepted: Vec<Accepted>,
    /// Events a fault cut before they were answered.
    cut: usize,
    fault_time: Duration,
    settle_time: Duration,
    workflows: Workflows,
}

impl Setup {
    /// The project, key and token, made with the CLI on the database.
    fn create(d: &Deployment) -> Self {
        let created = d.cli(&["project", "create", "--name", "Crash harness"]);
        let project = created.split_whitespace().nth(2).expect("project id").to_owned();
        let key = d.cli(&["key", "create", "--project", &project]);
        let key = key.lines().nth(1).expect("key line").trim().to_owned();
        let token = d.cli(&["token", "mint", "--project", &project, "--user", "crash-user"]).trim().to_owned();
        Self { project, key, token }
    }

    /// Creates, deploys and enables the workflows: the harness's own (a
    /// request, a fan-out of three requests at most two at a time, a delay,
    /// a request the provider first answers 500 (auto-retried), a request
    /// it first answers 429 (a rate-limit pause), each calling the provider
    /// with the event's run number (and the item) in its query) and one
    /// scheduled every second. Their ids.
    async fn deploy(&self, base: &str, provider: &StepProvider) -> Workflows {
        let url = |step: &str| format!("{}/steps/{step}", provider.base);
        let yaml = format!(
            r#"name: Crash harness
integration: custom.crash
trigger: {{type: appEvent, event: Crash}}
steps:
  - {{id: a, type: request, method: POST, url: "{a}", params: {{run: "{{{{trigger.output.run}}}}"}}, bodyType: json, body: {{run: "{{{{trigger.output.run}}}}"}}}}
  - id: {FAN_OUT}
    type: fanOut
    iterator: "{{{{trigger.output.items}}}}"
    maxParallel: 2
    steps:
      - {{id: {FANNED}, type: request, method: PUT, url: "{f}", params: {{run: "{{{{trigger.output.run}}}}", item: "{{{{{FAN_OUT}.output.instance}}}}"}}}}
  - {{id: {DELAY}, type: delay, value: 0.3, unit: SECONDS}}
  - {{id: b, type: request, method: GET, url: "{b}", params: {{run: "{{{{trigger.output.run}}}}"}}, autoRetry: true}}
  - {{id: c, type: request, method: DELETE, url: "{c}", params: {{run: "{{{{trigger.output.run}}}}"}}}}
"#,
            a = url("a"),
            f = url(FANNED),
            b = url("b"),
            c = url("c"),
        );
        let events = self.create_and_enable(base, &yaml).await;
        let clock = "name: Crash clock\nintegration: custom.crash\n\
                     trigger: {type: scheduler, cron: '* * * * * *', timezone: UTC}\n\
                     steps:\n  - {id: tick, type: delay, value: 0.05, unit: SECONDS}\n";
        let scheduled = self.create_and_enable(base, clock).await;
        Workflows { events, scheduled }
    }

    /// Creates, deploys and enables the workflow `yaml`: its id.
    async fn create_and_enable(&self, base: &str, yaml: &str) -> String {
        let client = reqwest::Client::new();
        let created = client
            .post(format!("{base}/admin/projects/{}/workflows", self.project))
            .bearer_auth(&self.key)
            .header("content-type", "application/yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .expect("create the workflow");
        assert_eq!(created.status(), 201);
        let id = created.json::<Value>().await.unwrap()["id"].as_str().expect("its id").to_owned();
        let deployed = client
            .post(format!("{base}/admin/projects/{}/workflows/{id}/deploy", self.project))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("deploy it");
        assert_eq!(deployed.status(), 200, "{:?}", deployed.text().await);
        let enabled = client
            .post(format!("{base}/projects/{}/sdk/workflows/{id}", self.project))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("enable it");
        assert_eq!(enabled.status(), 200);
        id
    }

    /// Disables the scheduled workflow (the faults are over: the schedule
    /// stops so the executions can settle).
    async fn stop_the_clock(&self, base: &str, workflows: &Workflows) {
        let url = format!("{base}/projects/{}/sdk/workflows/{}", self.project, workflows.scheduled);
        let disabled = reqwest::Client::new().delete(url).bearer_auth(&self.token).send().await.expect("disable it");
        assert!(disabled.status().is_success(), "{:?}", disabled.text().await);
    }

    /// Waits until no execution is running or waiting (the Task History
    /// API of a live process), twice [`QUIET`] apart: a firing the
    /// scheduler had in hand when the clock was stopped may still start an
    /// execution just after; fails after [`SETTLE`].
    async fn settled(&self, base: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + SETTLE;
        let mut open = Vec::new();
        let mut quiet_since: Option<Instant> = None;
        while Instant::now() < deadline {
            open.clear();
            for status in ["EXECUTING", "DELAYED"] {
                let url = format!("{base}/projects/{}/task-history/workflow-executions?status={status}", self.project);
                let page: Value = client.get(url).bearer_auth(&self.key).send().await.unwrap().json().await.unwrap();
                assert!(page["total"].is_u64(), "{page}");
                let listed = page["workflowExecutions"].as_array().into_iter().flatten();
                open.extend(listed.filter_map(|e| e["id"].as_str()).map(str::to_owned));
            }
            match (open.is_empty(), quiet_since) {
                (true, Some(since)) if since.elapsed() >= QUIET => return,
                (true, None) => quiet_since = Some(Instant::now()),
                (true, Some(_)) => {}
                (false, _) => quiet_since = None,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("executions still running {} s after the last fault: {open:?}", SETTLE.as_secs());
    }
}

/// Sends `total` events, each a new run, to the processes that are up, at
/// the pace of the faults (so the work is spread over them): the accepted
/// executions and how many sends were refused or cut by a fault.
async fn submit(
    targets: Arc<Mutex<Vec<Option<String>>>>,
    setup: Setup,
    (total, faults): (u32, u32),
    done: Arc<AtomicU32>,
    seed: u64,
) -> (Vec<Accepted>, usize) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut rng = Rng::new(seed);
    let (mut accepted, mut refused) = (Vec::new(), 0);
    let url = |base: &str| format!("{base}/projects/{}/sdk/events/trigger", setup.project);
    // An event cut by a fault is not retried (it may have started its
    // execution): the next one is a new run.
    for run in 0..total * 3 {
        let sent = accepted.len() as u32;
        if sent == total {
            break;
        }
        // A head start, then in step with the faults, at random moments
        // between them (so that some events meet a fault).
        while done.load(Ordering::Relaxed) < faults && sent >= 10 + total * done.load(Ordering::Relaxed) / faults {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(rng.millis((0, 300))).await;
        let base = loop {
            let up: Vec<String> = targets.lock().unwrap().iter().flatten().cloned().collect();
            if !up.is_empty() {
                break up[rng.between(0, up.len() as u64 - 1) as usize].clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let run = format!("r{run}");
        let items: Vec<u32> = (0..ITEMS).collect();
        let event = json!({"name": "Crash", "payload": {"run": run, "items": items}});
        let began = Instant::now();
        let sent = client.post(url(&base)).bearer_auth(&setup.token).json(&event).send().await;
        let answer = match sent {
            Ok(resp) if resp.status() == 201 => resp.json::<Value>().await.ok(),
            // Only a fault may cut an event; any answer but 201 is a bug.
            Ok(resp) => panic!("event {run}: {} {:?}", resp.status(), resp.text().await),
            Err(_) => None,
        };
        match answer.as_ref().and_then(|a| a["executions"][0].as_str()) {
            Some(id) => accepted.push(Accepted { run, execution: id.to_owned(), answered_in: began.elapsed() }),
            None => refused += 1,
        }
    }
    (accepted, refused)
}

/// Writes a line of the harness to stderr, past the test harness's
/// capture: the counts show in every run, `.ci/run` included.
fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
