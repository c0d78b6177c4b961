//! Durable key-value state kept by the host.
//!
//! The host scopes keys to (project, plugin, connection): a key cannot reach
//! another connection's or another plugin's values, so plain names such as
//! `"cursor"` are fine. Calls without a connection share the plugin-wide
//! scope of their project. Keep guest globals out of it: every call runs in a
//! fresh instance, and only this state survives.
//!
//! ```no_run
//! use weft_sdk::state;
//!
//! # fn f() -> weft_sdk::Result<()> {
//! let seen: u64 = state::get_json("seen")?.unwrap_or(0);
//! state::set_json("seen", &(seen + 1), None)?;
//! state::set("last-run", "2024-05-01", Some(86_400))?; // expires after a day
//! # Ok(()) }
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::imports::state as wit;

/// Why a state operation failed; mirrors the WIT `state.error`, plus
/// [`Json`](StateError::Json) for the `*_json` helpers.
///
/// ```no_run
/// use weft_sdk::state::{self, StateError};
/// match state::set("k", vec![0u8; 10 << 20], None) {
///     Ok(()) => {}
///     Err(StateError::TooLarge(limit)) => weft_sdk::warn!("value over {limit} bytes"),
///     Err(e) => weft_sdk::error!("{}", e; kind = e.kind()),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The key or value exceeds the host limit, in bytes.
    TooLarge(u64),
    /// The scope holds too many keys or bytes.
    QuotaExceeded,
    /// The store could not be reached; the call may be retried.
    Unavailable(String),
    /// A `*_json` helper could not (de)serialize the value.
    Json(String),
}

impl StateError {
    /// The case name: `too-large`, `quota-exceeded`, `unavailable` or `json`.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::state::StateError::QuotaExceeded.kind(), "quota-exceeded");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too-large",
            Self::QuotaExceeded => "quota-exceeded",
            Self::Unavailable(_) => "unavailable",
            Self::Json(_) => "json",
        }
    }

    fn from_wit(e: wit::Error) -> Self {
        match e {
            wit::Error::TooLarge(limit) => Self::TooLarge(limit),
            wit::Error::QuotaExceeded => Self::QuotaExceeded,
            wit::Error::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(limit) => write!(f, "state: key or value over the {limit}-byte limit"),
            Self::QuotaExceeded => write!(f, "state: quota exceeded"),
            Self::Unavailable(m) => write!(f, "state unavailable: {m}"),
            Self::Json(m) => write!(f, "state value: {m}"),
        }
    }
}

impl std::error::Error for StateError {}

/// An unreachable store is worth a retry (`upstream` with status 0); the
/// other failures will not go away by retrying, so they are `internal`.
impl From<StateError> for Error {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Unavailable(_) => Error::upstream(0, e.to_string(), None),
            _ => Error::internal(e.to_string()),
        }
    }
}

/// Reads a value; `None` when absent or expired.
///
/// ```no_run
/// # fn f() -> Result<(), weft_sdk::state::StateError> {
/// let raw: Option<Vec<u8>> = weft_sdk::state::get("etag")?;
/// # Ok(()) }
/// ```
pub fn get(key: &str) -> Result<Option<Vec<u8>>, StateError> {
    wit::get(key).map_err(StateError::from_wit)
}

/// Writes a value, replacing any previous one; it expires after
/// `ttl_seconds` when given.
///
/// ```no_run
/// # fn f() -> Result<(), weft_sdk::state::StateError> {
/// weft_sdk::state::set("etag", "W/\"abc\"", Some(3600))?;
/// # Ok(()) }
/// ```
pub fn set(key: &str, value: impl AsRef<[u8]>, ttl_seconds: Option<u32>) -> Result<(), StateError> {
    wit::set(key, value.as_ref(), ttl_seconds).map_err(StateError::from_wit)
}

/// Removes a value; removing an absent key succeeds.
///
/// ```no_run
/// # fn f() -> Result<(), weft_sdk::state::StateError> {
/// weft_sdk::state::delete("etag")?;
/// # Ok(()) }
/// ```
pub fn delete(key: &str) -> Result<(), StateError> {
    wit::delete(key).map_err(StateError::from_wit)
}

/// Reads a JSON value and deserializes it into `T`.
///
/// ```no_run
/// # fn f() -> Result<(), weft_sdk::state::StateError> {
/// #[derive(serde::Deserialize)]
/// struct Sync { cursor: String }
/// let last: Option<Sync> = weft_sdk::state::get_json("sync")?;
/// # Ok(()) }
/// ```
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, StateError> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| StateError::Json(e.to_string())),
    }
}

/// Serializes `value` as JSON and writes it.
///
/// ```no_run
/// # fn f() -> Result<(), weft_sdk::state::StateError> {
/// weft_sdk::state::set_json("sync", &serde_json::json!({ "cursor": "abc" }), None)?;
/// # Ok(()) }
/// ```
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T, ttl_seconds: Option<u32>) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StateError::Json(e.to_string()))?;
    set(key, bytes, ttl_seconds)
}
