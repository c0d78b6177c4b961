//! Connecting accounts: starting a flow, the OAuth callback, submitted
//! input fields, reconnecting and uninstalling.
//!
//! Every flow ends the same way: the new secrets are tested while they
//! exist only in memory (the plugin's `test-connection`, or a declarative
//! provider's connection test), and only an account that passes is sealed
//! and saved (with the `providerId` and profile the test reported).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use weft_auth::oauth::{AuthorizationRequest, Grant, OAuthClient, Pkce, TokenError, random_state, request_token_as};
use weft_catalog::Origin;
use weft_store::{ConnectState, Credential, CredentialId, CredentialStatus, IntegrationId, NewCredential, ProjectId};
use weft_vault::Sealed;

use crate::hooks::{HookCall, HookError};
use crate::owners;
use crate::scheme::{Scheme, connection_inputs, fill_url};
use crate::secrets::CredentialSecrets;
use crate::service::{Credentials, IntegrationAuth};
use crate::session::Session;
use crate::{Error, Result};
use std::sync::Arc;

/// What a user asks for when starting to connect.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    /// Pre-authorization inputs (non-secret, e.g. a subdomain).
    pub inputs: Map<String, Value>,
    /// Connect another account even if one is connected already.
    pub allow_multiple: bool,
    /// Replace this account (keeping its settings).
    pub replace: Option<CredentialId>,
    /// Where to send the user's browser after an OAuth connect; must be one
    /// of the project's return URLs, byte for byte.
    pub return_to: Option<String>,
}

/// How the flow continues.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// Send the user's browser here (OAuth).
    Redirect {
        /// The authorization URL.
        url: String,
    },
    /// Ask the user for these secret fields, then submit them.
    Inputs {
        /// Field names.
        fields: Vec<String>,
    },
}

/// The query of an OAuth callback.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state Weft sent.
    pub state: Option<String>,
    /// The issuer (RFC 9207), when the provider sends it.
    pub iss: Option<String>,
    /// The provider's error (e.g. `access_denied`).
    pub error: Option<String>,
}

/// What the authorization carries between start and callback; sealed.
#[derive(Serialize, Deserialize)]
struct FlowData {
    /// The PKCE verifier; none when the provider takes no PKCE (a flow
    /// sealed before the switch existed always has one).
    verifier: Option<String>,
    inputs: Map<String, Value>,
    replace: Option<CredentialId>,
    #[serde(default)]
    return_to: Option<String>,
}

/// A completed OAuth connect.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The saved credential.
    pub credential: Credential,
    /// Where to send the browser, if the flow asked for it (already checked).
    pub return_to: Option<String>,
}

impl Drop for FlowData {
    fn drop(&mut self) {
        if let Some(verifier) = &mut self.verifier {
            zeroize::Zeroize::zeroize(verifier);
        }
    }
}

fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

impl Credentials {
    /// Starts connecting `integration_type` for `user`.
    pub async fn start(
        &self,
        project: ProjectId,
        user: &str,
        integration_type: &str,
        req: StartRequest,
    ) -> Result<StartOutcome> {
        let (auth, inputs) = self.prepare(project, user, integration_type, &req).await?;
        match &auth.scheme {
            Scheme::OAuth(o) if !o.password_only() => {
                if let Some(to) = &req.return_to {
                    // Exact match only: no prefixes, no look-alike hosts.
                    let project_row = self.store.get_project(project).await?;
                    if !project_row.connect_return_urls.iter().any(|u| u == to) {
                        return Err(Error::BadRequest(
                            "returnTo must be exactly one of the project's connect return URLs".into(),
                        ));
                    }
                }
                let client_id = auth
                    .integration
                    .client_id
                    .clone()
                    .ok_or_else(|| Error::Misconfigured("the integration has no OAuth client id".into()))?;
                let authorize_url = fill_url(&o.authorize_url, &inputs)?;
                let pkce = match o.pkce {
                    true => Some(Pkce::generate().map_err(|e| Error::internal(e.to_string()))?),
                    false => None,
                };
                let state = random_state().map_err(|e| Error::internal(e.to_string()))?;
                let hash = state_hash(&state);
                let flow = FlowData {
                    verifier: pkce.as_ref().map(|p| p.verifier.expose_secret().to_owned()),
                    inputs,
                    replace: req.replace,
                    return_to: req.return_to.clone(),
                };
                let plain =
                    zeroize::Zeroizing::new(serde_json::to_vec(&flow).map_err(|e| Error::internal(e.to_string()))?);
                let (owner, field) = owners::connect_flow(project, &hash);
                let sealed = self.vault.seal(&owner, field, &plain)?.to_bytes();
                let redirect_uri = self.redirect_uri(project, auth.integration.id);
                self.store
                    .insert_connect_state(ConnectState {
                        state_hash: hash,
                        project_id: project,
                        integration_id: auth.integration.id,
                        user_id: user.to_owned(),
                        sealed,
                        expires_at: self.now() + self.settings.state_ttl,
                    })
                    .await?;
                let url = AuthorizationRequest {
                    authorize_url: &authorize_url,
                    client_id: &client_id,
                    redirect_uri: &redirect_uri,
                    scopes: &o.scopes,
                    scope_separator: &o.scope_separator,
                    state: &state,
                    code_challenge: pkce.as_ref().map(|p| p.challenge.as_str()),
                    extra_params: &o.extra_params,
                }
                .url();
                Ok(StartOutcome::Redirect { url: url.to_string() })
            }
            scheme => match scheme.input_fields(false) {
                Some(fields) => Ok(StartOutcome::Inputs { fields }),
                None => Err(Error::BadRequest(format!("{integration_type} needs no connection"))),
            },
        }
    }

