//! Credentials, OAuth states, events and sealed values in SQL: the rows,
//! and [`CredentialStore`] for both backends. Every statement is shared.

use super::{
    ConnectState, Credential, CredentialStore, FailureRecorded, NewCredential, ProjectEvent, RefreshFailure,
    SealedColumn, SealedValue, SecretsUpdate, check_config, key_id_bytes,
};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::rows::{Ts, convert, one};
use crate::{CredentialId, CredentialStatus, Error, IntegrationId, ProjectId, Result};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

mod sealed;

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: Uuid,
    project_id: Uuid,
    integration_id: Uuid,
    user_id: String,
    status: String,
    invalid_reason: Option<String>,
    provider_id: Option<String>,
    provider_data: Json<Value>,
    config: Json<Map<String, Value>>,
    connection_config: Json<Map<String, Value>>,
    secrets: Vec<u8>,
    version: i64,
    expires_at: Option<Ts>,
    refreshed_at: Option<Ts>,
    refresh_failure_count: i64,
    failure_days: i64,
    last_failure_day: Option<i64>,
    retry_at: Option<Ts>,
    lease_until: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

/// The columns [`CredentialRow`] decodes.
macro_rules! credential_columns {
    () => {
        "id, project_id, integration_id, user_id, status, invalid_reason, provider_id, provider_data, config, \
         connection_config, secrets, version, expires_at, refreshed_at, refresh_failure_count, failure_days, \
         last_failure_day, retry_at, lease_until, created_at, updated_at"
    };
}

