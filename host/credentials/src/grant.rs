//! A connection's credentials granted to one plugin call: the plugin's
//! requests that ask for them go through [`Credentials::send_as`], and the
//! plugin only ever sees the provider's answers.

use std::sync::Arc;

use async_trait::async_trait;
use weft_catalog::{ConnectionError, ConnectionHttp, ConnectionRequest};
use weft_egress::{OutboundRequest, OutboundResponse};
use weft_store::{CredentialId, ProjectId};

use crate::Error;
use crate::request::{Call, Report, SendError};
use crate::service::Credentials;
use crate::session::Session;

/// Whose credentials a grant uses.
enum Source {
    /// A saved credential, which must belong to this integration type.
    Saved { project: ProjectId, credential: CredentialId, integration_type: String },
    /// Secrets being tested before they are saved (a connect in progress).
    Pending(Session),
}

/// [`ConnectionHttp`] over one connection's credentials, for one call: the
/// session is resolved by the call's first request and kept for the rest.
pub struct Grant {
    credentials: Arc<Credentials>,
    source: Source,
    resolved: tokio::sync::OnceCell<Session>,
}

impl Credentials {
    /// The credentials of `credential` (an account of `integration_type` in
    /// `project`) for one plugin call. Nothing is read until the plugin
    /// sends a request; a credential of another integration is refused then.
    pub fn grant(
        self: &Arc<Self>,
        project: ProjectId,
        credential: CredentialId,
        integration_type: &str,
    ) -> Arc<dyn ConnectionHttp> {
        Arc::new(Grant {
            credentials: self.clone(),
            source: Source::Saved { project, credential, integration_type: integration_type.to_owned() },
            resolved: tokio::sync::OnceCell::new(),
        })
    }

    /// A grant over a session not saved yet (a connection test).
    pub(crate) fn grant_pending(self: &Arc<Self>, session: Session) -> Arc<dyn ConnectionHttp> {
        Arc::new(Grant {
            credentials: self.clone(),
            source: Source::Pending(session),
            resolved: tokio::sync::OnceCell::new(),
        })
    }
}

/// What a plugin may be told about a failure: no ids, no secrets.
fn public(e: &Error) -> String {
    match e {
        Error::NeedsReauth { reason } => format!("the connected account needs to be connected again ({reason})"),
        Error::Unavailable { .. } => "the provider's token endpoint is unavailable; retry later".into(),
        Error::Misconfigured(_) => "the integration is not configured correctly".into(),
        Error::NotFound(_) => "no credentials for this connection".into(),
        _ => "the connection's credentials could not be used".into(),
    }
}

impl Grant {
    async fn session(&self) -> Result<Session, Error> {
        let resolve = || async {
            match &self.source {
                Source::Pending(session) => Ok(session.clone()),
                Source::Saved { project, credential, integration_type } => {
                    self.credentials.session_of(*project, *credential, integration_type).await
                }
            }
        };
        self.resolved.get_or_try_init(resolve).await.cloned()
    }
}

#[async_trait]
impl ConnectionHttp for Grant {
    async fn send(&self, req: ConnectionRequest) -> Result<OutboundResponse, ConnectionError> {
        let session = self.session().await.map_err(|e| {
            tracing::warn!(error = %e, "credentials not granted to a plugin request");
            ConnectionError::Credentials(public(&e))
        })?;
        let ConnectionRequest { method, target, query, headers, body, timeout, max_response_bytes } = req;
        let fill = move |out: &mut OutboundRequest| {
            out.headers = headers.clone();
            out.body = body.clone();
            out.timeout = timeout;
            out.max_response_bytes = max_response_bytes;
        };
        let call = Call { method, target: &target, query: &query, fill: &fill };
        let mut report = Report::default();
        let answer = self.credentials.send_as(&session, call, &mut report).await.map_err(|e| match e {
            SendError::Target(t) => ConnectionError::Target(t),
            SendError::RateLimited(wait) => ConnectionError::RateLimited(wait),
            SendError::Credentials(e) => ConnectionError::Credentials(public(&e)),
            SendError::Egress(e) => ConnectionError::Egress(e),
        })?;
        Ok(answer.collect().await?)
    }
}
