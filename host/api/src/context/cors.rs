//! CORS for the routes browsers call with a user token (SDK, Connect,
//! Proxy): no cookies, a fixed list of methods and request headers, and the
//! page origins of [`CorsPolicy`] (any, unless `server.allowed_origins`
//! narrows them).
//!
//! The request headers are exactly those the reference's browser SDK sends
//! (`tests/browser` runs it against Weft) plus the Proxy API's own
//! controls: a header outside the list fails the browser's preflight, so
//! one the SDK adds later shows up there first.
//!
//! Our own rather than `tower_http::cors`: the lists are fixed, so every
//! header value but an echoed origin is a constant, and a call without an
//! `Origin` header (an app backend, the common case on the proxy) gets one
//! `Vary` header instead of a header map built per request. A preflight
//! (`OPTIONS`) is answered by the context and never reaches the route.

use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderMap, HeaderValue, StatusCode};

/// Where the routes browsers call live: every route under it takes a user
/// token (or is the OAuth redirect a browser follows); admin and operator
/// routes are elsewhere. `lib.rs`' route-table test holds the table to it.
const BROWSER_ROUTES: &str = "/projects/";

/// The one group under [`BROWSER_ROUTES`] that browsers do not call: the
/// Task History API takes project API keys, which belong on servers.
const SERVER_ROUTES: &str = "/projects/{projectId}/task-history/";

/// Methods a cross-origin page may use.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers a cross-origin page may send: what the SDK sends on
/// every call (`authorization`, `content-type` — `application/json`, or
/// `auto` on proxy calls — and `x-paragon-sdk-version`), the account it
/// picks (`x-paragon-credential`) and, on workflow calls, the account's
/// configuration (`x-paragon-configuration-id`), and the Proxy API's raw
/// answers and caller request ids. `accept` needs no grant (it is
/// CORS-safelisted).
pub(crate) const HEADERS: &str = "authorization, content-type, x-paragon-configuration-id, x-paragon-credential, x-paragon-sdk-version, x-paragon-use-raw-response, x-request-id";
/// Seconds a browser may cache a preflight answer.
const MAX_AGE: &str = "600";
/// The answer depends on these request headers, so caches must key on them.
const VARY_ON: &str = "origin, access-control-request-method, access-control-request-headers";

/// Which page origins may call the browser routes.
///
/// Any (`*`) by default: these routes authenticate with a bearer token,
/// never a cookie, so a page gains nothing from CORS that the token does
/// not already give, and credentials are never allowed
/// (`Access-Control-Allow-Credentials` is never sent). A list narrows it
/// to exact origins (`https://app.example.com`): another origin's
/// preflight is refused and its answers carry no grant, so a token that
/// leaked to another site is useless from a browser there.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    /// `None`: any origin; else exactly these ASCII serialisations.
    only: Option<Vec<HeaderValue>>,
}

/// A `server.allowed_origins` entry that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOrigin {
    /// The entry as configured.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl std::fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not an allowed origin: {}", self.entry, self.reason)
    }
}

impl std::error::Error for InvalidOrigin {}

impl CorsPolicy {
    /// Any origin (the default).
    pub fn any() -> Self {
        Self { only: None }
    }

    /// The policy of `server.allowed_origins`: `["*"]` for any origin, or
    /// origins such as `https://app.example.com` or `http://localhost:3000`
    /// (scheme, host and port only); an empty list lets no page in.
    pub fn from_origins<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidOrigin> {
        if entries.iter().any(|e| e.as_ref().trim() == "*") {
            return match entries.len() {
                1 => Ok(Self::any()),
                _ => Err(invalid(entries[0].as_ref(), "`*` must be the only entry")),
            };
        }
        let only = entries.iter().map(|e| origin_of(e.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { only: Some(only) })
    }

    /// The `Access-Control-Allow-Origin` value for a request whose
    /// `Origin` header is `origin`, or `None` when it gets no grant.
    pub(super) fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match &self.only {
            None => Some(HeaderValue::from_static("*")),
            Some(list) => origin.filter(|o| list.iter().any(|allowed| allowed == *o)).cloned(),
        }
    }
}

fn invalid(entry: &str, reason: &'static str) -> InvalidOrigin {
    InvalidOrigin { entry: entry.to_owned(), reason }
}

/// The origin `entry` names, serialised as a browser sends it.
fn origin_of(entry: &str) -> Result<HeaderValue, InvalidOrigin> {
    let url = url::Url::parse(entry.trim()).map_err(|_| invalid(entry, "write it like https://app.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(entry, "the scheme must be http or https"));
    }
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !bare || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(entry, "an origin is a scheme, a host and a port, nothing more"));
    }
    if url.host_str().is_some_and(|h| h.contains('*')) {
        return Err(invalid(entry, "wildcards are not supported: list each origin"));
    }
    HeaderValue::from_str(&url.origin().ascii_serialization()).map_err(|_| invalid(entry, "not a header value"))
}

/// What the context decided about a request to a browser route.
#[derive(Debug)]
pub(super) struct Grant {
    /// The request came with an `Origin` header (a browser's, cross-origin).
    origin_sent: bool,
    /// `Access-Control-Allow-Origin`, when the origin is allowed.
    allow: Option<HeaderValue>,
}

