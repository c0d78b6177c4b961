//! Sandbox limits and engine settings.

use std::path::PathBuf;
use std::time::Duration;

/// Granularity of CPU accounting: the engine's epoch advances this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every plugin call, and the engine's shape.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Guest CPU time allowed per call, counted in [`EPOCH_TICK`]s.
    pub cpu_budget: Duration,
    /// Wall-clock time allowed per call (covers time spent waiting on the host).
    pub wall_timeout: Duration,
    /// Largest linear memory one call may grow to.
    pub max_memory_bytes: usize,
    /// Largest linear memory a JavaScript Function step may grow to: the
    /// ceiling of [`JsLimits::max_memory_bytes`]. Separate from
    /// `max_memory_bytes` because the engine, its heap and a legal 10 MB
    /// result need far more than an integration plugin. Sizes the instance
    /// pool's memory slots (address space only, not resident memory).
    ///
    /// [`JsLimits::max_memory_bytes`]: crate::JsLimits::max_memory_bytes
    pub js_max_memory_bytes: usize,
    /// Largest native stack a call's WebAssembly may use.
    pub max_wasm_stack_bytes: usize,
    /// Resource handles a call may hold at once: entries of the host's
    /// resource table (streams, pollables) and component-model handles. A
    /// guest that leaks them gets [`CallError::ResourceLimit`] instead of
    /// growing host memory; wasmtime's own defaults (10⁶ table entries, 10⁵
    /// handles) are far more than a plugin needs.
    ///
    /// [`CallError::ResourceLimit`]: crate::CallError::ResourceLimit
    pub max_resource_handles: usize,
    /// Calls running at once; more wait their turn. Sizes the instance pool.
    pub max_concurrent_calls: u32,
    /// Largest JSON document (action output, step output) accepted from a plugin.
    pub max_output_bytes: usize,
    /// Largest response body handed to a plugin by `http.fetch`.
    pub max_http_response_bytes: u64,
    /// Longest any single `http.fetch` may take.
    pub max_http_timeout: Duration,
    /// Outbound requests allowed per call (`fetch-all` counts each entry).
    pub max_http_requests_per_call: u32,
    /// Requests accepted in one `fetch-all` (they run concurrently).
    pub max_fetch_all: usize,
    /// Log lines accepted per call; more are dropped and counted.
    pub max_log_lines_per_call: u32,
    /// Largest log message or field value kept (longer ones are truncated).
    pub max_log_bytes: usize,
    /// Largest state key.
    pub max_state_key_bytes: usize,
    /// Largest state value.
    pub max_state_value_bytes: usize,
    /// Where compiled components are cached; none compiles in memory only.
    pub cache_dir: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            cpu_budget: Duration::from_secs(2),
            wall_timeout: Duration::from_secs(30),
            max_memory_bytes: 64 << 20,
            js_max_memory_bytes: 512 << 20,
            max_wasm_stack_bytes: 512 << 10,
            max_resource_handles: 10_000,
            max_concurrent_calls: 64,
            max_output_bytes: 4 << 20,
            max_http_response_bytes: 10 << 20,
            max_http_timeout: Duration::from_secs(30),
            max_http_requests_per_call: 200,
            max_fetch_all: 32,
            max_log_lines_per_call: 1000,
            max_log_bytes: 8 << 10,
            max_state_key_bytes: 512,
            max_state_value_bytes: 256 << 10,
            cache_dir: None,
        }
    }
}

impl HostConfig {
    /// The deadline of a call starting now, as Unix epoch milliseconds.
    pub(crate) fn call_deadline_ms(&self) -> u64 {
        crate::call_state::now_ms() + self.wall_timeout.as_millis() as u64
    }

    /// The CPU budget in epoch ticks (at least one).
    pub fn cpu_budget_ticks(&self) -> u64 {
        (self.cpu_budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
