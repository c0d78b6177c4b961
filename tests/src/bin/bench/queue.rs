//! `queue`: the durable queue under the real workflow engine, on SQLite and
//! on PostgreSQL, in process (no HTTP).
//!
//! Every figure runs the engine's own path: `Engine::app_event` starts
//! executions (one transaction each: the execution, the trigger's output,
//! the first step), the engine's workers claim steps under leases, run them
//! (Function steps, answered in process at once through `StepPlugins`, so
//! what is measured is the queue and the executor, not a plugin) and store
//! each completion (the step's output, its successor queued, the
//! execution's end) fenced on the lease. Nothing is acknowledged before it
//! is committed: SQLite runs as the store always does (WAL,
//! `synchronous=FULL`), PostgreSQL with its defaults (`synchronous_commit`
//! on); the report states what a flush and a one-row commit cost on the
//! disk at the time (`machine`), which is the floor of every figure.
//!
//! The figures (each the median over [`ROUNDS`] rounds; `spread` has the
//! lowest and highest round):
//!
//! - `sqlite_steps_per_sec`: durable steps per second on SQLite, draining
//!   a backlog: [`EXECUTIONS`] executions of a 10-step workflow are queued
//!   while no worker runs, then the engine (default settings: 4 workers,
//!   claims of up to 32, group commit of up to 64 completions per transaction by two committers)
//!   runs until the last one's end is stored; steps / elapsed time.
//!   Each worker follows its steps' successors (`EngineSettings::follow`:
//!   a step's lone successor is leased to its worker in the completion's
//!   own transaction, with no claim), so a 10-step execution costs one
//!   claim and ten durable completions.
//! - `sqlite_unbatched_steps_per_sec`: the same with group commit off (one
//!   transaction per completion): what group commit buys.
//! - `sqlite_unfollowed_steps_per_sec`: the default settings with following
//!   off (every step queued and claimed): what following buys.
//! - `postgres_steps_per_sec`: the same on PostgreSQL, one step at a time:
//!   one step per claim and one completion per transaction (claims of 1,
//!   group commit off), by [`ONE_AT_A_TIME_WORKERS`] workers, each
//!   following its chain as above.
//! - `postgres_unfollowed_steps_per_sec`: one at a time with following off
//!   (a claim and a completion per step).
//! - `postgres_batched_steps_per_sec`: the same on PostgreSQL with the
//!   default settings (claims of up to 32, group commit, following).
//! - `trigger_to_first_step_p50_ms`, `_p99_ms`: on SQLite, from the call of
//!   `Engine::app_event` (which reads the deployed workflows and the user's
//!   enablements, then commits the execution) until the workflow's first
//!   step starts running (the Function step is called), one trigger at a
//!   time on an idle engine. `postgres_trigger_to_first_step_*` likewise.
//! - `workflow3_e2e_p50_ms` (and `_p99_ms`): on SQLite, from the call of
//!   `Engine::app_event` for a workflow of three Function steps until the
//!   completion that ends the execution is committed (the engine announces
//!   it; the benchmark then checks it succeeded). `postgres_workflow3_*`
//!   likewise.
//!
//! Rounds run every measurement back to back, so drift on a shared machine
//! touches them alike; each round also probes the disk and notes the
//! machine's load average (other work on the two cores slows every figure).
//! `sqlite_claim_ms`, `sqlite_complete_ms` and their `postgres_` twins are
//! the store's two queue writes timed alone (a claim of one step, without a
//! flush; a completion, durable), beside `machine`'s one-row commits;
//! `*_claim_limited_ms` is the claim when the project has a concurrency
//! limit (on PostgreSQL its row is locked and its running steps counted in
//! the claim's transaction: the price of the limit).

pub(crate) mod measure;
pub(crate) mod rig;

use measure::Latencies;
use rig::{Backend, Rig, TEN};
use serde_json::{Map, Value, json};
use weft_engine::EngineSettings;

/// Rounds of every measurement; figures are medians over rounds.
const ROUNDS: usize = 5;
/// Executions queued per throughput run (10 steps each).
const EXECUTIONS: usize = 1_000;
/// Unrecorded latency samples per round, then recorded ones.
const WARMUP: usize = 20;
const SAMPLES: usize = 200;

/// A throughput run: the figure it gives, and the engine it runs.
struct Drain {
    figure: &'static str,
    rig: Rig,
}

/// How much to measure: [`ROUNDS`] rounds of [`EXECUTIONS`] unless the
/// command line says `--rounds N` or `--executions N` (for a quick look
/// while working on the queue).
#[derive(Clone, Copy)]
struct Size {
    rounds: usize,
    executions: usize,
}

