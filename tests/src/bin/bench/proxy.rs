//! `proxy`: Weft's proxy against a plain nginx reverse proxy, in one run on
//! one machine, both in front of the same mock provider, both driven by the
//! same load generator, with the provider called directly as the floor.
//!
//! Each system under test is a process of its own: the mock provider and
//! Weft are this binary again (hidden subcommands, see [`servers`]), nginx
//! is the Debian package run in the foreground. Every target gets the same
//! closed-loop HTTP/1.1 keep-alive load at concurrency 1 (latency) and 32
//! (throughput), each a warm-up then a measured window; runs are grouped by
//! concurrency so a drift in the machine touches every target alike.
//!
//! The load generator is our own, on hyper's HTTP/1.1 client connections
//! ([`load`]), rather than `wrk`: on a 2-core machine the generator shares
//! the cores with the proxy and the provider, so what matters is that it is
//! lean (no pool, one task per connection, one runtime per thread) and that
//! it is the same for all three targets, which it is. In exchange it checks
//! the status of every response (a 401 from the mock means the credential
//! was not injected), keeps every latency sample (exact percentiles, no
//! text to parse) and needs nothing installed. The ratio to nginx and the
//! latency added over the direct call are what the budgets in DESIGN.md
//! bound; the absolute numbers depend on the machine.
//!
//! A 2-core machine shared with other work drifts by tens of percent from
//! one second to the next, so one window per target would report the drift.
//! The run is [`ROUNDS`] rounds, each measuring every target at both
//! concurrencies back to back; a round's ratio and added latency compare
//! targets measured within seconds of each other, and the report takes the
//! median over rounds of each figure (the per-round figures are printed).

mod load;
mod nginx;
pub(crate) mod processes;
mod servers;
pub(crate) mod setup;

pub use servers::{MOCK_PROVIDER, WEFT, mock_provider, weft};

use super::median;
use anyhow::Context;
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};
use load::{Outcome, Shape, Target};
use nginx::Nginx;
use processes::{ChildProcess, this_binary};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(3);
/// Rounds of measurements; figures are medians over rounds.
const ROUNDS: usize = 5;
/// Latency: one connection, one request at a time.
const C1: Shape = Shape { connections: 1, threads: 1, warmup: WARMUP, measure: MEASURE };
/// Throughput: 32 connections on two generator threads.
const C32: Shape = Shape { connections: 32, threads: 2, warmup: WARMUP, measure: MEASURE };
/// A run with more failed exchanges than this fails the benchmark.
const MAX_ERROR_RATE: f64 = 0.01;
/// Building Weft compiles the plugin: generous for a cold, busy machine.
const WEFT_START: Duration = Duration::from_secs(120);

/// The three targets, in the order they are measured.
const TARGETS: [&str; 3] = ["direct", "nginx", "weft"];

/// One target's two runs.
#[derive(Default, Clone)]
struct Measured {
    c1: Outcome,
    c32: Outcome,
}

/// Everything running for the benchmark; dropping it stops all of it.
struct Rig {
    // Field order is drop order: processes stop before Weft's files go.
    nginx: Nginx,
    weft: ChildProcess,
    mock: ChildProcess,
    _weft_dir: tempfile::TempDir,
    mock_addr: SocketAddr,
    weft_base: String,
    operator_key: String,
}

