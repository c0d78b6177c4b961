//! Where tokens are refreshed: usable secrets on demand, refreshed once per
//! credential across every task and process.
//!
//! Three guards make a refresh single-flight: a per-credential mutex in
//! this process; a lease row in the database (`claim_refresh_lease`) that
//! other processes wait on; and the version compare-and-swap on the write.
//! Whoever gets the lock re-reads the credential first and skips the
//! refresh when someone else already did it (the double check), so fifty
//! callers of one expired token cause exactly one token request.
//!
//! `invalid_grant` is believed only after a re-read shows nobody rotated the
//! token meanwhile; then the credential turns INVALID and one
//! `credentials_failure` event is queued. Transient failures back off
//! (honouring `Retry-After`) and count distinct failing days toward giving
//! up. `invalid_client` is the app's problem: the integration is marked
//! misconfigured and users' credentials are left alone.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::hooks::{HookCall, HookError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;
use weft_auth::oauth::{Grant, OAuthClient, TokenError, TokenResponse, request_token_as};
use weft_catalog::RefreshPolicy;
use weft_store::{
    Credential, CredentialId, CredentialStatus, Error as StoreError, ProjectId, RefreshFailure, SecretsUpdate,
    day_number,
};

use crate::scheme::{Scheme, fill_url};
use crate::secrets::CredentialSecrets;
use crate::service::{Credentials, IntegrationAuth};
use crate::{Error, Result};

/// A credential ready to use.
pub struct Usable {
    /// The row it was read from.
    pub credential: Credential,
    /// Its open secrets.
    pub secrets: CredentialSecrets,
}

/// How often a waiter re-reads a credential another process is refreshing.
const LEASE_POLL: Duration = Duration::from_millis(50);

impl Credentials {
    /// The credential's secrets, refreshed first when they expire within
    /// the margin. Fails fast for an INVALID credential.
    pub async fn usable(&self, project: ProjectId, id: CredentialId) -> Result<Usable> {
        self.obtain(project, id, None).await
    }

    /// Refreshes after the provider refused `rejected_access_token`, unless
    /// the stored token already differs (someone refreshed meanwhile).
    pub async fn refresh_rejected(&self, project: ProjectId, id: CredentialId, rejected: &str) -> Result<Usable> {
        self.obtain(project, id, Some(Force::IfStill(rejected.to_owned()))).await
    }

    /// Refreshes now, even past the give-up rule (an operator's retry).
    pub async fn force_refresh(&self, project: ProjectId, id: CredentialId) -> Result<Usable> {
        self.obtain(project, id, Some(Force::Always)).await
    }

    async fn obtain(&self, project: ProjectId, id: CredentialId, force: Option<Force>) -> Result<Usable> {
        let started = tokio::time::Instant::now();
        let patience = self.settings.lease_ttl * 2 + self.settings.token_timeout;
        loop {
            let credential = self.store.get_credential(project, id).await?;
            if !self.wants_refresh(&credential, force.as_ref())? {
                let secrets = self.open(&credential)?;
                return Ok(Usable { credential, secrets });
            }
            if let Some(Force::IfStill(_)) = &force {
                let secrets = self.open(&credential)?;
                if !force.as_ref().is_some_and(|f| f.applies(&secrets)) {
                    return Ok(Usable { credential, secrets });
                }
            }
            let flight = self.flight(id);
            let _guard = flight.lock().await;
            // The double check: another task may have refreshed while we
            // waited for the lock.
            let current = self.store.get_credential(project, id).await?;
            if current.version != credential.version {
                let secrets = self.open(&current)?;
                if current.status == CredentialStatus::Invalid && !matches!(force, Some(Force::Always)) {
                    return Err(invalid(&current));
                }
                return Ok(Usable { credential: current, secrets });
            }
            if let Some(wait) = self.in_backoff(&current, force.as_ref()) {
                // An early (proactive) refresh failed: the token still works.
                if force.is_none() && self.still_valid(&current) {
                    let secrets = self.open(&current)?;
                    return Ok(Usable { credential: current, secrets });
                }
                return Err(Error::Unavailable { retry_after: Some(wait) });
            }
            let lease = Uuid::new_v4();
            let now = self.now();
            let until = now + self.settings.lease_ttl;
            match self.store.claim_refresh_lease(project, id, lease, now, until).await? {
                Some(leased) if leased.version == current.version => {
                    // Every finished refresh clears the lease; one that merely
                    // expired was abandoned mid-refresh by a holder that died
                    // (kill -9, crash) or hung. Its token request may have
                    // rotated the refresh token at the provider, so an
                    // `invalid_grant` now means a lost rotation (C8-108, C2-41).
                    let lease_abandoned = current.lease_until.is_some();
                    // The refresh runs in its own task: a caller that goes away
                    // (a client disconnect) must not leave the lease held and
                    // a rotated refresh token unstored.
                    let this = self.arc()?;
                    let forced = force.is_some();
                    let task = tokio::spawn(async move {
                        this.refresh_under_lease(leased, lease, Taken { forced, lease_abandoned }).await
                    });
                    let outcome = task.await.map_err(|e| Error::internal(format!("the refresh task failed: {e}")))?;
                    return match outcome {
                        // The provider is down, but the current token has
                        // not expired yet: use it (the refresh was early).
                        Err(Error::Unavailable { .. }) if force.is_none() && self.still_valid(&current) => {
                            let secrets = self.open(&current)?;
                            Ok(Usable { credential: current, secrets })
                        }
                        other => other,
                    };
                }
                Some(leased) => {
                    // Refreshed elsewhere between our read and the claim.
                    self.store.release_refresh_lease(project, id, lease).await?;
                    let secrets = self.open(&leased)?;
                    return Ok(Usable { credential: leased, secrets });
                }
                None => {
                    if started.elapsed() > patience {
                        return Err(Error::Unavailable { retry_after: Some(self.settings.lease_ttl) });
                    }
                    self.wait_for_other_process(project, id, current.version).await?;
                }
            }
        }
    }