    /// What every connect starts with: an active integration of this type,
    /// the multiple-account rule, and the checked pre-authorization inputs.
    async fn prepare(
        &self,
        project: ProjectId,
        user: &str,
        integration_type: &str,
        req: &StartRequest,
    ) -> Result<(IntegrationAuth, Map<String, Value>)> {
        if weft_catalog::resource::is_resource(integration_type) {
            return Err(Error::BadRequest(
                "an API resource is connected with POST /projects/{projectId}/sdk/resources/{resourceId}/connect"
                    .into(),
            ));
        }
        let auth = self.integration_auth_by_type(project, integration_type).await?;
        if !auth.integration.active {
            return Err(Error::BadRequest(format!("the {integration_type} integration is not active")));
        }
        self.check_replace_or_multiple(project, user, &auth, req.replace, req.allow_multiple).await?;
        let schema = auth.provider.connection_config_schema.as_ref();
        let inputs = connection_inputs(schema, &req.inputs)?;
        Ok((auth, inputs))
    }

    /// Refuses a second account unless asked for, and a replacement that is
    /// not the user's credential of this integration.
    async fn check_replace_or_multiple(
        &self,
        project: ProjectId,
        user: &str,
        auth: &IntegrationAuth,
        replace: Option<CredentialId>,
        allow_multiple: bool,
    ) -> Result<()> {
        let mine = self.store.list_user_credentials(project, user).await?;
        let of_this: Vec<&Credential> = mine.iter().filter(|c| c.integration_id == auth.integration.id).collect();
        if let Some(id) = replace {
            if !of_this.iter().any(|c| c.id == id) {
                return Err(Error::NotFound("credential"));
            }
            return Ok(());
        }
        if !allow_multiple && of_this.iter().any(|c| c.status == CredentialStatus::Valid) {
            return Err(Error::BadRequest(format!(
                "{} is already connected for this user; pass allowMultipleCredentials to connect another account \
                 or selectedCredentialId to replace one",
                auth.integration.integration_type
            )));
        }
        Ok(())
    }

