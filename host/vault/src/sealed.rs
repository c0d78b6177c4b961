//! A sealed value as the store keeps it: one self-describing byte string.
//!
//! The layout is documented on [`Sealed`].
//!
//! The wrapped key is length-prefixed rather than fixed so a future master
//! key (a KMS) may wrap differently without a new format. Parsing checks
//! every length and fails with [`Error::Integrity`], never a panic.

use std::fmt;

use crate::cipher::{NONCE_LEN, TAG_LEN};
use crate::{Error, KeyId, Result};

const FORMAT_V1: u8 = 1;
const MAX_WRAPPED_LEN: usize = 1024;
const HEADER_LEN: usize = 1 + 4 + 2;

/// An encrypted value with its wrapped data key. Not secret, but `Debug`
/// shows only the key version and lengths.
///
/// Layout, format version 1 (integers big-endian):
///
/// ```text
/// offset   size  field
/// 0        1     format version (1)
/// 1        4     master key version (KEK id) that wrapped the data key
/// 5        2     W, length of the wrapped data key (1..=1024)
/// 7        W     wrapped data key; for a LocalMasterKey: 24-byte nonce,
///                32-byte encrypted key, 16-byte tag (W = 72)
/// 7+W      24    value nonce
/// 31+W     n+16  value ciphertext and its 16-byte tag
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub(crate) key_id: KeyId,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) ciphertext: Vec<u8>,
}

impl Sealed {
    /// The master key version its data key is wrapped under; a rotation
    /// is done when no stored blob names an older one.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The value's nonce; unchanged by a re-wrap.
    pub fn value_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// The value's ciphertext and tag; unchanged by a re-wrap.
    pub fn value_ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The stored form (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let wrapped_len = u16::try_from(self.wrapped_key.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(HEADER_LEN + self.wrapped_key.len() + NONCE_LEN + self.ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&wrapped_len.to_be_bytes());
        out.extend_from_slice(&self.wrapped_key);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses a stored blob. Anything malformed is [`Error::Integrity`];
    /// an unknown format version is [`Error::UnsupportedFormat`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut rest = bytes;
        let [version] = take::<1>(&mut rest)?;
        if version != FORMAT_V1 {
            return Err(Error::UnsupportedFormat(version));
        }
        let key_id = KeyId(u32::from_be_bytes(take::<4>(&mut rest)?));
        let wrapped_len = usize::from(u16::from_be_bytes(take::<2>(&mut rest)?));
        if wrapped_len == 0 || wrapped_len > MAX_WRAPPED_LEN {
            return Err(Error::Integrity);
        }
        let (wrapped_key, tail) = rest.split_at_checked(wrapped_len).ok_or(Error::Integrity)?;
        rest = tail;
        let nonce = take::<NONCE_LEN>(&mut rest)?;
        if rest.len() < TAG_LEN {
            return Err(Error::Integrity);
        }
        Ok(Sealed { key_id, wrapped_key: wrapped_key.to_vec(), nonce, ciphertext: rest.to_vec() })
    }
}

/// Takes `N` bytes off the front of `rest`.
fn take<const N: usize>(rest: &mut &[u8]) -> Result<[u8; N]> {
    let (head, tail) = rest.split_first_chunk::<N>().ok_or(Error::Integrity)?;
    *rest = tail;
    Ok(*head)
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("wrapped_key_len", &self.wrapped_key.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sealed {
        Sealed { key_id: KeyId(9), wrapped_key: vec![1; 72], nonce: [2; NONCE_LEN], ciphertext: vec![3; 20] }
    }

    #[test]
    fn layout_round_trips_with_documented_offsets() -> Result<()> {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), HEADER_LEN + 72 + NONCE_LEN + 20);
        assert_eq!(&bytes[..7], &[1, 0, 0, 0, 9, 0, 72]);
        assert_eq!(bytes[7 + 72], 2);
        assert_eq!(bytes[31 + 72], 3);
        assert!(Sealed::from_bytes(&bytes)? == sample());
        Ok(())
    }

    #[test]
    fn every_truncation_and_bad_length_is_refused() {
        let bytes = sample().to_bytes();
        // Up to the tag's minimum length every prefix is too short; past
        // it a prefix parses (a shorter ciphertext) and the AEAD refuses it.
        for len in 0..HEADER_LEN + 72 + NONCE_LEN + TAG_LEN {
            assert!(matches!(Sealed::from_bytes(&bytes[..len]), Err(Error::Integrity)), "len {len}");
        }
        for wrapped_len in [0u16, 1025, u16::MAX] {
            let mut bad = bytes.clone();
            bad[5..7].copy_from_slice(&wrapped_len.to_be_bytes());
            assert!(matches!(Sealed::from_bytes(&bad), Err(Error::Integrity)));
        }
        let mut future = bytes;
        future[0] = 2;
        assert!(matches!(Sealed::from_bytes(&future), Err(Error::UnsupportedFormat(2))));
    }
}
