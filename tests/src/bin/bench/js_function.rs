//! `js-function`: a JavaScript Function step in the bundled `js-function`
//! component (Boa compiled to WebAssembly), through the plugin host's
//! `run_js` as the workflow engine calls it: a fresh instance per call, the
//! code parsed, the function run, its result turned into JSON, the store
//! dropped.
//!
//! - `trivial_p50_ms` (and `_p99_ms`): one call at a time of a function
//!   that adds two parameters, after [`WARMUP`] unrecorded calls.
//! - `trivial_per_sec`: the same function, one task per core, for
//!   [`THROUGHPUT_TIME`].
//! - `fib25_ms`: the median of [`FIB_RUNS`] calls computing `fib(25)`
//!   recursively: what the interpreter costs on real work.
//! - `node_vm_p50_ms`: beside it, the same trivial function in Node.js's
//!   `vm.runInNewContext` (a fresh context per call, the sandbox many
//!   workflow tools use), timed inside one `node` process; `node_fib25_ms`
//!   likewise. Absent (with a note) when `node` is not installed.

use serde_json::{Map, Value, json};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weft_plugin_host::{CallOptions, HostConfig, HostServices, JsCall, JsLimits, PluginHost};

const WARMUP: usize = 20;
const LATENCY_CALLS: usize = 500;
const THROUGHPUT_TIME: Duration = Duration::from_secs(4);
const FIB_RUNS: usize = 5;

const TRIVIAL: &str = "function add(parameters) { return { sum: parameters.a + parameters.b }; }";
const FIB: &str =
    "function fib25() { function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); } return fib(25); }";

/// The same measurements in Node.js: prints `{"trivial_p50_ms":…,"fib25_ms":…}`.
const NODE_SCRIPT: &str = r#"
const vm = require("vm");
const trivial = "function add(parameters) { return { sum: parameters.a + parameters.b }; }";
const fib = "function fib25() { function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); } return fib(25); }";
function once(code, name, parameters) {
  const sandbox = { parameters, result: undefined };
  vm.runInNewContext(code + "\nresult = JSON.stringify(" + name + "(parameters));", sandbox, { timeout: 60000 });
  return JSON.parse(sandbox.result);
}
function median(xs) { xs.sort((a, b) => a - b); return xs[Math.floor(xs.length / 2)]; }
const times = [];
for (let i = 0; i < 520; i++) {
  const t = process.hrtime.bigint();
  const r = once(trivial, "add", { a: 2, b: 40 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.sum !== 42) throw new Error("wrong sum");
  if (i >= 20) times.push(ms);
}
const fibs = [];
for (let i = 0; i < 5; i++) {
  const t = process.hrtime.bigint();
  if (once(fib, "fib25", {}) !== 75025) throw new Error("wrong fib");
  fibs.push(Number(process.hrtime.bigint() - t) / 1e6);
}
console.log(JSON.stringify({ trivial_p50_ms: median(times), fib25_ms: median(fibs) }));
"#;

/// Runs the benchmark; its figures and details.
pub fn run() -> anyhow::Result<(Value, Map<String, Value>)> {
    let rt = super::runtime()?;
    let host = rt.block_on(async {
        let egress = Arc::new(weft_egress::EgressClient::new(Default::default())?);
        let host = PluginHost::new(HostConfig::default(), HostServices::in_memory(egress))?;
        host.install_file(&weft_tests::plugin_path("js_function")).await?;
        anyhow::Ok(Arc::new(host))
    })?;
    let call = |code: &str, parameters: Value| JsCall { code: code.into(), parameters, limits: JsLimits::default() };
    let opts = CallOptions::new("bench");

    let mut latencies = Vec::with_capacity(LATENCY_CALLS);
    for i in 0..WARMUP + LATENCY_CALLS {
        let started = Instant::now();
        let out = rt.block_on(host.run_js(&opts, call(TRIVIAL, json!({"a": 2, "b": 40}))))?;
        let elapsed = started.elapsed();
        anyhow::ensure!(out.result.as_ref().ok() == Some(&json!({"sum": 42})), "wrong result: {:?}", out.result);
        if i >= WARMUP {
            latencies.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let (p50, p99) = (at(0.5), at(0.99));

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..cores {
            let (host, done, opts) = (host.clone(), done.clone(), opts.clone());
            tasks.push(tokio::spawn(async move {
                while started.elapsed() < THROUGHPUT_TIME {
                    let out = host.run_js(&opts, call(TRIVIAL, json!({"a": 1, "b": 2}))).await?;
                    anyhow::ensure!(out.result.is_ok(), "a call failed: {:?}", out.result);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        anyhow::Ok(())
    })?;
    let per_sec = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

    let mut fibs = Vec::with_capacity(FIB_RUNS);
    for _ in 0..FIB_RUNS {
        let started = Instant::now();
        let out = rt.block_on(host.run_js(&opts, call(FIB, json!({}))))?;
        anyhow::ensure!(out.result.as_ref().ok() == Some(&json!(75025)), "wrong fib: {:?}", out.result);
        fibs.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let fib = super::median(fibs);

    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut figures = Map::new();
    figures.insert("trivial_p50_ms".into(), json!(round(p50)));
    figures.insert("trivial_per_sec".into(), json!(per_sec.round()));
    figures.insert("fib25_ms".into(), json!(round(fib)));
    figures.insert("trivial_p99_ms".into(), json!(round(p99)));
    let mut details = Map::new();
    match node() {
        Ok(node) => {
            let figure = |k: &str| json!(round(node[k].as_f64().unwrap_or(f64::NAN)));
            figures.insert("node_vm_p50_ms".into(), figure("trivial_p50_ms"));
            figures.insert("node_fib25_ms".into(), figure("fib25_ms"));
        }
        Err(e) => {
            details.insert("note".into(), json!(format!("no Node.js figures: {e}")));
        }
    }
    details.insert(
        "parameters".into(),
        json!({"latency_calls": LATENCY_CALLS, "warmup": WARMUP, "throughput_tasks": cores,
               "throughput_seconds": THROUGHPUT_TIME.as_secs(), "fib_runs": FIB_RUNS}),
    );
    for (k, bound, floor) in [("trivial_p50_ms", 5.0, false), ("trivial_per_sec", 300.0, true)] {
        let v = figures[k].as_f64().unwrap_or(f64::NAN);
        let ok = if floor { v >= bound } else { v <= bound };
        eprintln!(
            "{k}: {v} (budget {} {bound}: {})",
            if floor { ">=" } else { "<=" },
            if ok { "within budget" } else { "OVER BUDGET" }
        );
    }
    Ok((Value::Object(figures), details))
}

/// The Node.js figures, from one `node` process.
fn node() -> anyhow::Result<Value> {
    let out = Command::new("node").arg("-e").arg(NODE_SCRIPT).output()?;
    anyhow::ensure!(out.status.success(), "node failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}
