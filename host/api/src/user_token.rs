//! The user-token extractor of SDK routes: the route's project picks the
//! keys, the token names the user, and the user is recorded as seen.

use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, Path};
use http::StatusCode;
use http::request::Parts;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_auth::{AuthError, ClaimRules, JwksCache, JwksConfig, ProjectKeys, StaticKey, UserTokenVerifier};
use weft_egress::Egress;
use weft_store::{ConnectedUser, ProjectId, SigningKeyMaterial, Store};

/// How long a project's key list and a user's "seen" record are reused
/// before the store is asked again. Changes made through this process's
/// admin API apply at once (they clear the entries); other processes see
/// them within this time.
const CACHE_TTL: Duration = Duration::from_secs(1);

/// Verifies user tokens against the keys the store holds for a project.
pub struct UserTokens {
    verifier: UserTokenVerifier,
    egress: Arc<dyn Egress>,
    jwks: Mutex<HashMap<String, Arc<JwksCache>>>,
    /// The project's keys, as last read.
    keys: Mutex<HashMap<ProjectId, (Arc<ProjectKeys>, Instant)>>,
    /// Users recorded as seen recently, with their disabled flag.
    seen: Mutex<HashMap<(ProjectId, String), (bool, Instant)>>,
}

impl UserTokens {
    /// Token checks with `verifier`; JWKS documents fetched through `egress`.
    pub fn new(verifier: UserTokenVerifier, egress: Arc<dyn Egress>) -> Self {
        Self { verifier, egress, jwks: Mutex::default(), keys: Mutex::default(), seen: Mutex::default() }
    }

    /// Forgets the cached keys of `project` (after they changed).
    pub fn forget_keys(&self, project: ProjectId) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).remove(&project);
    }

    /// Forgets what is cached about a user (after it was disabled or removed).
    pub fn forget_user(&self, project: ProjectId, user: &str) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).remove(&(project, user.to_owned()));
    }

    /// The keys of `project`, read at most [`CACHE_TTL`] ago.
    async fn cached_keys(&self, store: &dyn Store, project: ProjectId) -> Result<Arc<ProjectKeys>, ApiError> {
        if let Some((keys, at)) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(&project)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(keys.clone());
        }
        // Boxed: the store read is the rare path.
        let keys = Arc::new(Box::pin(self.keys(store, project)).await?);
        let mut all = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_CACHED {
            all.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        all.insert(project, (keys.clone(), Instant::now()));
        Ok(keys)
    }

    /// The keys of `project`, as configured now.
    async fn keys(&self, store: &dyn Store, project: ProjectId) -> Result<ProjectKeys, ApiError> {
        let mut keys = ProjectKeys::default();
        let mut statics = Vec::new();
        for k in store.list_signing_keys(project).await.map_err(crate::store_error)? {
            let rules = ClaimRules { issuer: k.issuer, audience: k.audience };
            match k.material {
                SigningKeyMaterial::Generated { public_key_pem } | SigningKeyMaterial::Uploaded { public_key_pem } => {
                    match StaticKey::from_pem(k.kid.clone(), &public_key_pem) {
                        Ok(key) => statics.push(key.with_rules(rules)),
                        Err(e) => {
                            tracing::warn!(project = %project, kid = ?k.kid, error = %e, "unusable signing key skipped")
                        }
                    }
                }
                SigningKeyMaterial::Jwks { url } => keys = keys.with_jwks_rules(self.jwks_for(&url)?, rules),
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
        // Never quoted: a query may carry a secret.
        let parsed = url.parse().map_err(|_| ApiError::internal("a stored JWKS URL does not parse"))?;
        let cache = Arc::new(JwksCache::new(parsed, self.egress.clone(), JwksConfig::default()));
        all.insert(url.to_owned(), cache.clone());
        Ok(cache)
    }
}

/// Entries kept per cache before expired ones are dropped.
const MAX_CACHED: usize = 100_000;

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
        let (project, claims) = verified(parts, state).await?;
        let user = state.store.upsert_seen(project, &claims.sub).await.map_err(crate::store_error)?;
        if user.disabled {
            return Err(disabled_error());
        }
        Ok(User { project, user })
    }
}

