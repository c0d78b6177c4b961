//! Signing-key generation and the start-up crypto self-test.

use crate::AuthError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

/// Generates an RS256 signing key pair as `(private PKCS#8 PEM, public SPKI
/// PEM)`. The private half is for the caller to hand out once; Weft keeps
/// only the public half.
pub fn generate_signing_key() -> Result<(String, String), AuthError> {
    let mut rng = rsa::rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| AuthError::SelfTest(e.to_string()))?;
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|e| AuthError::SelfTest(e.to_string()))?;
    let public_pem =
        private.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| AuthError::SelfTest(e.to_string()))?;
    Ok((private_pem.to_string(), public_pem))
}

#[derive(Serialize, Deserialize)]
struct Probe {
    sub: String,
}

/// Signs and verifies a throwaway token with a fresh key, so a broken or
/// misconfigured crypto backend fails start-up instead of the first request.
pub fn self_test() -> Result<(), AuthError> {
    let (private_pem, public_pem) = generate_signing_key()?;
    let fail = |what: &str, e: &dyn std::fmt::Display| AuthError::SelfTest(format!("{what}: {e}"));
    let run = || -> Result<(), AuthError> {
        let enc = EncodingKey::from_rsa_pem(private_pem.as_bytes()).map_err(|e| fail("loading the private key", &e))?;
        let dec = DecodingKey::from_rsa_pem(public_pem.as_bytes()).map_err(|e| fail("loading the public key", &e))?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &Probe { sub: "self-test".into() }, &enc)
            .map_err(|e| fail("signing", &e))?;
        let mut v = Validation::new(Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let back = jsonwebtoken::decode::<Probe>(&token, &dec, &v).map_err(|e| fail("verifying", &e))?;
        if back.claims.sub != "self-test" {
            return Err(AuthError::SelfTest("the verified claims differ from the signed ones".into()));
        }
        Ok(())
    };
    // The crypto library panics on some misconfigurations (two backends
    // enabled); turn that into a start-up error too.
    std::panic::catch_unwind(run).unwrap_or_else(|_| Err(AuthError::SelfTest("the crypto backend panicked".into())))
}

#[derive(Serialize)]
struct UserTokenClaims<'a> {
    sub: &'a str,
    iat: i64,
    exp: i64,
}

/// Signs an RS256 user token for `sub`, valid for `ttl_seconds` from `now`
/// (Unix seconds), with the private key PEM a signing key was generated with.
pub fn mint_user_token(
    private_pem: &str,
    kid: Option<&str>,
    sub: &str,
    now: i64,
    ttl_seconds: i64,
) -> Result<String, AuthError> {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes())
        .map_err(|e| AuthError::BadKey(format!("not an RSA private key in PEM form: {e}")))?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &UserTokenClaims { sub, iat: now, exp: now + ttl_seconds }, &key)
        .map_err(|e| AuthError::BadKey(e.to_string()))
}