impl Grant {
    pub(super) fn of(policy: &CorsPolicy, headers: &HeaderMap) -> Self {
        let origin = headers.get(http::header::ORIGIN);
        Self { origin_sent: origin.is_some(), allow: policy.allow(origin) }
    }

    /// The answer to a preflight, or `None` when the origin is not allowed
    /// (the context answers that with an error).
    pub(super) fn preflight(&mut self) -> Option<Response> {
        let allow = self.allow.take()?;
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        h.insert(VARY, HeaderValue::from_static(VARY_ON));
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(HEADERS));
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        Some(resp)
    }

    /// The CORS headers of an answer: `Vary` always, the grant when the
    /// call came from an allowed origin.
    pub(super) fn decorate(&mut self, h: &mut HeaderMap) {
        h.append(VARY, HeaderValue::from_static(VARY_ON));
        if let Some(allow) = self.allow.take().filter(|_| self.origin_sent) {
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(super::REQUEST_ID_HEADER));
        }
    }
}

/// Whether the route with path template `route` answers CORS.
pub(super) fn applies_to(route: &str) -> bool {
    let browsers =
        route.starts_with(BROWSER_ROUTES) || route.strip_prefix("/v2").is_some_and(|r| r.starts_with(BROWSER_ROUTES));
    browsers && !route.starts_with(SERVER_ROUTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(http::header::ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn a_preflight_lists_what_a_page_may_send() {
        let resp = Grant::of(&CorsPolicy::any(), &request(Some("https://app.example.com"))).preflight().unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], METHODS);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], HEADERS);
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(h[VARY].to_str().unwrap().starts_with("origin"));
        assert!(h.get("access-control-allow-credentials").is_none(), "never credentials");
    }

    /// The headers the browser SDK (2.4.0) sends on the calls Weft serves,
    /// as Chromium lists them in `Access-Control-Request-Headers`, and
    /// nothing that would let a page pose as something else.
    #[test]
    fn the_allowed_headers_are_the_sdks_and_the_proxys_and_no_more() {
        let allowed: Vec<&str> = HEADERS.split(", ").collect();
        let sent = [
            "authorization",
            "content-type",
            "x-paragon-sdk-version",
            "x-paragon-credential",
            "x-paragon-configuration-id",
        ];
        for sent in sent {
            assert!(allowed.contains(&sent), "{sent}");
        }
        for never in ["*", "cookie", "x-forwarded-for", "forwarded"] {
            assert!(!allowed.contains(&never), "{never}");
        }
        assert_eq!(allowed.len(), 7);
    }

    #[test]
    fn a_cross_origin_call_gets_the_origin_and_the_request_id_exposed() {
        let mut h = HeaderMap::new();
        Grant::of(&CorsPolicy::any(), &request(Some("https://app.example.com"))).decorate(&mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], super::super::REQUEST_ID_HEADER);
        assert!(h.get(ACCESS_CONTROL_ALLOW_METHODS).is_none(), "only preflights list methods");
    }

    #[test]
    fn a_call_without_origin_only_gets_vary() {
        let mut h = HeaderMap::new();
        Grant::of(&CorsPolicy::any(), &request(None)).decorate(&mut h);
        assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(h[VARY], VARY_ON);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn a_narrowed_policy_echoes_a_listed_origin_and_grants_no_other() {
        let policy = CorsPolicy::from_origins(&["https://app.example.com", "http://localhost:3000/"]).unwrap();
        let mut h = HeaderMap::new();
        Grant::of(&policy, &request(Some("https://app.example.com"))).decorate(&mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
        let preflight = Grant::of(&policy, &request(Some("http://localhost:3000"))).preflight().unwrap();
        assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3000");
        for other in ["https://evil.example", "https://app.example.com:8443", "http://app.example.com", "null"] {
            let sent = request(Some(other));
            assert!(Grant::of(&policy, &sent).preflight().is_none(), "{other}");
            let mut h = HeaderMap::new();
            Grant::of(&policy, &sent).decorate(&mut h);
            assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{other}");
            assert_eq!(h[VARY], VARY_ON, "caches must not serve one origin's answer to another");
        }
        let none = CorsPolicy::from_origins::<&str>(&[]).unwrap();
        assert!(Grant::of(&none, &request(Some("https://app.example.com"))).preflight().is_none());
    }

    #[test]
    fn allowed_origins_are_origins_or_a_lone_star() {
        assert!(CorsPolicy::from_origins(&["*"]).unwrap().only.is_none());
        let default_port = CorsPolicy::from_origins(&["HTTPS://App.Example.com:443"]).unwrap();
        assert_eq!(default_port.only.unwrap(), vec![HeaderValue::from_static("https://app.example.com")]);
        for bad in [
            &["*", "https://app.example.com"][..],
            &["app.example.com"],
            &["https://app.example.com/path"],
            &["https://app.example.com?x=1"],
            &["https://user@app.example.com"],
            &["ftp://app.example.com"],
            &["https://*.example.com"],
        ] {
            assert!(CorsPolicy::from_origins(bad).is_err(), "{bad:?}");
        }
    }
}
