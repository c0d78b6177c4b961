//! API resources' connections: a resource (see `weft_catalog::resource`)
//! runs on a hidden integration whose provider the catalog translated it
//! into, so its accounts are ordinary credentials: sealed in the vault,
//! refreshed at the resource's access-token URL, used on
//! [`Credentials::send_as`]. What is its own is how one is made: the
//! resource's required keys in one body, without an authorization page.

use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use weft_auth::oauth::{Grant, request_token_as};
use weft_catalog::resource::{ACCESS_TOKEN, REFRESH_TOKEN, Resource, ResourceLevel, is_resource};
use weft_store::{Credential, CredentialStatus, Integration, IntegrationId, ProjectId};

use crate::connect::exchange_error;
use crate::scheme::{Scheme, fill_url};
use crate::secrets::CredentialSecrets;
use crate::service::Credentials;
use crate::{Error, Result};

/// The internal user an app-level resource's one credential belongs to
/// (no connected user: the Users API does not show it, and no user token
/// may name it).
pub use weft_store::APP_USER;

/// The optional key of a refresh-token connect body: the access token's
/// lifetime in seconds.
const EXPIRES_IN: &str = "expires_in";

/// Longest key value accepted.
const MAX_VALUE_LEN: usize = 8192;

impl Credentials {
    /// The resource `id` of `project` (its hidden integration and its
    /// document), or `NotFound("resource")`.
    pub async fn resource(&self, project: ProjectId, id: IntegrationId) -> Result<(Integration, Resource)> {
        let integration = match self.store.get_integration(project, id).await {
            Ok(i) if is_resource(&i.integration_type) => i,
            Ok(_) | Err(weft_store::Error::NotFound(_)) => return Err(Error::NotFound("resource")),
            Err(e) => return Err(e.into()),
        };
        let entry = self.provider_of(&integration)?.ok_or(Error::NotFound("resource"))?;
        let resource = Resource::of(&entry.provider)
            .ok_or_else(|| Error::internal(format!("the stored resource {id} is unreadable")))?;
        Ok((integration, resource))
    }

    /// Connects `user` to the user-level resource `id` with `body`: exactly
    /// the resource's required keys (tokens or named keys, and its inputs).
    /// A user's earlier connection of the resource is replaced.
    pub async fn connect_resource(
        &self,
        project: ProjectId,
        user: &str,
        id: IntegrationId,
        body: Map<String, Value>,
    ) -> Result<Credential> {
        let (_, resource) = self.resource(project, id).await?;
        if resource.level == ResourceLevel::App {
            return Err(Error::BadRequest(
                "this resource is app-level: its one credential is set with the admin API, not by users".into(),
            ));
        }
        self.save_resource_credential(project, user, id, &resource, body).await
    }

    /// Sets the one credential of the app-level resource `id` (the admin
    /// API), replacing the one before.
    pub async fn connect_app_resource(
        &self,
        project: ProjectId,
        id: IntegrationId,
        body: Map<String, Value>,
    ) -> Result<Credential> {
        let (_, resource) = self.resource(project, id).await?;
        if resource.level != ResourceLevel::App {
            return Err(Error::BadRequest(
                "this resource is user-level: each user connects it through the SDK API".into(),
            ));
        }
        self.save_resource_credential(project, APP_USER, id, &resource, body).await
    }

    async fn save_resource_credential(
        &self,
        project: ProjectId,
        user: &str,
        id: IntegrationId,
        resource: &Resource,
        body: Map<String, Value>,
    ) -> Result<Credential> {
        let values = connect_values(resource, body)?;
        let auth = self.integration_auth(project, id).await?;
        let mut inputs = Map::new();
        for name in &resource.inputs {
            // Checked now, as a URL placeholder takes it, rather than at each call.
            let value = values[name].clone();
            let probe: Map<String, Value> = [(name.clone(), Value::String(value.clone()))].into_iter().collect();
            if weft_catalog::fill_placeholders(&format!("{{config.{name}}}"), &probe).is_err() {
                return Err(Error::BadRequest(format!(
                    "the input `{name}` may only hold letters, digits, '-', '_' and '.'"
                )));
            }
            inputs.insert(name.clone(), Value::String(value));
        }
        let mut secrets = CredentialSecrets::default();
        let mut expires_at = None;
        match &auth.scheme {
            Scheme::OAuth(_) => {
                secrets.access_token = Some(values[ACCESS_TOKEN].clone());
                secrets.refresh_token = Some(values[REFRESH_TOKEN].clone());
                let lifetime = values
                    .get(EXPIRES_IN)
                    .map(|s| s.parse::<u64>())
                    .transpose()
                    .map_err(|_| Error::BadRequest(format!("`{EXPIRES_IN}` must be a number of seconds")))?;
                expires_at = Some(self.expiry(self.now(), lifetime));
            }
            Scheme::ClientCredentials { token_url, scopes, client_auth, .. } => {
                let url = fill_url(token_url, &inputs)?;
                let client = self.app_client(&auth, *client_auth).await?;
                let reading = auth.token_reading()?;
                let grant = Grant::ClientCredentials { scopes };
                let timeout = self.settings.token_timeout;
                let tokens = request_token_as(self.egress.as_ref(), &url, &client, grant, timeout, &reading)
                    .await
                    .map_err(exchange_error)?;
                secrets.access_token = Some(tokens.access_token.expose_secret().to_owned());
                expires_at = Some(self.expiry(self.now(), tokens.expires_in));
            }
            _ => {
                for key in resource.secret_keys() {
                    secrets.fields.insert(key.clone(), values[&key].clone());
                }
            }
        }
        // One connection per user and resource: a new one replaces it.
        let earlier = self
            .store
            .list_user_credentials(project, user)
            .await?
            .into_iter()
            .filter(|c| c.integration_id == id)
            .min_by_key(|c| (c.status != CredentialStatus::Valid, c.created_at))
            .map(|c| c.id);
        self.save_tested(&auth, user, earlier, inputs, secrets, expires_at).await
    }
}

/// The values of a connect body, checked against the resource's required
/// keys: every missing and every unknown key is named.
fn connect_values(resource: &Resource, body: Map<String, Value>) -> Result<std::collections::HashMap<String, String>> {
    let required: Vec<String> = resource.secret_keys().into_iter().chain(resource.inputs.iter().cloned()).collect();
    let optional: &[&str] = if resource.secret_keys().iter().any(|k| k == REFRESH_TOKEN) { &[EXPIRES_IN] } else { &[] };
    let missing: Vec<&str> = required.iter().filter(|k| !body.contains_key(k.as_str())).map(String::as_str).collect();
    let unknown: Vec<&str> =
        body.keys().filter(|k| !required.contains(k) && !optional.contains(&k.as_str())).map(String::as_str).collect();
    if !missing.is_empty() || !unknown.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", quoted(&missing)));
        }
        if !unknown.is_empty() {
            parts.push(format!("unknown {}", quoted(&unknown)));
        }
        return Err(Error::BadRequest(format!(
            "The body must hold exactly this resource's keys ({}): {}",
            quoted(&required.iter().map(String::as_str).collect::<Vec<_>>()),
            parts.join("; ")
        )));
    }
    let mut values = std::collections::HashMap::new();
    for (key, value) in body {
        let text = match value {
            Value::String(s) if !s.is_empty() && s.len() <= MAX_VALUE_LEN => s,
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(Error::BadRequest(format!(
                    "`{key}` must be a non-empty string of at most {MAX_VALUE_LEN} characters"
                )));
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
