//! `parked`: [`EXECUTIONS`] workflow executions parked at once in one Weft,
//! then each waiting on a slow provider; every one must end SUCCEEDED, and
//! the report says how much memory Weft needed for it.
//!
//! Weft runs as `weft serve` does, in a process of its own (this binary's
//! `__weft` subcommand, see [`super::proxy::weft`]), on SQLite in a fresh
//! data directory, or on a fresh PostgreSQL database with `--postgres`. It
//! is set up through its HTTP API: a project, a user token, and one
//! workflow, enabled for the user:
//!
//! ```yaml
//! trigger: {type: appEvent, event: Parked}
//! steps:
//!   - {id: park, type: delay, value: <park>, unit: SECONDS}
//!   - {id: call, type: request, method: POST, url: <provider>/slow, bodyType: json, body: {n: "{{trigger.output.n}}"}}
//! ```
//!
//! The provider ([`provider`]) is a loopback HTTP server in this process
//! that answers every call [`PROVIDER_DELAY`] after it arrives, holding any
//! number open at once. The events are sent to `POST /projects/{p}/sdk/
//! events/trigger` by [`SENDERS`] concurrent senders; each must be answered
//! 201 with one execution.
//!
//! "Parked" means two things in Weft, and the benchmark has both:
//!
//! - In the queue. A Delay step is a row of the durable queue with a time
//!   to run: no worker, no task and no connection holds it. The park is
//!   longer than sending every event takes, so every execution is parked
//!   at once; the report checks it (`outcome.parked_at_once`, below).
//! - On the provider. A Request step waiting for its answer holds one of
//!   the engine's slots (each of the `workflows.workers` workers runs up to
//!   32 steps at once) and an outbound connection. Weft runs with enough
//!   workers for every execution to wait on the provider at once
//!   (executions / 32, rounded up), and the provider takes longer to
//!   answer than sending every event takes (the parks end as spread out as
//!   the events were sent). `--workers N` runs fewer, and then the rest
//!   wait in the queue for a slot (`outcome.provider_peak`, below).
//!
//! The figures:
//!
//! - `executions`: the executions started (events answered 201).
//! - `errors`: events not answered 201 with one execution, executions that
//!   FAILED or had not ended within the deadline, and provider calls that
//!   were not as the workflow sends them or repeated an idempotency key
//!   (a step that ran twice: its lease expired while it waited).
//! - `peak_rss_mb`: the Weft process's peak resident set (`VmHWM` of
//!   `/proc/<pid>/status` once every execution ended), in MiB.
//! - `wall_s`: from the first event sent until the task history (polled
//!   every [`POLL`]) shows every execution ended. It includes the park and
//!   the provider's delay.
//!
//! Beside the figures, `parameters` has the run's shape and the machine's
//! load, and `outcome` what was seen: `parked_at_once` (executions started
//! before the provider saw its first call: at least that many were parked
//! together), `provider_peak` (the most calls the provider held open at
//! once), `submit_s` (sending every event), `floor_s` (the park plus the
//! provider's delay: the least `wall_s` can be), `idle_rss_mb` (Weft's
//! resident set once set up, before the first event), each kind of error
//! apart, and `provider_hangups` (calls Weft gave up on before the answer).
//!
//! `cargo xtask bench parked --executions 500` (or `--workers`,
//! `--provider-ms`, `--park-s`, `--postgres`) runs a smaller or different
//! shape.

mod provider;

use super::proxy::WEFT;
use super::proxy::processes::{ChildProcess, this_binary};
use super::proxy::setup::{Api, NewProject, new_project, text};
use anyhow::{Context, bail};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Executions of a full run.
const EXECUTIONS: usize = 10_000;
/// How long the provider takes to answer each call: longer than sending
/// every event takes, so that every execution waits on it at once (the
/// parks end as spread out as the events were sent).
const PROVIDER_DELAY: Duration = Duration::from_secs(20);
/// The Delay step's wait, seconds: longer than sending every event takes
/// on two busy cores.
const PARK_SECS: u64 = 30;
/// Events in flight at once.
const SENDERS: usize = 32;
/// How often the task history is read while executions run.
const POLL: Duration = Duration::from_millis(200);
/// Time allowed for the run on top of what its shape needs at least.
const MARGIN: Duration = Duration::from_secs(180);
const WEFT_START: Duration = Duration::from_secs(180);
const USER: &str = "bench-user";
const EVENT: &str = "Parked";

