//! `weft:plugin/webhook-crypto`: HMAC verification with secrets that never
//! enter guest memory, compared in constant time.

use crate::bindings::webhook_crypto::{self, Encoding, HmacAlgorithm};
use crate::call_state::CallState;
use base64::Engine as _;
use hmac::{Hmac, Mac};

impl webhook_crypto::Host for CallState {
    async fn verify_hmac(
        &mut self,
        secret_name: String,
        algorithm: HmacAlgorithm,
        message: Vec<u8>,
        signature: String,
        signature_encoding: Encoding,
    ) -> wasmtime::Result<bool> {
        let declared = self.metadata.as_ref().is_some_and(|m| m.secrets.contains(&secret_name));
        if !declared {
            return Ok(false);
        }
        let Some(secret) = self.services.secrets.get(&self.scope, &secret_name).await else {
            return Ok(false);
        };
        let Some(signature) = decode(signature.trim(), signature_encoding) else {
            return Ok(false);
        };
        Ok(verify(algorithm, secret.as_bytes(), &message, &signature))
    }
}

fn decode(signature: &str, encoding: Encoding) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => hex::decode(signature).ok(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(signature).ok(),
    }
}

/// `verify_slice` compares in constant time.
pub(crate) fn verify(algorithm: HmacAlgorithm, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match <M as hmac::digest::KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
            Err(_) => false,
        }
    }
    match algorithm {
        HmacAlgorithm::Sha1 => check::<Hmac<sha1::Sha1>>(key, message, signature),
        HmacAlgorithm::Sha256 => check::<Hmac<sha2::Sha256>>(key, message, signature),
        HmacAlgorithm::Sha512 => check::<Hmac<sha2::Sha512>>(key, message, signature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2_and_tampering() {
        // RFC 4231 test case 2.
        let sig = hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").unwrap();
        assert!(verify(HmacAlgorithm::Sha256, b"Jefe", b"what do ya want for nothing?", &sig));
        assert!(!verify(HmacAlgorithm::Sha256, b"Jefe", b"what do ya want for nothing!", &sig));
        assert!(!verify(HmacAlgorithm::Sha256, b"Jefe", b"what do ya want for nothing?", &sig[..31]));
        assert!(!verify(HmacAlgorithm::Sha512, b"Jefe", b"what do ya want for nothing?", &sig));
    }
}
