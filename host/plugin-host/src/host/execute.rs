//! Running one guest call: a fresh store with limits, instantiate, call,
//! classify whatever went wrong, drop.

use super::{CallOptions, PluginHost};
use crate::bindings::integration::{Integration, IntegrationPre};
use crate::bindings::step::{FunctionStep, FunctionStepPre};
use crate::call_state::{CallState, CpuBudgetExceeded, MemoryLimiter, Phase};
use crate::error::CallError;
use crate::services::CallScope;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wasmtime::component::{ResourceTable, ResourceTableError};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use weft_catalog::Provider;

/// A boxed future borrowing the store for `'a`.
pub(crate) type GuestFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

impl PluginHost {
    pub(crate) fn new_store(
        &self,
        plugin_id: &str,
        metadata: Option<Arc<Provider>>,
        opts: &CallOptions,
        phase: Phase,
    ) -> Store<CallState> {
        // Every stream or pollable a guest opens is an entry here until it
        // drops it; a guest that never does would otherwise grow host memory.
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.config.max_resource_handles);
        let state = CallState {
            table,
            // Defaults: no env, no args, no preopens, stdio discarded.
            wasi: WasiCtx::builder().build(),
            limiter: MemoryLimiter { max_memory_bytes: self.config.max_memory_bytes, denied: false },
            ticks: 0,
            budget_ticks: self.config.cpu_budget_ticks(),
            cpu_budget: self.config.cpu_budget,
            js_egress: false,
            scope: CallScope {
                project_id: opts.project_id.clone(),
                plugin_id: plugin_id.to_owned(),
                connection_id: opts.connection_id.clone(),
            },
            invocation_id: opts.invocation_id.clone(),
            phase,
            deadline_ms: self.config.call_deadline_ms(),
            connection_config: opts.connection_config.clone(),
            metadata,
            base_url: opts.base_url.clone(),
            connection_http: opts.connection_http.clone(),
            services: self.services.clone(),
            config: self.config.clone(),
            http_requests: 0,
            log_lines: 0,
            logs_dropped: 0,
            governor_wait: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Host resources are capped by the table above; this caps the
        // handles the guest holds, including those of its own resources.
        store.set_max_component_handles(self.config.max_resource_handles);
        store.set_epoch_deadline(1);
        // Counts the ticks the guest actually runs through (a guest parked on
        // a host await is not polled, so its ticks are not counted) and
        // yields at each one so one busy plugin cannot starve the others.
        store.epoch_deadline_callback(|mut cx| {
            let s = cx.data_mut();
            s.ticks += 1;
            if s.ticks > s.budget_ticks {
                return Err(wasmtime::Error::new(CpuBudgetExceeded { ticks: s.ticks }));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// Runs `f` on a fresh instance of an integration.
    pub(crate) async fn execute_integration<R: Send>(
        &self,
        plugin_id: &str,
        metadata: Option<Arc<Provider>>,
        pre: &IntegrationPre<CallState>,
        opts: &CallOptions,
        phase: Phase,
        f: impl for<'a> FnOnce(&'a mut Store<CallState>, Integration) -> GuestFuture<'a, R> + Send,
    ) -> Result<R, CallError> {
        let _permit = self.permits.acquire().await.map_err(|_| CallError::Trap("host is shutting down".into()))?;
        let mut store = self.new_store(plugin_id, metadata, opts, phase);
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            f(&mut store, inst).await
        };
        let outcome = tokio::time::timeout(self.config.wall_timeout, run).await;
        self.finish(plugin_id, outcome, &store, self.config.wall_timeout)
    }

    /// Runs `f` on a fresh instance of a function step.
    pub(crate) async fn execute_step<R: Send>(
        &self,
        step_id: &str,
        pre: &FunctionStepPre<CallState>,
        opts: &CallOptions,
        f: impl for<'a> FnOnce(&'a mut Store<CallState>, FunctionStep) -> GuestFuture<'a, R> + Send,
    ) -> Result<R, CallError> {
        let _permit = self.permits.acquire().await.map_err(|_| CallError::Trap("host is shutting down".into()))?;
        let mut store = self.new_store(step_id, None, opts, Phase::Normal);
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            f(&mut store, inst).await
        };
        let outcome = tokio::time::timeout(self.config.wall_timeout, run).await;
        self.finish(step_id, outcome, &store, self.config.wall_timeout)
    }

    pub(crate) fn finish<R>(
        &self,
        plugin_id: &str,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
        store: &Store<CallState>,
        wall_timeout: std::time::Duration,
    ) -> Result<R, CallError> {
        let state = store.data();
        if state.logs_dropped > 0 {
            tracing::warn!(plugin = plugin_id, invocation = %state.invocation_id, dropped = state.logs_dropped, "plugin log lines over the per-call budget were dropped");
        }
        let err = match outcome {
            Ok(Ok(r)) => return Ok(r),
            Ok(Err(e)) => self.classify(e, state),
            Err(_) => CallError::Timeout(wall_timeout),
        };
        tracing::warn!(plugin = plugin_id, invocation = %state.invocation_id, error = %err, "plugin call failed");
        Err(err)
    }

    fn classify(&self, err: wasmtime::Error, state: &CallState) -> CallError {
        if let Some(c) = err.downcast_ref::<CpuBudgetExceeded>() {
            return CallError::CpuBudgetExceeded { budget: state.cpu_budget, ticks: c.ticks };
        }
        if state.limiter.denied {
            return CallError::MemoryLimit { limit_bytes: state.limiter.max_memory_bytes };
        }
        if let Some(ResourceTableError::Full) = err.downcast_ref::<ResourceTableError>() {
            return CallError::ResourceLimit { limit: self.config.max_resource_handles };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => CallError::StackOverflow,
            Some(trap) => CallError::Trap(trap.to_string()),
            None => CallError::Trap(format!("{err:#}")),
        }
    }
}
