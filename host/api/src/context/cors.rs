//! CORS for the routes browsers call with a user token (SDK, Connect,
//! Proxy): any origin, no cookies, a fixed list of methods and headers.
//!
//! Our own rather than `tower_http::cors`: the policy is fixed, so every
//! header value is a constant, and a call without an `Origin` header (an
//! app backend, the common case on the proxy) gets one `Vary` header
//! instead of a header map built per request. A preflight (`OPTIONS`) is
//! answered by the context and never reaches the route.

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

/// Methods a cross-origin page may use.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers a cross-origin page may send.
const HEADERS: &str = "authorization, content-type, x-paragon-credential, x-paragon-use-raw-response, x-request-id";
/// Seconds a browser may cache a preflight answer.
const MAX_AGE: &str = "600";
/// The answer depends on these request headers, so caches must key on them.
const VARY_ON: &str = "origin, access-control-request-method, access-control-request-headers";

/// Whether the route with path template `route` answers CORS.
pub(super) fn applies_to(route: &str) -> bool {
    route.starts_with(BROWSER_ROUTES)
}

/// The answer to a preflight.
pub(super) fn preflight() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(VARY, HeaderValue::from_static(VARY_ON));
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(HEADERS));
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    resp
}

/// The CORS headers of an answer to a call that was not a preflight;
/// `cross_origin` when the call came with an `Origin` header.
pub(super) fn decorate(h: &mut HeaderMap, cross_origin: bool) {
    h.append(VARY, HeaderValue::from_static(VARY_ON));
    if cross_origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(super::REQUEST_ID_HEADER));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preflight_lists_what_a_page_may_send() {
        let resp = preflight();
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], METHODS);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], HEADERS);
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(h[VARY].to_str().unwrap().starts_with("origin"));
    }

    #[test]
    fn a_cross_origin_call_gets_the_origin_and_the_request_id_exposed() {
        let mut h = HeaderMap::new();
        decorate(&mut h, true);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], super::super::REQUEST_ID_HEADER);
        assert!(h.get(ACCESS_CONTROL_ALLOW_METHODS).is_none(), "only preflights list methods");
    }

    #[test]
    fn a_call_without_origin_only_gets_vary() {
        let mut h = HeaderMap::new();
        decorate(&mut h, false);
        assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(h[VARY], VARY_ON);
        assert_eq!(h.len(), 1);
    }
}