/// Steps one worker runs at once (`EngineSettings::batch`).
fn slots_per_worker() -> usize {
    usize::try_from(weft_engine::EngineSettings::default().batch).unwrap_or(1).max(1)
}

/// The run's shape.
struct Shape {
    executions: usize,
    workers: usize,
    provider_delay: Duration,
    park_secs: u64,
    postgres: bool,
}

impl Shape {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let usage = "usage: bench parked <output.json> [--executions N] [--workers N] [--provider-ms N] \
                     [--park-s N] [--postgres]";
        let (mut executions, mut workers, mut provider_ms, mut park_secs, mut postgres) =
            (EXECUTIONS, None, PROVIDER_DELAY.as_millis() as u64, PARK_SECS, false);
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--postgres" {
                postgres = true;
                continue;
            }
            let n: u64 = args.next().and_then(|v| v.parse().ok()).filter(|n| *n > 0).context(usage)?;
            match flag.as_str() {
                "--executions" => executions = usize::try_from(n)?,
                "--workers" => workers = Some(usize::try_from(n)?),
                "--provider-ms" => provider_ms = n,
                "--park-s" => park_secs = n,
                _ => bail!("{usage}"),
            }
        }
        let workers = workers.unwrap_or_else(|| executions.div_ceil(slots_per_worker()));
        Ok(Self { executions, workers, provider_delay: Duration::from_millis(provider_ms), park_secs, postgres })
    }

    /// The longest the run may take once the first event is sent.
    fn deadline(&self) -> Duration {
        let rounds = self.executions.div_ceil(self.workers * slots_per_worker());
        Duration::from_secs(self.park_secs) + self.provider_delay * u32::try_from(rounds).unwrap_or(u32::MAX) + MARGIN
    }
}

/// Runs the benchmark and returns its report's figures and details.
pub fn run(args: &[String]) -> anyhow::Result<(Value, Map<String, Value>)> {
    let shape = Shape::parse(args)?;
    let rt = super::runtime()?;
    let database = match shape.postgres {
        true => Some(rt.block_on(Database::create())?),
        false => None,
    };
    let outcome = rt.block_on(measure(&shape, database.as_ref()));
    if let Some(db) = database {
        rt.block_on(db.drop())?;
    }
    outcome
}

/// A fresh PostgreSQL database for Weft, dropped afterwards.
struct Database {
    name: String,
}

impl Database {
    async fn create() -> anyhow::Result<Self> {
        let name = format!("weft_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = super::queue::rig::admin().await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        Ok(Self { name })
    }

    fn url(&self) -> String {
        super::queue::rig::POSTGRES.replace("{db}", &self.name)
    }

    async fn drop(self) -> anyhow::Result<()> {
        let mut admin = super::queue::rig::admin().await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin).await?;
        Ok(())
    }
}

