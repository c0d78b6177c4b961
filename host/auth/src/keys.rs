//! The keys a project's tokens are verified with.

use crate::AuthError;
use crate::jwks::JwksCache;
use jsonwebtoken::DecodingKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Smallest RSA modulus accepted.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// What a signing key requires of the tokens it verifies, beyond the
/// policy every token meets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRules {
    /// When set, a token must carry exactly this `iss`; when unset, `iss` is
    /// not checked.
    pub issuer: Option<String>,
    /// When set, a token must carry an `aud` naming it (a string, or a list
    /// holding it); when unset, an `aud` a token carries must name the
    /// project.
    pub audience: Option<String>,
}

impl ClaimRules {
    /// Feeds the rules to a fingerprint: verifications cached under other
    /// rules are not reused.
    fn digest_into(&self, h: &mut Sha256) {
        for part in [&self.issuer, &self.audience] {
            match part {
                Some(text) => {
                    h.update([1]);
                    h.update((text.len() as u64).to_be_bytes());
                    h.update(text.as_bytes());
                }
                None => h.update([0]),
            }
        }
    }
}

/// A public key configured for a project (generated or uploaded).
#[derive(Clone)]
pub struct StaticKey {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    pub(crate) fingerprint: [u8; 32],
    pub(crate) rules: ClaimRules,
}

impl std::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl StaticKey {
    /// Parses an RSA public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`),
    /// refusing keys under 2048 bits.
    pub fn from_pem(kid: Option<String>, pem: &str) -> Result<Self, AuthError> {
        let parsed = rsa::RsaPublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| AuthError::BadKey(format!("not an RSA public key in PEM form: {e}")))?;
        if parsed.n().bits() < MIN_RSA_BITS {
            return Err(AuthError::BadKey(format!("RSA keys must have at least {MIN_RSA_BITS} bits")));
        }
        let key = DecodingKey::from_rsa_pem(pem.trim().as_bytes()).map_err(|e| AuthError::BadKey(e.to_string()))?;
        Ok(Self { kid, key, fingerprint: Sha256::digest(pem.trim().as_bytes()).into(), rules: ClaimRules::default() })
    }

    /// The key, requiring `rules` of the tokens it verifies.
    pub fn with_rules(mut self, rules: ClaimRules) -> Self {
        self.rules = rules;
        self
    }
}

/// Every key a project accepts: static keys and optionally one JWKS.
#[derive(Clone)]
pub struct ProjectKeys {
    pub(crate) static_keys: Vec<StaticKey>,
    pub(crate) jwks: Option<(Arc<JwksCache>, ClaimRules)>,
    /// [`ProjectKeys::fingerprint`], kept up to date by every change.
    fingerprint: [u8; 32],
}

impl Default for ProjectKeys {
    fn default() -> Self {
        Self::with_static(Vec::new())
    }
}

impl ProjectKeys {
    /// Static keys only.
    pub fn with_static(keys: Vec<StaticKey>) -> Self {
        let mut keys = Self { static_keys: keys, jwks: None, fingerprint: [0; 32] };
        keys.refresh_fingerprint();
        keys
    }

    /// Replaces the static keys.
    pub fn set_static(&mut self, keys: Vec<StaticKey>) {
        self.static_keys = keys;
        self.refresh_fingerprint();
    }

    /// Adds a JWKS provider.
    pub fn with_jwks(self, jwks: Arc<JwksCache>) -> Self {
        self.with_jwks_rules(jwks, ClaimRules::default())
    }

    /// Adds a JWKS provider whose keys require `rules` of the tokens they
    /// verify.
    pub fn with_jwks_rules(mut self, jwks: Arc<JwksCache>, rules: ClaimRules) -> Self {
        self.jwks = Some((jwks, rules));
        self.refresh_fingerprint();
        self
    }

    /// Identifies this exact key set: cached verifications made with another
    /// set (a key since removed) are not reused.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    fn refresh_fingerprint(&mut self) {
        let mut h = Sha256::new();
        for k in &self.static_keys {
            h.update(k.fingerprint);
            k.rules.digest_into(&mut h);
        }
        if let Some((j, rules)) = &self.jwks {
            h.update(j.url().as_bytes());
            rules.digest_into(&mut h);
        }
        self.fingerprint = h.finalize().into();
    }
}
