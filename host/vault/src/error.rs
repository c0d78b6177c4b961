//! The vault's one error type.
//!
//! Nothing here ever carries key material or plaintext. A blob that cannot
//! be opened is reported without saying which check failed: a tampered,
//! truncated, moved or wrongly keyed blob is [`Error::Integrity`] alike, so
//! the error is no oracle. Use [`Error::is_corrupt`] to map every "this
//! stored value is unreadable" case to one answer (`credential_corrupt`).

use std::path::PathBuf;

use crate::KeyId;

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sealed value failed authentication or parsing: tampered,
    /// truncated, copied from another owner or field, or sealed under a
    /// different key of the same version. Deliberately says no more.
    #[error("sealed value failed its integrity check")]
    Integrity,
    /// The value was sealed under a master key version this keyring lacks
    /// (retired too early, or the wrong key files configured).
    #[error("master key {0} is not in the keyring")]
    UnknownKey(KeyId),
    /// The blob's layout version is not one this build reads (written by a
    /// newer Weft, or corrupted).
    #[error("sealed value has unsupported format version {0}")]
    UnsupportedFormat(u8),
    /// The configured master key(s) cannot open the start-up canary: the
    /// key is wrong or missing. The server must refuse to start.
    #[error(
        "the master key does not open the vault canary (sealed under master key {0}): \
         wrong or missing master key; refusing to continue"
    )]
    WrongMasterKey(KeyId),
    /// An encoded master key (file or environment) is not in the expected
    /// form. The reason never quotes the input.
    #[error("malformed master key in {origin}: {reason}")]
    MalformedKey {
        /// Where the key came from (a path, or "inline master key").
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading or creating a master key file failed.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// Two keys of one version were put in one keyring.
    #[error("master key {0} is in the keyring twice")]
    DuplicateKey(KeyId),
    /// `open_string` found bytes that are not UTF-8.
    #[error("sealed value is not UTF-8 text")]
    NotUtf8,
    /// The value is beyond what the AEAD can seal in one message.
    #[error("value too large to seal")]
    TooLarge,
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(getrandom::Error),
}

/// `Result` of vault operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the stored value itself is unreadable (tampered, moved,
    /// truncated, unknown key or format) as opposed to a configuration or
    /// system failure.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Integrity | Error::UnknownKey(_) | Error::UnsupportedFormat(_))
    }
}
