//! Outbound HTTP through the host.
//!
//! The plugin never opens a socket and never sees a credential: it describes
//! a request, and the host checks the destination against the plugin's
//! `allowed_hosts`, injects the connection's credentials, applies timeouts,
//! size caps and rate limits, and returns the answer. Redirects are returned,
//! never followed.
//!
//! Start from [`Ctx::http`](crate::Ctx::http):
//!
//! ```no_run
//! use serde::Deserialize;
//! use weft_sdk::{Ctx, Result};
//!
//! #[derive(Deserialize)]
//! struct Issue { number: u64, title: String }
//!
//! fn open_issues(cx: &Ctx, repo: &str) -> Result<Vec<Issue>> {
//!     // A path resolves against the metadata's `base_url`.
//!     cx.http()
//!         .get(format!("/repos/{repo}/issues"))
//!         .query("state", "open")
//!         .send()? // 401/403/404/429/4xx/5xx become plugin errors
//!         .json()
//! }
//! ```

mod error;
pub mod link;
pub mod path;
mod request;
mod response;

pub use error::HttpError;
pub use request::RequestBuilder;
pub use response::Response;

use crate::bindings::imports::http as wit;

/// An HTTP request method.
///
/// ```no_run
/// use weft_sdk::http::Method;
/// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
/// cx.http().request(Method::Options, "/").send_raw()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method's name as sent on the wire.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::http::Method::Patch.as_str(), "PATCH");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }

    fn into_wit(self) -> wit::Method {
        match self {
            Self::Get => wit::Method::Get,
            Self::Head => wit::Method::Head,
            Self::Post => wit::Method::Post,
            Self::Put => wit::Method::Put,
            Self::Patch => wit::Method::Patch,
            Self::Delete => wit::Method::Delete,
            Self::Options => wit::Method::Options,
        }
    }
}

/// Whether the host authenticates a request.
///
/// ```no_run
/// use weft_sdk::http::RequestAuth;
/// # fn f(cx: &weft_sdk::Ctx) {
/// let builder = cx.http().get("/public").auth(RequestAuth::None);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAuth {
    /// Send as-is; the allow-list still applies.
    None,
    /// The host injects the current connection's credentials using the
    /// plugin's declared auth scheme.
    Connection,
}

/// The HTTP client of one call; get it from [`Ctx::http`](crate::Ctx::http).
///
/// It only remembers the default [`RequestAuth`]: `Connection` when the call
/// has a connection, otherwise `None`.
///
/// ```no_run
/// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
/// let http = cx.http();
/// let created = http.post("/items").json(&serde_json::json!({ "name": "a" })).send()?;
/// http.delete(format!("/items/{}", created.json::<serde_json::Value>()?["id"])).send()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Http {
    auth: RequestAuth,
}

impl Http {
    /// A client whose requests use `auth` unless told otherwise. Actions get
    /// theirs from [`Ctx::http`](crate::Ctx::http).
    ///
    /// ```no_run
    /// use weft_sdk::http::{Http, RequestAuth};
    /// let anonymous = Http::new(RequestAuth::None);
    /// ```
    pub fn new(auth: RequestAuth) -> Self {
        Self { auth }
    }

    /// Starts a request. `url` is an absolute `https` URL on an allowed host,
    /// or a path starting with `/` resolved against the metadata's `base_url`.
    ///
    /// ```no_run
    /// use weft_sdk::http::Method;
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// let head = cx.http().request(Method::Head, "/health").send_raw()?;
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new(method, url.into(), self.auth)
    }

    /// Starts a `GET`.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// let user: serde_json::Value = cx.http().get("/user").send()?.json()?;
    /// # Ok(()) }
    /// ```
    pub fn get(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Get, url)
    }

    /// Starts a `POST`.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// cx.http().post("/messages").json(&serde_json::json!({ "text": "hi" })).send()?;
    /// # Ok(()) }
    /// ```
    pub fn post(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Post, url)
    }

    /// Starts a `PUT`.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// cx.http().put("/files/a.txt").body("hello").send()?;
    /// # Ok(()) }
    /// ```
    pub fn put(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Put, url)
    }

    /// Starts a `PATCH`.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// cx.http().patch("/issues/1").json(&serde_json::json!({ "state": "closed" })).send()?;
    /// # Ok(()) }
    /// ```
    pub fn patch(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Patch, url)
    }

    /// Starts a `DELETE`.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// cx.http().delete("/hooks/7").send()?;
    /// # Ok(()) }
    /// ```
    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::Delete, url)
    }

    /// Sends several requests concurrently; see [`fetch_all`].
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let http = cx.http();
    /// let answers = http.fetch_all(vec![http.get("/a"), http.get("/b")]);
    /// # }
    /// ```
    pub fn fetch_all(&self, requests: Vec<RequestBuilder>) -> Vec<Result<Response, HttpError>> {
        fetch_all(requests)
    }
}

/// Sends several requests concurrently (the host bounds the concurrency) and
/// returns one result per request, in input order. Each fails or succeeds on
/// its own, and statuses are not mapped: call
/// [`Response::error_for_status`] on the ones that must succeed.
///
/// ```no_run
/// use weft_sdk::{http, Ctx, Result};
///
/// fn titles(cx: &Ctx, ids: &[u64]) -> Result<Vec<String>> {
///     let requests = ids.iter().map(|id| cx.http().get(format!("/items/{id}"))).collect();
///     http::fetch_all(requests)
///         .into_iter()
///         .map(|answer| {
///             let item: serde_json::Value = answer?.error_for_status()?.json()?;
///             Ok(item["title"].as_str().unwrap_or_default().to_string())
///         })
///         .collect()
/// }
/// ```
pub fn fetch_all(requests: Vec<RequestBuilder>) -> Vec<Result<Response, HttpError>> {
    // A request whose body failed to serialize never reaches the host; the
    // rest still go out in one batch and the answers are put back in order.
    let mut results: Vec<Option<Result<Response, HttpError>>> = Vec::with_capacity(requests.len());
    let mut batch = Vec::with_capacity(requests.len());
    for request in requests {
        match request.into_wit() {
            Ok(wit_request) => {
                batch.push(wit_request);
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    let mut answers = wit::fetch_all(&batch).into_iter();
    results
        .into_iter()
        .map(|slot| match slot {
            Some(failed) => failed,
            None => match answers.next() {
                Some(answer) => answer.map(Response::from_wit).map_err(HttpError::from_wit),
                // The host broke the contract; surface it instead of panicking.
                None => Err(HttpError::Other("host returned too few answers".into())),
            },
        })
        .collect()
}