/// Runs the benchmark and returns its report's figures and details.
pub fn run(args: &[String]) -> anyhow::Result<(Value, Map<String, Value>)> {
    let mut size = Size { rounds: ROUNDS, executions: EXECUTIONS };
    for pair in args.chunks(2) {
        let value = |v: Option<&String>| v.and_then(|v| v.parse().ok()).filter(|n| *n > 0);
        match (pair[0].as_str(), value(pair.get(1))) {
            ("--rounds", Some(n)) => size.rounds = n,
            ("--executions", Some(n)) => size.executions = n,
            _ => anyhow::bail!("usage: bench queue <output.json> [--rounds N] [--executions N]"),
        }
    }
    let rt = super::runtime()?;
    rt.block_on(measure_all(size))
}

/// Workers of the one-at-a-time runs: each holds one step at a time, so
/// this is how many steps are in flight (PostgreSQL flushes the commits
/// that arrive together at once, as any server would see from several
/// clients). Fewer than the store's pool of 10 connections.
const ONE_AT_A_TIME_WORKERS: usize = 8;

fn one_at_a_time() -> EngineSettings {
    EngineSettings { workers: ONE_AT_A_TIME_WORKERS, batch: 1, group_commit: 1, ..EngineSettings::default() }
}

fn unbatched() -> EngineSettings {
    EngineSettings { group_commit: 1, ..EngineSettings::default() }
}

fn unfollowed(settings: EngineSettings) -> EngineSettings {
    EngineSettings { follow: 0, ..settings }
}

async fn measure_all(size: Size) -> anyhow::Result<(Value, Map<String, Value>)> {
    let mut drains = vec![
        Drain { figure: "sqlite_steps_per_sec", rig: Rig::new(Backend::Sqlite, EngineSettings::default()).await? },
        Drain { figure: "sqlite_unbatched_steps_per_sec", rig: Rig::new(Backend::Sqlite, unbatched()).await? },
        Drain {
            figure: "sqlite_unfollowed_steps_per_sec",
            rig: Rig::new(Backend::Sqlite, unfollowed(EngineSettings::default())).await?,
        },
        Drain { figure: "postgres_steps_per_sec", rig: Rig::new(Backend::Postgres, one_at_a_time()).await? },
        Drain {
            figure: "postgres_unfollowed_steps_per_sec",
            rig: Rig::new(Backend::Postgres, unfollowed(one_at_a_time())).await?,
        },
        Drain {
            figure: "postgres_batched_steps_per_sec",
            rig: Rig::new(Backend::Postgres, EngineSettings::default()).await?,
        },
    ];
    let mut quiet = [
        ("", Rig::new(Backend::Sqlite, EngineSettings::default()).await?),
        ("postgres_", Rig::new(Backend::Postgres, EngineSettings::default()).await?),
    ];
    let outcome = rounds(size, &mut drains, &mut quiet).await;
    for d in drains {
        d.rig.close().await?;
    }
    for (_, rig) in quiet {
        rig.close().await?;
    }
    let rounds = outcome?;
    Ok(report(size, &rounds))
}

