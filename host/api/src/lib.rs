//! Weft's HTTP API: the axum routers, the request context every answer goes
//! through (request id, span, CORS, the one error shape) and the extractors
//! that answer bad input in that shape.
//!
//! This crate owns request handling and answers; it never touches wasmtime
//! or SQL. It calls the domain crates (today `weft-plugin-host`) through
//! [`AppState`]. Later routers (SDK, admin, ActionKit, webhooks, portal) are
//! added here, one module each.

pub mod action_logs;
pub mod actions;
mod admin;
pub mod assets;
mod connect;
mod context;
pub mod demo;
mod error;
mod extract;
mod health;
mod mcp;
mod openapi;
mod plugins;
mod portal;
mod principal;
mod proxy;
mod routes;
mod sdk;
mod task_history;
mod throttle;
mod user_token;
pub mod webhooks;
mod workflows;

pub use action_logs::{ActionLogger, TRACE_ID_HEADER};
pub use context::{CorsPolicy, InvalidOrigin, REQUEST_ID_HEADER};
pub use error::ApiError;
pub use principal::Principal;
pub use routes::{Access, RouteSpec};
pub use throttle::{AuthThrottle, ProjectQuota};
pub use user_token::{User, UserTokens};

use axum::Router;
use axum::extract::Request;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
    /// Which page origins may call the routes browsers call.
    pub cors: Arc<CorsPolicy>,
    /// The workflow engine (triggers start executions through it).
    pub engine: Arc<weft_engine::Engine>,
    /// The Task History API's requests per project and window.
    pub task_history_quota: Arc<ProjectQuota>,
    /// The largest webhook delivery accepted, in bytes (413 past it).
    pub webhook_max_body: usize,
    /// Writes ActionKit log entries off the request path.
    pub action_logs: Arc<ActionLogger>,
    /// How long an account's per-action fields are cached (ActionKit's
    /// `reload_fields` replaces them sooner).
    pub fields_ttl: std::time::Duration,
    /// Event destinations: their checks and test sends.
    pub destinations: Arc<weft_events::Destinations>,
    /// The browser SDK, the Connect Portal and the demo's pages.
    pub web: assets::WebAssets,
    /// The offline demo's project and mock CRM (`weft serve --demo`).
    pub demo: Arc<demo::Demo>,
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
        .merge(portal::routes())
        .merge(assets::routes())
        .merge(demo::routes())
        .merge(connect::routes())
        .merge(proxy::routes())
        .merge(task_history::routes())
        .merge(workflows::routes())
        .merge(actions::routes())
        .merge(mcp::routes())
        .merge(webhooks::routes())
        .merge(admin::routes());
    documented.add(http::Method::GET, "/openapi.json", Access::Public, "This document", serve_openapi)
}

/// The OpenAPI document of every route, built once.
async fn serve_openapi() -> extract::Json<serde_json::Value> {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    extract::Json(DOC.get_or_init(|| openapi::document(&route_table())).clone())
}

/// Every route the API serves, with the access it requires.
pub fn route_table() -> Vec<RouteSpec> {
    all_routes().into_parts().1
}

/// The whole API as one service: [`router`], except that Proxy API calls
/// (the hot path, see `proxy::direct_route`) go straight to their handler.
#[derive(Clone)]
pub struct Api {
    router: Router,
    state: AppState,
    /// The client's address, when served through [`Api::for_peer`].
    peer: Option<std::net::SocketAddr>,
}

/// The API service over `state`.
pub fn service(state: AppState) -> Api {
    Api { router: router(state.clone()), state, peer: None }
}

impl Api {
    /// The service of one connection, from `peer`: auth throttling counts
    /// failures by client address. Proxy calls take it from there; routed
    /// requests get it as [`axum::extract::ConnectInfo`], as the router's
    /// extractors expect.
    pub fn for_peer(&self, peer: std::net::SocketAddr) -> Api {
        Api { peer: Some(peer), ..self.clone() }
    }
}

/// Requests with any body the server hands over: proxy calls read it as it
/// is, routed requests get it boxed into an [`axum::body::Body`] (which a
/// `Body` already is).
impl<B> tower::Service<http::Request<B>> for Api
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = ApiFuture;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, req: http::Request<B>) -> ApiFuture {
        match proxy::direct_route(req.method(), req.uri().path()) {
            Some((project, template)) => {
                let ip = self.peer.map(|p| p.ip());
                ApiFuture::Direct {
                    inner: Box::pin(proxy::serve_direct(self.state.clone(), req, project, template, ip)),
                }
            }
            None => {
                let mut req = req.map(axum::body::Body::new);
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

/// The whole API with its request context (request id, span, CORS, error
/// shape) around every route and fallback.
pub fn router(state: AppState) -> Router {
    let (routes, _) = all_routes().into_parts();
    routes
        .fallback(|| async { ApiError::not_found("No route matches this path") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "This method is not allowed on this path",
            )
        })
        .layer(context::Context::new(state.cors.clone()))
        .with_state(state)
}
