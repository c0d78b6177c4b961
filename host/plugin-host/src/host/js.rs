//! JavaScript Function steps: user code run by the bundled `js-function`
//! component (the Boa engine compiled to WebAssembly), one fresh instance
//! per call, under limits of its own.

use super::execute::GuestFuture;
use super::{CallOptions, PluginHost, Pre};
use crate::bindings::js::JsFunction;
use crate::bindings::js::exports::weft::plugin::js as wj;
use crate::bindings::types::LogLevel;
use crate::call_state::{CallState, Phase};
use crate::config::EPOCH_TICK;
use crate::error::CallError;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;
use wasmtime::Store;

/// The id the bundled JavaScript runtime is installed under
/// (`js_function.wasm`).
pub const JS_FUNCTION_PLUGIN: &str = "js-function";

/// Limits of one JavaScript run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsLimits {
    /// Guest CPU time, counted in epoch ticks; a busy loop ends here.
    pub cpu: Duration,
    /// Wall-clock time, including time spent waiting for `fetch`.
    pub wall_timeout: Duration,
    /// Linear memory the run may grow to; clamped to
    /// [`HostConfig::js_max_memory_bytes`](crate::HostConfig::js_max_memory_bytes).
    pub max_memory_bytes: usize,
    /// Largest result, as serialized JSON.
    pub max_output_bytes: usize,
    /// Console lines kept; the rest are counted in one last line.
    pub max_log_lines: usize,
    /// Bytes of console output kept in total.
    pub max_log_bytes: usize,
}

impl Default for JsLimits {
    /// The reference's smallest plan: one minute, 50 MB of output.
    fn default() -> Self {
        Self {
            cpu: Duration::from_secs(60),
            wall_timeout: Duration::from_secs(60),
            max_memory_bytes: 256 << 20,
            max_output_bytes: 50 << 20,
            max_log_lines: 100,
            max_log_bytes: 64 << 10,
        }
    }
}

/// One run of a Function step's code.
#[derive(Debug, Clone)]
pub struct JsCall {
    /// The step's code: `function yourFunction(parameters, libraries) {…}`,
    /// or a function assigned to `module.exports`.
    pub code: String,
    /// The `parameters` argument (normally an object).
    pub parameters: Value,
    /// Limits of this run.
    pub limits: JsLimits,
}

/// What kind of failure a [`JsError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum JsErrorKind {
    /// The code does not parse.
    Syntax,
    /// The code declares no function to call.
    NoFunction,
    /// The function threw, or its promise rejected.
    Thrown,
    /// The result is not JSON (a function, `undefined`, a symbol, a BigInt, a cycle).
    NotJson,
    /// The result is larger than [`JsLimits::max_output_bytes`].
    OutputTooLarge,
    /// The engine's recursion limit was reached.
    Limit,
    /// Anything else (a promise that never settles, an engine failure).
    Other,
}

/// Why the user's code produced no result; positions are 1-based, in the
/// user's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsError {
    /// What kind of failure.
    pub kind: JsErrorKind,
    /// The JavaScript message, e.g. `TypeError: x is not a function`.
    pub message: String,
    /// Line in the user's code, when known.
    pub line: Option<u32>,
    /// Column in the user's code, when known.
    pub column: Option<u32>,
}

impl std::fmt::Display for JsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (line {l}, column {c})"),
            (Some(l), None) => write!(f, " (line {l})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for JsError {}

/// Severity of a console line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum JsLogLevel {
    /// `console.debug`.
    Debug,
    /// `console.log` and `console.info`.
    Info,
    /// `console.warn`, and the line that says output was cut.
    Warn,
    /// `console.error`.
    Error,
}

/// One console line of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsLogLine {
    /// Severity.
    pub level: JsLogLevel,
    /// The formatted arguments.
    pub message: String,
}

/// What a run produced: its result, and its console lines before it.
#[derive(Debug, Clone, PartialEq)]
pub struct JsOutcome {
    /// The returned value (a returned promise awaited), or why there is none.
    pub result: Result<Value, JsError>,
    /// Console lines, within the run's budgets.
    pub logs: Vec<JsLogLine>,
}

impl From<wj::JsError> for JsError {
    fn from(e: wj::JsError) -> Self {
        let kind = match e.kind {
            wj::JsErrorKind::Syntax => JsErrorKind::Syntax,
            wj::JsErrorKind::NoFunction => JsErrorKind::NoFunction,
            wj::JsErrorKind::Thrown => JsErrorKind::Thrown,
            wj::JsErrorKind::NotJson => JsErrorKind::NotJson,
            wj::JsErrorKind::OutputTooLarge => JsErrorKind::OutputTooLarge,
            wj::JsErrorKind::Limit => JsErrorKind::Limit,
            wj::JsErrorKind::Other => JsErrorKind::Other,
        };
        Self { kind, message: e.message, line: e.line, column: e.column }
    }
}

