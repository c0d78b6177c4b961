//! The one authorised-request path: every call made as a user's connected
//! account (the Proxy API, a plugin's `http` with the connection's
//! credentials, and later workflow integration requests, ActionKit and JS
//! functions) goes through [`Credentials::send_as`].
//!
//! In order: the target (a path under the base URL, or a URL on a permitted
//! host) → the rate-limit governor → the request, built by the caller →
//! the credential, injected after the egress client's header hygiene → the
//! egress client → on a 401 with a bearer token, one refresh (single-flight
//! with every other caller) and one retry → what the governor learns from
//! the answer. The caller gets the answer streaming and a [`Report`] for its
//! task record.

use std::time::Duration;

use uuid::fmt::Hyphenated;
use weft_catalog::TargetError;
use weft_egress::governor::Subject;
use weft_egress::{EgressError, Method, OutboundRequest, StreamingResponse, Url};

use crate::service::Credentials;
use crate::session::Session;

/// Why a call made as a connection got no provider answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The target was refused.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The governor refused: retry after the duration.
    #[error("rate limited; retry after {0:?}")]
    RateLimited(Duration),
    /// The credential could not be injected.
    #[error(transparent)]
    Credentials(#[from] crate::Error),
    /// The egress client refused or failed.
    #[error(transparent)]
    Egress(#[from] EgressError),
}

/// What the path did, for the caller's task record.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Scheme, host and path of the resolved target (never its query).
    pub target: String,
    /// A 401 was answered by a refresh and a retry.
    pub retried: bool,
}

/// One call as its caller wrote it. The request itself is built by `fill`,
/// at most twice (the retry after a 401 gets a fresh one), so a caller's
/// headers and body are never copied for a retry that does not happen.
pub struct Call<'a> {
    /// The method.
    pub method: Method,
    /// A path under the base URL (query allowed, percent-encoded) or a fully
    /// qualified URL on a permitted host.
    pub target: &'a str,
    /// Query pairs appended to the target's own.
    pub query: &'a [(String, String)],
    /// Sets headers, body, timeout and size cap on the request.
    pub fill: &'a (dyn Fn(&mut OutboundRequest) + Send + Sync),
}

impl Credentials {
    /// Sends `call` as `session`'s account: see the module documentation.
    pub async fn send_as(
        &self,
        session: &Session,
        call: Call<'_>,
        report: &mut Report,
    ) -> Result<StreamingResponse, SendError> {
        let mut url = session.endpoint().resolve(call.target)?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query);
            weft_catalog::check_length(&url)?;
        }
        report.target = weft_catalog::display(&url);

        let (mut project, mut connection) = ([0u8; Hyphenated::LENGTH], [0u8; Hyphenated::LENGTH]);
        let subject = Subject {
            project: session.credential().project_id.as_uuid().hyphenated().encode_lower(&mut project),
            // Keyed by type, so every path to one provider spends one budget.
            integration: &session.integration().integration_type,
            connection: Some(session.credential().id.as_uuid().hyphenated().encode_lower(&mut connection)),
        };
        let rules = session.rules();
        self.governor.admit(&subject, rules).await.map_err(SendError::RateLimited)?;

        let build = |url: Url| {
            let mut req = OutboundRequest::new(call.method, url);
            (call.fill)(&mut req);
            req
        };
        let mut sent = build(url.clone());
        session.inject(&mut sent)?;
        // A key injected as a query parameter lengthens the URL: checked
        // here, with an error that never quotes it.
        weft_catalog::check_length(&sent.url)?;
        let mut resp = self.egress.send_streaming(sent).await?;
        if resp.status == 401
            && let Some(fresh) = Box::pin(self.session_after_401(session)).await
        {
            drop(resp);
            let mut retry = build(url);
            fresh.inject(&mut retry)?;
            weft_catalog::check_length(&retry.url)?;
            resp = self.egress.send_streaming(retry).await?;
            report.retried = true;
        }
        self.governor.learn(&subject, resp.status, &resp.headers);
        Ok(resp)
    }
}