async fn measure(shape: &Shape, database: Option<&Database>) -> anyhow::Result<(Value, Map<String, Value>)> {
    let provider = provider::start(shape.provider_delay).await?;
    let dir = tempfile::tempdir().context("creating Weft's data directory")?;
    let data_dir = dir.path().to_str().context("a UTF-8 temporary directory")?;
    let mut command = this_binary(&[WEFT, data_dir])?;
    command.arg(format!("workers={}", shape.workers)).arg("history_quota=1000000");
    if let Some(db) = database {
        command.arg(format!("database={}", db.url()));
    }
    // Starting and stopping the child blocks: off the runtime's threads.
    let (mut weft, announced) =
        tokio::task::block_in_place(|| ChildProcess::start("Weft", &mut command, 2, WEFT_START))?;
    let [base, operator_key] = <[String; 2]>::try_from(announced).map_err(|_| anyhow::anyhow!("Weft's lines"))?;
    let api = Api { client: reqwest::Client::new(), base: &base };
    let setup = configure(&api, &operator_key, &provider.url, shape.park_secs).await?;
    let idle_rss = rss_mib(weft.id(), "VmRSS")?;
    // Other work on the cores slows sending and running alike.
    let load = super::queue::measure::load_average();

    let began = Instant::now();
    let sent = send(&api, &setup, shape.executions).await;
    let submit = began.elapsed();
    let calls_by_then = provider.seen.calls();
    weft.ensure_running()?;
    let ended = wait(&api, &setup, sent.started, began + shape.deadline(), &mut weft).await?;
    let wall = began.elapsed();
    let peak_rss = rss_mib(weft.id(), "VmHWM")?;
    tokio::task::block_in_place(|| drop(weft));

    let seen = &provider.seen;
    let unfinished = sent.started.saturating_sub(ended.succeeded + ended.failed);
    let errors = sent.refused + ended.failed + unfinished + seen.refused() + seen.repeats();
    let figures = json!({
        "executions": sent.started,
        "errors": errors,
        "peak_rss_mb": round1(peak_rss),
        "wall_s": round1(wall.as_secs_f64()),
    });
    let parked_at_once = sent.started.saturating_sub(calls_by_then);
    let mut details = Map::new();
    let parameters = json!({
        "executions": shape.executions,
        "workers": shape.workers,
        "slots": shape.workers * slots_per_worker(),
        "provider_delay_ms": shape.provider_delay.as_millis() as u64,
        "park_s": shape.park_secs,
        "senders": SENDERS,
        "backend": if shape.postgres { "postgres" } else { "sqlite" },
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "load_average_1m": load,
    });
    details.insert("parameters".into(), parameters);
    let outcome = json!({
        "submit_s": round1(submit.as_secs_f64()),
        "parked_at_once": parked_at_once,
        "provider_peak": seen.peak(),
        "provider_calls": seen.calls(),
        "floor_s": round1(shape.park_secs as f64 + shape.provider_delay.as_secs_f64()),
        "idle_rss_mb": round1(idle_rss),
        "succeeded": ended.succeeded,
        "failed": ended.failed,
        "unfinished": unfinished,
        "refused_events": sent.refused,
        "provider_refused": seen.refused(),
        "provider_repeats": seen.repeats(),
        "provider_hangups": seen.hangups(),
    });
    details.insert("outcome".into(), outcome);
    println!(
        "parked: {} executions ({parked_at_once} parked at once, {} on the provider at once), {errors} errors, \
         peak RSS {:.1} MiB (idle {:.1}), {:.1} s",
        sent.started,
        seen.peak(),
        peak_rss,
        idle_rss,
        wall.as_secs_f64()
    );
    if let Some(first) = sent.first_refusal {
        eprintln!("first refused event: {first}");
    }
    Ok((figures, details))
}

/// What the runs need: the project, its admin key, the user's token.
struct Setup {
    project: String,
    admin_key: String,
    user_token: String,
}

/// A project with the workflow deployed and enabled for the user.
async fn configure(api: &Api<'_>, operator_key: &str, provider: &str, park_secs: u64) -> anyhow::Result<Setup> {
    let NewProject { project, admin_key, user_token } = new_project(api, operator_key, "Parked bench", USER).await?;
    let workflow = json!({
        "name": "Parked",
        "integration": "bench",
        "trigger": {"type": "appEvent", "event": EVENT},
        "steps": [
            {"id": "park", "type": "delay", "value": park_secs, "unit": "SECONDS"},
            {"id": "call", "type": "request", "method": "POST", "url": provider,
             "bodyType": "json", "body": {"n": "{{trigger.output.n}}"}},
        ],
    });
    let workflows = format!("/admin/projects/{project}/workflows");
    let id = text(&api.call("POST", &workflows, &admin_key, workflow, 201).await?, "/id")?;
    api.call("POST", &format!("{workflows}/{id}/deploy"), &admin_key, json!({}), 200).await?;
    api.call("POST", &format!("/projects/{project}/sdk/workflows/{id}"), &user_token, json!({}), 200)
        .await
        .context("enabling the workflow for the user")?;
    Ok(Setup { project, admin_key, user_token })
}

