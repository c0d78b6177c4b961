//! Credentials of admin routes: the operator key, or a project API key with
//! its role. Both are presented as `Authorization: Bearer <key>` and looked
//! up by hash; the plaintext is never stored or logged.

use crate::{ApiError, AppState, store_error};
use axum::extract::{FromRequestParts, Path};
use http::StatusCode;
use http::request::Parts;
use std::collections::HashMap;
use weft_store::{ProjectId, Role};

/// Who called an admin route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The operator key: creates and lists projects.
    Operator,
    /// An API key of `project` with `role`.
    ApiKey {
        /// The key's project.
        project: ProjectId,
        /// What it may do.
        role: Role,
    },
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized("Send a valid API key as `Authorization: Bearer <key>`")
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", format!("This key may not {what}"))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = crate::client_ip(parts);
        crate::check_throttle(state, ip)?;
        let outcome = Self::authenticate(parts, state).await;
        if outcome.as_ref().is_err_and(|e| e.status() == StatusCode::UNAUTHORIZED) {
            crate::record_auth_failure(state, ip);
        }
        outcome
    }
}

impl Principal {
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or_else(unauthorized)?;
        let hash = weft_auth::hash_api_key(key);
        if let Some(found) = state.store.find_api_key_by_hash(&hash).await.map_err(store_error)? {
            return Ok(Principal::ApiKey { project: found.project_id, role: found.role });
        }
        if state.store.verify_operator_key_hash(&hash).await.map_err(store_error)? {
            return Ok(Principal::Operator);
        }
        Err(unauthorized())
    }
}

/// The operator, for routes that manage projects themselves.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::Operator => Ok(Operator),
            Principal::ApiKey { .. } => Err(forbidden("manage projects; use the operator key")),
        }
    }
}

/// A set of roles a route admits; the route table and the extractor read
/// the same constant, so what is declared is what is enforced.
pub trait Roles: Send + Sync + 'static {
    /// The roles admitted.
    const ROLES: &'static [Role];
    /// What the route does, for the 403 message.
    const WHAT: &'static str;
}

/// Admin keys only: API keys, secrets, event destinations.
pub struct AdminOnly;
impl Roles for AdminOnly {
    const ROLES: &'static [Role] = &[Role::Admin];
    const WHAT: &'static str = "manage API keys or secrets (admin only)";
}

/// Admin and member keys: project configuration.
pub struct Staff;
impl Roles for Staff {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Member];
    const WHAT: &'static str = "change project configuration (admin or member)";
}

/// Any key of the project, support included: reading users and history.
pub struct AnyRole;
impl Roles for AnyRole {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Member, Role::Support];
    const WHAT: &'static str = "read this project";
}

/// An API key of the route's `{projectId}` whose role is in `R`. A key of
/// another project gets 404, as if the project did not exist.
pub struct ProjectKey<R: Roles> {
    /// The route's project.
    pub project: ProjectId,
    _roles: std::marker::PhantomData<R>,
}

impl<R: Roles> FromRequestParts<AppState> for ProjectKey<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let not_found = || ApiError::not_found("No project matches this path");
        let Path(params) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let route_project: ProjectId = params.get("projectId").and_then(|p| p.parse().ok()).ok_or_else(not_found)?;
        match Principal::from_request_parts(parts, state).await? {
            Principal::ApiKey { project, role } if project == route_project => {
                if !R::ROLES.contains(&role) {
                    return Err(forbidden(R::WHAT));
                }
                Ok(ProjectKey { project, _roles: std::marker::PhantomData })
            }
            Principal::ApiKey { .. } => Err(not_found()),
            Principal::Operator => Err(forbidden("act inside a project; use one of the project's API keys")),
        }
    }
}
