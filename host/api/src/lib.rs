//! Weft's HTTP API: the axum routers, the one error shape and request ids.
//!
//! This crate owns request handling and answers; it never touches wasmtime
//! or SQL. It calls the domain crates (today `weft-plugin-host`) through
//! [`AppState`]. Later routers (SDK, admin, ActionKit, webhooks, portal) are
//! added here, one module each.

mod admin;
mod connect;
mod cors;
mod error;
mod health;
mod openapi;
mod plugins;
mod principal;
mod proxy;
mod routes;
mod sdk;
mod throttle;
mod user_token;

pub use error::{ApiError, REQUEST_ID_HEADER, render_errors};
pub use principal::Principal;
pub use routes::{Access, RouteSpec};
pub use throttle::AuthThrottle;
pub use user_token::{User, UserTokens};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use weft_plugin_host::PluginHost;

/// What handlers share: one pointer, so the per-request copy axum makes
/// for every handler is one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state over `services`.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    /// Installed plugins.
    pub plugins: Arc<PluginHost>,
    /// Set once start-up finished (plugins loaded); `/readyz` reports it.
    pub ready: Arc<AtomicBool>,
    /// Projects, keys, users, integrations.
    pub store: Arc<dyn weft_store::Store>,
    /// User-token verification.
    pub user_tokens: Arc<UserTokens>,
    /// Failed-authentication budget per client address.
    pub auth_throttle: Arc<AuthThrottle>,
    /// Connected accounts.
    pub credentials: Arc<weft_credentials::Credentials>,
    /// The Proxy API's service.
    pub proxy: Arc<weft_proxy::Proxy>,
}

/// The caller's address, when the server was started with connection info.
pub(crate) fn client_ip(parts: &http::request::Parts) -> Option<std::net::IpAddr> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

/// Refuses a caller over its failed-authentication budget.
pub(crate) fn check_throttle(state: &AppState, ip: Option<std::net::IpAddr>) -> Result<(), ApiError> {
    match ip.map(|ip| state.auth_throttle.check(ip)) {
        Some(Err(retry_after)) => Err(ApiError::too_many_requests(
            "Too many failed authentications from this address; retry later",
            retry_after,
        )),
        _ => Ok(()),
    }
}

/// Counts a failed authentication against the caller's address.
pub(crate) fn record_auth_failure(state: &AppState, ip: Option<std::net::IpAddr>) {
    if let Some(ip) = ip {
        state.auth_throttle.record_failure(ip);
    }
}

/// Reads an optional JSON body into `T`; a missing or unfitting body gets
/// 400 with `example` showing what to send.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    raw: Option<axum::Json<serde_json::Value>>,
    example: &str,
) -> Result<T, ApiError> {
    let value = raw.map(|axum::Json(v)| v).unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("Send {example}: {e}")))
}

/// Maps a store error to the answer: its public message for caller
/// mistakes, a generic 500 (cause logged) for backend failures.
pub(crate) fn store_error(e: weft_store::Error) -> ApiError {
    use weft_store::Error as E;
    match &e {
        E::NotFound(_) => ApiError::not_found(e.public_message().unwrap_or_else(|| "Not found".into())),
        E::Conflict(_) => ApiError::new(http::StatusCode::CONFLICT, "CONFLICT", e.public_message().unwrap_or_default()),
        E::Invalid(_) => {
            ApiError::new(http::StatusCode::BAD_REQUEST, "INVALID", e.public_message().unwrap_or_default())
        }
        _ => ApiError::internal(e),
    }
}

fn all_routes() -> routes::Routes {
    let documented = health::routes()
        .merge(plugins::routes())
        .merge(sdk::routes())
        .merge(connect::routes().layer_all(|r| r.layer(cors::SdkCors)))
        .merge(proxy::routes())
        .merge(admin::routes());
    documented.add(http::Method::GET, "/openapi.json", Access::Public, "This document", serve_openapi)
}

/// The OpenAPI document of every route, built once.
async fn serve_openapi() -> axum::Json<serde_json::Value> {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    axum::Json(DOC.get_or_init(|| openapi::document(&route_table())).clone())
}