/// Runs the benchmark and returns its figures.
pub fn run() -> anyhow::Result<Value> {
    let api_key = format!("bench-key-{}", uuid::Uuid::new_v4().simple());
    let mut rig = Rig::start(&api_key)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let provider_api = format!("http://{}/api", rig.mock_addr);
    let configured = rt
        .block_on(setup::configure(&rig.weft_base, &rig.operator_key, &provider_api, &api_key))
        .context("setting Weft up through its API")?;

    let key = (HeaderName::from_static("x-api-key"), HeaderValue::from_str(&api_key)?);
    let direct = Target { addr: rig.mock_addr, path: "/api/items".into(), headers: vec![key] };
    let via_nginx = Target { addr: rig.nginx.addr, ..direct.clone() };
    let bearer = HeaderValue::from_str(&format!("Bearer {}", configured.user_token))?;
    let via_weft = Target {
        addr: rig.weft_base.trim_start_matches("http://").parse().context("Weft's address")?,
        path: format!("/projects/{}/sdk/proxy/{}/items", configured.project, setup::INTEGRATION),
        headers: vec![(AUTHORIZATION, bearer)],
    };

    rt.block_on(probe(&direct, "\"items\""))?;
    rt.block_on(probe(&via_nginx, "\"items\""))?;
    // Weft's answer wraps the provider's: {"output": {"items": [...]}}.
    let weft_refused = rt.block_on(probe(&via_weft, "\"output\"")).err();
    if let Some(e) = &weft_refused {
        eprintln!("WEFT IS NOT MEASURED: {e:#}\nMeasuring direct and nginx only; the benchmark then fails.\n");
    }

    let targets = [Some(&direct), Some(&via_nginx), weft_refused.is_none().then_some(&via_weft)];
    let mut rounds = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        let mut measured = [Measured::default(), Measured::default(), Measured::default()];
        for (shape, label) in [(C1, "c1"), (C32, "c32")] {
            for (i, target) in targets.iter().enumerate() {
                let Some(target) = target else { continue };
                rig.ensure_running()?;
                eprintln!("round {round}/{ROUNDS}: measuring {} at {label}...", TARGETS[i]);
                let outcome = load::run(target, shape).with_context(|| format!("driving {}", TARGETS[i]))?;
                match label {
                    "c1" => measured[i].c1 = outcome,
                    _ => measured[i].c32 = outcome,
                }
            }
        }
        print_table(&format!("round {round}"), &measured, weft_refused.is_none());
        check_errors(&measured)?;
        rounds.push(measured);
        if weft_refused.is_some() {
            break;
        }
    }
    drop(rig);

    if let Some(e) = weft_refused {
        return Err(e.context("Weft's proxy route must answer 200 before it can be measured"));
    }
    let figures = figures(&rounds);
    let per_round: Vec<String> = rounds.iter().map(|[_, n, w]| format!("{:.3}", ratio(n, w))).collect();
    eprintln!("Weft/nginx at c32 per round: {}; the report takes the median", per_round.join(", "));
    print_verdicts(&figures);
    Ok(figures)
}

/// Weft's throughput at c32 as a fraction of nginx's, in one round.
fn ratio(nginx: &Measured, weft: &Measured) -> f64 {
    weft.c32.rps / nginx.c32.rps
}

impl Rig {
    /// Starts the mock provider, Weft (on a fresh data directory holding the
    /// `test-apikey` plugin) and nginx.
    fn start(api_key: &str) -> anyhow::Result<Self> {
        let mut command = this_binary(&[MOCK_PROVIDER, api_key])?;
        let (mock, port) = ChildProcess::start("the mock provider", &mut command, 1, Duration::from_secs(10))?;
        let mock_addr: SocketAddr = format!("127.0.0.1:{}", port[0]).parse().context("the mock's port")?;

        let weft_dir = tempfile::tempdir().context("creating Weft's data directory")?;
        let plugins = weft_dir.path().join("plugins");
        std::fs::create_dir_all(&plugins)?;
        std::fs::copy(weft_tests::plugin_path("test_apikey"), plugins.join("test_apikey.wasm"))
            .context("copying the test-apikey plugin")?;
        let data_dir = weft_dir.path().to_str().context("a UTF-8 temporary directory")?;
        let mut command = this_binary(&[WEFT, data_dir])?;
        let (weft, announced) = ChildProcess::start("Weft", &mut command, 2, WEFT_START)?;
        let [weft_base, operator_key] =
            <[String; 2]>::try_from(announced).map_err(|_| anyhow::anyhow!("Weft's lines"))?;

        let nginx = Nginx::start(mock_addr)?;
        Ok(Self { nginx, weft, mock, _weft_dir: weft_dir, mock_addr, weft_base, operator_key })
    }

    /// Fails if Weft or the mock has died (nginx is checked at start).
    fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.mock.ensure_running()?;
        self.weft.ensure_running()
    }
}