/// The user of a Proxy API call: only the id, with the "seen" record
/// written at most once per [`CACHE_TTL`] (the proxy is the hot path; a
/// disable through this process's admin API applies at once).
pub struct ProxyUser {
    /// The route's project.
    pub project: ProjectId,
    /// The user's id.
    pub user_id: String,
}

impl FromRequestParts<AppState> for ProxyUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let project = route_project(parts, state).await?;
        Self::of_project(parts, state, project, crate::client_ip(parts)).await
    }
}

impl ProxyUser {
    /// The user of a call to `project` (already read from the path) from
    /// the client at `ip`.
    pub(crate) async fn of_project(
        parts: &Parts,
        state: &AppState,
        project: ProjectId,
        ip: Option<IpAddr>,
    ) -> Result<Self, ApiError> {
        let claims = verified_for(parts, state, project, ip).await?;
        let tokens = &state.user_tokens;
        let key = (project, claims.sub);
        let cached = tokens.seen.lock().unwrap_or_else(|p| p.into_inner()).get(&key).copied();
        let disabled = match cached {
            Some((disabled, at)) if at.elapsed() < CACHE_TTL => disabled,
            _ => {
                let user = state.store.upsert_seen(project, &key.1).await.map_err(crate::store_error)?;
                let mut seen = tokens.seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.len() >= MAX_CACHED {
                    seen.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                }
                seen.insert(key.clone(), (user.disabled, Instant::now()));
                user.disabled
            }
        };
        if disabled {
            return Err(disabled_error());
        }
        Ok(ProxyUser { project, user_id: key.1 })
    }
}

fn disabled_error() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "USER_DISABLED", "This user is disabled in this project")
}

/// The route's project and the verified claims of its user token.
async fn verified(parts: &mut Parts, state: &AppState) -> Result<(ProjectId, weft_auth::UserClaims), ApiError> {
    let project = route_project(parts, state).await?;
    Ok((project, verified_for(parts, state, project, crate::client_ip(parts)).await?))
}

/// The `{projectId}` of the route's parameters (others are ignored).
async fn route_project(parts: &mut Parts, state: &AppState) -> Result<ProjectId, ApiError> {
    #[derive(serde::Deserialize)]
    struct Route {
        #[serde(rename = "projectId")]
        project: String,
    }
    let Path(Route { project }) = Path::<Route>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found("No project matches this path"))?;
    project.parse().map_err(|_| ApiError::not_found("No project matches this path"))
}

/// The verified claims of the user token sent to `project`; failures count
/// against the caller's address, `ip`.
async fn verified_for(
    parts: &Parts,
    state: &AppState,
    project: ProjectId,
    ip: Option<IpAddr>,
) -> Result<weft_auth::UserClaims, ApiError> {
    crate::check_throttle(state, ip)?;
    let outcome = authenticate(parts, state, project).await;
    if outcome.as_ref().is_err_and(|e| e.status() == StatusCode::UNAUTHORIZED) {
        crate::record_auth_failure(state, ip);
    }
    outcome
}

async fn authenticate(parts: &Parts, state: &AppState, project: ProjectId) -> Result<weft_auth::UserClaims, ApiError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("Send a user token in the Authorization header"))?;
    // The reference accepts the token with or without the Bearer scheme.
    let token = header.strip_prefix("Bearer ").unwrap_or(header).trim();
    let keys = state.user_tokens.cached_keys(state.store.as_ref(), project).await?;
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let project_text = project.as_uuid().hyphenated().encode_lower(&mut text);
    let claims = state.user_tokens.verifier.verify(project_text, &keys, token).await.map_err(|e| match e {
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
    if claims.sub == weft_store::APP_USER {
        // The holder of a project's app-level credentials is no connected
        // user: a token naming it could disconnect or disable them.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "RESERVED_USER",
            format!(
                "`{}` is reserved for the project's app-level credentials; sign tokens for your own users",
                weft_store::APP_USER
            ),
        ));
    }
    Ok(claims)
}
