//! The contract of a call made as a connected account, as its callers see
//! it: what they hand over and what can go wrong. The credential service
//! implements it (the one authorised-request path: target, permitted hosts,
//! governor, credential injection, refresh and one retry after a 401); the
//! plugin host consumes it for a plugin's `http` calls that use the
//! connection's credentials. Neither depends on the other: both depend on
//! this crate.

use std::time::Duration;

use bytes::Bytes;
use weft_egress::{EgressError, Method, OutboundResponse};

use crate::target::TargetError;

/// One request made as a connection, as its caller wrote it.
#[derive(Debug, Clone)]
pub struct ConnectionRequest {
    /// The method.
    pub method: Method,
    /// A path under the provider's base URL (query allowed, percent-encoded)
    /// or a fully qualified URL on a permitted host.
    pub target: String,
    /// Query pairs appended to the target's own.
    pub query: Vec<(String, String)>,
    /// Headers, before the egress client's hygiene.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Bytes>,
    /// Total time for the answer, body included.
    pub timeout: Option<Duration>,
    /// Largest body accepted.
    pub max_response_bytes: Option<u64>,
}

impl ConnectionRequest {
    /// A request of `method` to `target` with nothing else set.
    pub fn new(method: Method, target: impl Into<String>) -> Self {
        Self {
            method,
            target: target.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            max_response_bytes: None,
        }
    }
}

/// Why a call made as a connection got no provider answer. Messages are
/// safe to show to the caller and to a plugin: no token, no query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The target was refused.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The provider's rate limit is reached: retry after the duration.
    #[error("the provider's rate limit is reached; retry in {} ms", .0.as_millis())]
    RateLimited(Duration),
    /// The connection's credentials cannot be used (the message says why,
    /// without ids or secrets).
    #[error("{0}")]
    Credentials(String),
    /// The egress client refused or failed.
    #[error(transparent)]
    Egress(#[from] EgressError),
}

/// Sends requests as one connection (a user's connected account).
#[async_trait::async_trait]
pub trait ConnectionHttp: Send + Sync {
    /// Sends `req` with the connection's credentials and returns the
    /// provider's answer, whatever its status.
    async fn send(&self, req: ConnectionRequest) -> Result<OutboundResponse, ConnectionError>;
}
