//! The context of one request, from its arrival to its answer: the request
//! id (the caller's `x-request-id` when it is short and plain, else a new
//! one), the `weft_api.request` span, CORS on the routes browsers call, and
//! the error shape.
//!
//! Every request goes through [`RequestContext`]: routed ones through the
//! router's one layer ([`Context`]), proxy calls on the fast path (which
//! skip the router, see `proxy::serve_direct`) by calling it directly. So a
//! routed and a fast-path answer carry the same headers and render errors
//! alike by construction, and neither path has a copy of the other's code.
//!
//! Handlers and extractors return [`ApiError`]; its response carries the
//! error in an extension, and [`RequestContext::finish`] (which knows the
//! request id) writes the body and keeps every header the route set.

mod cors;
mod layer;

pub use cors::{CorsPolicy, InvalidOrigin};
pub(crate) use layer::Context;

use crate::ApiError;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// Header carrying the request id, set on every request and response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// [`REQUEST_ID_HEADER`] as a header name: inserting it copies nothing.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Route label of a request no route matched (it answers 404).
pub(crate) const NO_ROUTE: &str = "-";

/// What a request carries until it is answered.
pub(crate) struct RequestContext {
    /// The request id; taken out when the answer gets it.
    id: HeaderValue,
    /// What CORS grants the request, on routes browsers call; `None`
    /// elsewhere (no CORS headers at all).
    cors: Option<cors::Grant>,
}

impl RequestContext {
    /// The context of a request with `method` and `headers` to `route`
    /// (its path template, or [`NO_ROUTE`]) under the CORS `policy`, and its
    /// span. The request id is settled here and set on the request, so
    /// handlers read it from the headers.
    pub(crate) fn begin(
        policy: &CorsPolicy,
        method: &Method,
        route: &str,
        headers: &mut HeaderMap,
    ) -> (Self, tracing::Span) {
        let id = ensure_request_id(headers);
        let cors = cors::applies_to(route).then(|| cors::Grant::of(policy, headers));
        let span = tracing::info_span!(
            "weft_api.request",
            method = %method,
            path = route,
            request_id = id.to_str().unwrap_or_default(),
        );
        (Self { id, cors }, span)
    }

    /// Whether the request is a CORS preflight, which [`Self::preflight`]
    /// answers instead of the route.
    pub(crate) fn is_preflight(&self, method: &Method) -> bool {
        self.cors.is_some() && *method == Method::OPTIONS
    }

    /// The answer to a CORS preflight: the grant, or 403 for an origin
    /// the policy does not allow.
    pub(crate) fn preflight(&mut self) -> Response {
        match self.cors.as_mut().and_then(cors::Grant::preflight) {
            Some(mut resp) => {
                resp.headers_mut().insert(REQUEST_ID, self.take_id());
                resp
            }
            None => {
                let refused = ApiError::new(
                    http::StatusCode::FORBIDDEN,
                    "ORIGIN_NOT_ALLOWED",
                    "Pages of this origin may not call Weft; the operator lists the allowed ones in server.allowed_origins",
                );
                self.finish(axum::response::IntoResponse::into_response(refused))
            }
        }
    }

    /// The route's answer as the caller gets it: CORS headers where they
    /// apply, the request id, and an [`ApiError`] written in the error
    /// shape. Called once per request.
    pub(crate) fn finish(&mut self, mut resp: Response) -> Response {
        if let Some(grant) = self.cors.as_mut() {
            grant.decorate(resp.headers_mut());
        }
        let id = self.take_id();
        if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
            resp = render(resp, &err, id.to_str().unwrap_or_default());
        }
        resp.headers_mut().insert(REQUEST_ID, id);
        resp
    }

    /// The request id, moved out (nothing is copied on the fast path).
    fn take_id(&mut self) -> HeaderValue {
        std::mem::replace(&mut self.id, HeaderValue::from_static(""))
    }
}

