//! The statements both backends run, written once.
//!
//! SQLite and PostgreSQL take the same text for each statement here (both
//! accept `$n` placeholders, and the row structs of `crate::rows` decode
//! from either) and bind the same values. What differs is where a statement
//! runs: on SQLite every write goes through the single writer inside
//! `BEGIN IMMEDIATE`, on PostgreSQL a single statement autocommits on the
//! pool. So these functions only build a query and bind its values; each
//! backend picks the executor and owns its transactions. Statements whose
//! SQL differs between the backends (a `FOR UPDATE`, SQLite's read, merge
//! and write of user metadata, a boolean literal) stay in the backend's file.
//!
//! Functions generic over `sqlx::Database` would need a where clause per
//! bound type on every one of them (sqlx cannot say "a backend that binds a
//! UUID" once), so `statements!` stamps the same functions out for each
//! backend instead: `sql::sqlite` and `sql::postgres`. Every function here
//! must be used by both backends, or the unused copy warns.
//!
//! Values that are generated (ids, `now()`) are taken when the statement is
//! built, so a backend builds it only once it holds what it needs (on
//! SQLite, after `BEGIN IMMEDIATE`, which keeps timestamps in commit order).

macro_rules! statements {
    ($db:ty) => {
        use crate::ids::now;
        use crate::rows::{
            ApiKeyRow, AppEventRow, IntegrationRow, ProjectRow, SecretRow, SigningKeyRow, Ts, UserRow, api_key_columns,
            app_event_columns, integration_columns, material_columns, project_columns, secret_columns,
            signing_key_columns, user_columns,
        };
        use crate::{
            ApiKeyId, Integration, IntegrationId, NewApiKey, NewIntegration, NewProject, NewSigningKey, ProjectId,
            SigningKeyId, UserCursor,
        };
        use serde_json::Value;
        use sqlx::query::{Query, QueryAs, QueryScalar};
        use sqlx::types::Json;

        /// A statement that returns rows of `R`.
        pub(crate) type Rows<'q, R> = QueryAs<'q, $db, R, <$db as sqlx::Database>::Arguments<'q>>;

        /// A statement that returns one value of type `T`.
        pub(crate) type Scalar<'q, T> = QueryScalar<'q, $db, T, <$db as sqlx::Database>::Arguments<'q>>;

        /// A statement whose result is only how many rows it touched.
        pub(crate) type Command<'q> = Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;

        // Projects.

        /// Inserts a project under its checked `name`, returning it.
        pub(crate) fn insert_project<'q>(new: &'q NewProject, name: &'q str) -> Rows<'q, ProjectRow> {
            sqlx::query_as(concat!(
                "INSERT INTO projects (id, name, environment, release_group_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING ",
                project_columns!()
            ))
            .bind(ProjectId::new().as_uuid())
            .bind(name)
            .bind(new.environment.as_str())
            .bind(new.release_group_id.map(|g| g.as_uuid()))
            .bind(Ts(now()))
        }

        /// The project `id`, if any.
        pub(crate) fn project<'q>(id: ProjectId) -> Rows<'q, ProjectRow> {
            sqlx::query_as(concat!("SELECT ", project_columns!(), " FROM projects WHERE id = $1")).bind(id.as_uuid())
        }

        /// Every project, oldest first.
        pub(crate) fn projects<'q>() -> Rows<'q, ProjectRow> {
            sqlx::query_as(concat!("SELECT ", project_columns!(), " FROM projects ORDER BY created_at, id"))
        }

        /// Renames the project `id`, returning it if it exists.
        pub(crate) fn rename_project<'q>(id: ProjectId, name: &'q str) -> Rows<'q, ProjectRow> {
            sqlx::query_as(concat!("UPDATE projects SET name = $2 WHERE id = $1 RETURNING ", project_columns!()))
                .bind(id.as_uuid())
                .bind(name)
        }

        /// Replaces the project's return URLs, returning it if it exists.
        pub(crate) fn set_return_urls<'q>(id: ProjectId, urls: &'q [String]) -> Rows<'q, ProjectRow> {
            sqlx::query_as(concat!(
                "UPDATE projects SET connect_return_urls = $2 WHERE id = $1 RETURNING ",
                project_columns!()
            ))
            .bind(id.as_uuid())
            .bind(Json(urls))
        }

        /// Deletes the project `id`.
        pub(crate) fn delete_project<'q>(id: ProjectId) -> Command<'q> {
            sqlx::query("DELETE FROM projects WHERE id = $1").bind(id.as_uuid())
        }

        // Signing keys, API keys and the operator key.

        /// Inserts a signing key, returning it.
        pub(crate) fn insert_signing_key<'q>(project: ProjectId, new: &'q NewSigningKey) -> Rows<'q, SigningKeyRow> {
            let (pem, jwks_url) = material_columns(&new.material);
            sqlx::query_as(concat!(
                "INSERT INTO signing_keys (id, project_id, kind, kid, public_key_pem, jwks_url, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                signing_key_columns!()
            ))
            .bind(SigningKeyId::new().as_uuid())
            .bind(project.as_uuid())
            .bind(new.material.kind())
            .bind(new.kid.as_deref())
            .bind(pem)
            .bind(jwks_url)
            .bind(Ts(now()))
        }

        /// The project's signing keys, oldest first.
        pub(crate) fn signing_keys<'q>(project: ProjectId) -> Rows<'q, SigningKeyRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                signing_key_columns!(),
                " FROM signing_keys WHERE project_id = $1 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
        }

        /// Deletes a signing key of the project.
        pub(crate) fn delete_signing_key<'q>(project: ProjectId, id: SigningKeyId) -> Command<'q> {
            sqlx::query("DELETE FROM signing_keys WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
        }

        /// Inserts an API key, returning it.
        pub(crate) fn insert_api_key<'q>(project: ProjectId, new: &'q NewApiKey) -> Rows<'q, ApiKeyRow> {
            sqlx::query_as(concat!(
                "INSERT INTO api_keys (id, project_id, name, role, key_prefix, key_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                api_key_columns!()
            ))
            .bind(ApiKeyId::new().as_uuid())
            .bind(project.as_uuid())
            .bind(&new.name)
            .bind(new.role.as_str())
            .bind(&new.key_prefix)
            .bind(&new.key_hash)
            .bind(Ts(now()))
        }

        /// The project's API keys, revoked ones included, oldest first.
        pub(crate) fn api_keys<'q>(project: ProjectId) -> Rows<'q, ApiKeyRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE project_id = $1 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
        }

        /// The unrevoked API key with this (checked) hash, in any project.
        pub(crate) fn live_api_key_by_hash<'q>(hash: &'q str) -> Rows<'q, ApiKeyRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
            ))
            .bind(hash)
        }

        /// Records that an API key of the project was used now.
        pub(crate) fn touch_api_key<'q>(project: ProjectId, id: ApiKeyId) -> Command<'q> {
            sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(Ts(now()))
        }

        /// Revokes an API key of the project, keeping the first revocation
        /// time if it already was; returns the key if it exists.
        pub(crate) fn revoke_api_key<'q>(project: ProjectId, id: ApiKeyId) -> Rows<'q, ApiKeyRow> {
            sqlx::query_as(concat!(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
                 WHERE project_id = $1 AND id = $2 RETURNING ",
                api_key_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(Ts(now()))
        }

        /// Stores the operator key's (checked) hash unless one is stored:
        /// one row affected means it was set.
        pub(crate) fn set_operator_key_hash<'q>(hash: &'q str) -> Command<'q> {
            sqlx::query(
                "INSERT INTO operator_key (singleton, key_hash, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(hash)
            .bind(Ts(now()))
        }

        /// Whether the operator key's hash is this (checked) one.
        pub(crate) fn operator_key_hash_is<'q>(hash: &'q str) -> Scalar<'q, bool> {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operator_key WHERE singleton = 1 AND key_hash = $1)")
                .bind(hash)
        }

        // Connected users. Recording a sighting and merging metadata differ
        // per backend and live there.

        /// A user of the project.
        pub(crate) fn user<'q>(project: ProjectId, user: &'q str) -> Rows<'q, UserRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                " FROM connected_users WHERE project_id = $1 AND user_id = $2"
            ))
            .bind(project.as_uuid())
            .bind(user)
        }

        /// Disables or enables a user of the project, returning it if it
        /// exists.
        pub(crate) fn set_user_disabled<'q>(project: ProjectId, user: &'q str, disabled: bool) -> Rows<'q, UserRow> {
            sqlx::query_as(concat!(
                "UPDATE connected_users SET disabled = $3 WHERE project_id = $1 AND user_id = $2 RETURNING ",
                user_columns!()
            ))
            .bind(project.as_uuid())
            .bind(user)
            .bind(disabled)
        }

        /// Up to `limit + 1` users of the project after `after`, oldest
        /// first: the extra row tells `users::page` there is a next page.
        pub(crate) fn users_after<'q>(project: ProjectId, after: Option<UserCursor>, limit: u32) -> Rows<'q, UserRow> {
            // Without a cursor, start before any possible row.
            let (at, id) = after.map_or((None, String::new()), |c| (Some(Ts(c.created_at)), c.user_id));
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                " FROM connected_users WHERE project_id = $1 \
                 AND ($2 IS NULL OR (created_at, user_id) > ($2, $3)) \
                 ORDER BY created_at, user_id LIMIT $4"
            ))
            .bind(project.as_uuid())
            .bind(at)
            .bind(id)
            .bind(i64::from(limit) + 1)
        }

        // Integrations.

        /// Inserts an integration, returning it.
        pub(crate) fn insert_integration<'q>(project: ProjectId, new: &'q NewIntegration) -> Rows<'q, IntegrationRow> {
            sqlx::query_as(concat!(
                "INSERT INTO integrations (id, project_id, integration_type, active, client_id, scopes, base_url, \
                 endpoint_overrides, portal_texts, accent_color, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ",
                integration_columns!()
            ))
            .bind(IntegrationId::new().as_uuid())
            .bind(project.as_uuid())
            .bind(&new.integration_type)
            .bind(new.active)
            .bind(new.client_id.as_deref())
            .bind(Json(&new.scopes))
            .bind(new.base_url.as_deref())
            .bind(Json(&new.endpoint_overrides))
            .bind(Json(&new.portal_texts))
            .bind(new.accent_color.as_deref())
            .bind(Ts(now()))
        }

        /// An integration of the project, by id.
        pub(crate) fn integration<'q>(project: ProjectId, id: IntegrationId) -> Rows<'q, IntegrationRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                integration_columns!(),
                " FROM integrations WHERE project_id = $1 AND id = $2"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
        }

        /// An integration of the project, by type.
        pub(crate) fn integration_by_type<'q>(
            project: ProjectId,
            integration_type: &'q str,
        ) -> Rows<'q, IntegrationRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                integration_columns!(),
                " FROM integrations WHERE project_id = $1 AND integration_type = $2"
            ))
            .bind(project.as_uuid())
            .bind(integration_type)
        }

        /// The project's integrations, by type.
        pub(crate) fn integrations<'q>(project: ProjectId) -> Rows<'q, IntegrationRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                integration_columns!(),
                " FROM integrations WHERE project_id = $1 ORDER BY integration_type"
            ))
            .bind(project.as_uuid())
        }

        /// Writes back the changeable fields of an integration, returning it.
        pub(crate) fn update_integration<'q>(
            project: ProjectId,
            id: IntegrationId,
            next: &'q Integration,
        ) -> Rows<'q, IntegrationRow> {
            sqlx::query_as(concat!(
                "UPDATE integrations SET active = $3, client_id = $4, scopes = $5, base_url = $6, \
                 endpoint_overrides = $7, portal_texts = $8, accent_color = $9 \
                 WHERE project_id = $1 AND id = $2 RETURNING ",
                integration_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(next.active)
            .bind(next.client_id.as_deref())
            .bind(Json(&next.scopes))
            .bind(next.base_url.as_deref())
            .bind(Json(&next.endpoint_overrides))
            .bind(Json(&next.portal_texts))
            .bind(next.accent_color.as_deref())
        }

        /// Deletes an integration of the project.
        pub(crate) fn delete_integration<'q>(project: ProjectId, id: IntegrationId) -> Command<'q> {
            sqlx::query("DELETE FROM integrations WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
        }

        // Environment secret names and app events.

        /// Inserts a (checked) secret name, returning it.
        pub(crate) fn insert_secret_name<'q>(project: ProjectId, name: &'q str) -> Rows<'q, SecretRow> {
            sqlx::query_as(concat!(
                "INSERT INTO environment_secrets (project_id, name, created_at) VALUES ($1, $2, $3) RETURNING ",
                secret_columns!()
            ))
            .bind(project.as_uuid())
            .bind(name)
            .bind(Ts(now()))
        }

        /// The project's secret names, by name.
        pub(crate) fn secret_names<'q>(project: ProjectId) -> Rows<'q, SecretRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                secret_columns!(),
                " FROM environment_secrets WHERE project_id = $1 ORDER BY name"
            ))
            .bind(project.as_uuid())
        }

        /// Deletes a secret name of the project.
        pub(crate) fn delete_secret_name<'q>(project: ProjectId, name: &'q str) -> Command<'q> {
            sqlx::query("DELETE FROM environment_secrets WHERE project_id = $1 AND name = $2")
                .bind(project.as_uuid())
                .bind(name)
        }

        /// Inserts an app event, returning it.
        pub(crate) fn insert_app_event<'q>(
            project: ProjectId,
            name: &'q str,
            example_payload: &'q Value,
        ) -> Rows<'q, AppEventRow> {
            sqlx::query_as(concat!(
                "INSERT INTO app_events (project_id, name, example_payload, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING ",
                app_event_columns!()
            ))
            .bind(project.as_uuid())
            .bind(name)
            .bind(Json(example_payload))
            .bind(Ts(now()))
        }

        /// Inserts an app event, or replaces the example payload of the one
        /// with its name; returns it.
        pub(crate) fn upsert_app_event<'q>(
            project: ProjectId,
            name: &'q str,
            example_payload: &'q Value,
        ) -> Rows<'q, AppEventRow> {
            sqlx::query_as(concat!(
                "INSERT INTO app_events (project_id, name, example_payload, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (project_id, name) DO UPDATE SET example_payload = excluded.example_payload \
                 RETURNING ",
                app_event_columns!()
            ))
            .bind(project.as_uuid())
            .bind(name)
            .bind(Json(example_payload))
            .bind(Ts(now()))
        }

        /// An app event of the project, by name.
        pub(crate) fn app_event<'q>(project: ProjectId, name: &'q str) -> Rows<'q, AppEventRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                app_event_columns!(),
                " FROM app_events WHERE project_id = $1 AND name = $2"
            ))
            .bind(project.as_uuid())
            .bind(name)
        }

        /// The project's app events, by name.
        pub(crate) fn app_events<'q>(project: ProjectId) -> Rows<'q, AppEventRow> {
            sqlx::query_as(concat!(
                "SELECT ",
                app_event_columns!(),
                " FROM app_events WHERE project_id = $1 ORDER BY name"
            ))
            .bind(project.as_uuid())
        }

        /// Deletes an app event of the project.
        pub(crate) fn delete_app_event<'q>(project: ProjectId, name: &'q str) -> Command<'q> {
            sqlx::query("DELETE FROM app_events WHERE project_id = $1 AND name = $2").bind(project.as_uuid()).bind(name)
        }
    };
}

mod credentials;

/// The shared statements, for SQLite.
pub(crate) mod sqlite {
    statements!(sqlx::Sqlite);
    super::credentials::credential_statements!(sqlx::Sqlite);
}

/// The shared statements, for PostgreSQL.
pub(crate) mod postgres {
    statements!(sqlx::Postgres);
    super::credentials::credential_statements!(sqlx::Postgres);
}
