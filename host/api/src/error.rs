//! The one error type of the API and the middleware that renders it.
//!
//! Handlers return [`ApiError`]; its response carries the error in an
//! extension with an empty body, and [`render_errors`] (which knows the
//! request id) writes the reference's shape:
//! `{"message", "code", "status", "meta": {"requestId"}}`.
//! Server errors are logged with their cause and answered generically.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

/// Header carrying the request id, set on every request and response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// [`REQUEST_ID_HEADER`] as a header name: inserting it copies nothing.
pub(crate) const REQUEST_ID: http::HeaderName = http::HeaderName::from_static(REQUEST_ID_HEADER);

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
}

impl ApiError {
    /// A caller error with a stable `code` and an actionable message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_secs: None }
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

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Renders [`ApiError`]s, and bare 405s from the router, in the error
/// shape with the request id. It runs outside the layer that copies the
/// request id onto responses, so the id is read from the response.
pub fn render_errors(mut resp: Response) -> Response {
    let err = match resp.extensions_mut().remove::<ApiError>() {
        Some(e) => e,
        None if resp.status() == StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "This method is not allowed on this path",
        ),
        None => return resp,
    };
    let request_id = resp.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let body = json!({
        "message": err.message,
        "code": err.code,
        "status": err.status.as_u16(),
        "meta": { "requestId": request_id },
    });
    let mut out = (err.status, Json(body)).into_response();
    if let Some(secs) = err.retry_after_secs {
        out.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
    }
    // Keep the headers the inner layers set (request id, CORS...).
    for (name, value) in resp.headers() {
        if name != http::header::CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