impl TryFrom<CredentialRow> for Credential {
    type Error = Error;
    fn try_from(r: CredentialRow) -> Result<Self> {
        Ok(Credential {
            id: r.id.into(),
            project_id: r.project_id.into(),
            integration_id: r.integration_id.into(),
            user_id: r.user_id,
            status: CredentialStatus::parse(&r.status)?,
            invalid_reason: r.invalid_reason,
            provider_id: r.provider_id,
            provider_data: r.provider_data.0,
            config: r.config.0,
            connection_config: r.connection_config.0,
            secrets: r.secrets,
            version: r.version,
            expires_at: r.expires_at.map(|t| t.0),
            refreshed_at: r.refreshed_at.map(|t| t.0),
            refresh_failure_count: r.refresh_failure_count,
            failure_days: r.failure_days,
            last_failure_day: r.last_failure_day,
            retry_at: r.retry_at.map(|t| t.0),
            lease_until: r.lease_until.map(|t| t.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ConnectStateRow {
    state_hash: String,
    project_id: Uuid,
    integration_id: Uuid,
    user_id: String,
    sealed: Vec<u8>,
    expires_at: Ts,
}

/// The columns [`ConnectStateRow`] decodes.
macro_rules! connect_state_columns {
    () => {
        "state_hash, project_id, integration_id, user_id, sealed, expires_at"
    };
}

impl From<ConnectStateRow> for ConnectState {
    fn from(r: ConnectStateRow) -> Self {
        ConnectState {
            state_hash: r.state_hash,
            project_id: r.project_id.into(),
            integration_id: r.integration_id.into(),
            user_id: r.user_id,
            sealed: r.sealed,
            expires_at: r.expires_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    project_id: Uuid,
    event_type: String,
    payload: Json<Map<String, Value>>,
    created_at: Ts,
}

/// The columns [`EventRow`] decodes.
macro_rules! event_columns {
    () => {
        "id, project_id, event_type, payload, created_at"
    };
}

impl From<EventRow> for ProjectEvent {
    fn from(r: EventRow) -> Self {
        ProjectEvent {
            id: r.id,
            project_id: r.project_id.into(),
            event_type: r.event_type,
            payload: r.payload.0,
            created_at: r.created_at.0,
        }
    }
}

/// A credential of a project, by id.
const CREDENTIAL: &str =
    concat!("SELECT ", credential_columns!(), " FROM credentials WHERE project_id = $1 AND id = $2");

for_both_backends! {
    /// Whether the credential exists: tells a missing credential from one
    /// whose lease or version did not match.
    async fn exists(conn: &mut Conn, project: ProjectId, id: CredentialId) -> Result<()> {
        let row: Option<CredentialRow> =
            sqlx::query_as(CREDENTIAL).bind(project.as_uuid()).bind(id.as_uuid()).fetch_optional(conn).await?;
        row.map(|_| ()).ok_or(Error::NotFound("credential"))
    }

    #[async_trait]
    impl CredentialStore for Db {
        async fn insert_credential(&self, project: ProjectId, new: NewCredential) -> Result<Credential> {
            let mut w = self.write_one().await?;
            // No row when the integration is not one of the project's.
            let row: Option<CredentialRow> = sqlx::query_as(concat!(
                "INSERT INTO credentials (id, project_id, integration_id, user_id, status, provider_id, \
                 provider_data, connection_config, secrets, version, expires_at, refreshed_at, created_at, \
                 updated_at) \
                 SELECT $1, $2, $3, $4, 'VALID', $5, $6, $7, $8, 1, $9, $10, $10, $10 \
                 WHERE EXISTS (SELECT 1 FROM integrations WHERE project_id = $2 AND id = $3) RETURNING ",
                credential_columns!()
            ))
            .bind(new.id.as_uuid())
            .bind(project.as_uuid())
            .bind(new.integration_id.as_uuid())
            .bind(&new.user_id)
            .bind(new.provider_id.as_deref())
            .bind(Json(&new.provider_data))
            .bind(Json(&new.connection_config))
            .bind(&new.secrets)
            .bind(new.expires_at.map(Ts))
            .bind(Ts(now()))
            .fetch_optional(&mut *w)
            .await
            .on_write("the credential exists already", "user")?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("integration"))?)
        }

        async fn get_credential(&self, project: ProjectId, id: CredentialId) -> Result<Credential> {
            let row: Option<CredentialRow> =
                sqlx::query_as(CREDENTIAL).bind(project.as_uuid()).bind(id.as_uuid()).fetch_optional(self.read()).await?;
            one(row.ok_or(Error::NotFound("credential"))?)
        }

        async fn list_user_credentials(&self, project: ProjectId, user: &str) -> Result<Vec<Credential>> {
            let rows: Vec<CredentialRow> = sqlx::query_as(concat!(
                "SELECT ",
                credential_columns!(),
                " FROM credentials WHERE project_id = $1 AND user_id = $2 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .bind(user)
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn count_credentials(&self, project: ProjectId) -> Result<u64> {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE project_id = $1")
                .bind(project.as_uuid())
                .fetch_one(self.read())
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        }

        async fn set_credential_config(
            &self,
            project: ProjectId,
            user: &str,
            id: CredentialId,
            config: Map<String, Value>,
        ) -> Result<Credential> {
            check_config(&config)?;
            let mut w = self.write_one().await?;
            let row: Option<CredentialRow> = sqlx::query_as(concat!(
                "UPDATE credentials SET config = $4, updated_at = $5 \
                 WHERE project_id = $1 AND user_id = $2 AND id = $3 RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(user)
            .bind(id.as_uuid())
            .bind(Json(&config))
            .bind(Ts(now()))
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("credential"))?)
        }

        async fn replace_credential(
            &self,
            project: ProjectId,
            user: &str,
            new: NewCredential,
        ) -> Result<Credential> {
            let mut w = self.write_one().await?;
            let row: Option<CredentialRow> = sqlx::query_as(concat!(
                "UPDATE credentials SET status = 'VALID', invalid_reason = NULL, provider_id = $5, \
                 provider_data = $6, connection_config = $7, secrets = $8, version = version + 1, \
                 expires_at = $9, refreshed_at = $10, refresh_failure_count = 0, failure_days = 0, \
                 last_failure_day = NULL, retry_at = NULL, lease_token = NULL, lease_until = NULL, updated_at = $10 \
                 WHERE project_id = $1 AND user_id = $2 AND id = $3 AND integration_id = $4 RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(user)
            .bind(new.id.as_uuid())
            .bind(new.integration_id.as_uuid())
            .bind(new.provider_id.as_deref())
            .bind(Json(&new.provider_data))
            .bind(Json(&new.connection_config))
            .bind(&new.secrets)
            .bind(new.expires_at.map(Ts))
            .bind(Ts(now()))
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("credential"))?)
        }

        async fn delete_credential(&self, project: ProjectId, user: &str, id: CredentialId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM credentials WHERE project_id = $1 AND user_id = $2 AND id = $3")
                .bind(project.as_uuid())
                .bind(user)
                .bind(id.as_uuid())
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "credential")
        }

        async fn claim_refresh_lease(
            &self,
            project: ProjectId,
            id: CredentialId,
            lease: Uuid,
            now: OffsetDateTime,
            until: OffsetDateTime,
        ) -> Result<Option<Credential>> {
            let mut tx = self.begin_write().await?;
            let row: Option<CredentialRow> = sqlx::query_as(concat!(
                "UPDATE credentials SET lease_token = $3, lease_until = $5 \
                 WHERE project_id = $1 AND id = $2 AND (lease_until IS NULL OR lease_until <= $4) RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(lease)
            .bind(Ts(now))
            .bind(Ts(until))
            .fetch_optional(&mut *tx)
            .await?;
            let taken = match row {
                Some(row) => Some(one(row)?),
                // Tell a held lease from a missing credential.
                None => {
                    exists(&mut tx, project, id).await?;
                    None
                }
            };
            tx.commit().await?;
            Ok(taken)
        }

        async fn release_refresh_lease(&self, project: ProjectId, id: CredentialId, lease: Uuid) -> Result<()> {
            let mut w = self.write_one().await?;
            sqlx::query(
                "UPDATE credentials SET lease_token = NULL, lease_until = NULL \
                 WHERE project_id = $1 AND id = $2 AND lease_token = $3",
            )
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(lease)
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(())
        }

        async fn update_secrets(
            &self,
            project: ProjectId,
            id: CredentialId,
            update: SecretsUpdate,
        ) -> Result<Credential> {
            let mut tx = self.begin_write().await?;
            // Only if the version (and the lease, when given) still match.
            let row: Option<CredentialRow> = sqlx::query_as(concat!(
                "UPDATE credentials SET secrets = $4, version = version + 1, expires_at = $5, refreshed_at = $6, \
                 updated_at = $6, status = 'VALID', invalid_reason = NULL, refresh_failure_count = 0, \
                 failure_days = 0, last_failure_day = NULL, retry_at = NULL, lease_token = NULL, lease_until = NULL, \
                 connection_config = COALESCE($8, connection_config) \
                 WHERE project_id = $1 AND id = $2 AND version = $3 \
                 AND (lease_token IS NULL OR lease_token = $7) RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(update.expected_version)
            .bind(&update.secrets)
            .bind(update.expires_at.map(Ts))
            .bind(Ts(update.now))
            .bind(update.lease)
            .bind(update.connection_config.as_ref().map(Json))
            .fetch_optional(&mut *tx)
            .await?;
            let outcome = match row {
                Some(row) => one(row),
                None => {
                    exists(&mut tx, project, id).await?;
                    Err(Error::Conflict("the credential changed since it was read".into()))
                }
            };
            tx.commit().await?;
            outcome
        }

        async fn record_refresh_failure(
            &self,
            project: ProjectId,
            id: CredentialId,
            failure: RefreshFailure,
        ) -> Result<FailureRecorded> {
            let mut tx = self.begin_write().await?;
            let before: Option<CredentialRow> =
                sqlx::query_as(CREDENTIAL).bind(project.as_uuid()).bind(id.as_uuid()).fetch_optional(&mut *tx).await?;
            let before: Credential = one(before.ok_or(Error::NotFound("credential"))?)?;
            // Under the lease only; it is released.
            let row: Option<CredentialRow> = sqlx::query_as(concat!(
                "UPDATE credentials SET refresh_failure_count = refresh_failure_count + 1, failure_days = $4, \
                 last_failure_day = $5, retry_at = $6, \
                 status = CASE WHEN $7 IS NULL THEN status ELSE 'INVALID' END, \
                 invalid_reason = COALESCE($7, invalid_reason), lease_token = NULL, lease_until = NULL, \
                 updated_at = $8 \
                 WHERE project_id = $1 AND id = $2 AND lease_token = $3 RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(failure.lease)
            .bind(failure.failure_days)
            .bind(failure.day)
            .bind(failure.retry_at.map(Ts))
            .bind(failure.invalid_reason.as_deref())
            .bind(Ts(failure.now))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(Error::Conflict("the refresh lease was lost".into()));
            };
            let credential: Credential = one(row)?;
            tx.commit().await?;
            let became_invalid =
                before.status == CredentialStatus::Valid && credential.status == CredentialStatus::Invalid;
            Ok(FailureRecorded { credential, became_invalid })
        }

        async fn credentials_expiring(
            &self,
            before: OffsetDateTime,
            now: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<(ProjectId, CredentialId)>> {
            // Every project's: the proactive refresh sweep.
            let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT project_id, id FROM credentials WHERE status = 'VALID' AND expires_at < $1 \
                 AND (retry_at IS NULL OR retry_at <= $2) AND (lease_until IS NULL OR lease_until <= $2) \
                 ORDER BY expires_at LIMIT $3",
            )
            .bind(Ts(before))
            .bind(Ts(now))
            .bind(i64::from(limit))
            .fetch_all(self.read())
            .await?;
            Ok(rows.into_iter().map(|(p, c)| (p.into(), c.into())).collect())
        }

        async fn insert_connect_state(&self, state: ConnectState) -> Result<()> {
            let mut w = self.write_one().await?;
            sqlx::query(
                "INSERT INTO connect_states (state_hash, project_id, integration_id, user_id, sealed, expires_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&state.state_hash)
            .bind(state.project_id.as_uuid())
            .bind(state.integration_id.as_uuid())
            .bind(&state.user_id)
            .bind(&state.sealed)
            .bind(Ts(state.expires_at))
            .bind(Ts(now()))
            .execute(&mut *w)
            .await
            .on_write("state reused", "integration")?;
            w.commit().await?;
            Ok(())
        }

        async fn take_connect_state(
            &self,
            project: ProjectId,
            integration: IntegrationId,
            state_hash: &str,
        ) -> Result<Option<ConnectState>> {
            let mut w = self.write_one().await?;
            let row: Option<ConnectStateRow> = sqlx::query_as(concat!(
                "DELETE FROM connect_states WHERE state_hash = $1 AND project_id = $2 AND integration_id = $3 \
                 RETURNING ",
                connect_state_columns!()
            ))
            .bind(state_hash)
            .bind(project.as_uuid())
            .bind(integration.as_uuid())
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            Ok(row.map(Into::into))
        }

        async fn purge_connect_states(&self, now: OffsetDateTime) -> Result<u64> {
            let mut w = self.write_one().await?;
            let done =
                sqlx::query("DELETE FROM connect_states WHERE expires_at < $1").bind(Ts(now)).execute(&mut *w).await?;
            w.commit().await?;
            Ok(done.rows_affected())
        }

        async fn insert_event(
            &self,
            project: ProjectId,
            event_type: &str,
            payload: Map<String, Value>,
        ) -> Result<ProjectEvent> {
            let mut w = self.write_one().await?;
            let row: EventRow = sqlx::query_as(concat!(
                "INSERT INTO project_events (id, project_id, event_type, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING ",
                event_columns!()
            ))
            .bind(Uuid::new_v4())
            .bind(project.as_uuid())
            .bind(event_type)
            .bind(Json(&payload))
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write("", "project")?;
            w.commit().await?;
            Ok(row.into())
        }

        async fn list_events(&self, project: ProjectId, limit: u32) -> Result<Vec<ProjectEvent>> {
            let rows: Vec<EventRow> = sqlx::query_as(concat!(
                "SELECT ",
                event_columns!(),
                " FROM project_events WHERE project_id = $1 ORDER BY created_at, id LIMIT $2"
            ))
            .bind(project.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(self.read())
            .await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn set_client_secret(
            &self,
            project: ProjectId,
            id: IntegrationId,
            sealed: Option<Vec<u8>>,
        ) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("UPDATE integrations SET client_secret = $3 WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(sealed.as_deref())
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "integration")
        }

        async fn client_secret(&self, project: ProjectId, id: IntegrationId) -> Result<Option<Vec<u8>>> {
            // The outer option is the row.
            let row: Option<Option<Vec<u8>>> =
                sqlx::query_scalar("SELECT client_secret FROM integrations WHERE project_id = $1 AND id = $2")
                    .bind(project.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(self.read())
                    .await?;
            row.ok_or(Error::NotFound("integration"))
        }

        async fn set_misconfigured(
            &self,
            project: ProjectId,
            id: IntegrationId,
            reason: Option<&str>,
        ) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("UPDATE integrations SET misconfigured = $3 WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(reason)
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "integration")
        }

        async fn set_secret_value(&self, project: ProjectId, name: &str, sealed: Vec<u8>) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("UPDATE environment_secrets SET value = $3 WHERE project_id = $1 AND name = $2")
                .bind(project.as_uuid())
                .bind(name)
                .bind(&sealed)
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "secret")
        }

        async fn secret_value(&self, project: ProjectId, name: &str) -> Result<Option<Vec<u8>>> {
            // The outer option is the row.
            let row: Option<Option<Vec<u8>>> =
                sqlx::query_scalar("SELECT value FROM environment_secrets WHERE project_id = $1 AND name = $2")
                    .bind(project.as_uuid())
                    .bind(name)
                    .fetch_optional(self.read())
                    .await?;
            row.ok_or(Error::NotFound("secret"))
        }

        async fn vault_canary(&self) -> Result<Option<Vec<u8>>> {
            Ok(sqlx::query_scalar("SELECT sealed FROM vault_canary WHERE singleton = 1")
                .fetch_optional(self.read())
                .await?)
        }

        async fn insert_vault_canary(&self, sealed: Vec<u8>) -> Result<bool> {
            let mut w = self.write_one().await?;
            let done = sqlx::query(
                "INSERT INTO vault_canary (singleton, sealed, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(&sealed)
            .bind(Ts(now()))
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(done.rows_affected() == 1)
        }

        async fn holds_sealed_values(&self) -> Result<bool> {
            Ok(sqlx::query_scalar(sealed::HOLDS_SEALED_VALUES).fetch_one(self.read()).await?)
        }

        async fn sealed_not_under(
            &self,
            column: SealedColumn,
            key_id: u32,
            limit: u32,
        ) -> Result<Vec<SealedValue>> {
            let rows: Vec<sealed::SealedRow> = sqlx::query_as(sealed::not_under(column))
                .bind(key_id_bytes(key_id))
                .bind(i64::from(limit))
                .fetch_all(self.read())
                .await?;
            Ok(rows.into_iter().map(|r| sealed::value(column, r)).collect())
        }

        async fn replace_sealed(&self, value: &SealedValue, new: Vec<u8>) -> Result<bool> {
            let owner = sealed::Owner::of(value)?;
            let mut w = self.write_one().await?;
            let query = sqlx::query(sealed::replace(value.column)).bind(new).bind(&value.bytes);
            let query = match owner {
                sealed::Owner::None => query,
                sealed::Owner::Uuid(id) => query.bind(value.project_id.map(|p| p.as_uuid())).bind(id),
                sealed::Owner::Text(name) => query.bind(value.project_id.map(|p| p.as_uuid())).bind(name),
            };
            let done = query.execute(&mut *w).await?;
            w.commit().await?;
            Ok(done.rows_affected() == 1)
        }
    }
}
