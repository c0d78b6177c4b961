//! Connected accounts (credentials), pending OAuth authorizations and the
//! project event outbox.
//!
//! The store keeps a credential's secrets as the opaque sealed bytes the
//! vault produced; it never sees a token. What it owns is the bookkeeping
//! around them: status, expiry, the refresh lease and the version that
//! makes every change of the secrets a compare-and-swap.

mod sql;

use crate::ids::{CredentialId, IntegrationId, ProjectId};
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// Whether a credential can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CredentialStatus {
    /// Usable.
    Valid,
    /// Dead until the user connects again (see `invalid_reason`).
    Invalid,
}

impl CredentialStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Valid => "VALID",
            CredentialStatus::Invalid => "INVALID",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "VALID" => Ok(CredentialStatus::Valid),
            "INVALID" => Ok(CredentialStatus::Invalid),
            _ => Err(Error::corrupt("unknown credential status")),
        }
    }
}

/// One connected account of one user for one integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// Its id (the API's credential id and the plugins' connection id).
    pub id: CredentialId,
    /// The project.
    pub project_id: ProjectId,
    /// The integration it connects.
    pub integration_id: IntegrationId,
    /// The connected user.
    pub user_id: String,
    /// Usable or not.
    pub status: CredentialStatus,
    /// Why it is invalid (`needs_reauth`, `refresh_lost`, `refresh_exhausted`, ...).
    pub invalid_reason: Option<String>,
    /// The account's id at the provider.
    pub provider_id: Option<String>,
    /// The account's profile at the provider.
    pub provider_data: Value,
    /// Workflow settings (`configuredWorkflows`, `sharedSettings`), replaced as a whole.
    pub config: Map<String, Value>,
    /// Non-secret pre-authorization inputs (a subdomain...).
    pub connection_config: Map<String, Value>,
    /// The sealed secrets (a weft-vault envelope); opaque here.
    pub secrets: Vec<u8>,
    /// Bumped by every change of `secrets`.
    pub version: i64,
    /// When the access token expires, if it does.
    pub expires_at: Option<OffsetDateTime>,
    /// When the secrets were last refreshed.
    pub refreshed_at: Option<OffsetDateTime>,
    /// Failed refreshes since the last success.
    pub refresh_failure_count: i64,
    /// Distinct days with a failed refresh since the last success.
    pub failure_days: i64,
    /// The latest of those days (days since the Unix epoch).
    pub last_failure_day: Option<i64>,
    /// No refresh attempt before this.
    pub retry_at: Option<OffsetDateTime>,
    /// Until when a refresh lease is held, if one is.
    pub lease_until: Option<OffsetDateTime>,
    /// When it was connected.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A credential to insert. The id is chosen by the caller: the vault binds
/// the sealed secrets to it before the row exists.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Its id.
    pub id: CredentialId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// The connected user (must exist).
    pub user_id: String,
    /// The account's id at the provider.
    pub provider_id: Option<String>,
    /// The account's profile.
    pub provider_data: Value,
    /// Pre-authorization inputs.
    pub connection_config: Map<String, Value>,
    /// Sealed secrets.
    pub secrets: Vec<u8>,
    /// Access token expiry.
    pub expires_at: Option<OffsetDateTime>,
}

/// New secrets for a credential whose version is still `expected_version`.
#[derive(Debug, Clone)]
pub struct SecretsUpdate {
    /// The version read before the secrets were computed.
    pub expected_version: i64,
    /// Sealed secrets.
    pub secrets: Vec<u8>,
    /// Access token expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// The refresh lease this write completes, if any; the write is
    /// refused when another holder took the lease since.
    pub lease: Option<Uuid>,
    /// The time of the refresh.
    pub now: OffsetDateTime,
    /// New connection settings to store with the secrets (a token-answer
    /// field a base URL is built from, such as Salesforce's
    /// `instance_url`, that the refresh changed); `None` keeps them.
    pub connection_config: Option<Map<String, Value>>,
}

/// What to record after a failed refresh.
#[derive(Debug, Clone)]
pub struct RefreshFailure {
    /// The lease the failed attempt held.
    pub lease: Uuid,
    /// The time of the failure.
    pub now: OffsetDateTime,
    /// No attempt before this.
    pub retry_at: Option<OffsetDateTime>,
    /// Distinct failure days, this one included (see [`day_number`]).
    pub failure_days: i64,
    /// Today's day number.
    pub day: i64,
    /// Mark the credential invalid with this reason.
    pub invalid_reason: Option<String>,
}

