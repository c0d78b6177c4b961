//! Who is calling: verification of user tokens (the JWTs an app signs for
//! its users) and the keys they are checked with.
//!
//! This crate owns the token policy of DESIGN.md's security invariants:
//! RS256 only; the key set is chosen by the route's project, never by the
//! token (then narrowed by `kid`); `sub`, `iat` and `exp` required; a maximum
//! lifetime; an explicit leeway; `nbf` checked; `jku`, `x5u` and `jwk`
//! headers ignored; `iss` and `aud` checked as the verifying key's
//! [`ClaimRules`] say. JWKS key sets are cached with a maximum age, a cooldown
//! before an unknown `kid` may trigger a refetch (single-flight), a fetch
//! timeout and a bounded stale-if-error window; the fetch goes through the
//! egress client. Verified tokens are cached (bounded, never past `exp`,
//! keyed by the key set too, so a removed key takes effect at once).
//!
//! It does not own where keys are stored (the store) nor HTTP answers (the
//! API maps [`AuthError`] to statuses).
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_auth::AuthError> {
//! use weft_auth::{ProjectKeys, StaticKey, TokenPolicy, UserTokenVerifier};
//! weft_auth::self_test()?; // at start-up: a broken crypto backend fails here
//! let (private_pem, public_pem) = weft_auth::generate_signing_key()?;
//! let keys = ProjectKeys::with_static(vec![StaticKey::from_pem(Some("k1".into()), &public_pem)?]);
//! let verifier = UserTokenVerifier::new(TokenPolicy::default());
//! # let token = "";
//! let user = verifier.verify("project-id", &keys, token).await?;
//! println!("user {}", user.sub);
//! # let _ = private_pem; Ok(()) }
//! ```
#![deny(missing_docs)]

mod api_keys;
mod cache;
mod jwks;
mod keys;
pub mod oauth;
mod policy;
mod selftest;
mod verify;

pub use api_keys::{NewApiKey, generate_api_key, hash_api_key};
pub use jwks::{JwksCache, JwksConfig};
pub use keys::{ClaimRules, ProjectKeys, StaticKey};
pub use policy::{Clock, ManualClock, SystemClock, TokenPolicy};
pub use selftest::{generate_signing_key, mint_user_token, self_test};
pub use verify::{UserClaims, UserTokenVerifier};

/// Why a token or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT at all (segments, encoding, size).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// A JWT, but not one this project accepts (algorithm, signature, claims).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token's lifetime is over (or has not begun).
    #[error("token expired or not yet valid")]
    Expired,
    /// The project's JWKS could not be fetched and no usable copy is cached.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
    /// A configured key cannot be used (bad PEM, weak key).
    #[error("unusable key: {0}")]
    BadKey(String),
    /// The crypto backend failed its start-up check.
    #[error("crypto self-test failed: {0}")]
    SelfTest(String),
    /// The operating system's random source failed.
    #[error("{0}")]
    Crypto(String),
}
