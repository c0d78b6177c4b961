//! The store's one error type.
//!
//! `NotFound`, `Conflict`, `Invalid`, `TooLarge` and `QuotaExceeded`
//! describe the caller's request and their messages are safe to show to it. `Backend` is an internal failure:
//! its message carries database details for the logs and must never reach
//! an HTTP caller (answer it as a generic 500).

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such row in this project. Deliberately says nothing about other
    /// projects, so a foreign id is indistinguishable from a missing one.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken; the message names what clashed.
    #[error("{0}")]
    Conflict(String),
    /// The input breaks a rule of the data model (unknown environment,
    /// empty name, malformed hash...); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A value is larger than the store accepts for it (a plugin state key
    /// or value); `limit` is the most it takes, in bytes.
    #[error("{what} is {size} bytes; at most {limit} are accepted")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size, in bytes.
        size: u64,
        /// The most accepted, in bytes.
        limit: u64,
    },
    /// A bounded collection is full: writing one more entry (a new key in
    /// a plugin state scope that holds `limit` live keys) is refused until
    /// one is removed or expires.
    #[error("{what} is full: it holds the {limit} entries allowed")]
    QuotaExceeded {
        /// What is full.
        what: &'static str,
        /// How many entries it may hold.
        limit: u64,
    },
    /// A queued step's completion or heartbeat came with a lease that is no
    /// longer its own (it expired and the step was given to another
    /// worker, or the step is done): nothing was changed.
    #[error("the step's lease was lost: another worker has it, or it is done")]
    LeaseLost,
    /// The database failed, or holds something this build cannot read.
    /// Internal: log it, never echo it.
    #[error("storage backend failed: {0}")]
    Backend(#[source] sqlx::Error),
}

/// `Result` of storage operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message to show a caller, or `None` for internal failures whose
    /// details belong in the logs only.
    pub fn public_message(&self) -> Option<String> {
        match self {
            Error::Backend(_) => None,
            other => Some(other.to_string()),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// A row this build cannot interpret (e.g. an enum value written by a
    /// newer version). It is a backend problem, not the caller's.
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Error::Backend(sqlx::Error::Decode(what.into().into()))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Backend(e)
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Backend(e.into())
    }
}

/// `NotFound(what)` when a statement aimed at one row (an `UPDATE` or
/// `DELETE` by key) affected none: the row is missing or in another project.
pub(crate) fn found(rows_affected: u64, what: &'static str) -> Result<()> {
    if rows_affected == 0 {
        return Err(Error::NotFound(what));
    }
    Ok(())
}

/// What a failed write means for the caller. Unique and foreign-key
/// violations are the caller's business (a name taken, a project that does
/// not exist); everything else stays a backend error.
pub(crate) trait WriteContext<T> {
    /// Maps a unique violation to `Conflict(clash)` and a foreign-key
    /// violation to `NotFound(parent)`.
    fn on_write(self, clash: &str, parent: &'static str) -> Result<T>;
}

impl<T> WriteContext<T> for std::result::Result<T, sqlx::Error> {
    fn on_write(self, clash: &str, parent: &'static str) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(clash.to_owned()),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound(parent),
            _ => Error::Backend(e),
        })
    }
}
