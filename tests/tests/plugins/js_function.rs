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