    /// Whether `credential` must be refreshed before use.
    fn wants_refresh(&self, credential: &Credential, force: Option<&Force>) -> Result<bool> {
        if credential.status == CredentialStatus::Invalid && !matches!(force, Some(Force::Always)) {
            return Err(invalid(credential));
        }
        if force.is_some() {
            return Ok(true);
        }
        Ok(self.due(credential))
    }

    /// Whether the token expires within the refresh margin.
    pub(crate) fn due(&self, credential: &Credential) -> bool {
        let margin = self.settings.refresh_margin;
        credential.expires_at.is_some_and(|exp| exp - margin <= self.now())
    }

    /// Whether the access token has not expired yet (it may be within the
    /// refresh margin).
    fn still_valid(&self, credential: &Credential) -> bool {
        credential.expires_at.is_some_and(|exp| exp > self.now())
    }

    /// The wait left when the credential is in backoff and its token is
    /// unusable anyway; forced refreshes ignore the backoff.
    fn in_backoff(&self, credential: &Credential, force: Option<&Force>) -> Option<Duration> {
        if matches!(force, Some(Force::Always)) {
            return None;
        }
        let now = self.now();
        let wait = credential.retry_at.filter(|r| *r > now)? - now;
        Some(Duration::try_from(wait).unwrap_or_default().max(Duration::from_secs(1)))
    }

