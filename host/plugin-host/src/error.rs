//! Errors of installing and calling plugins.

use crate::types::PluginError;
use std::time::Duration;

/// Why a component was refused at install.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Not a valid component, or missing the exports of a known world.
    #[error("invalid plugin: {0}")]
    Invalid(String),
    /// Built against an API version this host does not serve.
    #[error(
        "plugin was built against Weft plugin API {plugin}, but this host supports {host}; rebuild it with a weft-sdk for API {host}"
    )]
    UnsupportedApiVersion {
        /// The plugin's API version.
        plugin: String,
        /// The host's API version.
        host: String,
    },
    /// Imports an interface the sandbox does not provide.
    #[error("plugin imports {import}, which Weft does not provide: {reason}")]
    ForbiddenImport {
        /// The import name.
        import: String,
        /// Why it is refused.
        reason: String,
    },
    /// Metadata, action or trigger declarations are unusable.
    #[error("plugin declarations are invalid: {0}")]
    Declarations(String),
    /// Describing the plugin failed (it trapped or timed out).
    #[error("describing the plugin failed: {0}")]
    Describe(#[source] CallError),
    /// Reading or writing the compiled-artifact cache failed.
    #[error("component cache: {0}")]
    Cache(#[from] std::io::Error),
    /// Compilation or linking failed.
    #[error("compiling the plugin failed: {0}")]
    Compile(String),
}

/// Why a call produced no result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No plugin with this id is installed.
    #[error("no plugin {0:?} is installed")]
    UnknownPlugin(String),
    /// The plugin implements another world than the call needs.
    #[error("plugin {0:?} does not implement this call's world")]
    WrongWorld(String),
    /// The plugin answered with a typed error.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The call used up its CPU budget and was interrupted.
    #[error("the plugin exceeded its CPU budget of {budget:?}")]
    CpuBudgetExceeded {
        /// The budget.
        budget: Duration,
        /// Epoch ticks counted when it was interrupted.
        ticks: u64,
    },
    /// The call tried to grow memory past its cap.
    #[error("the plugin exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// The cap.
        limit_bytes: usize,
    },
    /// The call held more resource handles at once than its cap allows.
    #[error("the plugin exceeded its limit of {limit} live resource handles")]
    ResourceLimit {
        /// The cap.
        limit: usize,
    },
    /// The call overflowed its stack.
    #[error("the plugin overflowed its stack")]
    StackOverflow,
    /// The call did not finish within its wall-clock timeout.
    #[error("the plugin did not finish within {0:?}")]
    Timeout(Duration),
    /// The plugin returned a document larger than the host accepts.
    #[error("the plugin returned {size} bytes, more than the {limit}-byte limit")]
    OutputTooLarge {
        /// Returned size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin returned output that is not valid JSON.
    #[error("the plugin returned invalid JSON: {0}")]
    InvalidOutput(String),
    /// The plugin trapped (panic, unreachable, out-of-bounds access...).
    #[error("the plugin crashed: {0}")]
    Trap(String),
}

/// `Result` of installing plugins.
pub type Result<T, E = InstallError> = std::result::Result<T, E>;
