//! The bundled JavaScript runtime as `cargo xtask plugins` builds it: it
//! installs in its own world with no capability beyond `http` (the
//! `libraries.fetch` path through the egress client), runs code with
//! parameters, and takes no call of another world. Its semantics, libraries
//! and limits are tested in `host/plugin-host/tests/js_function/`.

use serde_json::json;
use weft_plugin_host::{CallError, CallOptions, JsCall, JsLimits, StepCall, World};
use weft_tests::TestHost;

#[tokio::test]
async fn installs_in_its_own_world_and_runs_code() {
    let t = TestHost::new();
    let id = t.install("js_function").await;
    assert_eq!(id, weft_plugin_host::JS_FUNCTION_PLUGIN);
    let info = t.host.get(&id).unwrap();
    assert_eq!(info.world, World::JsFunction);
    assert!(
        !info.capabilities.iter().any(|c| c == "state" || c == "secrets" || c == "webhook-crypto"),
        "{:?}",
        info.capabilities
    );
    let call = JsCall {
        code:
            "function total(p, libraries) { console.log('n', p.items.length); return libraries.lodash.sum(p.items); }"
                .into(),
        parameters: json!({"items": [1, 2, 3.5]}),
        limits: JsLimits::default(),
    };
    let out = t.host.run_js(&CallOptions::new("p1"), call).await.unwrap();
    assert_eq!(out.result.unwrap(), json!(6.5));
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].message, "n 3");
    assert_eq!(t.host.check_js("function f( {").await.unwrap().unwrap_err().line, Some(1));

    let step = StepCall { input: json!({}), workflow_id: "wf".into(), step_id: "s".into() };
    let err = t.host.run_step(&id, &CallOptions::new("p1"), step).await.unwrap_err();
    assert!(matches!(err, CallError::WrongWorld(_)), "{err:?}");
}

/// `libraries.fetch` is user code reaching out: each call is logged with
/// where it went (never the query, which may carry secrets) and how it
/// ended; a refused one too.
#[tokio::test]
async fn each_fetch_of_a_function_step_is_logged_without_its_query() {
    let t = TestHost::new();
    t.install("js_function").await;
    let code = r#"async function probe(p, libraries) {
        try { await libraries.fetch("http://127.0.0.1:9/private/path?token=s3cr3t-query"); return "reached"; }
        catch (e) { return "refused"; }
    }"#;
    let call = JsCall { code: code.into(), parameters: json!({}), limits: JsLimits::default() };
    let opts = CallOptions::new("p1").with_invocation_id("inv-js-fetch-log");
    let out = t.host.run_js(&opts, call).await.unwrap();
    assert_eq!(out.result.unwrap(), json!("refused"), "loopback is not for user code");
    let lines = weft_tests::logs::lines_containing("inv-js-fetch-log");
    let fetch: Vec<_> = lines.iter().filter(|l| l.to_string().contains("function step fetch")).collect();
    assert_eq!(fetch.len(), 1, "{lines:?}");
    let line = fetch[0].to_string();
    assert!(line.contains("http://127.0.0.1:9/private/path"), "{line}");
    assert!(!line.contains("s3cr3t-query"), "the query stays out of the log: {line}");
}
