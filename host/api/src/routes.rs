//! The route table: every route is registered through [`Routes::add`] with
//! the access it requires, so the table the authorization-matrix test (and
//! later the OpenAPI document) reads is the router itself, not a copy of it.

use crate::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use http::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (probes, the public plugin catalogue).
    Public,
    /// A user token of the route's `{projectId}`.
    User,
    /// The operator key.
    Operator,
    /// An API key of the route's `{projectId}` with one of these roles.
    Project(&'static [weft_store::Role]),
}

/// One registered route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path pattern, with `{param}` placeholders.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// One line saying what it does.
    pub summary: &'static str,
}

/// A router under construction and the table of what it serves.
pub(crate) struct Routes {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Routes {
    pub(crate) fn new() -> Self {
        Self { router: Router::new(), specs: Vec::new() }
    }

    /// Registers `handler` for `method path`, requiring `access`. The
    /// handler's extractors enforce the access; the matrix test checks they do.
    pub(crate) fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.router = self.router.route(path, on(filter, handler));
        self.specs.push(RouteSpec { method, path, access, summary });
        self
    }

    /// Appends another group of routes.
    pub(crate) fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.specs.extend(other.specs);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}
