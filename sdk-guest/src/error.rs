//! [`Error`]: what a plugin export answers when it cannot produce a result.

use std::fmt;

use crate::bindings::integration::weft::plugin::types as wit;

/// The longest upstream body, in bytes, that an [`Error::Upstream`] carries.
///
/// The host stores plugin errors with the run; a provider's multi-megabyte
/// error page is noise there.
pub const MAX_ERROR_BODY: usize = 4096;

/// Errors returned by plugin exports; mirrors the WIT `plugin-error`.
///
/// The host decides on retry, re-authentication or failure from the case, so
/// return the most specific one. The constructors ([`Error::not_found`],
/// [`Error::upstream`], …) accept anything that converts into a `String`.
///
/// ```no_run
/// use weft_sdk::{Ctx, Error, Result};
///
/// fn lookup(_cx: &Ctx, id: u64) -> Result<String> {
///     if id == 0 {
///         return Err(Error::invalid_input("id must be positive"));
///     }
///     Err(Error::not_found(format!("no record {id}")))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input is semantically invalid. Not retried.
    InvalidInput(String),
    /// The provider rejected the credentials. The host refreshes the
    /// connection once and retries.
    Unauthorized(String),
    /// Authenticated, but lacking a scope or permission. Not retried.
    Forbidden(String),
    /// The addressed object does not exist at the provider. Not retried.
    NotFound(String),
    /// The provider throttled the call; the host parks the work.
    RateLimited {
        /// How long to wait, when the provider said so.
        retry_after_ms: Option<u64>,
        /// What was throttled.
        message: String,
    },
    /// The provider failed: 5xx and status 0 are retried by host policy, 4xx
    /// are not.
    Upstream {
        /// The provider's HTTP status, 0 when there was no HTTP answer.
        status: u16,
        /// What went wrong.
        message: String,
        /// The provider's body, at most [`MAX_ERROR_BODY`] bytes.
        body: Option<String>,
    },
    /// The plugin does not implement the requested action, trigger or hook.
    Unsupported(String),
    /// A plugin bug or unexpected state. Not retried.
    Internal(String),
}

/// `Result` with [`Error`] as the default error type.
///
/// ```no_run
/// use weft_sdk::Result;
///
/// fn parse(n: &str) -> Result<u32> {
///     n.parse().map_err(|_| weft_sdk::Error::invalid_input("not a number"))
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The input is semantically invalid.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::invalid_input("`limit` must be at most 100");
    /// ```
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// The provider rejected the credentials.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::unauthorized("token revoked");
    /// ```
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    /// Authenticated, but not allowed.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::forbidden("missing scope `repo`");
    /// ```
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// The addressed object does not exist.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::not_found("issue 42");
    /// ```
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// The provider throttled the call; `retry_after_ms` when it said how long
    /// to wait.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::rate_limited(Some(30_000), "secondary rate limit");
    /// ```
    pub fn rate_limited(retry_after_ms: Option<u64>, message: impl Into<String>) -> Self {
        Self::RateLimited { retry_after_ms, message: message.into() }
    }

    /// The provider failed with `status` (0 when it gave no HTTP answer). The
    /// body is cut to [`MAX_ERROR_BODY`] bytes.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::upstream(502, "bad gateway", Some("<html>…".to_string()));
    /// ```
    pub fn upstream(status: u16, message: impl Into<String>, body: Option<String>) -> Self {
        Self::Upstream { status, message: message.into(), body: body.map(|b| truncate_utf8(b, MAX_ERROR_BODY)) }
    }

    /// The plugin does not implement what was asked.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::unsupported("polling is not available for this trigger");
    /// ```
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported(message.into())
    }

    /// A plugin bug or unexpected state.
    ///
    /// ```no_run
    /// let e = weft_sdk::Error::internal("cursor points past the end");
    /// ```
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    /// The WIT case name, e.g. `"not-found"`.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::Error::not_found("x").kind(), "not-found");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid-input",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::RateLimited { .. } => "rate-limited",
            Self::Upstream { .. } => "upstream",
            Self::Unsupported(_) => "unsupported",
            Self::Internal(_) => "internal",
        }
    }

    /// The human-readable message of any case.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::Error::internal("boom").message(), "boom");
    /// ```
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidInput(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Unsupported(m)
            | Self::Internal(m)
            | Self::RateLimited { message: m, .. }
            | Self::Upstream { message: m, .. } => m,
        }
    }

    pub(crate) fn into_wit(self) -> wit::PluginError {
        match self {
            Self::InvalidInput(m) => wit::PluginError::InvalidInput(m),
            Self::Unauthorized(m) => wit::PluginError::Unauthorized(m),
            Self::Forbidden(m) => wit::PluginError::Forbidden(m),
            Self::NotFound(m) => wit::PluginError::NotFound(m),
            Self::RateLimited { retry_after_ms, message } => {
                wit::PluginError::RateLimited(wit::RateLimit { retry_after_ms, message })
            }
            Self::Upstream { status, message, body } => {
                wit::PluginError::Upstream(wit::UpstreamFailure { status, message, body })
            }
            Self::Unsupported(m) => wit::PluginError::Unsupported(m),
            Self::Internal(m) => wit::PluginError::Internal(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upstream { status, message, .. } => write!(f, "upstream ({status}): {message}"),
            other => write!(f, "{}: {}", other.kind(), other.message()),
        }
    }
}

impl std::error::Error for Error {}

/// JSON that plugin code (de)serializes itself failing is a plugin bug or a
/// provider contract change, never a user mistake: invalid action input is
/// reported separately, as `invalid-input`, by the SDK.
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(format!("json: {e}"))
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_utf8(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_body_is_cut_on_a_char_boundary() {
        let body = "é".repeat(MAX_ERROR_BODY);
        let Error::Upstream { body: Some(b), .. } = Error::upstream(500, "x", Some(body)) else {
            panic!("not upstream");
        };
        assert!(b.len() <= MAX_ERROR_BODY);
        assert!(b.chars().all(|c| c == 'é'));
    }

    #[test]
    fn display_names_the_case() {
        assert_eq!(Error::not_found("x").to_string(), "not-found: x");
        assert_eq!(Error::upstream(503, "down", None).to_string(), "upstream (503): down");
    }
}
