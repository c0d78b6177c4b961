//! [`CredentialStore`] for both backends, written once.
//!
//! Every statement here is shared (`sql/credentials.rs`), and every write
//! runs in a transaction: on SQLite that is the single writer's
//! `BEGIN IMMEDIATE`, on PostgreSQL an ordinary transaction. So one macro
//! body serves both, given each backend's write-transaction and read-pool
//! accessors.

use crate::credentials::{
    ConnectState, Credential, CredentialStore, FailureRecorded, NewCredential, ProjectEvent, RefreshFailure,
    SealedColumn, SealedValue, SecretsUpdate, check_config, key_id_bytes,
};
use crate::error::{WriteContext, found};
use crate::rows::one;
use crate::{CredentialId, CredentialStatus, Error, IntegrationId, PgStore, ProjectId, Result, SqliteStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// Turns a fetched sealed row into a [`SealedValue`].
fn sealed_value(column: SealedColumn, row: (Option<Uuid>, Option<Uuid>, Option<String>, Vec<u8>)) -> SealedValue {
    let (project, uuid_owner, text_owner, bytes) = row;
    let owner_id = uuid_owner.map(|u| u.to_string()).or(text_owner).unwrap_or_default();
    SealedValue { column, project_id: project.map(Into::into), owner_id, bytes }
}

macro_rules! credential_store {
    ($store:ty, $sql:path, $begin:ident, $read:ident) => {
        #[async_trait]
        impl CredentialStore for $store {
            async fn insert_credential(&self, project: ProjectId, new: NewCredential) -> Result<Credential> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let row = sql::insert_credential(project, &new)
                    .fetch_optional(&mut *tx)
                    .await
                    .on_write("the credential exists already", "user")?;
                tx.commit().await?;
                one(row.ok_or(Error::NotFound("integration"))?)
            }

            async fn get_credential(&self, project: ProjectId, id: CredentialId) -> Result<Credential> {
                use $sql as sql;
                let row = sql::credential(project, id).fetch_optional(self.$read()).await?;
                one(row.ok_or(Error::NotFound("credential"))?)
            }

            async fn list_user_credentials(&self, project: ProjectId, user: &str) -> Result<Vec<Credential>> {
                use $sql as sql;
                let rows = sql::user_credentials(project, user).fetch_all(self.$read()).await?;
                crate::rows::convert(rows)
            }

            async fn count_credentials(&self, project: ProjectId) -> Result<u64> {
                use $sql as sql;
                let n = sql::count_credentials(project).fetch_one(self.$read()).await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn set_credential_config(
                &self,
                project: ProjectId,
                user: &str,
                id: CredentialId,
                config: Map<String, Value>,
            ) -> Result<Credential> {
                use $sql as sql;
                check_config(&config)?;
                let mut tx = self.$begin().await?;
                let row = sql::set_credential_config(project, user, id, &config).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                one(row.ok_or(Error::NotFound("credential"))?)
            }

            async fn replace_credential(
                &self,
                project: ProjectId,
                user: &str,
                new: NewCredential,
            ) -> Result<Credential> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let row = sql::replace_credential(project, user, &new).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                one(row.ok_or(Error::NotFound("credential"))?)
            }

            async fn delete_credential(&self, project: ProjectId, user: &str, id: CredentialId) -> Result<()> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let done = sql::delete_credential(project, user, id).execute(&mut *tx).await?;
                tx.commit().await?;
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
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let row = sql::claim_lease(project, id, lease, now, until).fetch_optional(&mut *tx).await?;
                let taken = match row {
                    Some(row) => Some(one(row)?),
                    // Tell a held lease from a missing credential.
                    None => {
                        sql::credential(project, id)
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or(Error::NotFound("credential"))?;
                        None
                    }
                };
                tx.commit().await?;
                Ok(taken)
            }

            async fn release_refresh_lease(&self, project: ProjectId, id: CredentialId, lease: Uuid) -> Result<()> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                sql::release_lease(project, id, lease).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_secrets(
                &self,
                project: ProjectId,
                id: CredentialId,
                update: SecretsUpdate,
            ) -> Result<Credential> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let row = sql::update_secrets(project, id, &update).fetch_optional(&mut *tx).await?;
                let outcome = match row {
                    Some(row) => one(row),
                    None => {
                        sql::credential(project, id)
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or(Error::NotFound("credential"))?;
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
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let before: Credential = one(sql::credential(project, id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("credential"))?)?;
                let row = sql::record_failure(project, id, &failure).fetch_optional(&mut *tx).await?;
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
                use $sql as sql;
                let rows = sql::expiring(before, now, limit).fetch_all(self.$read()).await?;
                Ok(rows.into_iter().map(|(p, c)| (p.into(), c.into())).collect())
            }

            async fn insert_connect_state(&self, state: ConnectState) -> Result<()> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                sql::insert_connect_state(&state).execute(&mut *tx).await.on_write("state reused", "integration")?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_connect_state(
                &self,
                project: ProjectId,
                integration: IntegrationId,
                state_hash: &str,
            ) -> Result<Option<ConnectState>> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let row = sql::take_connect_state(project, integration, state_hash).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                Ok(row.map(Into::into))
            }

            async fn purge_connect_states(&self, now: OffsetDateTime) -> Result<u64> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let done = sql::purge_connect_states(now).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn insert_event(
                &self,
                project: ProjectId,
                event_type: &str,
                payload: Map<String, Value>,
            ) -> Result<ProjectEvent> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let row = sql::insert_event(project, event_type, &payload)
                    .fetch_one(&mut *tx)
                    .await
                    .on_write("", "project")?;
                tx.commit().await?;
                Ok(row.into())
            }

            async fn list_events(&self, project: ProjectId, limit: u32) -> Result<Vec<ProjectEvent>> {
                use $sql as sql;
                let rows = sql::events(project, limit).fetch_all(self.$read()).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn set_client_secret(
                &self,
                project: ProjectId,
                id: IntegrationId,
                sealed: Option<Vec<u8>>,
            ) -> Result<()> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let done = sql::set_client_secret(project, id, sealed.as_deref()).execute(&mut *tx).await?;
                tx.commit().await?;
                found(done.rows_affected(), "integration")
            }

            async fn client_secret(&self, project: ProjectId, id: IntegrationId) -> Result<Option<Vec<u8>>> {
                use $sql as sql;
                let row = sql::client_secret(project, id).fetch_optional(self.$read()).await?;
                row.ok_or(Error::NotFound("integration"))
            }

            async fn set_misconfigured(
                &self,
                project: ProjectId,
                id: IntegrationId,
                reason: Option<&str>,
            ) -> Result<()> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let done = sql::set_misconfigured(project, id, reason).execute(&mut *tx).await?;
                tx.commit().await?;
                found(done.rows_affected(), "integration")
            }

            async fn set_secret_value(&self, project: ProjectId, name: &str, sealed: Vec<u8>) -> Result<()> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let done = sql::set_secret_value(project, name, &sealed).execute(&mut *tx).await?;
                tx.commit().await?;
                found(done.rows_affected(), "secret")
            }

            async fn secret_value(&self, project: ProjectId, name: &str) -> Result<Option<Vec<u8>>> {
                use $sql as sql;
                let row = sql::secret_value(project, name).fetch_optional(self.$read()).await?;
                row.ok_or(Error::NotFound("secret"))
            }

            async fn vault_canary(&self) -> Result<Option<Vec<u8>>> {
                use $sql as sql;
                Ok(sql::vault_canary().fetch_optional(self.$read()).await?)
            }

            async fn insert_vault_canary(&self, sealed: Vec<u8>) -> Result<bool> {
                use $sql as sql;
                let mut tx = self.$begin().await?;
                let done = sql::insert_vault_canary(&sealed).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn holds_sealed_values(&self) -> Result<bool> {
                use $sql as sql;
                Ok(sql::holds_sealed_values().fetch_one(self.$read()).await?)
            }

            async fn sealed_not_under(
                &self,
                column: SealedColumn,
                key_id: u32,
                limit: u32,
            ) -> Result<Vec<SealedValue>> {
                use $sql as sql;
                let rows = sql::sealed_not_under(column, key_id_bytes(key_id), limit).fetch_all(self.$read()).await?;
                Ok(rows.into_iter().map(|r| sealed_value(column, r)).collect())
            }

            async fn replace_sealed(&self, value: &SealedValue, new: Vec<u8>) -> Result<bool> {
                use $sql as sql;
                let owner = match value.column {
                    SealedColumn::CredentialSecrets | SealedColumn::IntegrationClientSecret => {
                        Some(value.owner_id.parse::<Uuid>().map_err(|_| Error::invalid("owner id is not a UUID"))?)
                    }
                    _ => None,
                };
                let mut tx = self.$begin().await?;
                let done = sql::replace_sealed(value, owner, new).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

credential_store!(SqliteStore, crate::sql::sqlite, begin_write, read);
credential_store!(PgStore, crate::sql::postgres, begin_write, read);
