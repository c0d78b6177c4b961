//! Per-call store data: the WASI context, limits, CPU accounting and the
//! identity of the call that host imports act for.

use crate::config::HostConfig;
use crate::services::{CallScope, HostServices};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weft_catalog::Provider;

/// Unix epoch milliseconds: the unit of every deadline a guest sees.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// What a call may do, beyond its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Metadata and listings: pure, no I/O at all.
    Describe,
    /// Webhook handling: verify and route only; no `http`, no state writes.
    Webhook,
    /// Everything else.
    Normal,
}

/// Data of one `Store`: created for a call and dropped with it.
pub(crate) struct CallState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub limiter: MemoryLimiter,
    pub ticks: u64,
    pub budget_ticks: u64,
    /// The CPU budget `budget_ticks` counts, as reported when it runs out.
    pub cpu_budget: std::time::Duration,
    /// A JavaScript Function step: `http` may reach any address the egress
    /// policy allows, without credentials (`libraries.fetch`).
    pub js_egress: bool,
    pub scope: CallScope,
    pub invocation_id: String,
    pub phase: Phase,
    pub deadline_ms: u64,
    pub connection_config: Arc<serde_json::Value>,
    pub metadata: Option<Arc<Provider>>,
    /// The integration's base URL override, if any.
    pub base_url: Option<Arc<str>>,
    /// Sends requests with the connection's credentials, when granted.
    pub connection_http: Option<Arc<dyn weft_catalog::ConnectionHttp>>,
    pub services: HostServices,
    pub config: Arc<HostConfig>,
    pub http_requests: u32,
    /// The longest wait the governor asked for when it refused one of the
    /// call's requests (the provider's known budget was spent).
    pub governor_wait: Option<std::time::Duration>,
    pub log_lines: u32,
    pub logs_dropped: u32,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory growth and remembers whether it refused one, so a
/// trap that follows can be reported as "memory limit" rather than a crash.
pub(crate) struct MemoryLimiter {
    pub max_memory_bytes: usize,
    pub denied: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.denied = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The error an epoch callback raises when a call used up its CPU budget.
#[derive(Debug)]
pub(crate) struct CpuBudgetExceeded {
    pub ticks: u64,
}

impl std::fmt::Display for CpuBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CPU budget exhausted after {} ticks", self.ticks)
    }
}

impl std::error::Error for CpuBudgetExceeded {}