/// The outcome of [`CredentialStore::record_refresh_failure`].
#[derive(Debug, Clone)]
pub struct FailureRecorded {
    /// The credential after the write.
    pub credential: Credential,
    /// True when this write turned a valid credential invalid (emit one
    /// event for exactly this transition).
    pub became_invalid: bool,
}

/// A pending OAuth authorization, taken once by its callback.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectState {
    /// SHA-256 (hex) of the `state` parameter; the state itself is not stored.
    pub state_hash: String,
    /// The project.
    pub project_id: ProjectId,
    /// The integration the user is authorizing.
    pub integration_id: IntegrationId,
    /// The user who started it.
    pub user_id: String,
    /// Sealed flow data (PKCE verifier, inputs, ...).
    pub sealed: Vec<u8>,
    /// After this the state is refused.
    pub expires_at: OffsetDateTime,
}

/// An event for the project's event destinations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectEvent {
    /// Its id (stable, for the receiver's dedupe).
    pub id: Uuid,
    /// The project.
    pub project_id: ProjectId,
    /// `credentials_failure`, ...
    pub event_type: String,
    /// The event body.
    pub payload: Map<String, Value>,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Where a sealed value lives, for a master-key rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedColumn {
    /// `credentials.secrets`, owner: the credential id.
    CredentialSecrets,
    /// `integrations.client_secret`, owner: the integration id.
    IntegrationClientSecret,
    /// `environment_secrets.value`, owner: the secret name.
    EnvironmentSecretValue,
    /// `connect_states.sealed`, owner: the state hash.
    ConnectState,
    /// `vault_canary.sealed`.
    VaultCanary,
    /// `trigger_subscriptions.persisted`, owner: the subscription id.
    SubscriptionPersisted,
    /// `event_destinations.sealed_headers`, owner: the destination id.
    DestinationHeaders,
}

impl SealedColumn {
    /// Every column holding sealed values.
    pub const ALL: [SealedColumn; 7] = [
        SealedColumn::CredentialSecrets,
        SealedColumn::IntegrationClientSecret,
        SealedColumn::EnvironmentSecretValue,
        SealedColumn::ConnectState,
        SealedColumn::SubscriptionPersisted,
        SealedColumn::DestinationHeaders,
        SealedColumn::VaultCanary,
    ];
}

/// One sealed value found by [`CredentialStore::sealed_not_under`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// Where it lives.
    pub column: SealedColumn,
    /// The project (none for the canary).
    pub project_id: Option<ProjectId>,
    /// The owner id as the vault binds it (see [`SealedColumn`]).
    pub owner_id: String,
    /// The sealed bytes.
    pub bytes: Vec<u8>,
}

