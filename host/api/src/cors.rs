//! CORS for the routes browsers call with a user token (SDK, Connect,
//! Proxy): any origin, no cookies, a fixed list of methods and headers.
//!
//! A layer of our own rather than `tower_http::cors`: the policy is fixed,
//! so every header value is a constant, and a call without an `Origin`
//! header (an app backend, the common case on the proxy) passes through
//! with one `Vary` header added instead of a header map built per request.
//! A preflight (`OPTIONS`) is answered here and never reaches the route.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use http::{HeaderValue, Method, StatusCode};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Methods a cross-origin page may use.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers a cross-origin page may send.
const HEADERS: &str = "authorization, content-type, x-paragon-credential, x-paragon-use-raw-response, x-request-id";
/// Seconds a browser may cache a preflight answer.
const MAX_AGE: &str = "600";
/// The answer depends on these request headers, so caches must key on them.
const VARY_ON: &str = "origin, access-control-request-method, access-control-request-headers";

/// The layer; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SdkCors;

impl<S> tower::Layer<S> for SdkCors {
    type Service = SdkCorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SdkCorsService { inner }
    }
}

/// The service [`SdkCors`] wraps a route in.
#[derive(Clone, Debug)]
pub(crate) struct SdkCorsService<S> {
    inner: S,
}

impl<S> tower::Service<Request> for SdkCorsService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.method() == Method::OPTIONS {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::OK;
            let h = resp.headers_mut();
            h.insert(VARY, HeaderValue::from_static(VARY_ON));
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(HEADERS));
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
            return CorsFuture::Preflight { resp: Some(resp) };
        }
        let cross_origin = req.headers().contains_key(ORIGIN);
        CorsFuture::Call { inner: self.inner.call(req), cross_origin }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer with the CORS headers added, or the preflight's.
    #[project = Projected]
    pub(crate) enum CorsFuture<F> {
        Preflight { resp: Option<Response> },
        Call { #[pin] inner: F, cross_origin: bool },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for CorsFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Preflight { resp } => Poll::Ready(Ok(resp.take().expect("polled after completion"))),
            Projected::Call { inner, cross_origin } => {
                let mut resp = std::task::ready!(inner.poll(cx))?;
                decorate(resp.headers_mut(), *cross_origin);
                Poll::Ready(Ok(resp))
            }
        }
    }
}

/// The CORS headers of an answer to a call that was not a preflight;
/// `cross_origin` when the call came with an `Origin` header.
pub(crate) fn decorate(h: &mut http::HeaderMap, cross_origin: bool) {
    h.append(VARY, HeaderValue::from_static(VARY_ON));
    if cross_origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(crate::REQUEST_ID_HEADER));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, ServiceExt};

    async fn answer(req: Request) -> Response {
        let route = tower::service_fn(|_req: Request| async {
            let mut resp = Response::new(Body::from("routed"));
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            Ok::<_, Infallible>(resp)
        });
        SdkCors.layer(route).oneshot(req).await.unwrap()
    }

    fn request(method: Method, origin: Option<&str>) -> Request {
        let mut b = http::Request::builder().method(method).uri("/projects/p/sdk/me");
        if let Some(o) = origin {
            b = b.header(ORIGIN, o);
        }
        b.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_preflight_is_answered_without_reaching_the_route() {
        let resp = answer(request(Method::OPTIONS, Some("https://app.example.com"))).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], METHODS);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], HEADERS);
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(h[VARY].to_str().unwrap().starts_with("origin"));
    }

    #[tokio::test]
    async fn a_cross_origin_call_gets_the_route_answer_with_cors_headers() {
        let resp = answer(request(Method::PATCH, Some("https://app.example.com"))).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the route answered");
        let h = resp.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], crate::REQUEST_ID_HEADER);
        assert!(h.get(ACCESS_CONTROL_ALLOW_METHODS).is_none(), "only preflights list methods");
    }

    #[tokio::test]
    async fn a_call_without_origin_only_gets_vary() {
        let resp = answer(request(Method::GET, None)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let h = resp.headers();
        assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(h[VARY], VARY_ON);
    }
}