fn log_line(l: wj::LogLine) -> JsLogLine {
    let level = match l.level {
        LogLevel::Trace | LogLevel::Debug => JsLogLevel::Debug,
        LogLevel::Info => JsLogLevel::Info,
        LogLevel::Warn => JsLogLevel::Warn,
        LogLevel::Error => JsLogLevel::Error,
    };
    JsLogLine { level, message: l.message }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl PluginHost {
    /// Parses a Function step's code without running it (at deploy time):
    /// the outer error is the sandbox's (the runtime is not installed, or
    /// the check ran out of budget), the inner one the code's, with a
    /// position for a syntax error.
    pub async fn check_js(&self, code: &str) -> Result<Result<(), JsError>, CallError> {
        let code = code.to_owned();
        let limits =
            JsLimits { cpu: Duration::from_secs(5), wall_timeout: Duration::from_secs(10), ..JsLimits::default() };
        let opts = CallOptions::new("_check");
        let checked = self
            .execute_js(&opts, &limits, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_js().call_check(store, &code).await })
            })
            .await?;
        Ok(checked.map_err(JsError::from))
    }

    /// Runs a Function step's code on a fresh instance of the bundled
    /// runtime. The code's own failures (a throw, a result that is not JSON
    /// or too large, recursion too deep, even when it overflowed the wasm
    /// stack) are in [`JsOutcome::result`]; the sandbox's (CPU budget, memory
    /// cap, wall-clock timeout) are the `Err`. Either way the host and every
    /// other call are unharmed.
    #[tracing::instrument(name = "weft_plugin_host.run_js", skip_all, fields(invocation = %opts.invocation_id))]
    pub async fn run_js(&self, opts: &CallOptions, call: JsCall) -> Result<JsOutcome, CallError> {
        let limits = call.limits;
        let parameters = call.parameters.to_string();
        let code = call.code;
        let wit_limits = wj::JsLimits {
            max_output_bytes: limits.max_output_bytes as u64,
            max_log_lines: saturating_u32(limits.max_log_lines),
            max_log_bytes: saturating_u32(limits.max_log_bytes),
        };
        let outcome = self
            .execute_js(opts, &limits, move |store, inst| {
                Box::pin(async move { inst.weft_plugin_js().call_run(store, &code, &parameters, wit_limits).await })
            })
            .await;
        let outcome = match outcome {
            // Recursion through native callbacks (`map`, getters) can exhaust
            // the wasm stack before the engine's own recursion limit: still
            // the code's doing, so reported as the engine would.
            Err(CallError::StackOverflow) => {
                let message = "RangeError: Maximum call stack size exceeded (the sandbox's stack ran out)".to_owned();
                let error = JsError { kind: JsErrorKind::Limit, message, line: None, column: None };
                return Ok(JsOutcome { result: Err(error), logs: Vec::new() });
            }
            other => other?,
        };
        let logs = outcome.logs.into_iter().map(log_line).collect();
        let result = match outcome.result {
            Ok(text) if text.len() > limits.max_output_bytes => Err(JsError {
                kind: JsErrorKind::OutputTooLarge,
                message: format!(
                    "the function's result is {} bytes as JSON, more than the {}-byte limit",
                    text.len(),
                    limits.max_output_bytes
                ),
                line: None,
                column: None,
            }),
            Ok(text) => Ok(serde_json::from_str(&text).map_err(|e| CallError::InvalidOutput(e.to_string()))?),
            Err(e) => Err(e.into()),
        };
        Ok(JsOutcome { result, logs })
    }

    /// Runs `f` on a fresh instance of the JavaScript runtime under `limits`.
    async fn execute_js<R: Send>(
        &self,
        opts: &CallOptions,
        limits: &JsLimits,
        f: impl for<'a> FnOnce(&'a mut Store<CallState>, JsFunction) -> GuestFuture<'a, R> + Send,
    ) -> Result<R, CallError> {
        let installed = self
            .installed(JS_FUNCTION_PLUGIN)
            .ok_or_else(|| CallError::UnknownPlugin(JS_FUNCTION_PLUGIN.to_owned()))?;
        let Pre::Js(pre) = &installed.pre else {
            return Err(CallError::WrongWorld(JS_FUNCTION_PLUGIN.to_owned()));
        };
        let _permit = self.permits.acquire().await.map_err(|_| CallError::Trap("host is shutting down".into()))?;
        let mut store = self.new_store(JS_FUNCTION_PLUGIN, None, opts, Phase::Normal);
        let state = store.data_mut();
        state.js_egress = true;
        state.cpu_budget = limits.cpu;
        state.budget_ticks = (limits.cpu.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        state.limiter.max_memory_bytes = limits.max_memory_bytes.min(self.config.js_max_memory_bytes);
        state.deadline_ms = crate::call_state::now_ms() + limits.wall_timeout.as_millis() as u64;
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            f(&mut store, inst).await
        };
        let outcome = tokio::time::timeout(limits.wall_timeout, run).await;
        self.finish(JS_FUNCTION_PLUGIN, outcome, &store, limits.wall_timeout)
    }
}
