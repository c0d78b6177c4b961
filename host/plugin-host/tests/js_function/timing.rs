//! The cost of a trivial Function step through `run_js` (instantiate, run,
//! result). Ignored by default; measure in release:
//! `cargo test --release -p weft-plugin-host --test js_function -- --ignored --nocapture timing`.

use crate::{host, run};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release"]
async fn timing_trivial_call() {
    let h = host().await;
    let code = "function yourFunction(parameters, libraries) { return { sum: parameters.a + parameters.b }; }";
    for _ in 0..20 {
        run(&h, code, json!({"a": 1, "b": 2})).await.unwrap();
    }
    // Sequential latency.
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let out = run(&h, code, json!({"a": 1, "b": 2})).await.unwrap();
        samples.push(t.elapsed());
        assert_eq!(out, json!({"sum": 3}));
    }
    samples.sort();
    let p50 = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    // Throughput with two calls in flight per core.
    let calls = 600;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..calls / 4 {
                run(&h, code, json!({"a": w, "b": 2})).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let per_sec = calls as f64 / started.elapsed().as_secs_f64();
    println!(
        "js-function trivial call: p50 {:.2} ms, p99 {:.2} ms, {per_sec:.0} calls/s (4 in flight)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    // Libraries are lazy: touching lodash costs its parse, once per call.
    let t = Instant::now();
    run(&h, "function f(p, l) { return l.lodash.chunk([1, 2], 1); }", json!({})).await.unwrap();
    println!("first lodash access in a call: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
}
