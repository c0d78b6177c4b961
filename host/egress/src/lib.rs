//! The one outbound HTTP client of Weft.
//!
//! Every connection Weft opens to the outside world (plugin `http.fetch`, and
//! later OAuth token calls, JWKS, the proxy, request steps and event
//! destinations) goes through an [`Egress`] implementation, so network policy
//! lives in one place. This crate owns *how* a request leaves the process:
//! redirects are never followed, system proxy variables are ignored, connect
//! and total timeouts apply, the response body is capped while it streams, and
//! caller-supplied `Authorization`, `Host` and hop-by-hop headers are dropped
//! (credentials are injected by the host after that hygiene step).
//!
//! It does not own *whether* a plugin may reach a host (that is the plugin's
//! `allowed-hosts`, checked by `weft-plugin-host`) nor which credentials are
//! used (the vault and auth crates).
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_egress::EgressError> {
//! use weft_egress::{Egress, EgressClient, EgressConfig, OutboundRequest};
//! let client = EgressClient::new(EgressConfig::default())?;
//! let req = OutboundRequest::get("https://api.github.com/zen".parse().unwrap());
//! let resp = client.send(req).await?;
//! println!("{} {} bytes", resp.status, resp.body.len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod client;
mod conn;
pub mod governor;
mod headers;
pub mod policy;
mod resolve;

pub use client::{EgressClient, EgressConfig, certificates_from_pem};
pub use governor::Governor;
pub use headers::{is_forbidden_request_header, is_hop_by_hop, strip_forbidden_request_headers};
pub use policy::EgressPolicy;
pub use resolve::{Lookup, SystemLookup};
pub use url::Url;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::pin::Pin;
use std::time::Duration;

/// An HTTP method Weft sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
}

impl Method {
    /// Every method, with its `http` twin.
    const ALL: [(Method, http::Method); 7] = [
        (Method::Get, http::Method::GET),
        (Method::Head, http::Method::HEAD),
        (Method::Post, http::Method::POST),
        (Method::Put, http::Method::PUT),
        (Method::Patch, http::Method::PATCH),
        (Method::Delete, http::Method::DELETE),
        (Method::Options, http::Method::OPTIONS),
    ];

    /// The `http` crate's method.
    pub fn to_http(self) -> http::Method {
        Self::ALL.into_iter().find(|(m, _)| *m == self).map(|(_, h)| h).unwrap_or_default()
    }

    /// The method of an incoming request, if Weft sends it.
    pub fn from_http(method: &http::Method) -> Option<Self> {
        Self::ALL.into_iter().find(|(_, h)| h == method).map(|(m, _)| m)
    }

    /// The method's name, e.g. `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Request method.
    pub method: Method,
    /// Absolute URL, query included.
    pub url: Url,
    /// Headers in order; forbidden ones are dropped before sending.
    pub headers: Vec<(String, String)>,
    /// Headers added by the host after hygiene (credentials); never dropped.
    pub injected_headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<Bytes>,
    /// Total time allowed, connect included; clamped to the client's maximum.
    pub timeout: Option<Duration>,
    /// Largest body accepted; the client's default when `None`.
    pub max_response_bytes: Option<u64>,
}

impl OutboundRequest {
    /// A GET of `url` with no headers and the client's default limits.
    pub fn get(url: Url) -> Self {
        Self::new(Method::Get, url)
    }

    /// A request with no headers, no body and the client's default limits.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            injected_headers: Vec::new(),
            body: None,
            timeout: None,
            max_response_bytes: None,
        }
    }
}

/// The provider's answer, whatever its status.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// HTTP status; 3xx are returned as they are, never followed.
    pub status: u16,
    /// Response headers in order (non-UTF-8 values are dropped).
    pub headers: Vec<(String, String)>,
    /// The whole body, at most the request's cap.
    pub body: Bytes,
}

/// A body read as it arrives, capped and bounded in time like a whole one;
/// the stream ends with an error item when the cap, the timeout or the
/// connection fails mid-way.
pub type BodyStream = Pin<Box<dyn futures::Stream<Item = Result<Bytes, EgressError>> + Send>>;

/// The provider's status and headers, with the body still to read.
pub struct StreamingResponse {
    /// HTTP status; 3xx are returned as they are, never followed.
    pub status: u16,
    /// Response headers, as received.
    pub headers: http::HeaderMap,
    /// The declared body length, when the provider sent one (already
    /// checked against the cap).
    pub content_length: Option<u64>,
    /// The body.
    pub body: BodyStream,
}

impl std::fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl StreamingResponse {
    /// Reads the whole body (it is capped already).
    pub async fn collect(mut self) -> Result<OutboundResponse, EgressError> {
        let mut body = BytesMut::with_capacity(self.content_length.unwrap_or(0).min(1 << 20) as usize);
        while let Some(chunk) = self.body.next().await {
            body.extend_from_slice(&chunk?);
        }
        // Pairs in order; a value that is not text is dropped.
        let headers = self
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        Ok(OutboundResponse { status: self.status, headers, body: body.freeze() })
    }
}

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EgressError {
    /// The network policy refuses the destination.
    #[error("destination denied: {0}")]
    Denied(String),
    /// The request cannot be sent as given.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No complete answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// Connecting or reading failed.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The body exceeded the cap (the cap in bytes).
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
}

/// Sends requests to the outside world. Implemented by [`EgressClient`];
/// tests of other crates may wrap it, never bypass it.
#[async_trait::async_trait]
pub trait Egress: Send + Sync + 'static {
    /// Sends one request and answers as soon as the status and headers
    /// arrived; the body streams under the request's cap and timeout.
    async fn send_streaming(&self, req: OutboundRequest) -> Result<StreamingResponse, EgressError>;

    /// Sends one request and reads the whole (capped) response.
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, EgressError> {
        self.send_streaming(req).await?.collect().await
    }
}