    /// Another process holds the lease: wait until it writes (the version
    /// moves) or the lease is free, polling with a deadline.
    async fn wait_for_other_process(&self, project: ProjectId, id: CredentialId, version: i64) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.settings.lease_ttl + Duration::from_secs(1);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(LEASE_POLL).await;
            let c = self.store.get_credential(project, id).await?;
            let free = c.lease_until.is_none_or(|until| until <= self.now());
            if c.version != version || free {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Refreshes a credential whose lease this call holds.
    async fn refresh_under_lease(&self, credential: Credential, lease: Uuid, taken: Taken) -> Result<Usable> {
        let Taken { forced, lease_abandoned } = taken;
        let project = credential.project_id;
        let auth = match self.integration_auth(project, credential.integration_id).await {
            Ok(a) => a,
            Err(e) => {
                self.store.release_refresh_lease(project, credential.id, lease).await?;
                return Err(e);
            }
        };
        let secrets = match self.open(&credential) {
            Ok(s) => s,
            Err(e) => {
                self.store.release_refresh_lease(project, credential.id, lease).await?;
                return Err(e);
            }
        };
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
            let outcome = self.call_refresh(&auth, &credential, &secrets).await;
            match outcome {
                Ok(fresh) => return self.store_refreshed(&auth, &credential, lease, secrets, fresh).await,
                Err(Refusal::Token(TokenError::InvalidGrant)) => {
                    // An earlier attempt (now, before, or by a holder that
                    // died) that failed in transit may have used the refresh
                    // token up.
                    let lost = attempt > 1 || credential.refresh_failure_count > 0 || lease_abandoned;
                    return self.on_invalid_grant(&auth, &credential, lease, lost).await;
                }
                Err(Refusal::Token(TokenError::InvalidClient)) => {
                    tracing::error!(
                        project = %project, integration = %auth.integration.id,
                        "the provider refused the integration's OAuth client (invalid_client); \
                         fix its client id and secret; credentials are left as they are"
                    );
                    let reason = "the provider refused the app's OAuth client (invalid_client)";
                    self.store.set_misconfigured(project, auth.integration.id, Some(reason)).await?;
                    self.sessions.touch();
                    self.store.release_refresh_lease(project, credential.id, lease).await?;
                    return Err(Error::Misconfigured(reason.into()));
                }
                Err(Refusal::Token(e)) if e.is_transient() => {
                    let wait = self.backoff(attempt, e.retry_after());
                    // Another attempt must end before the lease does, or a
                    // second holder could present the same refresh token.
                    let fits = started.elapsed() + wait + self.settings.token_timeout < self.settings.lease_ttl;
                    if attempt < self.settings.max_refresh_attempts && wait <= self.settings.max_inline_wait && fits {
                        tracing::warn!(credential = %credential.id, attempt, error = %e, "refresh failed; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(if self.note_failure(&auth, &credential, lease, wait, forced, &e).await? {
                        Error::NeedsReauth { reason: "refresh_exhausted".into() }
                    } else {
                        Error::Unavailable { retry_after: Some(wait) }
                    });
                }
                Err(Refusal::Token(e)) => {
                    // Refused for a reason retrying will not fix: recorded
                    // (backoff, no give-up) and answered as the provider's.
                    let wait = self.backoff(attempt, None);
                    self.note_failure(&auth, &credential, lease, wait, true, &e).await?;
                    return Err(Error::Provider(e.to_string()));
                }
                Err(Refusal::Other(e)) => {
                    self.store.release_refresh_lease(project, credential.id, lease).await?;
                    return Err(e);
                }
            }
        }
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.settings.backoff_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        retry_after.map_or(exp, |r| r.max(exp.min(r)))
    }

    /// One refresh call: the token endpoint, or the plugin's hook.
    async fn call_refresh(
        &self,
        auth: &IntegrationAuth,
        credential: &Credential,
        secrets: &CredentialSecrets,
    ) -> Result<TokenResponse, Refusal> {
        let timeout = self.settings.token_timeout;
        let reading = auth.token_reading().map_err(Refusal::Other)?;
        match &auth.scheme {
            _ if auth.scheme.refresh() == RefreshPolicy::Never => {
                // Its definition says its tokens do not expire: the token
                // endpoint is never asked again.
                Err(Refusal::Other(Error::BadRequest("this integration's tokens are never refreshed".into())))
            }
            Scheme::OAuth(o) if !o.custom_refresh => {
                let url = fill_url(&o.token_url, &credential.connection_config).map_err(Refusal::Other)?;
                let client = self.app_client(auth, o.client_auth).await.map_err(Refusal::Other)?;
                let kept_password = secrets.username.as_deref().zip(secrets.password.clone());
                let (refresh_token, password) = match (secrets.refresh_token(), kept_password) {
                    (Some(token), _) => (Some(token), None),
                    // No refresh token, but the integration keeps the
                    // password: log in again with it.
                    (None, Some((username, password))) if o.password_grant => {
                        (None, Some((username, SecretString::from(password))))
                    }
                    (None, _) => return Err(Refusal::Token(TokenError::InvalidGrant)),
                };
                let grant = match (&refresh_token, &password) {
                    (Some(token), _) => Grant::RefreshToken(token),
                    (None, Some((username, password))) => Grant::Password { username, password, scopes: &o.scopes },
                    (None, None) => return Err(Refusal::Token(TokenError::InvalidGrant)),
                };
                request_token_as(self.egress.as_ref(), &url, &client, grant, timeout, &reading)
                    .await
                    .map_err(Refusal::Token)
            }
            Scheme::ClientCredentials { token_url, scopes, client_auth, .. } => {
                let url = fill_url(token_url, &credential.connection_config).map_err(Refusal::Other)?;
                // The user's own client, or (an API resource's account) the
                // integration's.
                let client = match &secrets.client_id {
                    Some(client_id) => OAuthClient {
                        client_id: client_id.clone(),
                        client_secret: secrets.client_secret.as_deref().map(Into::into),
                        auth: *client_auth,
                    },
                    None => self.app_client(auth, *client_auth).await.map_err(Refusal::Other)?,
                };
                let grant = Grant::ClientCredentials { scopes };
                request_token_as(self.egress.as_ref(), &url, &client, grant, timeout, &reading)
                    .await
                    .map_err(Refusal::Token)
            }
            Scheme::OAuth(_) | Scheme::Custom { .. } => self.plugin_refresh(auth, credential).await,
            _ => Err(Refusal::Other(Error::BadRequest("this credential does not expire".into()))),
        }
    }

