//! Hostile code: each attempt fails its own call with a clear error, and the
//! next ordinary call on the same host succeeds.

use crate::{assert_healthy, host, run, run_with};
use serde_json::json;
use std::time::{Duration, Instant};
use weft_plugin_host::{CallError, CallOptions, JsCall, JsErrorKind, JsLimits};

async fn sandbox_error(h: &weft_plugin_host::PluginHost, code: &str, limits: JsLimits) -> CallError {
    let call = JsCall { code: code.into(), parameters: json!({}), limits };
    h.run_js(&CallOptions::new("p1"), call).await.expect_err("the sandbox stops the call")
}

#[tokio::test]
async fn an_infinite_loop_exhausts_its_cpu_budget() {
    let h = host().await;
    let limits = JsLimits { cpu: Duration::from_millis(300), ..JsLimits::default() };
    let started = Instant::now();
    let err = sandbox_error(&h, "function f() { while (true) {} }", limits).await;
    assert!(
        matches!(err, CallError::CpuBudgetExceeded { budget, .. } if budget == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.to_string().contains("CPU budget of 300ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_healthy(&h).await;
}

#[tokio::test]
async fn an_allocation_bomb_hits_the_memory_cap() {
    let h = host().await;
    let limits = JsLimits { max_memory_bytes: 64 << 20, ..JsLimits::default() };
    let code = "function f() { const a = []; while (true) a.push(new Array(100000).fill(a.length)); }";
    let err = sandbox_error(&h, code, limits).await;
    assert!(matches!(err, CallError::MemoryLimit { limit_bytes } if limit_bytes == 64 << 20), "{err:?}");
    assert_healthy(&h).await;
}

#[tokio::test]
async fn deep_recursion_fails_clearly() {
    let h = host().await;
    let err =
        run(&h, "function f(p) { function r(n) { return r(n + 1) + 1; } return r(0); }", json!({})).await.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Limit, "{err:?}");
    assert!(err.message.contains("Maximum call stack size exceeded"), "{err:?}");
    // Recursion through native callbacks (`map`) uses the wasm stack: it
    // must fail as clearly, whichever guard stops it first.
    let code = "function f() { function r(n) { return [n].map(x => r(x + 1))[0]; } return r(0); }";
    let out = run_with(&h, code, json!({}), JsLimits::default()).await;
    let err = out.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::Limit, "{err:?}");
    // Legal recursion a thousand deep works.
    let ok = run(&h, "function f() { const r = n => n === 0 ? 0 : 1 + r(n - 1); return r(1000); }", json!({})).await;
    assert_eq!(ok.unwrap(), json!(1000));
    assert_healthy(&h).await;
}

#[tokio::test]
async fn a_ten_megabyte_result_is_legal_and_a_smaller_limit_applies() {
    let h = host().await;
    let code = "function f(p) { return 'x'.repeat(p.n); }";
    let ten_mb = 10_000_000;
    let out = run(&h, code, json!({"n": ten_mb})).await.unwrap();
    assert_eq!(out.as_str().map(str::len), Some(ten_mb));
    let limits = JsLimits { max_output_bytes: 1 << 20, ..JsLimits::default() };
    let err = run_with(&h, code, json!({"n": 2 << 20}), limits).await.result.unwrap_err();
    assert_eq!(err.kind, JsErrorKind::OutputTooLarge, "{err:?}");
    assert!(err.message.contains("1048576"), "{err:?}");
    assert_healthy(&h).await;
}

#[tokio::test]
async fn eval_and_function_cannot_reach_the_host() {
    let h = host().await;
    let attempts = [
        "function f() { return eval(\"require('child_process').execSync('id')\"); }",
        "function f() { return Function('return process.env')(); }",
        "function f() { return globalThis.fetch('http://127.0.0.1:1/'); }",
        "async function f(p, l) { const r = await l.fetch('http://127.0.0.1:1/admin'); return r.status; }",
        "async function f(p, l) { const r = await l.fetch('http://169.254.169.254/latest/meta-data/'); return r.status; }",
        "function f() { return (0, eval)('typeof WebAssembly === \"object\" ? WebAssembly.Memory : undefined').name; }",
    ];
    for code in attempts {
        let err = run(&h, code, json!({})).await.expect_err(code);
        assert_eq!(err.kind, JsErrorKind::Thrown, "{code}: {err:?}");
        assert_healthy(&h).await;
    }
    let err = run(&h, attempts[3], json!({})).await.unwrap_err();
    assert!(err.message.contains("fetch failed") && err.message.contains("Denied"), "{err:?}");
}
