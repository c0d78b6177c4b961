//! PKCE (RFC 7636, S256 only) and `state` values.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::AuthError;

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    /// 43 characters of base64url (256 random bits); kept secret until the
    /// code exchange.
    pub verifier: SecretString,
    /// `BASE64URL(SHA256(verifier))`, sent in the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier from 32 random bytes.
    pub fn generate() -> Result<Self, AuthError> {
        let verifier = random_token()?;
        let challenge = Self::challenge_of(&verifier);
        Ok(Pkce { verifier: SecretString::from(verifier), challenge })
    }

    /// The S256 challenge of `verifier`.
    pub fn challenge_of(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce").field("verifier", &"[REDACTED]").field("challenge", &self.challenge).finish()
    }
}

/// A one-time `state`: 256 random bits, base64url (43 characters).
pub fn random_state() -> Result<String, AuthError> {
    random_token()
}

fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| AuthError::Crypto(format!("random source: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn verifier_matches(verifier: &SecretString, challenge: &str) -> bool {
        Pkce::challenge_of(verifier.expose_secret()) == challenge
    }

    #[test]
    fn verifier_has_256_bits_and_a_matching_challenge() {
        let p = Pkce::generate().unwrap();
        assert_eq!(p.verifier.expose_secret().len(), 43);
        assert!(verifier_matches(&p.verifier, &p.challenge));
        assert!(!format!("{p:?}").contains(p.verifier.expose_secret()));
        // RFC 7636 appendix B.
        assert_eq!(
            Pkce::challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_ne!(random_state().unwrap(), random_state().unwrap());
    }
}
