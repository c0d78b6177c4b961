//! `weft:plugin/logging`: guest log lines re-emitted as tracing events with
//! target `plugin` and the ids of the call, within a per-call budget.

use crate::bindings::logging;
use crate::bindings::types::LogLevel;
use crate::call_state::CallState;

impl logging::Host for CallState {
    fn log(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        if self.log_lines >= self.config.max_log_lines_per_call {
            self.logs_dropped += 1;
            return Ok(());
        }
        self.log_lines += 1;
        let max = self.config.max_log_bytes;
        let message = truncate(message, max);
        let fields = fields
            .into_iter()
            .take(32)
            .map(|(k, v)| format!("{}={}", truncate(k, 64), truncate(v, max)))
            .collect::<Vec<_>>()
            .join(" ");
        let plugin = self.scope.plugin_id.as_str();
        let invocation = self.invocation_id.as_str();
        let connection = self.scope.connection_id.as_deref().unwrap_or("");
        let project = self.scope.project_id.as_str();
        // tracing needs static levels, hence one arm per level.
        macro_rules! emit {
            ($lvl:expr) => {
                tracing::event!(target: "plugin", $lvl, plugin, invocation, connection, project, fields = %fields, "{message}")
            };
        }
        match level {
            LogLevel::Trace => emit!(tracing::Level::TRACE),
            LogLevel::Debug => emit!(tracing::Level::DEBUG),
            LogLevel::Info => emit!(tracing::Level::INFO),
            LogLevel::Warn => emit!(tracing::Level::WARN),
            LogLevel::Error => emit!(tracing::Level::ERROR),
        }
        Ok(())
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
