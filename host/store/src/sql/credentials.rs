//! The statements of credentials, OAuth states, events and sealed values,
//! written once for both backends like those of `sql.rs`.

macro_rules! credential_statements {
    ($db:ty) => {
        use crate::CredentialId;
        use crate::credentials::{ConnectState, NewCredential, RefreshFailure, SecretsUpdate};
        use crate::rows::{
            ConnectStateRow, CredentialRow, EventRow, connect_state_columns, credential_columns, event_columns,
        };
        use serde_json::Map;
        use time::OffsetDateTime;
        use uuid::Uuid;

        // Credentials.

        /// Inserts a VALID credential, version 1, if the integration is
        /// one of the project's (no row otherwise).
        pub(crate) fn insert_credential<'q>(project: ProjectId, new: &'q NewCredential) -> Rows<'q, CredentialRow> {
            let now = now();
            sqlx::query_as(concat!(
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
            .bind(Ts(now))
        }

        /// A credential of the project.
        pub(crate) fn credential<'q>(project: ProjectId, id: CredentialId) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!("SELECT ", credential_columns!(), " FROM credentials WHERE project_id = $1 AND id = $2"))
                .bind(project.as_uuid())
                .bind(id.as_uuid())
        }

        /// A user's credentials, oldest first.
        pub(crate) fn user_credentials<'q>(project: ProjectId, user: &'q str) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                credential_columns!(),
                " FROM credentials WHERE project_id = $1 AND user_id = $2 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .bind(user)
        }

        /// How many credentials the project has.
        pub(crate) fn count_credentials<'q>(project: ProjectId) -> Scalar<'q, i64> {
            sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE project_id = $1").bind(project.as_uuid())
        }

        /// Replaces the config of a user's credential.
        pub(crate) fn set_credential_config<'q>(
            project: ProjectId,
            user: &'q str,
            id: CredentialId,
            config: &'q Map<String, Value>,
        ) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!(
                "UPDATE credentials SET config = $4, updated_at = $5 \
                 WHERE project_id = $1 AND user_id = $2 AND id = $3 RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(user)
            .bind(id.as_uuid())
            .bind(Json(config))
            .bind(Ts(now()))
        }

        /// Reconnects a user's credential of the same integration.
        pub(crate) fn replace_credential<'q>(
            project: ProjectId,
            user: &'q str,
            new: &'q NewCredential,
        ) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!(
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
        }

        /// Deletes a user's credential.
        pub(crate) fn delete_credential<'q>(project: ProjectId, user: &'q str, id: CredentialId) -> Command<'q> {
            sqlx::query("DELETE FROM credentials WHERE project_id = $1 AND user_id = $2 AND id = $3")
                .bind(project.as_uuid())
                .bind(user)
                .bind(id.as_uuid())
        }

        /// Takes the refresh lease when it is free or expired.
        pub(crate) fn claim_lease<'q>(
            project: ProjectId,
            id: CredentialId,
            lease: Uuid,
            now: OffsetDateTime,
            until: OffsetDateTime,
        ) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!(
                "UPDATE credentials SET lease_token = $3, lease_until = $5 \
                 WHERE project_id = $1 AND id = $2 AND (lease_until IS NULL OR lease_until <= $4) RETURNING ",
                credential_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(lease)
            .bind(Ts(now))
            .bind(Ts(until))
        }

        /// Gives a lease back.
        pub(crate) fn release_lease<'q>(project: ProjectId, id: CredentialId, lease: Uuid) -> Command<'q> {
            sqlx::query(
                "UPDATE credentials SET lease_token = NULL, lease_until = NULL \
                 WHERE project_id = $1 AND id = $2 AND lease_token = $3",
            )
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(lease)
        }

        /// Stores new secrets if the version (and lease) still match.
        pub(crate) fn update_secrets<'q>(
            project: ProjectId,
            id: CredentialId,
            update: &'q SecretsUpdate,
        ) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!(
                "UPDATE credentials SET secrets = $4, version = version + 1, expires_at = $5, refreshed_at = $6, \
                 updated_at = $6, status = 'VALID', invalid_reason = NULL, refresh_failure_count = 0, failure_days = 0, last_failure_day = NULL, \
                 retry_at = NULL, lease_token = NULL, lease_until = NULL \
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
        }

        /// Records a failed refresh under its lease and releases the lease.
        pub(crate) fn record_failure<'q>(
            project: ProjectId,
            id: CredentialId,
            failure: &'q RefreshFailure,
        ) -> Rows<'q, CredentialRow> {
            sqlx::query_as(concat!(
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
        }

        /// Valid credentials expiring before `before`, not in backoff or
        /// leased at `now`, soonest first.
        pub(crate) fn expiring<'q>(
            before: OffsetDateTime,
            now: OffsetDateTime,
            limit: u32,
        ) -> sqlx::query::QueryAs<'q, $db, (Uuid, Uuid), <$db as sqlx::Database>::Arguments<'q>> {
            sqlx::query_as(
                "SELECT project_id, id FROM credentials WHERE status = 'VALID' AND expires_at < $1 \
                 AND (retry_at IS NULL OR retry_at <= $2) AND (lease_until IS NULL OR lease_until <= $2) \
                 ORDER BY expires_at LIMIT $3",
            )
            .bind(Ts(before))
            .bind(Ts(now))
            .bind(i64::from(limit))
        }

        // OAuth states.

        /// Stores a pending authorization.
        pub(crate) fn insert_connect_state<'q>(state: &'q ConnectState) -> Command<'q> {
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
        }

        /// Deletes and returns the authorization, if it is this project's
        /// and integration's.
        pub(crate) fn take_connect_state<'q>(
            project: ProjectId,
            integration: IntegrationId,
            state_hash: &'q str,
        ) -> Rows<'q, ConnectStateRow> {
            sqlx::query_as(concat!(
                "DELETE FROM connect_states WHERE state_hash = $1 AND project_id = $2 AND integration_id = $3 \
                 RETURNING ",
                connect_state_columns!()
            ))
            .bind(state_hash)
            .bind(project.as_uuid())
            .bind(integration.as_uuid())
        }

        /// Deletes expired authorizations.
        pub(crate) fn purge_connect_states<'q>(now: OffsetDateTime) -> Command<'q> {
            sqlx::query("DELETE FROM connect_states WHERE expires_at < $1").bind(Ts(now))
        }

        // Events.

        /// Appends an event.
        pub(crate) fn insert_event<'q>(
            project: ProjectId,
            event_type: &'q str,
            payload: &'q Map<String, Value>,
        ) -> Rows<'q, EventRow> {
            sqlx::query_as(concat!(
                "INSERT INTO project_events (id, project_id, event_type, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING ",
                event_columns!()
            ))
            .bind(Uuid::new_v4())
            .bind(project.as_uuid())
            .bind(event_type)
            .bind(Json(payload))
            .bind(Ts(now()))
        }

        /// The project's events, oldest first.
        pub(crate) fn events<'q>(project: ProjectId, limit: u32) -> Rows<'q, EventRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                event_columns!(),
                " FROM project_events WHERE project_id = $1 ORDER BY created_at, id LIMIT $2"
            ))
            .bind(project.as_uuid())
            .bind(i64::from(limit))
        }

        // Integration and environment secrets, the canary.

        /// Sets or clears an integration's sealed client secret.
        pub(crate) fn set_client_secret<'q>(
            project: ProjectId,
            id: IntegrationId,
            sealed: Option<&'q [u8]>,
        ) -> Command<'q> {
            sqlx::query("UPDATE integrations SET client_secret = $3 WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(sealed)
        }

        /// An integration's sealed client secret (the outer option: the row).
        pub(crate) fn client_secret<'q>(project: ProjectId, id: IntegrationId) -> Scalar<'q, Option<Vec<u8>>> {
            sqlx::query_scalar("SELECT client_secret FROM integrations WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
        }

        /// Sets or clears the misconfiguration mark.
        pub(crate) fn set_misconfigured<'q>(
            project: ProjectId,
            id: IntegrationId,
            reason: Option<&'q str>,
        ) -> Command<'q> {
            sqlx::query("UPDATE integrations SET misconfigured = $3 WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(reason)
        }

        /// Sets the sealed value of a secret name.
        pub(crate) fn set_secret_value<'q>(project: ProjectId, name: &'q str, sealed: &'q [u8]) -> Command<'q> {
            sqlx::query("UPDATE environment_secrets SET value = $3 WHERE project_id = $1 AND name = $2")
                .bind(project.as_uuid())
                .bind(name)
                .bind(sealed)
        }

        /// The sealed value of a secret name (the outer option: the row).
        pub(crate) fn secret_value<'q>(project: ProjectId, name: &'q str) -> Scalar<'q, Option<Vec<u8>>> {
            sqlx::query_scalar("SELECT value FROM environment_secrets WHERE project_id = $1 AND name = $2")
                .bind(project.as_uuid())
                .bind(name)
        }

        /// The vault canary.
        pub(crate) fn vault_canary<'q>() -> Scalar<'q, Vec<u8>> {
            sqlx::query_scalar("SELECT sealed FROM vault_canary WHERE singleton = 1")
        }

        /// Stores the canary unless one is stored.
        pub(crate) fn insert_vault_canary<'q>(sealed: &'q [u8]) -> Command<'q> {
            sqlx::query(
                "INSERT INTO vault_canary (singleton, sealed, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(sealed)
            .bind(Ts(now()))
        }

        /// Whether any sealed value but the canary is stored.
        pub(crate) fn holds_sealed_values<'q>() -> Scalar<'q, bool> {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM credentials) \
                 OR EXISTS (SELECT 1 FROM integrations WHERE client_secret IS NOT NULL) \
                 OR EXISTS (SELECT 1 FROM environment_secrets WHERE value IS NOT NULL) \
                 OR EXISTS (SELECT 1 FROM connect_states)",
            )
        }

        /// A sealed row found for a rotation: (project, uuid owner, text owner, bytes).
        pub(crate) type SealedRow = (Option<Uuid>, Option<Uuid>, Option<String>, Vec<u8>);

        /// Sealed values of `column` whose key version bytes differ from `key`.
        pub(crate) fn sealed_not_under<'q>(
            column: crate::SealedColumn,
            key: Vec<u8>,
            limit: u32,
        ) -> sqlx::query::QueryAs<'q, $db, SealedRow, <$db as sqlx::Database>::Arguments<'q>> {
            use crate::SealedColumn as C;
            let sql = match column {
                C::CredentialSecrets => {
                    "SELECT project_id, id, NULL, secrets FROM credentials WHERE substr(secrets, 2, 4) <> $1 LIMIT $2"
                }
                C::IntegrationClientSecret => {
                    "SELECT project_id, id, NULL, client_secret FROM integrations \
                     WHERE client_secret IS NOT NULL AND substr(client_secret, 2, 4) <> $1 LIMIT $2"
                }
                C::EnvironmentSecretValue => {
                    "SELECT project_id, NULL, name, value FROM environment_secrets \
                     WHERE value IS NOT NULL AND substr(value, 2, 4) <> $1 LIMIT $2"
                }
                C::ConnectState => {
                    "SELECT project_id, NULL, state_hash, sealed FROM connect_states \
                     WHERE substr(sealed, 2, 4) <> $1 LIMIT $2"
                }
                C::VaultCanary => {
                    "SELECT NULL, NULL, NULL, sealed FROM vault_canary WHERE substr(sealed, 2, 4) <> $1 LIMIT $2"
                }
            };
            sqlx::query_as(sql).bind(key).bind(i64::from(limit))
        }

        /// Replaces a sealed value that still holds `old`.
        pub(crate) fn replace_sealed<'q>(
            value: &'q crate::SealedValue,
            owner: Option<Uuid>,
            new: Vec<u8>,
        ) -> Command<'q> {
            use crate::SealedColumn as C;
            let sql = match value.column {
                C::CredentialSecrets => {
                    "UPDATE credentials SET secrets = $1 WHERE project_id = $3 AND id = $4 AND secrets = $2"
                }
                C::IntegrationClientSecret => {
                    "UPDATE integrations SET client_secret = $1 WHERE project_id = $3 AND id = $4 AND client_secret = $2"
                }
                C::EnvironmentSecretValue => {
                    "UPDATE environment_secrets SET value = $1 WHERE project_id = $3 AND name = $4 AND value = $2"
                }
                C::ConnectState => {
                    "UPDATE connect_states SET sealed = $1 WHERE project_id = $3 AND state_hash = $4 AND sealed = $2"
                }
                C::VaultCanary => "UPDATE vault_canary SET sealed = $1 WHERE singleton = 1 AND sealed = $2",
            };
            let query = sqlx::query(sql).bind(new).bind(&value.bytes);
            match value.column {
                C::VaultCanary => query,
                C::CredentialSecrets | C::IntegrationClientSecret => {
                    query.bind(value.project_id.map(|p| p.as_uuid())).bind(owner)
                }
                C::EnvironmentSecretValue | C::ConnectState => {
                    query.bind(value.project_id.map(|p| p.as_uuid())).bind(&value.owner_id)
                }
            }
        }
    };
}

pub(crate) use credential_statements;