/// One request to `target` (the generator's, through reqwest): it must
/// answer 200 with a body containing `expect`.
async fn probe(target: &Target, expect: &str) -> anyhow::Result<()> {
    let url = format!("http://{}{}", target.addr, target.path);
    let mut request = reqwest::Client::new().get(&url);
    for (name, value) in &target.headers {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let response = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    anyhow::ensure!(
        status == reqwest::StatusCode::OK && body.contains(expect),
        "GET {url} answered {status} {body:?}; expected 200 with {expect} in the body"
    );
    Ok(())
}

/// The figures written to the report: the required ones (rps at c32, the
/// ratio to nginx, Weft's added latency at c1) and the ones they come from,
/// each the median over rounds of that figure within a round.
fn figures(rounds: &[[Measured; 3]]) -> Value {
    let (ms, rps) = (|v: f64| (v * 1000.0).round() / 1000.0, |v: f64| v.round());
    let over = |f: &dyn Fn(&Measured, &Measured, &Measured) -> f64| {
        median(rounds.iter().map(|[direct, nginx, weft]| f(direct, nginx, weft)).collect())
    };
    let errors: u64 = rounds.iter().flatten().map(|t| t.c1.errors + t.c32.errors).sum();
    json!({
        "direct_rps": rps(over(&|d, _, _| d.c32.rps)),
        "nginx_rps": rps(over(&|_, n, _| n.c32.rps)),
        "proxy_rps": rps(over(&|_, _, w| w.c32.rps)),
        "ratio_vs_nginx": ms(over(&|_, n, w| ratio(n, w))),
        "added_p50_ms_c1": ms(over(&|d, _, w| w.c1.p50_ms - d.c1.p50_ms)),
        "added_p99_ms_c1": ms(over(&|d, _, w| w.c1.p99_ms - d.c1.p99_ms)),
        "nginx_added_p50_ms_c1": ms(over(&|d, n, _| n.c1.p50_ms - d.c1.p50_ms)),
        "nginx_added_p99_ms_c1": ms(over(&|d, n, _| n.c1.p99_ms - d.c1.p99_ms)),
        "direct_p50_ms_c1": ms(over(&|d, _, _| d.c1.p50_ms)),
        "direct_p99_ms_c1": ms(over(&|d, _, _| d.c1.p99_ms)),
        "nginx_p50_ms_c1": ms(over(&|_, n, _| n.c1.p50_ms)),
        "nginx_p99_ms_c1": ms(over(&|_, n, _| n.c1.p99_ms)),
        "proxy_p50_ms_c1": ms(over(&|_, _, w| w.c1.p50_ms)),
        "proxy_p99_ms_c1": ms(over(&|_, _, w| w.c1.p99_ms)),
        "direct_p99_ms_c32": ms(over(&|d, _, _| d.c32.p99_ms)),
        "nginx_p99_ms_c32": ms(over(&|_, n, _| n.c32.p99_ms)),
        "proxy_p99_ms_c32": ms(over(&|_, _, w| w.c32.p99_ms)),
        "rounds": rounds.len(),
        "errors": errors,
    })
}

fn print_table(title: &str, m: &[Measured; 3], with_weft: bool) {
    eprintln!(
        "\n{title}\n{:<8} {:>11} {:>10} {:>10} {:>11} {:>11} {:>8}",
        "target", "c32 req/s", "c1 p50 ms", "c1 p99 ms", "c32 p50 ms", "c32 p99 ms", "errors"
    );
    for (name, t) in TARGETS.iter().zip(m).take(if with_weft { 3 } else { 2 }) {
        eprintln!(
            "{name:<8} {:>11.0} {:>10.3} {:>10.3} {:>11.3} {:>11.3} {:>8}",
            t.c32.rps,
            t.c1.p50_ms,
            t.c1.p99_ms,
            t.c32.p50_ms,
            t.c32.p99_ms,
            t.c1.errors + t.c32.errors
        );
    }
    eprintln!();
}

/// The budgets of DESIGN.md "Performance budgets", said next to the figures.
fn print_verdicts(figures: &Value) {
    let get = |k: &str| figures[k].as_f64().unwrap_or(f64::NAN);
    let verdict = |ok: bool| if ok { "within budget" } else { "OVER BUDGET" };
    let ratio = get("ratio_vs_nginx");
    eprintln!("Weft/nginx throughput at c32: {ratio:.3} (budget >= 0.60, goal 0.80: {})", verdict(ratio >= 0.6));
    let added = get("added_p50_ms_c1");
    eprintln!("Weft adds {added:.3} ms p50 at c1 (budget <= 0.100: {})", verdict(added <= 0.1));
}

/// Fails when any run had more than [`MAX_ERROR_RATE`] failed exchanges.
fn check_errors(m: &[Measured; 3]) -> anyhow::Result<()> {
    for (name, t) in TARGETS.iter().zip(m) {
        for (label, run) in [("c1", &t.c1), ("c32", &t.c32)] {
            anyhow::ensure!(
                run.error_rate() <= MAX_ERROR_RATE,
                "{name} at {label}: {} errors for {} successes (first: {})",
                run.errors,
                run.ok,
                run.first_error.as_deref().unwrap_or("none")
            );
        }
    }
    Ok(())
}
