//! Random API keys: shown once, stored only as a hash.

use crate::AuthError;
use base64::Engine as _;
use rsa::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A freshly generated key: the plaintext to show once and the hash to keep.
pub struct NewApiKey {
    /// The key as the caller must present it, e.g. `weft_op_…`.
    pub plaintext: String,
    /// Lowercase hex SHA-256 of `plaintext`: the only form that is stored.
    pub hash: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey").field("hash", &self.hash).finish_non_exhaustive()
    }
}

/// Generates a key with 256 random bits behind `prefix` (which names the
/// key's kind so a leaked key is recognisable, e.g. `weft_op`).
pub fn generate_api_key(prefix: &str) -> Result<NewApiKey, AuthError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| AuthError::SelfTest(format!("no system randomness: {e}")))?;
    let plaintext = format!("{prefix}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    Ok(NewApiKey { hash: hash_api_key(&plaintext), plaintext })
}

/// The stored form of a presented key. Keys carry 256 random bits, so a fast
/// hash is enough: there is nothing to brute-force.
pub fn hash_api_key(plaintext: &str) -> String {
    hex_lower(&Sha256::digest(plaintext.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = generate_api_key("weft_op").unwrap();
        let b = generate_api_key("weft_op").unwrap();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with("weft_op_") && a.plaintext.len() > 40);
        assert_eq!(a.hash, hash_api_key(&a.plaintext));
        assert_eq!(a.hash.len(), 64);
        assert!(!format!("{a:?}").contains(&a.plaintext), "Debug never shows the key");
    }
}