/// Every measurement, [`ROUNDS`] times; each round's figures.
async fn rounds(
    size: Size,
    drains: &mut [Drain],
    quiet: &mut [(&'static str, Rig); 2],
) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut rounds = Vec::with_capacity(size.rounds);
    for round in 1..=size.rounds {
        let mut figures = Map::new();
        figures.insert("load_average_1m".into(), json!(measure::load_average()));
        let dir = quiet[0].1.sqlite_dir().map(ToOwned::to_owned).unwrap_or_else(std::env::temp_dir);
        figures.insert("fdatasync_ms".into(), json!(measure::fdatasync_ms(&dir)?));
        figures.insert("sqlite_commit_ms".into(), json!(measure::sqlite_commit_ms(&dir).await?));
        if let Some(url) = quiet[1].1.postgres_url() {
            figures.insert("postgres_commit_ms".into(), json!(measure::postgres_commit_ms(&url).await?));
        }
        for (prefix, rig) in quiet.iter_mut() {
            let backend = if prefix.is_empty() { "sqlite" } else { "postgres" };
            let (claim, complete) = measure::store_ms(rig).await?;
            figures.insert(format!("{backend}_claim_ms"), json!(claim));
            figures.insert(format!("{backend}_complete_ms"), json!(complete));
            // The same claim when the project has a concurrency limit (far
            // above what runs): its row locked and its running steps counted.
            rig.store.set_concurrency_limit(rig.project, Some(10_000)).await?;
            let limited = measure::store_ms(rig).await;
            rig.store.set_concurrency_limit(rig.project, None).await?;
            figures.insert(format!("{backend}_claim_limited_ms"), json!(limited?.0));
        }
        for d in drains.iter_mut() {
            eprintln!("round {round}/{}: {}...", size.rounds, d.figure);
            let rate = measure::throughput(&mut d.rig, TEN, size.executions).await?;
            figures.insert(d.figure.into(), json!(rate.round()));
        }
        for (prefix, rig) in quiet.iter_mut() {
            eprintln!("round {round}/{}: {prefix}latencies...", size.rounds);
            let Latencies { mut first_step, mut workflow3 } = measure::latencies(rig, WARMUP, SAMPLES).await?;
            let p = measure::percentile;
            figures.insert(format!("{prefix}trigger_to_first_step_p50_ms"), json!(p(&mut first_step, 0.5)));
            figures.insert(format!("{prefix}trigger_to_first_step_p99_ms"), json!(p(&mut first_step, 0.99)));
            figures.insert(format!("{prefix}workflow3_e2e_p50_ms"), json!(p(&mut workflow3, 0.5)));
            figures.insert(format!("{prefix}workflow3_e2e_p99_ms"), json!(p(&mut workflow3, 0.99)));
        }
        eprintln!("round {round}: {}", Value::Object(figures.clone()));
        rounds.push(figures);
    }
    Ok(rounds)
}

/// The budgets of DESIGN.md "Performance budgets": figure, bound, and
/// whether it is a floor (`true`) or a ceiling.
const BUDGETS: [(&str, f64, bool); 6] = [
    ("sqlite_steps_per_sec", 5_000.0, true),
    ("postgres_steps_per_sec", 2_000.0, true),
    ("postgres_batched_steps_per_sec", 10_000.0, true),
    ("trigger_to_first_step_p50_ms", 5.0, false),
    ("trigger_to_first_step_p99_ms", 50.0, false),
    ("workflow3_e2e_p50_ms", 20.0, false),
];

/// The figures (medians over rounds, the budgeted ones first) and the
/// details: machine facts, parameters, spread, every round.
fn report(size: Size, rounds: &[Map<String, Value>]) -> (Value, Map<String, Value>) {
    let keys: Vec<String> = rounds.first().map(|r| r.keys().cloned().collect()).unwrap_or_default();
    let over = |k: &str| -> Vec<f64> { rounds.iter().filter_map(|r| r.get(k).and_then(Value::as_f64)).collect() };
    let median = |k: &str| super::median(over(k));
    let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let machine_keys = ["fdatasync_ms", "sqlite_commit_ms", "postgres_commit_ms", "load_average_1m"];
    let mut figures = Map::new();
    for (k, _, _) in BUDGETS {
        figures.insert(k.into(), json!(round3(median(k))));
    }
    let mut spread = Map::new();
    for k in &keys {
        let v = over(k);
        let (lo, hi) =
            (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        spread.insert(k.clone(), json!([round3(lo), round3(hi)]));
        if !machine_keys.contains(&k.as_str()) && !figures.contains_key(k) {
            figures.insert(k.clone(), json!(round3(median(k))));
        }
    }
    let mut machine = Map::new();
    machine.insert("cores".into(), json!(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)));
    for k in machine_keys {
        machine.insert(k.into(), json!(round3(median(k))));
    }
    let d = EngineSettings::default();
    let parameters = json!({
        "rounds": rounds.len(),
        "executions_per_run": size.executions,
        "steps_per_execution": TEN.steps,
        "latency_samples_per_round": SAMPLES,
        "latency_warmup_per_round": WARMUP,
        "default_engine": {"workers": d.workers, "batch": d.batch, "group_commit": d.group_commit, "follow": d.follow},
        "one_at_a_time_engine": {"workers": ONE_AT_A_TIME_WORKERS, "batch": 1, "group_commit": 1, "follow": d.follow},
        "sqlite": {"journal_mode": "wal", "synchronous": "full"},
        "postgres": {"synchronous_commit": "on", "tls": false},
    });
    for (k, bound, floor) in BUDGETS {
        let v = figures[k].as_f64().unwrap_or(f64::NAN);
        let ok = if floor { v >= bound } else { v <= bound };
        let sign = if floor { ">=" } else { "<=" };
        eprintln!("{k}: {v} (budget {sign} {bound}: {})", if ok { "within budget" } else { "OVER BUDGET" });
    }
    let mut details = Map::new();
    details.insert("machine".into(), Value::Object(machine));
    details.insert("parameters".into(), parameters);
    details.insert("spread".into(), Value::Object(spread));
    details.insert("rounds".into(), json!(rounds));
    (Value::Object(figures), details)
}
