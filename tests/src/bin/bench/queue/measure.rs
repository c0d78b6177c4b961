//! One measurement each: steps per second draining a backlog, the latency
//! of a trigger's first step and of a whole workflow, and the floors set by
//! the disk (a flush, a one-row durable commit).

use super::rig::{Chain, ONE, Rig, THREE};
use anyhow::{Context, bail, ensure};
use sqlx::{ConnectOptions, Connection};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use weft_store::{ExecutionId, ExecutionQuery, ExecutionStatus};

/// The longest a throughput run may take before the benchmark fails.
const MAX_RUN: Duration = Duration::from_secs(300);

/// The longest one execution may take in a latency run.
const MAX_LATENCY: Duration = Duration::from_secs(10);

/// Durable steps per second: `executions` executions of `chain` are queued
/// (triggered while no worker runs), then the engine's workers start and
/// the clock runs until the last execution's final completion is stored.
/// Every step is claimed, run, and completed with its output stored and
/// its successor queued, committed before the engine goes on. Checks that
/// every execution succeeded.
pub async fn throughput(rig: &mut Rig, chain: Chain, executions: usize) -> anyhow::Result<f64> {
    for _ in 0..executions {
        let started = rig.engine.app_event(rig.event(chain)).await.context("triggering")?;
        ensure!(started.executions.len() == 1, "one execution per trigger, got {}", started.executions.len());
    }
    while rig.first_steps.try_recv().is_ok() {}
    let mut ended = rig.engine.ended();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let began = Instant::now();
    let running = tokio::spawn(rig.engine.clone().run(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + MAX_RUN;
    let mut done = 0;
    while done < executions {
        match tokio::time::timeout_at(deadline, ended.recv()).await {
            Ok(Ok(_)) => done += 1,
            // Missed announcements are ends all the same.
            Ok(Err(RecvError::Lagged(n))) => done += usize::try_from(n).unwrap_or(usize::MAX),
            Ok(Err(RecvError::Closed)) => bail!("the engine went away"),
            Err(_) => bail!("{done} of {executions} executions ended within {MAX_RUN:?}"),
        }
    }
    let elapsed = began.elapsed();
    let _ = stop.send(());
    running.await.context("the engine's run")?;
    for status in [ExecutionStatus::Executing, ExecutionStatus::Delayed, ExecutionStatus::Failed] {
        let q = ExecutionQuery { status: Some(status), limit: 1, ..Default::default() };
        let left = rig.store.list_executions(rig.project, &q).await?.total;
        ensure!(left == 0, "{left} executions are {} after the run", status.as_str());
    }
    Ok((executions * chain.steps) as f64 / elapsed.as_secs_f64())
}

/// Latency samples in milliseconds.
#[derive(Default)]
pub struct Latencies {
    /// From the `app_event` call to the start of its first step.
    pub first_step: Vec<f64>,
    /// From the `app_event` call to the stored end of a 3-step execution.
    pub workflow3: Vec<f64>,
}

/// `samples` of each latency (after `warmup` unrecorded ones), one trigger
/// at a time with the engine idle in between, as a trigger meets a quiet
/// server.
pub async fn latencies(rig: &mut Rig, warmup: usize, samples: usize) -> anyhow::Result<Latencies> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(rig.engine.clone().run(async move {
        let _ = stopped.await;
    }));
    let mut out = Latencies::default();
    let measured = async {
        for n in 0..warmup + samples {
            let first = first_step(rig).await?;
            let whole = workflow3(rig).await?;
            if n >= warmup {
                out.first_step.push(ms(first));
                out.workflow3.push(ms(whole));
            }
        }
        anyhow::Ok(())
    }
    .await;
    let _ = stop.send(());
    running.await.context("the engine's run")?;
    measured?;
    Ok(out)
}

/// Triggers the one-step workflow: the time until its step starts. Waits
/// for the execution's end before returning.
async fn first_step(rig: &mut Rig) -> anyhow::Result<Duration> {
    while rig.first_steps.try_recv().is_ok() {}
    let mut ended = rig.engine.ended();
    let began = Instant::now();
    let id = trigger(rig, ONE).await?;
    let prefix = format!("{id}:");
    let started = loop {
        let (key, at) = tokio::time::timeout(MAX_LATENCY, rig.first_steps.recv())
            .await
            .context("the first step did not start")?
            .context("the engine went away")?;
        if key.starts_with(&prefix) {
            break at;
        }
    };
    wait_end(rig, &mut ended, id).await?;
    Ok(started - began)
}

/// Triggers the three-step workflow: the time until its end is stored.
async fn workflow3(rig: &mut Rig) -> anyhow::Result<Duration> {
    let mut ended = rig.engine.ended();
    let began = Instant::now();
    let id = trigger(rig, THREE).await?;
    wait_end(rig, &mut ended, id).await?;
    let took = began.elapsed();
    let execution = rig.store.get_execution(rig.project, id).await?;
    ensure!(execution.status == ExecutionStatus::Succeeded, "the execution is {}", execution.status.as_str());
    Ok(took)
}

async fn trigger(rig: &Rig, chain: Chain) -> anyhow::Result<ExecutionId> {
    let started = rig.engine.app_event(rig.event(chain)).await.context("triggering")?;
    started.executions.first().copied().context("the trigger started no execution")
}

/// Waits for the announcement of `id`'s end.
async fn wait_end(
    rig: &Rig,
    ended: &mut tokio::sync::broadcast::Receiver<ExecutionId>,
    id: ExecutionId,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + MAX_LATENCY;
    loop {
        match tokio::time::timeout_at(deadline, ended.recv()).await {
            Ok(Ok(e)) if e == id => return Ok(()),
            Ok(Ok(_)) => {}
            // Missed: read the store instead.
            Ok(Err(RecvError::Lagged(_))) => {
                if rig.store.get_execution(rig.project, id).await?.status.is_final() {
                    return Ok(());
                }
            }
            Ok(Err(RecvError::Closed)) => bail!("the engine went away"),
            Err(_) => bail!("execution {id} did not end within {MAX_LATENCY:?}"),
        }
    }
}

/// The median time of the store's two queue writes, each alone: a claim
/// of one step (committed without a flush) and the completion of one step
/// (committed durably: its output, its execution's count). `(claim,
/// complete)` in milliseconds. Runs on a rig whose engine is stopped.
pub async fn store_ms(rig: &mut Rig) -> anyhow::Result<(f64, f64)> {
    for _ in 0..PROBES {
        rig.engine.app_event(rig.event(ONE)).await.context("triggering")?;
    }
    let (lease, deadline) = (Duration::from_secs(30), Duration::from_secs(600));
    let (mut claims, mut completions) = (Vec::with_capacity(PROBES), Vec::with_capacity(PROBES));
    for _ in 0..PROBES {
        let t = Instant::now();
        let mut claimed = rig.store.claim_steps(now(), lease, deadline, 1).await?;
        claims.push(ms(t.elapsed()));
        let step = claimed.pop().context("a queued step")?;
        let completion = weft_store::Completion {
            project: step.project,
            id: step.id,
            token: step.lease.token,
            outcome: weft_store::Outcome::Succeeded {
                input: serde_json::json!({}),
                output: serde_json::json!({"n": 1}),
            },
            next: vec![],
            join: None,
            // A step in the middle of its workflow (the execution goes on).
            execution: None,
            response: None,
            tasks: 1,
            follow: None,
        };
        let t = Instant::now();
        rig.store.complete_step(completion, now()).await?;
        completions.push(ms(t.elapsed()));
    }
    Ok((percentile(&mut claims, 0.5), percentile(&mut completions, 0.5)))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Probes of each floor, taken this many times.
const PROBES: usize = 200;

/// The median time of a 4 KiB write and `fdatasync` in `dir`: what one
/// flush of a log costs on this disk right now.
pub fn fdatasync_ms(dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join("fdatasync-probe");
    let mut file = std::fs::File::create(&path)?;
    file.write_all(&[0u8; 16 * 4096])?;
    file.sync_all()?;
    let block = [1u8; 4096];
    let mut samples = Vec::with_capacity(PROBES);
    for i in 0..PROBES {
        file.write_all_at(&block, (i as u64 % 16) * 4096)?;
        let t = Instant::now();
        file.sync_data()?;
        samples.push(ms(t.elapsed()));
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(percentile(&mut samples, 0.5))
}

/// The median one-row commit of a SQLite file in `dir` with the store's
/// settings (WAL, `synchronous=FULL`): the floor of every durable
/// transaction of the SQLite store.
pub async fn sqlite_commit_ms(dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join("commit-probe.db");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS probe (n INTEGER)").execute(&mut conn).await?;
    let mut samples = Vec::with_capacity(PROBES);
    for n in 0..PROBES {
        let t = Instant::now();
        sqlx::query("INSERT INTO probe (n) VALUES ($1)").bind(n as i64).execute(&mut conn).await?;
        samples.push(ms(t.elapsed()));
    }
    conn.close().await?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("commit-probe.db{suffix}")));
    }
    Ok(percentile(&mut samples, 0.5))
}

/// The median one-row autocommit insert into a table of the PostgreSQL
/// database at `url` (a commit waits for its WAL flush): the floor of
/// every durable transaction of the PostgreSQL store.
pub async fn postgres_commit_ms(url: &str) -> anyhow::Result<f64> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS commit_probe (n bigint)").execute(&mut conn).await?;
    let mut samples = Vec::with_capacity(PROBES);
    for n in 0..PROBES {
        let t = Instant::now();
        sqlx::query("INSERT INTO commit_probe (n) VALUES ($1)").bind(n as i64).execute(&mut conn).await?;
        samples.push(ms(t.elapsed()));
    }
    conn.close().await?;
    Ok(percentile(&mut samples, 0.5))
}

/// The machine's load average over the last minute (0 when unknown).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// The `p`-quantile of `samples` (sorted in place), nearest rank.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    if samples.is_empty() {
        return f64::NAN;
    }
    let rank = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
