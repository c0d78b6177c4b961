//! Secrets that the host's HTTP auth cannot inject for you.
//!
//! Most plugins never read a secret: [`Ctx::http`](crate::Ctx::http) lets
//! the host add credentials to each request. Read one only for custom auth
//! schemes or a custom `refresh`, and only names listed in
//! [`Metadata::secrets`](crate::Metadata::secrets). Every read is audited.
//! Never log a secret or return it in an output.
//!
//! ```no_run
//! # fn f() -> weft_sdk::Result<()> {
//! let key = weft_sdk::secrets::get("api_key")?;
//! # Ok(()) }
//! ```

use std::fmt;

use crate::Error;
use crate::bindings::imports::secrets as wit;

/// Why a secret could not be read; mirrors the WIT `secrets.error`.
///
/// ```no_run
/// use weft_sdk::secrets::{self, SecretError};
/// let token = match secrets::get("api_token") {
///     Ok(token) => Some(token),
///     Err(SecretError::NotFound) => None,
///     Err(e) => { weft_sdk::error!("{}", e); None }
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// The name is declared but has no value for this call's scope.
    NotFound,
    /// The name is not declared by the plugin, or this phase may not read
    /// secrets.
    Denied(String),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => write!(f, "secret not found"),
            Self::Denied(m) => write!(f, "secret denied: {m}"),
        }
    }
}

impl std::error::Error for SecretError {}

/// A missing credential means the connection must be (re)authorized, hence
/// `unauthorized`; a denied read is a plugin bug (undeclared name, wrong
/// phase), hence `internal`.
impl From<SecretError> for Error {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::NotFound => Error::unauthorized(e.to_string()),
            SecretError::Denied(_) => Error::internal(e.to_string()),
        }
    }
}

/// Reads the secret `name` for this call's scope.
///
/// ```no_run
/// # fn f() -> Result<(), weft_sdk::secrets::SecretError> {
/// let password = weft_sdk::secrets::get("password")?;
/// # Ok(()) }
/// ```
pub fn get(name: &str) -> Result<String, SecretError> {
    wit::get(name).map_err(|e| match e {
        wit::Error::NotFound => SecretError::NotFound,
        wit::Error::Denied(m) => SecretError::Denied(m),
    })
}
