//! ActionKit logs: every ActionKit call (listing the tools or running an
//! action, over `/actions`, `/sdk/actions` or MCP) gets a trace id, answered
//! in the [`TRACE_ID_HEADER`] header, and leaves one log entry: time, user,
//! integration, action, success or error (with the error's status, code and
//! message), duration, trace id and request id. Only error entries keep the
//! request's parameters (a run's `parameters`, a listing's query), with the
//! user's account secrets taken out as a run's result is; tokens are never
//! logged. The admin API lists them with filters
//! (`GET /admin/projects/{projectId}/action-logs`) and the server deletes
//! entries older than `actions.log_retention_days` ([`keep_logs`]).
//!
//! The trace id is Weft's own, a fresh UUID per call: the reference
//! assigns each ActionKit request a unique one, so a caller's trace header
//! is not honoured (two entries could share it). Callers correlate with
//! their own `x-request-id`, which is kept as the entry's request id; the
//! trace-id filter matches either id, so the `meta.requestId` an error
//! answer quotes finds its entry as well.
//!
//! Entries are written off the request path by [`ActionLogger`]. A call
//! refused before its user is known (no or a bad token) leaves no entry.

mod writer;

pub use writer::ActionLogger;

use crate::ApiError;
use crate::user_token::User;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_store::{ActionCallKind, ActionCallSource, ActionLog, ActionLogStatus, MAX_ACTION_LOG_ID_LEN, Store};

/// The response header carrying an ActionKit call's trace id.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// [`TRACE_ID_HEADER`] as a header name.
const TRACE_ID: HeaderName = HeaderName::from_static(TRACE_ID_HEADER);

/// One ActionKit call until it is logged.
pub(crate) struct Call {
    started: Instant,
    entry: ActionLog,
}

impl Call {
    /// A call of `kind` through `source`, for `user`, starting now; the
    /// request id is the one the request context settled.
    pub(crate) fn begin(user: &User, headers: &HeaderMap, kind: ActionCallKind, source: ActionCallSource) -> Self {
        let request_id = headers.get(crate::context::REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let entry = ActionLog {
            id: uuid::Uuid::new_v4(),
            project_id: user.project,
            created_at: time::OffsetDateTime::now_utc(),
            trace_id: uuid::Uuid::new_v4().to_string(),
            request_id: request_id.to_owned(),
            user_id: bounded(&user.user.user_id),
            kind,
            source,
            integration: None,
            action: None,
            status: ActionLogStatus::Success,
            http_status: 200,
            error_code: None,
            error_message: None,
            duration_us: 0,
            parameters: None,
        };
        Self { started: Instant::now(), entry }
    }

    /// The trace id header to answer.
    pub(crate) fn header(&self) -> (HeaderName, HeaderValue) {
        // A UUID's text is always a valid header value.
        (TRACE_ID, HeaderValue::from_str(&self.entry.trace_id).unwrap_or(HeaderValue::from_static("")))
    }

    /// Names the action the caller asked for.
    pub(crate) fn action(&mut self, action: &str) {
        self.entry.action = Some(bounded(action));
    }

    /// Names the integration whose action runs, once it is known.
    pub(crate) fn integration(&mut self, integration: &str) {
        self.entry.integration = Some(bounded(integration));
    }

    /// Logs the call: a success, or `error` with the request's `parameters`.
    pub(crate) fn finish(
        mut self,
        logger: &ActionLogger,
        error: Option<&ApiError>,
        parameters: impl FnOnce() -> Value,
    ) {
        self.entry.duration_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Some(e) = error {
            self.entry.status = ActionLogStatus::Error;
            self.entry.http_status = e.status().as_u16();
            self.entry.error_code = Some(e.code().to_owned());
            self.entry.error_message = Some(e.message().to_owned());
            let parameters = parameters();
            // Bigger than a row may hold: the size, not the document.
            self.entry.parameters = Some(match serde_json::to_vec(&parameters).map(|b| b.len()) {
                Ok(n) if n > MAX_PARAMETERS_BYTES => serde_json::json!({ "omitted": format!("{n} bytes of JSON") }),
                _ => parameters,
            });
        }
        logger.log(self.entry);
    }
}

/// The largest parameters kept on an error entry, bytes of JSON (the
/// store's cap on a JSON column less room for redaction placeholders).
const MAX_PARAMETERS_BYTES: usize = 60 * 1024;

/// `s`, cut to what the store keeps of an id or a name.
fn bounded(s: &str) -> String {
    match s.char_indices().nth(MAX_ACTION_LOG_ID_LEN) {
        Some((at, _)) => s[..at].to_owned(),
        None => s.to_owned(),
    }
}

/// How often [`keep_logs`] sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Entries deleted per statement.
const PURGE_BATCH: u32 = 5000;

/// Deletes entries older than `keep`, at once and then every `every`, in
/// batches; never returns (the server aborts it at shutdown). Every
/// process may sweep: a deletion is idempotent.
pub async fn keep_logs(store: Arc<dyn Store>, keep: Duration, every: Duration) {
    let Ok(keep) = time::Duration::try_from(keep) else { return };
    loop {
        let cutoff = time::OffsetDateTime::now_utc() - keep;
        let mut deleted = 0;
        loop {
            match store.purge_action_logs(cutoff, PURGE_BATCH).await {
                Ok(n) => {
                    deleted += n;
                    if n < u64::from(PURGE_BATCH) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the ActionKit logs' retention sweep failed; retrying later");
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, received_before = %cutoff, "old ActionKit log entries deleted (retention)");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_ACTION_LOG_ID_LEN + 3);
        assert_eq!(bounded(&long).chars().count(), MAX_ACTION_LOG_ID_LEN);
        assert_eq!(bounded("SLACK_SEND_MESSAGE"), "SLACK_SEND_MESSAGE");
    }
}