    /// Completes an OAuth authorization: checks the state (one-time, this
    /// project's and integration's, unexpired), exchanges the code with the
    /// PKCE verifier and the exact redirect URI, tests and saves.
    pub async fn callback(
        &self,
        project: ProjectId,
        integration: IntegrationId,
        params: CallbackParams,
    ) -> Result<Connected> {
        let state = params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512).ok_or(Error::InvalidState)?;
        let hash = state_hash(state);
        let taken = self.store.take_connect_state(project, integration, &hash).await?.ok_or(Error::InvalidState)?;
        if taken.expires_at <= self.now() {
            return Err(Error::InvalidState);
        }
        if let Some(error) = params.error {
            let shown: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            return Err(Error::BadRequest(format!("the provider did not authorize the connection ({shown})")));
        }
        let code = params
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::BadRequest("the callback has no code".into()))?;
        let sealed = Sealed::from_bytes(&taken.sealed).map_err(|_| Error::Corrupt)?;
        let (owner, field) = owners::connect_flow(project, &hash);
        let plain = self.vault.open(&owner, field, &sealed)?;
        let flow: FlowData = serde_json::from_slice(plain.expose_secret()).map_err(|_| Error::Corrupt)?;
        let auth = self.integration_auth(project, integration).await?;
        let Scheme::OAuth(o) = &auth.scheme else {
            return Err(Error::BadRequest("this integration does not use OAuth".into()));
        };
        let authorize_url = fill_url(&o.authorize_url, &flow.inputs)?;
        // RFC 9207: a provider that names itself must be the one we sent the
        // user to (mix-up defence, with the per-integration redirect URI).
        if let Some(iss) = params.iss.as_deref() {
            let expected = authorize_url.origin().ascii_serialization();
            if iss.trim_end_matches('/') != expected {
                return Err(Error::BadRequest("the authorization response comes from another issuer".into()));
            }
        }
        let token_url = fill_url(&o.token_url, &flow.inputs)?;
        let client = self.app_client(&auth, o.client_auth).await?;
        let redirect_uri = self.redirect_uri(project, integration);
        let verifier = flow.verifier.clone().map(SecretString::from);
        let grant =
            Grant::AuthorizationCode { code: &code, redirect_uri: &redirect_uri, code_verifier: verifier.as_ref() };
        let reading = auth.token_reading()?;
        let timeout = self.settings.token_timeout;
        let tokens = request_token_as(self.egress.as_ref(), &token_url, &client, grant, timeout, &reading)
            .await
            .map_err(exchange_error)?;
        let mut secrets = CredentialSecrets::default();
        secrets.access_token = Some(tokens.access_token.expose_secret().to_owned());
        secrets.refresh_token = tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned());
        secrets.scope = tokens.scope.clone();
        secrets.extra = tokens.extra.clone();
        let expires_at = self.token_expiry(&auth.scheme, tokens.expires_in);
        let mut settings = flow.inputs.clone();
        auth.keep_token_fields(&tokens, &mut settings);
        let credential = self.save_tested(&auth, &taken.user_id, flow.replace, settings, secrets, expires_at).await?;
        Ok(Connected { credential, return_to: flow.return_to.clone() })
    }

    /// Connects with submitted secret fields: API keys, basic auth, bearer
    /// tokens, the user's own client (client credentials), the password
    /// grant where enabled, or a custom scheme's fields.
    pub async fn submit(
        &self,
        project: ProjectId,
        user: &str,
        integration_type: &str,
        req: StartRequest,
        fields: Map<String, Value>,
    ) -> Result<Credential> {
        let (auth, inputs) = self.prepare(project, user, integration_type, &req).await?;
        let text = |name: &str| -> Result<String> {
            match fields.get(name) {
                Some(Value::String(s)) if !s.is_empty() && s.len() <= 8192 => Ok(s.clone()),
                _ => Err(Error::BadRequest(format!("the field `{name}` is required (a non-empty string)"))),
            }
        };
        let mut secrets = CredentialSecrets::default();
        let mut expires_at = None;
        let mut inputs = inputs;
        let reading = auth.token_reading()?;
        let timeout = self.settings.token_timeout;
        match &auth.scheme {
            Scheme::None => return Err(Error::BadRequest(format!("{integration_type} needs no connection"))),
            // Kept under one name whatever the input is called.
            Scheme::ApiKey { field, .. } => {
                secrets.fields.insert("api_key".into(), text(field)?);
            }
            Scheme::Basic => {
                secrets.username = Some(text("username")?);
                secrets.password = Some(text("password")?);
            }
            Scheme::Bearer { field } => secrets.access_token = Some(text(field)?),
            Scheme::Custom { .. } => {
                for name in auth.scheme.input_fields(false).unwrap_or_default() {
                    secrets.fields.insert(name.clone(), text(&name)?);
                }
            }
            Scheme::ClientCredentials { token_url, scopes, client_auth, user_client, .. } => {
                let client = match user_client {
                    true => OAuthClient {
                        client_id: text("client_id")?,
                        client_secret: Some(text("client_secret")?.into()),
                        auth: *client_auth,
                    },
                    false => self.app_client(&auth, *client_auth).await?,
                };
                let url = fill_url(token_url, &inputs)?;
                let grant = Grant::ClientCredentials { scopes };
                let tokens = request_token_as(self.egress.as_ref(), &url, &client, grant, timeout, &reading)
                    .await
                    .map_err(|e| match (e, user_client) {
                        // The user's own client: theirs to fix, not the app's.
                        (TokenError::InvalidClient, true) => Error::BadRequest(
                            "the provider refused this client id and secret (invalid_client); check them and connect again"
                                .into(),
                        ),
                        (e, _) => exchange_error(e),
                    })?;
                auth.keep_token_fields(&tokens, &mut inputs);
                secrets.access_token = Some(tokens.access_token.expose_secret().to_owned());
                secrets.scope = tokens.scope.clone();
                secrets.extra = tokens.extra.clone();
                // Kept sealed with the account to get its next tokens.
                if *user_client {
                    secrets.client_id = Some(client.client_id.clone());
                    secrets.client_secret = client.client_secret.as_ref().map(|s| s.expose_secret().to_owned());
                }
                expires_at = self.token_expiry(&auth.scheme, tokens.expires_in);
            }
            Scheme::OAuth(o) => {
                if !o.password_grant {
                    return Err(Error::BadRequest(format!(
                        "{integration_type} connects through its authorization page; the password grant is not enabled"
                    )));
                }
                let username = text("username")?;
                let password = SecretString::from(text("password")?);
                if let Some(field) = &o.password_api_key {
                    secrets.fields.insert(field.clone(), text(field)?);
                }
                let client = self.app_client(&auth, o.client_auth).await?;
                let url = fill_url(&o.token_url, &inputs)?;
                let grant = Grant::Password { username: &username, password: &password, scopes: &o.scopes };
                let tokens = request_token_as(self.egress.as_ref(), &url, &client, grant, timeout, &reading)
                    .await
                    .map_err(|e| match e {
                        TokenError::InvalidGrant => Error::BadRequest(
                            "the provider refused this user name and password (invalid_grant); check them and \
                             connect again"
                                .into(),
                        ),
                        e => exchange_error(e),
                    })?;
                auth.keep_token_fields(&tokens, &mut inputs);
                secrets.access_token = Some(tokens.access_token.expose_secret().to_owned());
                secrets.refresh_token = tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned());
                secrets.scope = tokens.scope.clone();
                secrets.extra = tokens.extra.clone();
                // The password is dropped unless the integration keeps it
                // (then it gets new tokens when there is no refresh token).
                if o.keep_password {
                    secrets.username = Some(username);
                    secrets.password = Some(password.expose_secret().to_owned());
                }
                expires_at = self.token_expiry(&auth.scheme, tokens.expires_in);
            }
        }
        self.save_tested(&auth, user, req.replace, inputs, secrets, expires_at).await
    }

    /// Tests in-memory secrets with the plugin's `test-connection`, then
    /// seals and saves them (as a new credential or in place of `replace`).
    pub(crate) async fn save_tested(
        &self,
        auth: &IntegrationAuth,
        user: &str,
        replace: Option<CredentialId>,
        inputs: Map<String, Value>,
        secrets: CredentialSecrets,
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<Credential> {
        let project = auth.integration.project_id;
        let id = replace.unwrap_or_default();
        let (provider_id, provider_data, routing_keys) = self.test_pending(auth, id, &inputs, &secrets).await?;
        let new = NewCredential {
            id,
            integration_id: auth.integration.id,
            user_id: user.to_owned(),
            provider_id,
            provider_data,
            connection_config: inputs,
            secrets: secrets.seal(&self.vault, project, id)?,
            expires_at,
        };
        let saved = match replace {
            Some(_) => self.store.replace_credential(project, user, new).await?,
            None => {
                // A user the store has not seen yet (first call is the callback).
                self.store.upsert_seen(project, user).await?;
                self.store.insert_credential(project, new).await?
            }
        };
        // What app-wide webhook events name this account by (replacing
        // what an earlier connection of it reported).
        self.store.set_routing_keys(project, saved.id, &routing_keys).await?;
        self.sessions.touch();
        tracing::info!(
            project = %project, integration = %auth.integration.integration_type, credential = %saved.id,
            "account connected"
        );
        Ok(saved)
    }

    /// Tests secrets that are not stored yet: the plugin's
    /// `test-connection`, or the definition's connection test. Returns the
    /// account's id, its profile and its routing keys.
    async fn test_pending(
        &self,
        auth: &IntegrationAuth,
        id: CredentialId,
        inputs: &Map<String, Value>,
        secrets: &CredentialSecrets,
    ) -> Result<(Option<String>, Value, Vec<String>)> {
        let unsaved = unsaved_credential(id, auth, inputs.clone());
        let session = Session::pending(Arc::new(auth.clone()), unsaved, secrets.clone());
        if auth.origin == Origin::Definition {
            let (account, profile) = self.declarative_test(auth, &session).await?;
            // An app-level webhook of the definition names its account by
            // the account's id: the one routing key.
            let routing = account.iter().cloned().collect();
            return Ok((account, profile, routing));
        }
        let call = HookCall {
            project: auth.integration.project_id,
            connection_id: id.to_string(),
            config: inputs.clone(),
            base_url: auth.integration.base_url.clone(),
            http: Some(self.arc()?.grant_pending(session)),
        };
        match self.hooks.test_connection(&auth.provider.id, call).await {
            Ok(info) => Ok((Some(info.account_id), info.profile, info.routing_keys)),
            Err(HookError::Unauthorized(m) | HookError::InvalidInput(m)) => Err(Error::ConnectionTest(trim(&m))),
            Err(HookError::Unsupported) => Ok((None, Value::Object(Map::new()), Vec::new())),
            Err(e) => {
                tracing::warn!(provider = %auth.provider.id, error = %e, "test-connection failed");
                Err(Error::ConnectionTest("the provider could not be reached to verify the account".into()))
            }
        }
    }

    /// Disconnects the user's accounts of an integration (or only
    /// `credential`): revokes them at the provider where it supports that
    /// (best effort), then deletes the rows and with them the data keys.
    /// Returns the removed accounts' ids.
    pub async fn uninstall(
        &self,
        project: ProjectId,
        user: &str,
        integration: IntegrationId,
        credential: Option<CredentialId>,
    ) -> Result<Vec<CredentialId>> {
        let mine = self.store.list_user_credentials(project, user).await?;
        let targets: Vec<Credential> = mine
            .into_iter()
            .filter(|c| c.integration_id == integration && credential.is_none_or(|id| id == c.id))
            .collect();
        if targets.is_empty() {
            return Err(Error::NotFound("credential"));
        }
        let auth = self.integration_auth(project, integration).await.ok();
        for c in &targets {
            if let Some(auth) = &auth {
                self.revoke_at_provider(auth, c).await;
            }
            self.store.delete_credential(project, user, c.id).await?;
            self.sessions.touch();
            tracing::info!(project = %project, credential = %c.id, "account disconnected");
        }
        Ok(targets.iter().map(|c| c.id).collect())
    }

    async fn revoke_at_provider(&self, auth: &IntegrationAuth, c: &Credential) {
        let Scheme::OAuth(o) = &auth.scheme else { return };
        let Some(revoke_url) = &o.revoke_url else { return };
        let Ok(secrets) = self.open(c) else { return };
        let (token, hint) = match (&secrets.refresh_token, &secrets.access_token) {
            (Some(r), _) => (r.clone(), "refresh_token"),
            (None, Some(a)) => (a.clone(), "access_token"),
            _ => return,
        };
        let Ok(url) = fill_url(revoke_url, &c.connection_config) else { return };
        let Ok(client) = self.app_client(auth, o.client_auth).await else { return };
        let token = SecretString::from(token);
        let timeout = self.settings.token_timeout;
        if let Err(e) = weft_auth::oauth::revoke_token(self.egress.as_ref(), &url, &client, &token, hint, timeout).await
        {
            tracing::warn!(credential = %c.id, error = %e, "revocation at the provider failed; deleted anyway");
        }
    }
}