/// `resp` answering `err` in the error shape: its status and body, with
/// every header the route and the context set kept.
fn render(resp: Response, err: &ApiError, request_id: &str) -> Response {
    let (mut parts, _) = resp.into_parts();
    parts.status = err.status();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = err.retry_after_secs() {
        parts.headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Response::from_parts(parts, Body::from(err.body(request_id)))
}

/// The longest caller request id kept.
pub(crate) const MAX_REQUEST_ID_LEN: usize = 128;

/// The request's id: the caller's `x-request-id` when it sent one that
/// [`acceptable_request_id`] keeps, else a new one; set on the request
/// (replacing the caller's), so handlers and records see only this one.
fn ensure_request_id(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(&REQUEST_ID)
        && acceptable_request_id(id.as_bytes())
        && headers.get_all(&REQUEST_ID).iter().nth(1).is_none()
    {
        return id.clone();
    }
    let id = new_request_id();
    headers.insert(REQUEST_ID, id.clone());
    id
}

/// A caller's request id is echoed, logged and stored with task records:
/// keep it only when it is 1 to [`MAX_REQUEST_ID_LEN`] characters of
/// `[A-Za-z0-9._:-]`, so it can neither bloat rows nor inject into logs.
fn acceptable_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A random (v4) UUID, written straight into the header value (no
/// intermediate string).
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use http::StatusCode;

    const SDK_ROUTE: &str = "/projects/{projectId}/sdk/me";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    async fn body(resp: Response) -> serde_json::Value {
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_callers_request_id_is_kept_and_a_missing_one_is_set_on_the_request() {
        let mut sent = headers(&[("x-request-id", "req-abc")]);
        let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::GET, "/healthz", &mut sent);
        let resp = ctx.finish(StatusCode::OK.into_response());
        assert_eq!(resp.headers()[REQUEST_ID_HEADER], "req-abc");

        let mut none = HeaderMap::new();
        let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::GET, "/healthz", &mut none);
        let made = none[REQUEST_ID_HEADER].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
        assert_eq!(ctx.finish(StatusCode::OK.into_response()).headers()[REQUEST_ID_HEADER], made.as_str());
    }

    #[test]
    fn a_request_id_that_is_too_long_or_strange_is_replaced() {
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in [long.as_str(), "", "a b", "<script>", "a\tb", "a/b", "\"quoted\""] {
            let mut sent = HeaderMap::new();
            sent.insert(REQUEST_ID, HeaderValue::from_bytes(bad.as_bytes()).unwrap());
            let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::GET, "/healthz", &mut sent);
            let made = sent[REQUEST_ID_HEADER].to_str().unwrap().to_owned();
            assert!(uuid::Uuid::parse_str(&made).is_ok(), "{bad:?} kept as {made:?}");
            assert_eq!(ctx.finish(StatusCode::OK.into_response()).headers()[REQUEST_ID_HEADER], made.as_str());
        }
        let kept = "a".repeat(MAX_REQUEST_ID_LEN);
        for good in [kept.as_str(), "req-1", "trace:01HX.span_2"] {
            let mut sent = HeaderMap::new();
            sent.insert(REQUEST_ID, HeaderValue::from_str(good).unwrap());
            let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::GET, "/healthz", &mut sent);
            assert_eq!(ctx.finish(StatusCode::OK.into_response()).headers()[REQUEST_ID_HEADER], good);
        }
    }

    #[tokio::test]
    async fn an_error_is_written_in_the_shape_with_the_routes_headers_kept() {
        let mut sent = headers(&[("x-request-id", "req-1"), ("origin", "https://app.example.com")]);
        let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::PATCH, SDK_ROUTE, &mut sent);
        let err = ApiError::too_many_requests("Slow down", std::time::Duration::from_millis(1500));
        let mut routed = err.into_response();
        routed.headers_mut().append("x-kept", HeaderValue::from_static("1"));
        routed.headers_mut().append("x-kept", HeaderValue::from_static("2"));
        let resp = ctx.finish(routed);
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["retry-after"], "2");
        assert_eq!(h[REQUEST_ID_HEADER], "req-1");
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h.get_all("x-kept").iter().count(), 2, "multi-valued headers survive");
        assert!(resp.extensions().get::<ApiError>().is_none());
        assert_eq!(
            body(resp).await,
            serde_json::json!({
                "message": "Slow down", "code": "TOO_MANY_REQUESTS", "status": 429, "meta": {"requestId": "req-1"}
            })
        );
    }

    #[test]
    fn only_routes_browsers_call_get_cors_headers_and_preflights() {
        for (route, cors) in [(SDK_ROUTE, true), ("/admin/projects", false), ("/healthz", false), (NO_ROUTE, false)] {
            let mut sent = headers(&[("origin", "https://app.example.com")]);
            let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::OPTIONS, route, &mut sent);
            assert_eq!(ctx.is_preflight(&Method::OPTIONS), cors, "{route}");
            let resp = ctx.finish(StatusCode::OK.into_response());
            assert_eq!(resp.headers().contains_key("access-control-allow-origin"), cors, "{route}");
            assert_eq!(resp.headers().contains_key("vary"), cors, "{route}");
        }
    }

    /// CORS is decided by where a route lives; this keeps every route
    /// there one that browsers call and every route browsers call there.
    #[test]
    fn the_routes_that_answer_cors_are_the_user_token_routes_and_the_oauth_callback() {
        for route in crate::route_table() {
            let browsers_call = route.access == crate::Access::User || route.path.ends_with("/oauth/callback");
            assert_eq!(cors::applies_to(route.path), browsers_call, "{} {}", route.method, route.path);
        }
    }

    #[test]
    fn a_success_passes_through_untouched_but_for_the_context_headers() {
        let mut sent = HeaderMap::new();
        let (mut ctx, _) = RequestContext::begin(&CorsPolicy::any(), &Method::GET, SDK_ROUTE, &mut sent);
        let mut routed = (StatusCode::CREATED, "made").into_response();
        routed.headers_mut().insert("x-request-id", HeaderValue::from_static("from-the-provider"));
        let resp = ctx.finish(routed);
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(resp.headers()[REQUEST_ID_HEADER], sent[REQUEST_ID_HEADER], "Weft's request id wins");
        assert!(resp.headers().get("access-control-allow-origin").is_none(), "no Origin, no CORS origin");
    }
}
