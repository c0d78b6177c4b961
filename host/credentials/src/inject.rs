//! The plugin host's view of credentials: inject a connection's secrets
//! into an outbound request, refresh after a provider 401.

use std::sync::Arc;

use async_trait::async_trait;
use weft_egress::OutboundRequest;
use weft_plugin_host::{CallScope, CredentialError, CredentialInjector};
use weft_store::{CredentialId, ProjectId};

use crate::service::Credentials;
use crate::{Error, Result};

/// [`CredentialInjector`] backed by [`Credentials`]; the plugin host holds it.
pub struct Injector(pub Arc<Credentials>);

/// The project and credential a call scope names.
fn ids(scope: &CallScope) -> Option<(ProjectId, CredentialId)> {
    Some((scope.project_id.parse().ok()?, scope.connection_id.as_deref()?.parse().ok()?))
}

/// What a plugin may be told about a failure: no ids, no secrets.
fn public(e: &Error) -> CredentialError {
    let message = match e {
        Error::NeedsReauth { reason } => format!("the connected account needs to be connected again ({reason})"),
        Error::Unavailable { .. } => "the provider's token endpoint is unavailable; retry later".into(),
        Error::Misconfigured(_) => "the integration is not configured correctly".into(),
        Error::NotFound(_) => "no credentials for this connection".into(),
        _ => "the connection's credentials could not be used".into(),
    };
    CredentialError(message)
}

impl Injector {
    async fn inject_checked(&self, scope: &CallScope, req: &mut OutboundRequest) -> Result<()> {
        let key = scope.connection_id.as_deref().unwrap_or_default();
        // Secrets under test during a connect, not saved yet.
        let pending = self.0.pending.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned();
        if let Some((scheme, secrets)) = pending {
            return scheme.inject(&secrets, req);
        }
        let (project, id) = ids(scope).ok_or(Error::NotFound("credential"))?;
        let usable = self.0.usable(project, id).await?;
        let auth = self.0.integration_auth(project, usable.credential.integration_id).await?;
        // A plugin's call may use only its own integration's credentials.
        if auth.integration.integration_type != scope.plugin_id {
            return Err(Error::NotFound("credential"));
        }
        auth.scheme.inject(&usable.secrets, req)
    }
}

#[async_trait]
impl CredentialInjector for Injector {
    async fn inject(&self, scope: &CallScope, req: &mut OutboundRequest) -> Result<(), CredentialError> {
        self.inject_checked(scope, req).await.map_err(|e| {
            tracing::warn!(plugin = %scope.plugin_id, error = %e, "credentials not injected");
            public(&e)
        })
    }

    async fn refresh_rejected(&self, scope: &CallScope, rejected: &OutboundRequest) -> bool {
        let Some((project, id)) = ids(scope) else { return false };
        let Some(token) = rejected
            .injected_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        match self.0.refresh_rejected(project, id, token).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(credential = %id, error = %e, "refresh after a provider 401 failed");
                false
            }
        }
    }
}
