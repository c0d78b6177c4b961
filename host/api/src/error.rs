//! The one error type of the API.
//!
//! Handlers and extractors return [`ApiError`]; its response carries the
//! error in an extension with an empty body, and the request context
//! (`crate::context`, which knows the request id) writes the reference's
//! shape: `{"message", "code", "status", "meta": {"requestId"}}`.
//! Server errors and provider-side failures are logged with their cause and
//! answered generically, citing the request id the log line carries.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

/// Whole seconds, rounded up so a caller that waits exactly that long is
/// not refused again; at least 1.
fn ceil_secs(d: std::time::Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// An error answered to the caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
    /// The message ends with the request id (a generic answer whose detail
    /// is in the log under that id).
    cites_request_id: bool,
    /// Each problem of a refused document (a workflow file): where (a JSON
    /// Pointer) and why, answered as `meta.problems`.
    problems: Option<std::sync::Arc<Vec<Problem>>>,
}

/// One problem of a refused document, as `meta.problems` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A JSON Pointer into the document (`""` for the whole).
    pub path: String,
    /// What is wrong, and what to do.
    pub reason: String,
}

impl ApiError {
    /// A caller error with a stable `code` and an actionable message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_secs: None, cites_request_id: false, problems: None }
    }

    /// The same error, listing each problem of the refused document.
    pub fn with_problems(mut self, problems: Vec<Problem>) -> Self {
        self.problems = Some(std::sync::Arc::new(problems));
        self
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message);
        e.retry_after_secs = Some(ceil_secs(retry_after));
        e
    }

    /// Adds `Retry-After` (whole seconds, rounded up, at least 1).
    pub fn with_retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after_secs = Some(ceil_secs(after));
        self
    }

    /// 400 for a request body that does not fit, saying what to send.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_BODY", message)
    }

    /// 401: the credential is missing or refused; the message says which.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 404 with a message naming what was not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 500: the cause is logged here and never echoed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error")
    }

    /// 502 for a failure on the provider's side (a refused or unreachable
    /// endpoint, an unusable answer): `detail` (addresses, policy reasons,
    /// the provider's words) is logged here, in the request's span, and the
    /// caller gets `message` and the request id to quote, nothing more.
    pub fn bad_gateway(code: &'static str, message: &'static str, detail: impl std::fmt::Display) -> Self {
        tracing::warn!(code, error = %detail, "provider-side failure");
        let mut e = Self::new(StatusCode::BAD_GATEWAY, code, message);
        e.cites_request_id = true;
        e
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable `code` answered.
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// The message answered (without the request id a generic answer cites).
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The error shape, as written to the caller.
#[derive(Serialize)]
struct Shape<'a> {
    message: &'a str,
    code: &'a str,
    status: u16,
    meta: Meta<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [Problem]>,
}

impl ApiError {
    /// The answer's body in the error shape, for the request `request_id`.
    pub(crate) fn body(&self, request_id: &str) -> Vec<u8> {
        let cited;
        let message = if self.cites_request_id {
            cited = format!("{} (request id {request_id})", self.message);
            cited.as_str()
        } else {
            self.message.as_str()
        };
        let shape = Shape {
            message,
            code: self.code,
            status: self.status.as_u16(),
            meta: Meta { request_id, problems: self.problems.as_deref().map(Vec::as_slice) },
        };
        // Strings and a number: serializing cannot fail.
        serde_json::to_vec(&shape).unwrap_or_default()
    }

    /// Whole seconds for `Retry-After`, when the caller should wait.
    pub(crate) fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }
}
