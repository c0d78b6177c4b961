//! The router's side of the request context: one layer around every route
//! (and the fallbacks) that begins a [`RequestContext`] from the matched
//! route, runs the route in its span and finishes its answer.
//!
//! One layer rather than tower-http's request-id, trace and map-response
//! layers: axum wraps and boxes every route once per layer and clones each
//! box per request, and the fast path could not share their code.

use super::{CorsPolicy, NO_ROUTE, RequestContext};
use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};
use tracing::Instrument;
use tracing::instrument::Instrumented;

/// The layer, under one CORS policy; see the module documentation. Apply
/// it with `Router::layer`, so it runs after routing and sees the matched
/// route.
#[derive(Clone, Debug, Default)]
pub(crate) struct Context {
    cors: Arc<CorsPolicy>,
}

impl Context {
    /// The layer answering CORS with `cors`.
    pub(crate) fn new(cors: Arc<CorsPolicy>) -> Self {
        Self { cors }
    }
}

impl<S> tower::Layer<S> for Context {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContextService { inner, cors: self.cors.clone() }
    }
}

/// The service [`Context`] wraps a route in.
#[derive(Clone, Debug)]
pub(crate) struct ContextService<S> {
    inner: S,
    cors: Arc<CorsPolicy>,
}

impl<S> tower::Service<Request> for ContextService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ContextFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let route = parts.extensions.get::<MatchedPath>().map_or(NO_ROUTE, MatchedPath::as_str);
        let (mut ctx, span) = RequestContext::begin(&self.cors, &parts.method, route, &mut parts.headers);
        if ctx.is_preflight(&parts.method) {
            return ContextFuture::Answered { resp: Some(ctx.preflight()) };
        }
        let inner = self.inner.call(Request::from_parts(parts, body)).instrument(span);
        ContextFuture::Routed { inner, ctx }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer finished by its context, or the context's own.
    #[project = Projected]
    pub(crate) enum ContextFuture<F> {
        Answered { resp: Option<Response> },
        Routed { #[pin] inner: Instrumented<F>, ctx: RequestContext },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for ContextFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project() {
            // Polled again after completion: an empty answer, not a panic.
            Projected::Answered { resp } => Poll::Ready(Ok(resp.take().unwrap_or_default())),
            Projected::Routed { inner, ctx } => {
                let resp = ready!(inner.poll(cx))?;
                Poll::Ready(Ok(ctx.finish(resp)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::{Method, StatusCode};
    use tower::ServiceExt;

    /// Two routes that refuse the caller, one of them a browser's, with
    /// the context around them as `crate::router` applies it.
    fn app() -> Router {
        let refuse = || async { ApiError::unauthorized("Send a credential") };
        Router::new()
            .route("/projects/{projectId}/sdk/me", get(refuse).patch(refuse))
            .route("/admin/projects", get(refuse))
            .fallback(|| async { ApiError::not_found("No route matches this path") })
            .layer(Context::default())
    }

    async fn send(method: Method, uri: &str, origin: bool) -> (Response, serde_json::Value) {
        let mut req = http::Request::builder().method(method).uri(uri);
        if origin {
            req = req.header("origin", "https://app.example.com");
        }
        let resp = app().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = http_body_util::BodyExt::collect(body).await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_preflight_is_answered_without_reaching_the_route() {
        let (resp, body) = send(Method::OPTIONS, "/projects/p/sdk/me", true).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(body, serde_json::Value::Null, "no body");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert!(h["access-control-allow-methods"].to_str().unwrap().contains("PATCH"));
        assert!(!h["x-request-id"].is_empty());
    }

    #[tokio::test]
    async fn a_cross_origin_call_gets_the_route_answer_with_cors_headers_and_the_error_shape() {
        let (resp, body) = send(Method::PATCH, "/projects/p/sdk/me", true).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the route answered");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-expose-headers"], "x-request-id");
        assert_eq!(body["code"], "UNAUTHORIZED");
        assert_eq!(body["meta"]["requestId"], h["x-request-id"].to_str().unwrap());
    }

    #[tokio::test]
    async fn a_preflight_from_an_origin_the_policy_does_not_list_is_refused_in_the_error_shape() {
        let policy = CorsPolicy::from_origins(&["https://other.example.com"]).unwrap();
        let refuse = || async { ApiError::unauthorized("Send a credential") };
        let app =
            Router::new().route("/projects/{projectId}/sdk/me", get(refuse)).layer(Context::new(Arc::new(policy)));
        let req = http::Request::builder()
            .method(Method::OPTIONS)
            .uri("/projects/p/sdk/me")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        assert!(resp.headers()["vary"].to_str().unwrap().contains("origin"));
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], "ORIGIN_NOT_ALLOWED");
    }

    #[tokio::test]
    async fn admin_routes_and_unmatched_paths_answer_no_cors_but_the_same_shape() {
        for uri in ["/admin/projects", "/projects/p/sdk/nothing-here"] {
            let (resp, body) = send(Method::GET, uri, true).await;
            assert!(resp.headers().get("access-control-allow-origin").is_none(), "{uri}");
            assert!(resp.headers().get("vary").is_none(), "{uri}");
            assert_eq!(body["status"], resp.status().as_u16(), "{uri}");
            assert_eq!(body["meta"]["requestId"], resp.headers()["x-request-id"].to_str().unwrap(), "{uri}");
        }
        let (resp, _) = send(Method::OPTIONS, "/admin/projects", true).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "no preflight outside browser routes");
    }
}
