//! Structured logs through the host's `logging` interface.
//!
//! The host re-emits each line as a tracing event with the plugin,
//! invocation and connection ids attached, so a message never needs to repeat
//! them. Use the macros; fields after `;` become key/value pairs, formatted
//! with `Display`:
//!
//! ```no_run
//! # let (repo, count, ms) = ("octo/hello", 3, 12);
//! weft_sdk::info!("synced issues");
//! weft_sdk::info!("synced issues"; repo = repo, count = count);
//! weft_sdk::debug!("took {ms} ms"; repo = repo);
//! ```
//!
//! Never log secrets, tokens or whole bodies: logs are kept and shown to users.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bindings::imports::{logging, types::LogLevel};

/// Severity of a log line; (de)serializes as `"trace"`, `"debug"`, ….
///
/// ```no_run
/// use weft_sdk::log::Level;
/// weft_sdk::log!(Level::Warn, "quota at 90%"; used = 900, limit = 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(description = "Severity of a log line.")]
pub enum Level {
    /// Very verbose diagnostics.
    Trace,
    /// Diagnostics for plugin developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin worked around.
    Warn,
    /// A failure.
    Error,
}

impl Level {
    fn into_wit(self) -> LogLevel {
        match self {
            Self::Trace => LogLevel::Trace,
            Self::Debug => LogLevel::Debug,
            Self::Info => LogLevel::Info,
            Self::Warn => LogLevel::Warn,
            Self::Error => LogLevel::Error,
        }
    }
}

/// Emits one log line with exactly `fields`. The macros call this; use it
/// directly when the fields are only known at run time.
///
/// ```no_run
/// use weft_sdk::log::{log, Level};
/// let fields = vec![("attempt".to_string(), "2".to_string())];
/// log(Level::Info, "retrying", &fields);
/// ```
pub fn log(level: Level, message: &str, fields: &[(String, String)]) {
    logging::log(level.into_wit(), message, fields);
}

/// Logs at a given [`Level`]: `log!(level, "format {}", args; key = value, …)`.
///
/// The message is either a format string with its arguments or any
/// expression that is `AsRef<str>`. Fields are optional; keys are
/// identifiers and values anything `Display`.
///
/// ```no_run
/// use weft_sdk::log::Level;
/// # let (user, n) = ("u1", 2);
/// weft_sdk::log!(Level::Info, "hello");
/// weft_sdk::log!(Level::Info, "hello {user}, {} new", n; user = user);
/// let owned = String::from("precomputed");
/// weft_sdk::log!(Level::Debug, owned; source = "cache");
/// ```
#[macro_export]
macro_rules! log {
    ($level:expr, $fmt:literal $(, $arg:expr)* $(,)? $(; $($key:ident = $value:expr),* $(,)?)?) => {
        $crate::log::log(
            $level,
            &::std::format!($fmt $(, $arg)*),
            &[$($((
                ::std::string::String::from(::core::stringify!($key)),
                ::std::string::ToString::to_string(&$value),
            )),*)?],
        )
    };
    ($level:expr, $message:expr $(; $($key:ident = $value:expr),* $(,)?)?) => {
        $crate::log::log(
            $level,
            ::core::convert::AsRef::<str>::as_ref(&$message),
            &[$($((
                ::std::string::String::from(::core::stringify!($key)),
                ::std::string::ToString::to_string(&$value),
            )),*)?],
        )
    };
}

/// Logs at `trace` level; see [`log!`](crate::log!) for the syntax.
///
/// ```no_run
/// weft_sdk::trace!("entering"; step = "fetch");
/// ```
#[macro_export]
macro_rules! trace {
    ($($t:tt)+) => { $crate::log!($crate::log::Level::Trace, $($t)+) };
}

/// Logs at `debug` level; see [`log!`](crate::log!) for the syntax.
///
/// ```no_run
/// # let page = 2;
/// weft_sdk::debug!("fetched page {page}"; items = 50);
/// ```
#[macro_export]
macro_rules! debug {
    ($($t:tt)+) => { $crate::log!($crate::log::Level::Debug, $($t)+) };
}

/// Logs at `info` level; see [`log!`](crate::log!) for the syntax.
///
/// ```no_run
/// weft_sdk::info!("message");
/// weft_sdk::info!("message"; key = 1, other = "two");
/// ```
#[macro_export]
macro_rules! info {
    ($($t:tt)+) => { $crate::log!($crate::log::Level::Info, $($t)+) };
}

/// Logs at `warn` level; see [`log!`](crate::log!) for the syntax.
///
/// ```no_run
/// weft_sdk::warn!("provider sent an unknown event type"; kind = "foo.bar");
/// ```
#[macro_export]
macro_rules! warn {
    ($($t:tt)+) => { $crate::log!($crate::log::Level::Warn, $($t)+) };
}

/// Logs at `error` level; see [`log!`](crate::log!) for the syntax.
///
/// ```no_run
/// # let status = 500;
/// weft_sdk::error!("upstream failed"; status = status);
/// ```
#[macro_export]
macro_rules! error {
    ($($t:tt)+) => { $crate::log!($crate::log::Level::Error, $($t)+) };
}
