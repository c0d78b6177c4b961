//! A definition's webhook triggers, as the webhook ingress and the trigger
//! wiring need them: the triggers an integration's provider definition
//! describes, the key that signs its deliveries, and the setup requests
//! (subscribe, unsubscribe) sent as the subscribing account on the one
//! authorised-request path ([`Credentials::send_as`]), so the definition
//! never holds a token and the governor counts them like any other call.
//! What a provider's handshake hands over (a signing secret) is kept
//! sealed with its subscription ([`Credentials::persist_handshake`]).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use weft_catalog::webhooks::{Rendered, SigningSecret};
use weft_catalog::{Origin, WebhookTrigger};
use weft_egress::{Method, OutboundRequest};
use weft_store::{CredentialId, Integration, ProjectId, Subscription, SubscriptionId};
use weft_vault::Sealed;

use crate::owners;
use crate::request::{Call, Report};
use crate::service::Credentials;
use crate::{Error, Result};

/// How long a setup request may take.
const SETUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// Largest setup answer read.
const MAX_SETUP_ANSWER: u64 = 256 * 1024;

impl Credentials {
    /// The webhook triggers `integration`'s provider definition describes
    /// (none for a plugin's integration: a plugin serves its own triggers).
    pub fn webhook_triggers(&self, integration: &Integration) -> Result<Vec<WebhookTrigger>> {
        Ok(match self.provider_of(integration)? {
            Some(entry) if entry.origin == Origin::Definition => entry.provider.webhooks.clone(),
            _ => Vec::new(),
        })
    }

    /// The trigger `key` of the integration of type `integration_type` in
    /// `project`, with the integration.
    pub async fn webhook_trigger(
        &self,
        project: ProjectId,
        integration_type: &str,
        key: &str,
    ) -> Result<Option<(Integration, WebhookTrigger)>> {
        let integration = match self.store.get_integration_by_type(project, integration_type).await {
            Ok(i) => i,
            Err(weft_store::Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let found = self.webhook_triggers(&integration)?.into_iter().find(|t| t.key == key);
        Ok(found.map(|t| (integration, t)))
    }

    /// The key that signs `integration`'s deliveries, if it is set; a key
    /// a handshake persisted is read from `subscription`, the one the
    /// delivery is for.
    pub async fn signing_secret(
        &self,
        integration: &Integration,
        secret: &SigningSecret,
        subscription: Option<&Subscription>,
    ) -> Result<Option<SecretString>> {
        match secret {
            SigningSecret::Environment(name) => self.environment_secret(integration.project_id, name).await,
            SigningSecret::ClientSecret(_) => self.client_secret(integration).await,
            SigningSecret::Persisted(name) => {
                let Some(s) = subscription else { return Ok(None) };
                Ok(self.persisted_values(s)?.remove(name).map(SecretString::from))
            }
        }
    }

    /// Keeps what a handshake persisted for subscription `id`, sealed (the
    /// values are taken to be secrets: a provider hands its signing secret
    /// over this way); replaces what an earlier handshake kept.
    pub async fn persist_handshake(
        &self,
        project: ProjectId,
        id: SubscriptionId,
        values: &BTreeMap<String, String>,
    ) -> Result<()> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(values).map_err(|e| Error::internal(format!("{e}")))?);
        let (owner, field) = owners::subscription_persisted(project, id);
        let sealed = self.vault.seal(&owner, field, &json)?;
        self.store.set_subscription_persisted(project, id, sealed.to_bytes()).await?;
        tracing::info!(project = %project, subscription = %id, values = values.len(), "webhook handshake values kept");
        Ok(())
    }

    /// What handshakes persisted for `s` (empty when nothing was).
    pub fn persisted_values(&self, s: &Subscription) -> Result<BTreeMap<String, String>> {
        let Some(bytes) = &s.persisted else { return Ok(BTreeMap::new()) };
        let sealed = Sealed::from_bytes(bytes).map_err(|_| Error::Corrupt)?;
        let (owner, field) = owners::subscription_persisted(s.project, s.id);
        let plain = self
            .vault
            .open(&owner, field, &sealed)
            .map_err(|e| if e.is_corrupt() { Error::Corrupt } else { Error::Vault(e) })?;
        serde_json::from_slice(plain.expose_secret()).map_err(|_| Error::Corrupt)
    }

    /// What a setup request of `credential`'s may read: its id, its
    /// `providerId` and its connection settings, with `extra` (the webhook
    /// URL, the subscribe answer) merged in.
    pub async fn setup_variables(&self, project: ProjectId, credential: CredentialId, extra: Value) -> Result<Value> {
        let c = self.store.get_credential(project, credential).await?;
        let mut vars = json!({
            "credential": {"id": c.id.to_string(), "providerId": c.provider_id},
            "config": Value::Object(c.connection_config),
        });
        if let (Some(vars), Value::Object(extra)) = (vars.as_object_mut(), extra) {
            vars.extend(extra);
        }
        Ok(vars)
    }

    /// Sends a filled setup request as `credential` (an account of
    /// `integration_type`): the provider's status and its JSON answer
    /// (`null` when it sent none or something else).
    pub async fn send_setup(
        &self,
        project: ProjectId,
        credential: CredentialId,
        integration_type: &str,
        request: &Rendered,
    ) -> Result<(u16, Value)> {
        let session = self.session_of(project, credential, integration_type).await?;
        let method = match request.method.as_str() {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => Method::Post,
        };
        let body = request.body.as_ref().map(|b| bytes::Bytes::from(b.to_string()));
        let fill = |req: &mut OutboundRequest| {
            req.headers = request.headers.clone();
            req.headers.push(("accept".into(), "application/json".into()));
            if body.is_some() {
                req.headers.push(("content-type".into(), "application/json".into()));
            }
            req.body = body.clone();
            req.timeout = Some(SETUP_TIMEOUT);
            req.max_response_bytes = Some(MAX_SETUP_ANSWER);
        };
        let call = Call { method, target: &request.url, query: &[], fill: &fill };
        let answer = self
            .send_as(&session, call, &mut Report::default())
            .await
            .map_err(|e| Error::BadRequest(format!("the webhook setup request failed: {e}")))?;
        let status = answer.status;
        let answer = answer
            .collect()
            .await
            .map_err(|e| Error::BadRequest(format!("the webhook setup answer could not be read: {e}")))?;
        Ok((status, serde_json::from_slice(&answer.body).unwrap_or(Value::Null)))
    }
}