/// Every route the API serves, with the access it requires.
pub fn route_table() -> Vec<RouteSpec> {
    all_routes().into_parts().1
}

/// A random (v4) UUID for a request that came without an id, written
/// straight into the header value (no intermediate string).
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        Some(RequestId::new(new_request_id()))
    }
}

fn new_request_id() -> http::HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    http::HeaderValue::from_str(text).expect("a UUID is a valid header value")
}

/// The request's id, as the router's layers settle it: the caller's
/// `x-request-id` when it sent one, else a new one, set on the request.
pub(crate) fn ensure_request_id(headers: &mut http::HeaderMap) -> http::HeaderValue {
    if let Some(id) = headers.get(REQUEST_ID_HEADER) {
        return id.clone();
    }
    let id = new_request_id();
    headers.insert(error::REQUEST_ID, id.clone());
    id
}

/// The whole API as one service: [`router`], except that Proxy API calls
/// (the hot path, see `proxy::direct_route`) go straight to their handler.
#[derive(Clone)]
pub struct Api {
    router: Router,
    state: AppState,
    /// The client's address, when served through [`Api::per_connection`].
    peer: Option<std::net::SocketAddr>,
}

/// The API service over `state`.
pub fn service(state: AppState) -> Api {
    Api { router: router(state.clone()), state, peer: None }
}

impl Api {
    /// The service `axum::serve` asks for: one [`Api`] per connection that
    /// knows the client's address (auth throttling counts failures by
    /// address). Proxy calls take it from there; routed requests get it as
    /// [`axum::extract::ConnectInfo`], as the router's extractors expect.
    pub fn per_connection(self) -> PerConnection {
        PerConnection(self)
    }
}

/// Makes the [`Api`] of each accepted connection; see [`Api::per_connection`].
#[derive(Clone)]
pub struct PerConnection(Api);

impl<L> tower::Service<axum::serve::IncomingStream<'_, L>> for PerConnection
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    type Response = Api;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Api, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(Api { peer: Some(*stream.remote_addr()), ..self.0.clone() }))
    }
}

impl tower::Service<Request> for Api {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = ApiFuture;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut req: Request) -> ApiFuture {
        match proxy::direct_route(req.method(), req.uri().path()) {
            Some((project, template)) => {
                let ip = self.peer.map(|p| p.ip());
                ApiFuture::Direct {
                    inner: Box::pin(proxy::serve_direct(self.state.clone(), req, project, template, ip)),
                }
            }
            None => {
                if let Some(peer) = self.peer {
                    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                }
                ApiFuture::Routed { inner: self.router.call(req) }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`Api`]: the router's, or the proxy handler's.
    #[project = ApiProjected]
    pub enum ApiFuture {
        /// Through the router.
        Routed { #[pin] inner: axum::routing::future::RouteFuture<std::convert::Infallible> },
        /// Straight to the proxy.
        Direct { inner: std::pin::Pin<Box<dyn Future<Output = axum::response::Response> + Send>> },
    }
}

impl Future for ApiFuture {
    type Output = Result<axum::response::Response, std::convert::Infallible>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match self.project() {
            ApiProjected::Routed { inner } => inner.poll(cx),
            ApiProjected::Direct { inner } => inner.as_mut().poll(cx).map(Ok),
        }
    }
}

/// The whole API with its layers: request id (set, propagated), tracing
/// span (method, matched path, request id), error rendering.
pub fn router(state: AppState) -> Router {
    let request_id = error::REQUEST_ID;
    let (routes, _) = all_routes().into_parts();
    // One layer of four (not four layers): axum wraps and boxes every route
    // once per layer and clones each box per request.
    let layers = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), NewRequestId))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let path = req.extensions().get::<MatchedPath>().map_or("-", |p| p.as_str());
            let id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("weft_api.request", method = %req.method(), path = path, request_id = %id)
        }))
        // Outside the propagation: responses carry the request id here.
        .layer(tower::util::MapResponseLayer::new(render_errors))
        .layer(PropagateRequestIdLayer::new(request_id));
    routes.fallback(|| async { ApiError::not_found("No route matches this path") }).with_state(state).layer(layers)
}
