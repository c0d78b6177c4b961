//! A project's JWKS endpoint, cached.
//!
//! Fetches are single-flight; a `kid` missing from a fresh copy triggers at
//! most one refetch per cooldown, so a flood of random `kid`s costs the
//! provider one request; a failed refresh keeps serving the previous copy
//! within the stale-if-error bound.

use crate::AuthError;
use crate::keys::MIN_RSA_BITS;
use base64::Engine as _;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_egress::{Egress, OutboundRequest, Url};

/// Caching rules of a JWKS.
#[derive(Debug, Clone)]
pub struct JwksConfig {
    /// How long a fetched key set is used without refetching.
    pub max_age: Duration,
    /// Least time between two refetches caused by an unknown `kid`.
    pub refetch_cooldown: Duration,
    /// Time allowed for one fetch.
    pub fetch_timeout: Duration,
    /// How long past `max_age` a key set is still used when refetching fails.
    pub stale_if_error: Duration,
    /// Largest JWKS document accepted.
    pub max_bytes: u64,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(600),
            refetch_cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
            stale_if_error: Duration::from_secs(3600),
            max_bytes: 256 * 1024,
        }
    }
}

#[derive(Default)]
struct Snapshot {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// One JWKS URL with its cached keys.
pub struct JwksCache {
    url: Url,
    egress: Arc<dyn Egress>,
    config: JwksConfig,
    snapshot: Mutex<Snapshot>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: String,
    e: String,
}

impl JwksCache {
    /// A cache of `url`, fetched through `egress`.
    pub fn new(url: Url, egress: Arc<dyn Egress>, config: JwksConfig) -> Self {
        Self { url, egress, config, snapshot: Mutex::default(), fetching: tokio::sync::Mutex::new(()) }
    }

    /// The JWKS URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// How long a fetched key set is trusted.
    pub fn max_age(&self) -> Duration {
        self.config.max_age
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key for `kid`: from the cache when fresh, else after one
    /// (single-flight) fetch; `Ok(None)` when the set has no such key.
    pub async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let _turn = self.fetching.lock().await;
        // Someone may have fetched while we waited.
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        self.lock().last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let mut s = self.lock();
                s.keys = keys;
                s.fetched_at = Some(Instant::now());
                Ok(s.keys.get(kid).cloned())
            }
            Err(e) => {
                let s = self.lock();
                let usable =
                    s.fetched_at.is_some_and(|at| at.elapsed() < self.config.max_age + self.config.stale_if_error);
                if usable {
                    // Scheme, host and path only: a query may carry a secret.
                    let url = &self.url[..url::Position::AfterPath];
                    tracing::warn!(url, error = %e, "JWKS refresh failed; serving the cached key set");
                    Ok(s.keys.get(kid).cloned())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// `Some(answer)` when the cache can answer without fetching.
    fn cached(&self, kid: &str) -> Option<Option<DecodingKey>> {
        let s = self.lock();
        let fresh = s.fetched_at.is_some_and(|at| at.elapsed() < self.config.max_age);
        if !fresh {
            return None;
        }
        if let Some(k) = s.keys.get(kid) {
            return Some(Some(k.clone()));
        }
        // Unknown kid in a fresh set: refetch only once per cooldown.
        let cooling = s.last_attempt.is_some_and(|at| at.elapsed() < self.config.refetch_cooldown);
        cooling.then_some(None)
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AuthError> {
        let mut req = OutboundRequest::get(self.url.clone());
        req.timeout = Some(self.config.fetch_timeout);
        req.max_response_bytes = Some(self.config.max_bytes);
        req.headers.push(("accept".into(), "application/json".into()));
        let resp = self.egress.send(req).await.map_err(|e| AuthError::KeysUnavailable(e.to_string()))?;
        if resp.status != 200 {
            return Err(AuthError::KeysUnavailable(format!("JWKS answered {}", resp.status)));
        }
        let set: JwkSet = serde_json::from_slice(&resp.body)
            .map_err(|e| AuthError::KeysUnavailable(format!("JWKS is not a key set: {e}")))?;
        Ok(set.keys.iter().filter_map(usable_key).collect())
    }
}

/// Keeps only RSA signing keys for RS256 of at least 2048 bits with a `kid`;
/// everything else (`oct`, EC, HS256, encryption keys) is ignored.
fn usable_key(raw: &serde_json::Value) -> Option<(String, DecodingKey)> {
    let jwk: RsaJwk = serde_json::from_value(raw.clone()).ok()?;
    let kid = jwk.kid?;
    if jwk.kty != "RSA"
        || jwk.alg.as_deref().is_some_and(|a| a != "RS256")
        || jwk.use_.as_deref().is_some_and(|u| u != "sig")
    {
        return None;
    }
    let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwk.n.trim_end_matches('=')).ok()?;
    let leading_zeros = modulus.iter().take_while(|b| **b == 0).count();
    if (modulus.len() - leading_zeros) * 8 < MIN_RSA_BITS {
        return None;
    }
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).ok()?;
    Some((kid, key))
}
