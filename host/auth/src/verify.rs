//! Verifying one user token against one project's keys.

use crate::AuthError;
use crate::cache::VerifiedCache;
use crate::keys::{ClaimRules, ProjectKeys};
use crate::policy::{Clock, SystemClock, TokenPolicy};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The claims Weft uses from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserClaims {
    /// The app's user (or company) id.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Claims as they arrive: typed loosely so that a wrong type is our error
/// message, not a library panic or a silent default.
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<Value>,
    iat: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    aud: Option<Value>,
    iss: Option<Value>,
}

/// Verifies user tokens. One per process; share it.
pub struct UserTokenVerifier {
    policy: TokenPolicy,
    clock: Arc<dyn Clock>,
    cache: VerifiedCache<UserClaims>,
}

impl UserTokenVerifier {
    /// A verifier on the system clock.
    pub fn new(policy: TokenPolicy) -> Self {
        Self::with_clock(policy, Arc::new(SystemClock))
    }

    /// A verifier on the given clock.
    pub fn with_clock(policy: TokenPolicy, clock: Arc<dyn Clock>) -> Self {
        let cache = VerifiedCache::new(policy.cache_entries);
        Self { policy, clock, cache }
    }

    /// Checks `token` for the project whose keys are `keys`: RS256, a key of
    /// this project (narrowed by `kid`), then the claims policy.
    pub async fn verify(&self, project_id: &str, keys: &ProjectKeys, token: &str) -> Result<UserClaims, AuthError> {
        if token.len() > self.policy.max_token_bytes {
            return Err(AuthError::Malformed(format!("token longer than {} bytes", self.policy.max_token_bytes)));
        }
        if token.split('.').count() != 3 {
            return Err(AuthError::Malformed("a token has three dot-separated parts".into()));
        }
        let now = self.clock.now_unix();
        let cache_key = self.cache_key(project_id, keys, token);
        if let Some(hit) = self.cache.get(&cache_key, now) {
            return Ok(hit);
        }
        // Boxed: verifying (and perhaps fetching a JWKS) is the rare path,
        // and its state would otherwise be carried by every call's future.
        Box::pin(self.verify_uncached(project_id, keys, token, cache_key, now)).await
    }

