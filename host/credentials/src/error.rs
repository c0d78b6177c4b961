//! The crate's one error type. Messages are safe to show to the API's
//! caller except for [`Error::Store`], [`Error::Vault`] and
//! [`Error::Internal`], which the API answers as a generic 500.

use std::time::Duration;

/// Why a connect, refresh or credential operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such credential, integration or plugin in this project.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller's input is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The OAuth callback's `state` is missing, unknown, used, expired or
    /// not this integration's.
    #[error("the authorization request is unknown, already used or expired; start connecting again")]
    InvalidState,
    /// The credential is dead until the user connects again.
    #[error("the connected account needs to be connected again ({reason})")]
    NeedsReauth {
        /// `needs_reauth`, `refresh_lost`, `refresh_exhausted`, ...
        reason: String,
    },
    /// The integration is not set up for this (no client id, a bad URL,
    /// the provider refused the app's client).
    #[error("the integration is not configured correctly: {0}")]
    Misconfigured(String),
    /// The provider refused or failed in a way retrying will not fix.
    #[error("the provider refused: {0}")]
    Provider(String),
    /// The provider is temporarily unavailable; try again later.
    #[error("the provider is unavailable; retry later")]
    Unavailable {
        /// When to retry, if known.
        retry_after: Option<Duration>,
    },
    /// The connection test (the plugin's `test-connection`) refused the account.
    #[error("the account could not be verified: {0}")]
    ConnectionTest(String),
    /// A stored secret does not open: tampered, moved or under a lost key.
    #[error("a stored credential is unreadable")]
    Corrupt,
    /// Storage failed.
    #[error(transparent)]
    Store(weft_store::Error),
    /// The vault failed (not a corrupt value: a key or system problem).
    #[error(transparent)]
    Vault(weft_vault::Error),
    /// A bug or an unexpected system failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `Result` of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
}

impl From<weft_store::Error> for Error {
    fn from(e: weft_store::Error) -> Self {
        match e {
            weft_store::Error::NotFound(what) => Error::NotFound(what),
            weft_store::Error::Invalid(m) => Error::BadRequest(m),
            other => Error::Store(other),
        }
    }
}

impl From<weft_vault::Error> for Error {
    fn from(e: weft_vault::Error) -> Self {
        if e.is_corrupt() { Error::Corrupt } else { Error::Vault(e) }
    }
}
