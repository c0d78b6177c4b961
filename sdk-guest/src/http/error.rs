//! [`HttpError`]: why a request got no HTTP answer.

use std::fmt;

use crate::Error;
use crate::bindings::imports::http as wit;

/// Why a request got no HTTP answer; mirrors the WIT `http.error`.
///
/// A status code, even 500, is an answer and arrives as a
/// [`Response`](super::Response). With `?` in a function returning
/// [`weft_sdk::Result`](crate::Result), an `HttpError` turns into the
/// matching plugin [`Error`] (see the `From` impl).
///
/// ```no_run
/// use weft_sdk::http::HttpError;
/// # fn f(cx: &weft_sdk::Ctx) {
/// match cx.http().get("https://api.example.com/ping").send_raw() {
///     Ok(answer) => weft_sdk::info!("answered"; status = answer.status),
///     Err(HttpError::Timeout) => weft_sdk::warn!("no answer in time"),
///     Err(other) => weft_sdk::error!("{}", other; kind = other.kind()),
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The destination is not in `allowed_hosts`, or the host's network
    /// policy blocks it. Not retryable.
    Denied(String),
    /// The request is malformed (bad URL, bad header, a body that failed to
    /// serialize). Not retryable.
    InvalidRequest(String),
    /// Connection auth was asked for, but the call has no connection or its
    /// credentials could not be refreshed.
    CredentialsUnavailable(String),
    /// No answer within the timeout.
    Timeout,
    /// Connecting or reading failed (refused, reset, truncated).
    ConnectionFailed(String),
    /// The response body exceeded the host limit, in bytes.
    ResponseTooLarge(u64),
    /// The per-invocation request budget or a host rate limit is exhausted.
    QuotaExceeded(String),
    /// Anything else the host could not classify.
    Other(String),
}

impl HttpError {
    /// The WIT case name, e.g. `"connection-failed"`.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::http::HttpError::Timeout.kind(), "timeout");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Denied(_) => "denied",
            Self::InvalidRequest(_) => "invalid-request",
            Self::CredentialsUnavailable(_) => "credentials-unavailable",
            Self::Timeout => "timeout",
            Self::ConnectionFailed(_) => "connection-failed",
            Self::ResponseTooLarge(_) => "response-too-large",
            Self::QuotaExceeded(_) => "quota-exceeded",
            Self::Other(_) => "other",
        }
    }

    /// A human-readable description; for `ResponseTooLarge` it names the limit.
    ///
    /// ```no_run
    /// let e = weft_sdk::http::HttpError::ResponseTooLarge(1024);
    /// assert!(e.message().contains("1024"));
    /// ```
    pub fn message(&self) -> String {
        match self {
            Self::Denied(m)
            | Self::InvalidRequest(m)
            | Self::CredentialsUnavailable(m)
            | Self::ConnectionFailed(m)
            | Self::QuotaExceeded(m)
            | Self::Other(m) => m.clone(),
            Self::Timeout => "no answer within the timeout".to_string(),
            Self::ResponseTooLarge(limit) => {
                format!("response body exceeds the host limit of {limit} bytes")
            }
        }
    }

    pub(crate) fn from_wit(e: wit::Error) -> Self {
        match e {
            wit::Error::Denied(m) => Self::Denied(m),
            wit::Error::InvalidRequest(m) => Self::InvalidRequest(m),
            wit::Error::CredentialsUnavailable(m) => Self::CredentialsUnavailable(m),
            wit::Error::Timeout => Self::Timeout,
            wit::Error::ConnectionFailed(m) => Self::ConnectionFailed(m),
            wit::Error::ResponseTooLarge(limit) => Self::ResponseTooLarge(limit),
            wit::Error::QuotaExceeded(m) => Self::QuotaExceeded(m),
            wit::Error::Other(m) => Self::Other(m),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http {}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for HttpError {}

/// Maps a missing answer onto the plugin error whose host policy fits:
/// transient network trouble is `upstream` with status 0 (retried), missing
/// credentials are `unauthorized` (refresh, then re-auth), a host budget is
/// `rate-limited` (parked), and policy or request mistakes are not retried.
impl From<HttpError> for Error {
    fn from(e: HttpError) -> Self {
        let message = e.to_string();
        match e {
            HttpError::Denied(_) => Error::forbidden(message),
            HttpError::InvalidRequest(_) => Error::invalid_input(message),
            HttpError::CredentialsUnavailable(_) => Error::unauthorized(message),
            HttpError::Timeout | HttpError::ConnectionFailed(_) | HttpError::Other(_) => {
                Error::upstream(0, message, None)
            }
            HttpError::ResponseTooLarge(_) => Error::internal(message),
            HttpError::QuotaExceeded(_) => Error::rate_limited(None, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_trouble_is_a_retryable_upstream_failure() {
        for e in [HttpError::Timeout, HttpError::ConnectionFailed("reset".into())] {
            assert!(matches!(Error::from(e), Error::Upstream { status: 0, .. }));
        }
    }

    #[test]
    fn policy_and_credentials_map_to_specific_cases() {
        assert_eq!(Error::from(HttpError::Denied("x".into())).kind(), "forbidden");
        assert_eq!(Error::from(HttpError::CredentialsUnavailable("x".into())).kind(), "unauthorized");
        assert_eq!(Error::from(HttpError::QuotaExceeded("x".into())).kind(), "rate-limited");
    }
}
