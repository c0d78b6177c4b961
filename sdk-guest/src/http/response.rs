//! [`Response`]: a provider's answer, and how statuses become plugin errors.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::wit;
use crate::error::truncate_utf8;
use crate::{Error, Result};

// Provider messages in 4xx bodies help whoever reads the failed run; a few
// hundred bytes are enough to carry them.
const MESSAGE_SNIPPET: usize = 300;

/// A provider's answer: any status, including 3xx (redirects are returned,
/// never followed) and error statuses from [`send_raw`](super::RequestBuilder::send_raw).
///
/// ```no_run
/// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
/// let answer = cx.http().get("/items").send()?;
/// let total = answer.header("x-total-count").unwrap_or("0");
/// let items: Vec<serde_json::Value> = answer.json()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers in the order received; names compare case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body, as received.
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn from_wit(r: wit::Response) -> Self {
        Self { status: r.status, headers: r.headers, body: r.body }
    }

    /// The first header named `name`, compared case-insensitively.
    ///
    /// ```no_run
    /// # fn f(answer: &weft_sdk::http::Response) {
    /// let next = answer.header("Link");
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Deserializes the body as JSON. A body that does not fit `T` is an
    /// `internal` error: the provider no longer matches what the plugin
    /// expects.
    ///
    /// ```no_run
    /// # fn f(answer: weft_sdk::http::Response) -> weft_sdk::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct User { login: String }
    /// let user: User = answer.json()?;
    /// # Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::internal(format!("response body (status {}) is not the expected JSON: {e}", self.status))
        })
    }

    /// The body as text; invalid UTF-8 is replaced with U+FFFD.
    ///
    /// ```no_run
    /// # fn f(answer: &weft_sdk::http::Response) {
    /// weft_sdk::debug!("{}", answer.text());
    /// # }
    /// ```
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// True for 2xx statuses.
    ///
    /// ```no_run
    /// # fn f(answer: &weft_sdk::http::Response) {
    /// if !answer.is_success() { weft_sdk::warn!("unexpected"; status = answer.status); }
    /// # }
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` in milliseconds, when it holds a number of seconds
    /// (the HTTP-date form is not interpreted).
    ///
    /// ```no_run
    /// # fn f(answer: &weft_sdk::http::Response) {
    /// let wait = answer.retry_after_ms().unwrap_or(1_000);
    /// # }
    /// ```
    pub fn retry_after_ms(&self) -> Option<u64> {
        let seconds: u64 = self.header("retry-after")?.trim().parse().ok()?;
        Some(seconds.saturating_mul(1000))
    }

    /// Keeps a 1xx–3xx answer and turns an error status into the matching
    /// plugin [`Error`], as [`send`](super::RequestBuilder::send) does.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// let answer = cx.http().get("/a").send_raw()?.error_for_status()?;
    /// # Ok(()) }
    /// ```
    pub fn error_for_status(self) -> Result<Response> {
        self.check_status("request")
    }

    pub(crate) fn check_status(self, what: &str) -> Result<Response> {
        let status = self.status;
        if status < 400 {
            return Ok(self);
        }
        let text = self.text().into_owned();
        let snippet = truncate_utf8(text.clone(), MESSAGE_SNIPPET);
        let message = if snippet.is_empty() {
            format!("{what}: upstream answered {status}")
        } else {
            format!("{what}: upstream answered {status}: {snippet}")
        };
        Err(match status {
            401 => Error::unauthorized(message),
            403 => Error::forbidden(message),
            404 => Error::not_found(message),
            429 => Error::rate_limited(self.retry_after_ms(), message),
            _ => Error::upstream(status, message, Some(text)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_map_to_plugin_errors() {
        let kind = |s| answer(s, &[], "").error_for_status().map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind(200), Ok(()));
        assert_eq!(kind(302), Ok(()));
        assert_eq!(kind(401), Err("unauthorized"));
        assert_eq!(kind(403), Err("forbidden"));
        assert_eq!(kind(404), Err("not-found"));
        assert_eq!(kind(429), Err("rate-limited"));
        assert_eq!(kind(422), Err("upstream"));
        assert_eq!(kind(503), Err("upstream"));
    }

    #[test]
    fn retry_after_seconds_become_milliseconds() {
        let e = answer(429, &[("Retry-After", " 7 ")], "slow down").error_for_status();
        assert!(matches!(e, Err(Error::RateLimited { retry_after_ms: Some(7000), .. })));
        let e = answer(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], "");
        assert_eq!(e.retry_after_ms(), None);
    }

    #[test]
    fn upstream_errors_keep_status_and_body() {
        let e = answer(500, &[], "oops").error_for_status();
        assert!(matches!(
            e,
            Err(Error::Upstream { status: 500, body: Some(ref b), .. }) if b == "oops"
        ));
    }
}
