//! The master key (KEK) behind a trait, and the in-process implementation.
//!
//! [`MasterKey`] is what a KMS-backed key would implement later; the vault
//! only ever asks it to wrap and unwrap 32-byte data keys. [`LocalMasterKey`]
//! holds the key bytes in memory; they come from a file (see `key_file`) or
//! from an encoded string the server's settings read from the environment.
//! Both use one text form: `weft-master-key v<N> <base64 of 32 bytes>`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::cipher::{self, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::{Error, Result};

/// A master key's version. It is stored in every blob and bound into the
/// wrapped data key's associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A 256-bit data key, wiped when dropped; `Debug` never shows it.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A data key from unwrapped bytes; anything but 32 bytes is
    /// [`Error::Integrity`], since it can only come from a bad wrap.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(Error::Integrity);
        }
        key.copy_from_slice(bytes);
        Ok(DataKey(key))
    }

    pub(crate) fn generate() -> Result<Self> {
        cipher::random_key().map(DataKey)
    }

    /// The key bytes, for a [`MasterKey`] to wrap.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A key-encryption key: wraps data keys, bound to associated data.
pub trait MasterKey: Send + Sync {
    /// This key's version.
    fn id(&self) -> KeyId;
    /// Encrypts `data_key`, authenticating `aad` with it.
    fn wrap(&self, data_key: &DataKey, aad: &[u8]) -> Result<Vec<u8>>;
    /// Reverses [`MasterKey::wrap`]; a wrong key, wrong `aad` or altered
    /// bytes give [`Error::Integrity`].
    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<DataKey>;
}

const PREFIX: &str = "weft-master-key";
/// Wrapped form: nonce, then the encrypted data key and its tag.
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// A master key held in this process (loaded from a file or an encoded
/// string), wrapping with XChaCha20-Poly1305 and a random nonce.
pub struct LocalMasterKey {
    id: KeyId,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl LocalMasterKey {
    /// A new random key of version `id`.
    pub fn generate(id: KeyId) -> Result<Self> {
        Ok(LocalMasterKey { id, key: cipher::random_key()? })
    }

    /// A key from its encoded form, `weft-master-key v<N> <base64>`, as the
    /// server's settings read it from the environment.
    pub fn from_encoded(encoded: &str) -> Result<Self> {
        parse(encoded).map_err(|reason| Error::MalformedKey { origin: "inline master key".into(), reason })
    }

    /// The encoded form [`LocalMasterKey::from_encoded`] reads back. It
    /// holds the key: handle it as a secret.
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{PREFIX} {} {}", self.id, STANDARD.encode(self.key.as_slice())))
    }
}

/// Parses the encoded form; errors never quote the input.
pub(crate) fn parse(text: &str) -> std::result::Result<LocalMasterKey, &'static str> {
    const FORM: &str = "expected `weft-master-key v<N> <base64 of 32 bytes>`";
    let mut parts = text.split_ascii_whitespace();
    let (Some(PREFIX), Some(version), Some(key), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FORM);
    };
    let id = version
        .strip_prefix('v')
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&v| v > 0)
        .ok_or("the version must be `v` and a number from 1")?;
    // A fixed buffer, so decoding never reallocates and leaves copies behind.
    let mut buf = Zeroizing::new([0u8; 64]);
    match STANDARD.decode_slice(key, buf.as_mut_slice()) {
        Ok(KEY_LEN) => {}
        _ => return Err("the key must be standard base64 of exactly 32 bytes"),
    }
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    bytes.copy_from_slice(&buf[..KEY_LEN]);
    Ok(LocalMasterKey { id: KeyId(id), key: bytes })
}

impl MasterKey for LocalMasterKey {
    fn id(&self) -> KeyId {
        self.id
    }

    fn wrap(&self, data_key: &DataKey, aad: &[u8]) -> Result<Vec<u8>> {
        let nonce = cipher::random_nonce()?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&cipher::seal(&self.key, &nonce, data_key.as_bytes(), aad)?);
        Ok(out)
    }

    fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(Error::Integrity);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Integrity)?;
        DataKey::from_bytes(&cipher::open(&self.key, nonce, sealed, aad)?)
    }
}

impl fmt::Debug for LocalMasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalMasterKey").field("id", &self.id).field("key", &"[REDACTED]").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_form_round_trips_and_wraps() -> Result<()> {
        let key = LocalMasterKey::generate(KeyId(3))?;
        let again = LocalMasterKey::from_encoded(&format!("  {}\n", key.encode().as_str()))?;
        assert_eq!(again.id(), KeyId(3));
        let dek = DataKey::generate()?;
        let wrapped = key.wrap(&dek, b"aad")?;
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(again.unwrap(&wrapped, b"aad")?.as_bytes(), dek.as_bytes());
        assert!(matches!(again.unwrap(&wrapped, b"other"), Err(Error::Integrity)));
        assert!(matches!(again.unwrap(&wrapped[1..], b"aad"), Err(Error::Integrity)));
        Ok(())
    }

    #[test]
    fn malformed_encodings_are_refused_without_quoting_them() {
        let good = STANDARD.encode([7u8; 32]);
        let short = STANDARD.encode([7u8; 31]);
        let long = STANDARD.encode([7u8; 33]);
        let cases = [
            String::new(),
            format!("weft-master-key {good}"),
            format!("weft-master-key v1 {good} extra"),
            format!("weft-key v1 {good}"),
            format!("weft-master-key 1 {good}"),
            format!("weft-master-key v0 {good}"),
            format!("weft-master-key v+1 {good}"),
            format!("weft-master-key v99999999999 {good}"),
            format!("weft-master-key v1 {short}"),
            format!("weft-master-key v1 {long}"),
            "weft-master-key v1 not*base64!".to_owned(),
        ];
        for case in cases {
            match LocalMasterKey::from_encoded(&case) {
                Err(e @ Error::MalformedKey { .. }) => assert!(!e.to_string().contains(&good), "{e}"),
                other => panic!("{case:?} gave {other:?}"),
            }
        }
    }
}