/// What sending the events gave.
struct Sent {
    /// Events answered 201 with one execution.
    started: u64,
    /// Events answered otherwise (or not at all).
    refused: u64,
    /// The first of those answers.
    first_refusal: Option<String>,
}

/// Sends `executions` app events, [`SENDERS`] at a time.
async fn send(api: &Api<'_>, setup: &Setup, executions: usize) -> Sent {
    let url = Arc::new(format!("{}/projects/{}/sdk/events/trigger", api.base, setup.project));
    let next = Arc::new(AtomicUsize::new(0));
    let (started, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let first_refusal = Arc::new(std::sync::Mutex::new(None::<String>));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (client, url, token) = (api.client.clone(), url.clone(), setup.user_token.clone());
            let (next, started, refused, first) =
                (next.clone(), started.clone(), refused.clone(), first_refusal.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= executions {
                        break;
                    }
                    let event = json!({"name": EVENT, "payload": {"n": n}});
                    match send_one(&client, &url, &token, &event).await {
                        Ok(()) => started.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            if let Ok(mut first) = first.lock() {
                                first.get_or_insert_with(|| format!("{e:#}"));
                            }
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for s in senders {
        let _ = s.await;
    }
    let first_refusal = first_refusal.lock().ok().and_then(|mut f| f.take());
    Sent { started: started.load(Ordering::Relaxed), refused: refused.load(Ordering::Relaxed), first_refusal }
}

/// One event: fails unless it is answered 201 with one execution.
async fn send_one(client: &reqwest::Client, url: &str, token: &str, event: &Value) -> anyhow::Result<()> {
    let response = client.post(url).bearer_auth(token).json(event).send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let executions = body["executions"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(status == 201 && executions == 1, "answered {status} with {body}");
    Ok(())
}

/// Executions that ended, by outcome.
struct Ended {
    succeeded: u64,
    failed: u64,
}

/// Polls the task history until `started` executions ended or `deadline`
/// passed; fails if Weft exits meanwhile.
async fn wait(
    api: &Api<'_>,
    setup: &Setup,
    started: u64,
    deadline: Instant,
    weft: &mut ChildProcess,
) -> anyhow::Result<Ended> {
    let mut last_report = Instant::now();
    loop {
        let succeeded = total(api, setup, "SUCCEEDED").await?;
        let failed = total(api, setup, "FAILED").await?;
        if succeeded + failed >= started || Instant::now() >= deadline {
            return Ok(Ended { succeeded, failed });
        }
        weft.ensure_running()?;
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("parked: {succeeded} succeeded, {failed} failed of {started}");
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How many of the project's executions have `status`: the task history's
/// `total`, read with an offset past every execution (an empty page).
async fn total(api: &Api<'_>, setup: &Setup, status: &str) -> anyhow::Result<u64> {
    let path =
        format!("/projects/{}/task-history/workflow-executions?status={status}&offset=1000000000", setup.project);
    let response = api.client.get(format!("{}{path}", api.base)).bearer_auth(&setup.admin_key).send().await?;
    let code = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(code == 200, "GET {path} answered {code}: {body}");
    body["total"].as_u64().with_context(|| format!("GET {path} answered no total: {body}"))
}

/// A memory figure of process `pid` (`VmRSS`, `VmHWM`) from
/// `/proc/<pid>/status`, in MiB.
fn rss_mib(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading Weft's /proc status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kib / 1024.0)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