    /// The plugin's `auth.refresh` hook; its errors map to token errors.
    async fn plugin_refresh(&self, auth: &IntegrationAuth, credential: &Credential) -> Result<TokenResponse, Refusal> {
        let call = HookCall {
            project: credential.project_id,
            connection_id: credential.id.to_string(),
            config: credential.connection_config.clone(),
            base_url: auth.integration.base_url.clone(),
            // The credentials being replaced are not lent to the hook.
            http: None,
        };
        match self.hooks.refresh(&auth.provider.id, call).await {
            Ok(r) => Ok(TokenResponse {
                access_token: r.access_token,
                token_type: "Bearer".into(),
                expires_in: r.expires_in_seconds,
                refresh_token: r.refresh_token,
                scope: None,
                extra: r.extra,
            }),
            Err(HookError::Unauthorized(_)) => Err(Refusal::Token(TokenError::InvalidGrant)),
            Err(e) => Err(Refusal::Token(TokenError::Unavailable { reason: e.to_string(), retry_after: None })),
        }
    }

    /// The app's OAuth client of an integration.
    pub(crate) async fn app_client(
        &self,
        auth: &IntegrationAuth,
        client_auth: weft_auth::oauth::ClientAuth,
    ) -> Result<OAuthClient> {
        let client_id = auth
            .integration
            .client_id
            .clone()
            .ok_or_else(|| Error::Misconfigured("the integration has no OAuth client id".into()))?;
        let client_secret = self.client_secret(&auth.integration).await?;
        Ok(OAuthClient { client_id, client_secret, auth: client_auth })
    }

    /// Seals and stores refreshed tokens; a rotated refresh token replaces
    /// the old one in the same write, an absent one keeps the old. A token
    /// field the base URL is built from (Salesforce's `instance_url`) that
    /// the answer changed moves the account's setting in the same write.
    async fn store_refreshed(
        &self,
        auth: &IntegrationAuth,
        credential: &Credential,
        lease: Uuid,
        mut secrets: CredentialSecrets,
        fresh: TokenResponse,
    ) -> Result<Usable> {
        secrets.access_token = Some(fresh.access_token.expose_secret().to_owned());
        if let Some(rotated) = &fresh.refresh_token {
            secrets.refresh_token = Some(rotated.expose_secret().to_owned());
        }
        if fresh.scope.is_some() {
            secrets.scope = fresh.scope.clone();
        }
        secrets.extra.extend(fresh.extra.clone());
        let now = self.now();
        let mut settings = credential.connection_config.clone();
        auth.keep_token_fields(&fresh, &mut settings);
        let moved = settings != credential.connection_config;
        let update = SecretsUpdate {
            expected_version: credential.version,
            secrets: secrets.seal(&self.vault, credential.project_id, credential.id)?,
            expires_at: self.token_expiry(&auth.scheme, fresh.expires_in),
            lease: Some(lease),
            now,
            connection_config: moved.then_some(settings),
        };
        let stored = self.store.update_secrets(credential.project_id, credential.id, update).await?;
        self.sessions.touch();
        tracing::info!(credential = %credential.id, version = stored.version, "credential refreshed");
        Ok(Usable { credential: stored, secrets })
    }

    /// When an account's new tokens expire, as far as refreshing goes: none
    /// when the scheme renews them only after a 401, or never.
    pub(crate) fn token_expiry(&self, scheme: &Scheme, expires_in: Option<u64>) -> Option<OffsetDateTime> {
        (scheme.refresh() == RefreshPolicy::BeforeExpiry).then(|| self.expiry(self.now(), expires_in))
    }

    /// When tokens with `expires_in` issued at `now` expire.
    pub(crate) fn expiry(&self, now: OffsetDateTime, expires_in: Option<u64>) -> OffsetDateTime {
        let lifetime = expires_in.map(Duration::from_secs).unwrap_or(self.settings.default_token_lifetime);
        now + lifetime.min(Duration::from_secs(10 * 365 * 86_400))
    }

