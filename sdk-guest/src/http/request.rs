//! [`RequestBuilder`]: one outbound request, described then sent.

use serde::Serialize;

use super::{HttpError, Method, RequestAuth, Response, wit};
use crate::Result;

/// One outbound request; start it from [`Http`](super::Http) and finish it
/// with [`send`](Self::send) or [`send_raw`](Self::send_raw).
///
/// ```no_run
/// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
/// let answer = cx
///     .http()
///     .post("/chat.postMessage")
///     .header("X-Trace", cx.invocation_id())
///     .json(&serde_json::json!({ "channel": "C1", "text": "deployed" }))
///     .timeout_ms(5_000)
///     .send()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    auth: RequestAuth,
    timeout_ms: Option<u32>,
    // A body that failed to serialize, reported when sending so the builder
    // chain stays infallible (as in reqwest).
    body_error: Option<String>,
}

impl RequestBuilder {
    pub(crate) fn new(method: Method, url: String, auth: RequestAuth) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
            auth,
            timeout_ms: None,
            body_error: None,
        }
    }

    /// Adds a header. The host drops `authorization`, `host` and hop-by-hop
    /// headers: credentials are its job.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx.http().get("/repos").header("Accept", "application/vnd.github+json");
    /// # }
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Appends a query pair; the host percent-encodes it.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx.http().get("/issues").query("state", "open").query("per_page", 100);
    /// # }
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx.http().post("/issues").json(&serde_json::json!({ "title": "Bug" }));
    /// # }
    /// ```
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
                self.headers.push(("content-type".into(), "application/json".into()));
                self.body = Some(bytes);
            }
            Err(e) => self.body_error = Some(format!("request body: {e}")),
        }
        self
    }

    /// Sets a raw body; set the content type yourself.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx
    ///     .http()
    ///     .post("/oauth/token")
    ///     .header("content-type", "application/x-www-form-urlencoded")
    ///     .body("grant_type=client_credentials");
    /// # }
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Caps the wait for an answer; the host clamps it to the invocation
    /// deadline and its own maximum.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx.http().get("/slow-report").timeout_ms(20_000);
    /// # }
    /// ```
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// Sends without credentials, e.g. to a public endpoint. The allow-list
    /// still applies.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx.http().get("/.well-known/openid-configuration").no_auth();
    /// # }
    /// ```
    pub fn no_auth(self) -> Self {
        self.auth(RequestAuth::None)
    }

    /// Asks the host to inject the connection's credentials even where the
    /// default would not; a call without a connection then fails with
    /// [`HttpError::CredentialsUnavailable`].
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let r = cx.http().get("/me").connection_auth();
    /// # }
    /// ```
    pub fn connection_auth(self) -> Self {
        self.auth(RequestAuth::Connection)
    }

    /// Sets how the host authenticates this request.
    ///
    /// ```no_run
    /// use weft_sdk::http::RequestAuth;
    /// # fn f(cx: &weft_sdk::Ctx, public: bool) {
    /// let auth = if public { RequestAuth::None } else { RequestAuth::Connection };
    /// let r = cx.http().get("/items").auth(auth);
    /// # }
    /// ```
    pub fn auth(mut self, auth: RequestAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Sends the request and maps error statuses onto plugin errors:
    /// 401 → `unauthorized`, 403 → `forbidden`, 404 → `not-found`, 429 →
    /// `rate-limited` (with `Retry-After` seconds), other 4xx and 5xx →
    /// `upstream`. Use [`send_raw`](Self::send_raw) to see every status.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// let repo: serde_json::Value = cx.http().get("/repos/octo/hello").send()?.json()?;
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> Result<Response> {
        let what = format!("{} {}", self.method.as_str(), self.url);
        self.send_raw()?.check_status(&what)
    }

    /// Sends the request and returns any answer, whatever its status.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<bool> {
    /// // 404 is an expected answer here, not an error.
    /// let exists = cx.http().get("/users/octocat").send_raw()?.status == 200;
    /// # Ok(exists) }
    /// ```
    pub fn send_raw(self) -> Result<Response, HttpError> {
        let request = self.into_wit()?;
        wit::fetch(&request).map(Response::from_wit).map_err(HttpError::from_wit)
    }

    pub(crate) fn into_wit(self) -> Result<wit::Request, HttpError> {
        if let Some(e) = self.body_error {
            return Err(HttpError::InvalidRequest(e));
        }
        Ok(wit::Request {
            method: self.method.into_wit(),
            url: self.url,
            headers: self.headers,
            query: self.query,
            body: self.body,
            auth: match self.auth {
                RequestAuth::None => wit::Auth::None,
                RequestAuth::Connection => wit::Auth::Connection,
            },
            timeout_ms: self.timeout_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_replaces_an_earlier_content_type() {
        let r = RequestBuilder::new(Method::Post, "/x".into(), RequestAuth::None)
            .header("Content-Type", "text/plain")
            .json(&serde_json::json!({ "a": 1 }));
        let wit = r.into_wit().expect("valid request");
        let types: Vec<_> = wit.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-type")).collect();
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].1, "application/json");
        assert_eq!(wit.body.as_deref(), Some(&br#"{"a":1}"#[..]));
    }

    #[test]
    fn a_body_that_fails_to_serialize_is_an_invalid_request() {
        // JSON object keys must be strings.
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let r = RequestBuilder::new(Method::Post, "/x".into(), RequestAuth::None).json(&bad);
        assert!(matches!(r.into_wit(), Err(HttpError::InvalidRequest(_))));
    }
}
