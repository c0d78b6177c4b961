//! JavaScript Function steps against the real `js-function` component built
//! from `plugins/`: semantics, libraries, and hostile code that must fail
//! only its own call.

mod hostile;
mod libraries;
mod semantics;

#[path = "../../../xtask/src/plugins.rs"]
#[allow(dead_code)]
mod plugins;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use weft_plugin_host::{CallOptions, HostConfig, HostServices, JsCall, JsError, JsLimits, JsOutcome, PluginHost};

/// Builds the plugins workspace once per test binary (cargo makes it a
/// no-op when nothing changed) and returns the component's path.
fn component() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let built = plugins::build_plugins(&root).unwrap_or_else(|e| panic!("{e}"));
        built.into_iter().find(|(c, _)| c.name == "js-function").expect("plugins/js-function exists").1
    })
}

/// A plugin host with the runtime installed; compiled components are cached
/// beside the build, so only the first test of a run compiles it.
pub async fn host() -> Arc<PluginHost> {
    let path = component();
    let config = HostConfig {
        max_concurrent_calls: 4,
        cache_dir: Some(path.parent().expect("artifact dir").join("test-cache")),
        ..HostConfig::default()
    };
    let egress = Arc::new(weft_egress::EgressClient::new(Default::default()).expect("egress client"));
    let host = PluginHost::new(config, HostServices::in_memory(egress)).expect("plugin host");
    let info = host.install_file(path).await.expect("installing js-function");
    assert_eq!(info.id, weft_plugin_host::JS_FUNCTION_PLUGIN);
    Arc::new(host)
}

/// Runs `code` with `parameters` under `limits`.
pub async fn run_with(host: &PluginHost, code: &str, parameters: Value, limits: JsLimits) -> JsOutcome {
    let call = JsCall { code: code.into(), parameters, limits };
    host.run_js(&CallOptions::new("p1"), call).await.expect("the sandbox call succeeds")
}

/// Runs `code` with the default limits and returns its result.
pub async fn run(host: &PluginHost, code: &str, parameters: Value) -> Result<Value, JsError> {
    run_with(host, code, parameters, JsLimits::default()).await.result
}

/// A following ordinary call must still succeed.
pub async fn assert_healthy(host: &PluginHost) {
    let code = "function f(p) { return p.n + 1; }";
    assert_eq!(run(host, code, serde_json::json!({"n": 1})).await.unwrap(), serde_json::json!(2));
}
