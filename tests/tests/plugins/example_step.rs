//! The example function step: typed JSON in and out, logging only.

use serde_json::json;
use weft_plugin_host::{ActionCall, CallError, CallOptions, PluginError, StepCall, World};
use weft_tests::{TestHost, logs};

fn call(input: serde_json::Value) -> StepCall {
    StepCall { input, workflow_id: "wf-1".into(), step_id: "step-1".into() }
}

#[tokio::test]
async fn computes_and_logs() {
    let t = TestHost::new();
    let id = t.install("example_step").await;
    let info = t.host.get(&id).unwrap();
    assert_eq!(info.world, World::FunctionStep);
    assert!(
        !info.capabilities.iter().any(|c| c == "http" || c == "state" || c == "secrets"),
        "{:?}",
        info.capabilities
    );
    let opts = CallOptions::new("p1").with_invocation_id("inv-step-compute");
    let out = t.host.run_step(&id, &opts, call(json!({"numbers": [1.0, 2.0, 6.0]}))).await.unwrap();
    assert_eq!(out, json!({"count": 3, "sum": 9.0, "mean": 3.0}));
    let empty = t.host.run_step(&id, &CallOptions::new("p1"), call(json!({"numbers": []}))).await.unwrap();
    assert_eq!(empty, json!({"count": 0, "sum": 0.0, "mean": null}));
    let lines = logs::lines_containing("inv-step-compute");
    assert!(lines.iter().any(|l| l["target"] == "plugin"), "step log line missing: {lines:?}");
}

#[tokio::test]
async fn bad_input_is_a_typed_error_and_worlds_do_not_mix() {
    let t = TestHost::new();
    let id = t.install("example_step").await;
    let err = t.host.run_step(&id, &CallOptions::new("p1"), call(json!({"nope": 1}))).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::InvalidInput { .. })), "{err:?}");
    let call = ActionCall { action: "ECHO".into(), input: json!({}), page: None };
    let err = t.host.run_action(&id, &CallOptions::new("p1"), call).await.unwrap_err();
    assert!(matches!(err, CallError::WrongWorld(_)), "{err:?}");
}