    /// The signature and claims check of a token the cache did not hold.
    async fn verify_uncached(
        &self,
        project_id: &str,
        keys: &ProjectKeys,
        token: &str,
        cache_key: [u8; 32],
        now: i64,
    ) -> Result<UserClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid(format!("algorithm {:?} is not accepted; sign with RS256", header.alg)));
        }
        // `jku`, `x5u`, `jwk` and `x5c` are deliberately never read: keys come
        // from the project, not from the token.
        let (candidates, from_jwks) = self.candidates(keys, header.kid.as_deref()).await?;
        if candidates.is_empty() {
            return Err(AuthError::Invalid("no signing key of this project matches the token".into()));
        }
        // The claims are judged by the rules of the key that verified them.
        let (raw, rules) = candidates
            .iter()
            .find_map(|(key, rules)| Some((decode(token, key)?, rules)))
            .ok_or_else(|| AuthError::Invalid("signature does not verify with this project's keys".into()))?;
        let claims = self.check_claims(project_id, raw, rules, now)?;
        // A JWKS key may disappear at the next refresh: trust it no longer
        // than the key set itself is trusted.
        let until = match from_jwks {
            Some(max_age) => claims.exp.min(now.saturating_add(max_age.as_secs() as i64)),
            None => claims.exp,
        };
        self.cache.insert(cache_key, claims.clone(), until, now);
        Ok(claims)
    }

    fn cache_key(&self, project_id: &str, keys: &ProjectKeys, token: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(project_id.as_bytes());
        h.update([0]);
        h.update(keys.fingerprint());
        h.update(token.as_bytes());
        h.finalize().into()
    }

    /// The keys to try with their claim rules, and the JWKS max age when
    /// they came from a JWKS.
    async fn candidates(
        &self,
        keys: &ProjectKeys,
        kid: Option<&str>,
    ) -> Result<(Vec<(DecodingKey, ClaimRules)>, Option<std::time::Duration>), AuthError> {
        let out: Vec<(DecodingKey, ClaimRules)> = keys
            .static_keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid)
            .map(|k| (k.key.clone(), k.rules.clone()))
            .collect();
        if let (Some((jwks, rules)), Some(kid)) = (&keys.jwks, kid)
            && out.is_empty()
            && let Some(k) = jwks.key(kid).await?
        {
            return Ok((vec![(k, rules.clone())], Some(jwks.max_age())));
        }
        Ok((out, None))
    }

    fn check_claims(
        &self,
        project_id: &str,
        raw: RawClaims,
        rules: &ClaimRules,
        now: i64,
    ) -> Result<UserClaims, AuthError> {
        let leeway = i64::try_from(self.policy.leeway.as_secs()).unwrap_or(i64::MAX);
        let number = |v: &Option<Value>, name: &str| match v {
            Some(Value::Number(n)) => {
                n.as_i64().ok_or_else(|| AuthError::Invalid(format!("`{name}` is not an integer")))
            }
            Some(_) => Err(AuthError::Invalid(format!("`{name}` must be a number of seconds"))),
            None => Err(AuthError::Invalid(format!("`{name}` is required"))),
        };
        let sub = match raw.sub {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s,
            Some(_) => {
                return Err(AuthError::Invalid("`sub` must be a non-empty string of at most 256 bytes".into()));
            }
            None => return Err(AuthError::Invalid("`sub` is required".into())),
        };
        let iat = number(&raw.iat, "iat")?;
        let exp = number(&raw.exp, "exp")?;
        // Widened: `exp - iat` of two hostile i64s overflows, and a wrapped
        // difference would pass the cap.
        let lifetime = i128::from(exp) - i128::from(iat);
        let max_lifetime = self.policy.max_lifetime.as_secs();
        if lifetime > i128::from(max_lifetime) {
            return Err(AuthError::Invalid(format!("token lifetime exceeds the maximum of {max_lifetime} seconds")));
        }
        if lifetime < 0 {
            return Err(AuthError::Invalid("`exp` is before `iat`".into()));
        }
        if iat > now.saturating_add(leeway) {
            return Err(AuthError::Invalid("`iat` is in the future".into()));
        }
        if now > exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        if raw.nbf.is_some() && number(&raw.nbf, "nbf")? > now.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        check_issuer(raw.iss.as_ref(), rules.issuer.as_deref())?;
        check_audience(raw.aud.as_ref(), rules.audience.as_deref(), project_id)?;
        Ok(UserClaims { sub, iat, exp })
    }
}

/// `iss` must be `expected` exactly when the key names an issuer.
fn check_issuer(iss: Option<&Value>, expected: Option<&str>) -> Result<(), AuthError> {
    let Some(expected) = expected else { return Ok(()) };
    match iss {
        Some(Value::String(i)) if i == expected => Ok(()),
        Some(_) => Err(AuthError::Invalid("`iss` names another issuer than this signing key's".into())),
        None => Err(AuthError::Invalid("`iss` is required by this signing key".into())),
    }
}

/// `aud` must name the key's audience when it has one (and is then
/// required); otherwise an `aud` the token carries must name the project.
fn check_audience(aud: Option<&Value>, expected: Option<&str>, project_id: &str) -> Result<(), AuthError> {
    let names = |wanted: &str| match aud {
        Some(Value::String(a)) => a == wanted,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(wanted)),
        _ => false,
    };
    match (aud, expected) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(AuthError::Invalid("`aud` is required by this signing key".into())),
        (Some(_), expected) if names(expected.unwrap_or(project_id)) => Ok(()),
        (Some(_), _) => Err(AuthError::Invalid("`aud` names another audience".into())),
    }
}

/// Signature check only; claims are judged by our own policy and clock.
fn decode(token: &str, key: &DecodingKey) -> Option<RawClaims> {
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.leeway = 0;
    jsonwebtoken::decode::<RawClaims>(token, key, &v).ok().map(|d| d.claims)
}