/// Credentials, OAuth states, events and the sealed-value bookkeeping.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Inserts a credential (status VALID, version 1).
    async fn insert_credential(&self, project: ProjectId, new: NewCredential) -> Result<Credential>;

    /// One credential, or `NotFound`.
    async fn get_credential(&self, project: ProjectId, id: CredentialId) -> Result<Credential>;

    /// The user's credentials, oldest first.
    async fn list_user_credentials(&self, project: ProjectId, user: &str) -> Result<Vec<Credential>>;

    /// How many credentials the project has (all users).
    async fn count_credentials(&self, project: ProjectId) -> Result<u64>;

    /// Replaces a credential's `config` as a whole (the credential must
    /// belong to `user`).
    async fn set_credential_config(
        &self,
        project: ProjectId,
        user: &str,
        id: CredentialId,
        config: Map<String, Value>,
    ) -> Result<Credential>;

    /// Reconnects an account: new secrets, profile and inputs, status
    /// VALID, failures cleared, version bumped; `config` is kept.
    async fn replace_credential(&self, project: ProjectId, user: &str, new: NewCredential) -> Result<Credential>;

    /// Deletes a credential (and with it the only copy of its data key).
    async fn delete_credential(&self, project: ProjectId, user: &str, id: CredentialId) -> Result<()>;

    /// Takes the refresh lease until `until` if nobody holds an unexpired
    /// one; returns the credential as read under the lease, or `None` when
    /// another holder has it.
    async fn claim_refresh_lease(
        &self,
        project: ProjectId,
        id: CredentialId,
        lease: Uuid,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<Credential>>;

    /// Gives a lease back without changing anything else.
    async fn release_refresh_lease(&self, project: ProjectId, id: CredentialId, lease: Uuid) -> Result<()>;

    /// Stores refreshed secrets if the version is still the expected one
    /// (and the lease, if given, is still held): status VALID, failures
    /// cleared, lease released. `Conflict` when someone else changed the
    /// credential.
    async fn update_secrets(&self, project: ProjectId, id: CredentialId, update: SecretsUpdate) -> Result<Credential>;

    /// Records a failed refresh under the lease and releases it.
    async fn record_refresh_failure(
        &self,
        project: ProjectId,
        id: CredentialId,
        failure: RefreshFailure,
    ) -> Result<FailureRecorded>;

    /// Valid credentials of every project expiring before `before` and not
    /// in backoff at `now`, soonest first: the proactive refresh sweep.
    async fn credentials_expiring(
        &self,
        before: OffsetDateTime,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(ProjectId, CredentialId)>>;

    /// Stores a pending authorization.
    async fn insert_connect_state(&self, state: ConnectState) -> Result<()>;

    /// Takes (deletes and returns) the authorization with this state hash
    /// if it belongs to this project and integration. Expiry is the
    /// caller's check; a taken state is gone either way.
    async fn take_connect_state(
        &self,
        project: ProjectId,
        integration: IntegrationId,
        state_hash: &str,
    ) -> Result<Option<ConnectState>>;

    /// Deletes authorizations that expired before `now`; returns how many.
    async fn purge_connect_states(&self, now: OffsetDateTime) -> Result<u64>;

    /// Appends an event to the project's outbox.
    async fn insert_event(
        &self,
        project: ProjectId,
        event_type: &str,
        payload: Map<String, Value>,
    ) -> Result<ProjectEvent>;

    /// The project's events, oldest first.
    async fn list_events(&self, project: ProjectId, limit: u32) -> Result<Vec<ProjectEvent>>;

    /// Sets (or clears) an integration's sealed client secret.
    async fn set_client_secret(&self, project: ProjectId, id: IntegrationId, sealed: Option<Vec<u8>>) -> Result<()>;

    /// An integration's sealed client secret, if set.
    async fn client_secret(&self, project: ProjectId, id: IntegrationId) -> Result<Option<Vec<u8>>>;

    /// Marks an integration misconfigured (the provider refused its client),
    /// or clears the mark with `None`.
    async fn set_misconfigured(&self, project: ProjectId, id: IntegrationId, reason: Option<&str>) -> Result<()>;

    /// Sets the sealed value of an existing environment secret name.
    async fn set_secret_value(&self, project: ProjectId, name: &str, sealed: Vec<u8>) -> Result<()>;

    /// The sealed value of an environment secret, if set.
    async fn secret_value(&self, project: ProjectId, name: &str) -> Result<Option<Vec<u8>>>;

    /// The vault canary, if stored.
    async fn vault_canary(&self) -> Result<Option<Vec<u8>>>;

    /// Stores the vault canary unless one is stored; true when stored.
    async fn insert_vault_canary(&self, sealed: Vec<u8>) -> Result<bool>;

    /// Whether any sealed value other than the canary is stored: a missing
    /// canary then means lost bookkeeping, not a fresh database.
    async fn holds_sealed_values(&self) -> Result<bool>;

    /// Up to `limit` sealed values of `column` not wrapped under master key
    /// version `key_id`.
    async fn sealed_not_under(&self, column: SealedColumn, key_id: u32, limit: u32) -> Result<Vec<SealedValue>>;

    /// Replaces a sealed value if it still holds `old` (compare-and-swap);
    /// false when it changed (or vanished) meanwhile.
    async fn replace_sealed(&self, value: &SealedValue, new: Vec<u8>) -> Result<bool>;
}

/// Checks the JSON a caller gives a credential.
pub(crate) fn check_config(config: &Map<String, Value>) -> Result<()> {
    crate::check::json_size("credential config", config)
}

/// Big-endian bytes of a key version, as sealed blobs store it.
pub(crate) fn key_id_bytes(key_id: u32) -> Vec<u8> {
    key_id.to_be_bytes().to_vec()
}

/// Days since the Unix epoch of `t` (UTC): the unit of the refresh give-up rule.
pub fn day_number(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(86_400)
}