    /// `invalid_grant`: believe it only if nobody rotated meanwhile.
    async fn on_invalid_grant(
        &self,
        auth: &IntegrationAuth,
        credential: &Credential,
        lease: Uuid,
        lost: bool,
    ) -> Result<Usable> {
        let project = credential.project_id;
        let again = self.store.get_credential(project, credential.id).await?;
        if again.version != credential.version {
            self.store.release_refresh_lease(project, credential.id, lease).await?;
            let secrets = self.open(&again)?;
            return Ok(Usable { credential: again, secrets });
        }
        // A refresh that failed in transit may have rotated the token at the
        // provider: the answer was lost, and with it the new refresh token.
        let reason = if lost { "refresh_lost" } else { "needs_reauth" };
        let recorded = self.record_failure(credential, lease, None, Some(reason)).await?;
        if recorded {
            self.emit_credentials_failure(auth, credential, "invalid_grant").await;
        }
        Err(Error::NeedsReauth { reason: reason.into() })
    }

    /// Records a failed refresh with its backoff; gives up (true) after the
    /// configured number of distinct failing days, unless `forced`.
    async fn note_failure(
        &self,
        auth: &IntegrationAuth,
        credential: &Credential,
        lease: Uuid,
        wait: Duration,
        forced: bool,
        error: &TokenError,
    ) -> Result<bool> {
        let days = failure_days(credential, day_number(self.now()));
        let give_up = !forced && days >= self.settings.give_up_days;
        tracing::warn!(credential = %credential.id, error = %error, days, give_up, "refresh failed");
        let reason = give_up.then_some("refresh_exhausted");
        if self.record_failure(credential, lease, Some(wait), reason).await? {
            self.emit_credentials_failure(auth, credential, "refresh_exhausted").await;
        }
        Ok(give_up)
    }

    /// Records a failed refresh; true when it turned the credential invalid.
    async fn record_failure(
        &self,
        credential: &Credential,
        lease: Uuid,
        wait: Option<Duration>,
        invalid_reason: Option<&str>,
    ) -> Result<bool> {
        let now = self.now();
        let today = day_number(now);
        let failure = RefreshFailure {
            lease,
            now,
            retry_at: wait.map(|w| now + w),
            failure_days: failure_days(credential, today),
            day: today,
            invalid_reason: invalid_reason.map(str::to_owned),
        };
        self.sessions.touch();
        match self.store.record_refresh_failure(credential.project_id, credential.id, failure).await {
            Ok(r) => Ok(r.became_invalid),
            // The lease expired and another holder took over: its outcome stands.
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues one `credentials_failure` event for the project's destinations.
    async fn emit_credentials_failure(&self, auth: &IntegrationAuth, credential: &Credential, error: &str) {
        let now = self.now();
        let ts = now.unix_timestamp() * 1000;
        let iso = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let kind = &auth.integration.integration_type;
        let payload = json!({
            "type": "credentials_failure",
            "timestamp": ts,
            "timestampISO": iso,
            "message": format!("Connected User \u{201c}{}\u{201c} credential for {kind} expired and can not be refreshed.", credential.user_id),
            "user": { "id": credential.user_id },
            "project": { "id": credential.project_id.to_string() },
            "integration": { "id": auth.integration.id.to_string(), "type": kind },
            "data": { "userId": credential.user_id, "error": error, "credentialId": credential.id.to_string() },
        });
        let Value::Object(payload) = payload else { return };
        if let Err(e) = self.store.insert_event(credential.project_id, "credentials_failure", payload).await {
            tracing::error!(error = %e, credential = %credential.id, "could not queue the credentials_failure event");
        }
        tracing::warn!(credential = %credential.id, integration = %kind, error, "credential marked invalid");
    }
}

/// Distinct failing days including `today`.
fn failure_days(credential: &Credential, today: i64) -> i64 {
    if credential.last_failure_day == Some(today) { credential.failure_days } else { credential.failure_days + 1 }
}

fn invalid(credential: &Credential) -> Error {
    Error::NeedsReauth { reason: credential.invalid_reason.clone().unwrap_or_else(|| "needs_reauth".into()) }
}

/// How a refresh lease was taken.
#[derive(Clone, Copy)]
struct Taken {
    /// For a forced refresh (ignores the give-up rule).
    forced: bool,
    /// Over a lease that expired instead of being released.
    lease_abandoned: bool,
}

/// Why a refresh must happen regardless of expiry.
enum Force {
    /// The provider refused this access token: refresh unless it changed.
    IfStill(String),
    /// Always (an operator's retry; ignores backoff and give-up).
    Always,
}

impl Force {
    /// Whether the open secrets still need the forced refresh.
    fn applies(&self, secrets: &CredentialSecrets) -> bool {
        match self {
            Force::IfStill(rejected) => secrets.access_token.as_deref() == Some(rejected.as_str()),
            Force::Always => true,
        }
    }
}

/// A refresh call's failure.
enum Refusal {
    /// The token endpoint (or hook) refused.
    Token(TokenError),
    /// Something before the call failed.
    Other(Error),
}
