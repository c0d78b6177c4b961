//! The one AEAD the vault uses (XChaCha20-Poly1305) and its randomness.
//!
//! XChaCha's 192-bit nonces make random nonces safe without a counter, so
//! no state has to be kept between seals, across processes or restarts.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Key length of data keys and master keys.
pub(crate) const KEY_LEN: usize = 32;
/// XChaCha20-Poly1305 nonce length.
pub(crate) const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;

/// A fresh random key, wiped when dropped.
pub(crate) fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::getrandom(key.as_mut_slice()).map_err(Error::Random)?;
    Ok(key)
}

/// A fresh random nonce.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).map_err(Error::Random)?;
    Ok(nonce)
}

/// Encrypts `msg`; the result is ciphertext followed by the tag.
pub(crate) fn seal(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], msg: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    XChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(XNonce::from_slice(nonce), Payload { msg, aad })
        .map_err(|_| Error::TooLarge)
}

/// Decrypts and authenticates; any failure is [`Error::Integrity`].
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    XChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
        .map(Zeroizing::new)
        .map_err(|_| Error::Integrity)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The XChaCha20-Poly1305 vector of draft-irtf-cfrg-xchacha, appendix
    /// A.3.1: `seal` and `open` are the standard construction.
    #[test]
    fn known_answer() {
        let key: [u8; KEY_LEN] = std::array::from_fn(|i| 0x80 + i as u8);
        let nonce: [u8; NONCE_LEN] = std::array::from_fn(|i| 0x40 + i as u8);
        let aad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
        let plaintext = b"Ladies and Gentlemen of the class of '99: \
            If I could offer you only one tip for the future, sunscreen would be it.";
        let expected = hex::decode(concat!(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb",
            "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452",
            "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9",
            "21f9664c97637da9768812f615c68b13b52e",
            "c0875924c1c7987947deafd8780acf49",
        ))
        .unwrap();
        let sealed = seal(&key, &nonce, plaintext, &aad).unwrap();
        assert_eq!(sealed, expected);
        assert_eq!(open(&key, &nonce, &sealed, &aad).unwrap().as_slice(), plaintext);
        let mut bad = sealed.clone();
        bad[0] ^= 0xaa;
        assert!(matches!(open(&key, &nonce, &bad, &aad), Err(Error::Integrity)));
    }
}