/// A code, password or client-credentials exchange that failed.
pub(crate) fn exchange_error(e: TokenError) -> Error {
    match e {
        TokenError::InvalidClient => Error::Misconfigured("the provider refused the OAuth client".into()),
        TokenError::InvalidGrant => Error::BadRequest("the provider refused the authorization (invalid_grant)".into()),
        e if e.is_transient() => Error::Unavailable { retry_after: e.retry_after() },
        e => Error::Provider(e.to_string()),
    }
}

/// The row a credential will have once saved, for testing it before: only
/// what a call reads (ids, settings) is set.
fn unsaved_credential(id: CredentialId, auth: &IntegrationAuth, inputs: Map<String, Value>) -> Credential {
    let now = time::OffsetDateTime::now_utc();
    Credential {
        id,
        project_id: auth.integration.project_id,
        integration_id: auth.integration.id,
        user_id: String::new(),
        status: CredentialStatus::Valid,
        invalid_reason: None,
        provider_id: None,
        provider_data: Value::Object(Map::new()),
        config: Map::new(),
        connection_config: inputs,
        secrets: Vec::new(),
        version: 0,
        expires_at: None,
        refreshed_at: None,
        refresh_failure_count: 0,
        failure_days: 0,
        last_failure_day: None,
        retry_at: None,
        lease_until: None,
        created_at: now,
        updated_at: now,
    }
}

/// A plugin's message, bounded.
fn trim(m: &str) -> String {
    m.chars().take(300).collect()
}
