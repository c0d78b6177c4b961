//! The user-token extractor of SDK routes: the route's project picks the
//! keys, the token names the user, and the user is recorded as seen.

use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, Path};
use http::StatusCode;
use http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use weft_auth::{AuthError, JwksCache, JwksConfig, ProjectKeys, StaticKey, UserTokenVerifier};
use weft_egress::Egress;
use weft_store::{ConnectedUser, ProjectId, SigningKeyMaterial, Store};

/// Verifies user tokens against the keys the store holds for a project.
pub struct UserTokens {
    verifier: UserTokenVerifier,
    egress: Arc<dyn Egress>,
    jwks: Mutex<HashMap<String, Arc<JwksCache>>>,
}

impl UserTokens {
    /// Token checks with `verifier`; JWKS documents fetched through `egress`.
    pub fn new(verifier: UserTokenVerifier, egress: Arc<dyn Egress>) -> Self {
        Self { verifier, egress, jwks: Mutex::default() }
    }

    /// The keys of `project`, as configured now (keys removed from the store
    /// stop verifying at once).
    async fn keys(&self, store: &dyn Store, project: ProjectId) -> Result<ProjectKeys, ApiError> {
        let mut keys = ProjectKeys::default();
        let mut statics = Vec::new();
        for k in store.list_signing_keys(project).await.map_err(crate::store_error)? {
            match k.material {
                SigningKeyMaterial::Generated { public_key_pem } | SigningKeyMaterial::Uploaded { public_key_pem } => {
                    match StaticKey::from_pem(k.kid.clone(), &public_key_pem) {
                        Ok(key) => statics.push(key),
                        Err(e) => {
                            tracing::warn!(project = %project, kid = ?k.kid, error = %e, "unusable signing key skipped")
                        }
                    }
                }
                SigningKeyMaterial::Jwks { url } => keys = keys.with_jwks(self.jwks_for(&url)?),
            }
        }
        keys.set_static(statics);
        Ok(keys)
    }

    fn jwks_for(&self, url: &str) -> Result<Arc<JwksCache>, ApiError> {
        let mut all = self.jwks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = all.get(url) {
            return Ok(c.clone());
        }
        let parsed = url.parse().map_err(|_| ApiError::internal(format!("stored JWKS URL {url:?} does not parse")))?;
        let cache = Arc::new(JwksCache::new(parsed, self.egress.clone(), JwksConfig::default()));
        all.insert(url.to_owned(), cache.clone());
        Ok(cache)
    }
}

/// The authenticated connected user of an SDK request.
pub struct User {
    /// The route's project.
    pub project: ProjectId,
    /// The user, as stored.
    pub user: ConnectedUser,
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("No project matches this path"))?;
        let project: ProjectId = params
            .get("projectId")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| ApiError::not_found("No project matches this path"))?;
        let ip = crate::client_ip(parts);
        crate::check_throttle(state, ip)?;
        let outcome = authenticate(parts, state, project).await;
        if outcome.as_ref().is_err_and(|e| e.status() == StatusCode::UNAUTHORIZED) {
            crate::record_auth_failure(state, ip);
        }
        outcome
    }
}

async fn authenticate(parts: &Parts, state: &AppState, project: ProjectId) -> Result<User, ApiError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("Send a user token in the Authorization header"))?;
    // The reference accepts the token with or without the Bearer scheme.
    let token = header.strip_prefix("Bearer ").unwrap_or(header).trim();
    let keys = state.user_tokens.keys(state.store.as_ref(), project).await?;
    let claims = state.user_tokens.verifier.verify(&project.to_string(), &keys, token).await.map_err(|e| match e {
        AuthError::KeysUnavailable(why) => {
            tracing::warn!(project = %project, error = %why, "JWKS unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "KEYS_UNAVAILABLE",
                "The project's signing keys cannot be fetched right now",
            )
        }
        other => ApiError::unauthorized(format!("The user token was refused: {other}")),
    })?;
    let user = state.store.upsert_seen(project, &claims.sub).await.map_err(crate::store_error)?;
    if user.disabled {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "USER_DISABLED", "This user is disabled in this project"));
    }
    Ok(User { project, user })
}
