//! Benchmarks run by `cargo xtask bench [name]` (release build).
//!
//! `plugin-call`: instantiate + call the trivial `ECHO` action of the real
//! `test-echo` component + drop the store, against the same work done by a
//! native Rust function in the same run. Latency is measured one call at a
//! time; throughput with one task per core for a fixed time.
//!
//! `proxy`: Weft's proxy against nginx and the bare provider; see [`proxy`].
//!
//! `queue`: the durable queue and the workflow engine on SQLite and
//! PostgreSQL; see [`queue`].
//!
//! `actions`: ActionKit's listing and run overhead and the webhook
//! ingress's throughput; see [`actions`].
//!
//! `js-function`: a JavaScript Function step in the bundled runtime, beside
//! Node.js's `vm`; see [`js_function`].
//!
//! `parked`: 10,000 executions parked at once on a slow provider, Weft's
//! peak memory and the time they all take; see [`parked`].

mod actions;
mod js_function;
mod parked;
mod proxy;
mod queue;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weft_plugin_host::{ActionCall, CallOptions, HostConfig, HostServices, PluginHost};

/// The allocator the `weft` binary uses (Weft runs in this process).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LATENCY_CALLS: usize = 20_000;
const THROUGHPUT_TIME: Duration = Duration::from_secs(4);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The servers `proxy` starts as child processes: this binary again.
    match args.first().map(String::as_str) {
        Some(proxy::MOCK_PROVIDER) => return proxy::mock_provider(&args[1..]),
        Some(proxy::WEFT) => return proxy::weft(&args[1..]),
        _ => {}
    }
    let (Some(name), Some(out)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: bench <name> <output.json>");
    };
    let (figures, details) = match name.as_str() {
        "plugin-call" => (plugin_echo_call()?, Map::new()),
        "proxy" => (proxy::run()?, Map::new()),
        "queue" => queue::run(&args[2..])?,
        "actions" => (actions::run()?, Map::new()),
        "js-function" => js_function::run()?,
        "parked" => parked::run(&args[2..])?,
        other => anyhow::bail!("unknown benchmark {other:?}"),
    };
    let mut report = json!({ "bench": name, "figures": figures });
    if let Some(fields) = report.as_object_mut() {
        fields.extend(details);
    }
    let out = PathBuf::from(out);
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    println!("written to {}", out.display());
    // `parked` fails on any error, once its report is out (the `errors` of
    // `proxy` tolerate a few, which `proxy` checks itself).
    if let Some(errors) = report["figures"]["errors"].as_u64().filter(|n| *n > 0 && name == "parked") {
        anyhow::bail!("{name}: {errors} errors (see {})", out.display());
    }
    Ok(())
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build()?)
}

fn plugin_echo_call() -> anyhow::Result<Value> {
    let rt = runtime()?;
    let host = rt.block_on(async {
        let egress = Arc::new(weft_egress::EgressClient::new(Default::default())?);
        let host = PluginHost::new(HostConfig::default(), HostServices::in_memory(egress))?;
        host.install_file(&weft_tests::plugin_path("test_echo")).await?;
        anyhow::Ok(Arc::new(host))
    })?;
    let opts = CallOptions::new("bench").with_connection("conn-1", json!({}));

    // Warm-up: the pool's slots, caches and branch predictors.
    rt.block_on(async {
        for _ in 0..2_000 {
            host.run_action("test-echo", &opts, echo_call()).await?;
        }
        anyhow::Ok(())
    })?;

    let mut samples = Vec::with_capacity(LATENCY_CALLS);
    rt.block_on(async {
        for _ in 0..LATENCY_CALLS {
            let t = Instant::now();
            let out = host.run_action("test-echo", &opts, echo_call()).await?;
            samples.push(t.elapsed());
            std::hint::black_box(out);
        }
        anyhow::Ok(())
    })?;
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6;

    let (h, o) = (host.clone(), opts.clone());
    let wasm_rate = rt.block_on(throughput(move || {
        let (host, opts) = (h.clone(), o.clone());
        async move {
            let _ = std::hint::black_box(host.run_action("test-echo", &opts, echo_call()).await);
        }
    }));
    let native_rate = rt.block_on(throughput(|| async {
        std::hint::black_box(native_echo(&json!({"message": "ping"}), "inv", Some("conn-1")));
    }));

    let figures = json!({
        "calls_per_sec": wasm_rate.round(),
        "p50_us": (pct(0.50) * 10.0).round() / 10.0,
        "p99_us": (pct(0.99) * 10.0).round() / 10.0,
        "native_calls_per_sec": native_rate.round(),
    });
    let verdict = |ok: bool| if ok { "within budget" } else { "OVER BUDGET" };
    eprintln!("calls/s {wasm_rate:.0} (budget >= 25000: {})", verdict(wasm_rate >= 25_000.0));
    eprintln!("p50 {:.1} us (budget <= 40: {})", pct(0.5), verdict(pct(0.5) <= 40.0));
    Ok(figures)
}

/// Runs `f` in a loop on one task per core for [`THROUGHPUT_TIME`] and
/// returns completions per second.
async fn throughput<F, Fut>(f: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = ()> + Send,
{
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + THROUGHPUT_TIME;
    let started = Instant::now();
    let tasks: Vec<_> = (0..cores)
        .map(|_| {
            let (f, done) = (f.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    f().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn echo_call() -> ActionCall {
    ActionCall { action: "ECHO".into(), input: json!({"message": "ping"}), page: None }
}

#[derive(Deserialize)]
struct EchoIn {
    message: Value,
}

#[derive(Serialize)]
struct EchoOut<'a> {
    message: Value,
    invocation_id: &'a str,
    connection_id: Option<&'a str>,
}

/// The native twin of `ECHO`: the same serialisations the host and the guest
/// do around the call (input to text, parse, build, output to text, parse).
fn native_echo(input: &Value, invocation: &str, connection: Option<&str>) -> Value {
    let text = input.to_string();
    let parsed: EchoIn = serde_json::from_str(&text).unwrap_or(EchoIn { message: Value::Null });
    let out = serde_json::to_string(&EchoOut {
        message: parsed.message,
        invocation_id: invocation,
        connection_id: connection,
    })
    .unwrap_or_default();
    serde_json::from_str(&out).unwrap_or(Value::Null)
}
