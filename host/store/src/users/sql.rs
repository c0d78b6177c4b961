//! Connected users in SQL: the row, [`UserStore`] for both backends, and
//! the metadata merge, which each backend does its own way.

use super::{APP_USER, connected, merge, page, page_size, user_id};
use crate::backends::for_both_backends;
use crate::error::WriteContext;
use crate::ids::now;
use crate::rows::Ts;
use crate::{ConnectedUser, Error, PgStore, ProjectId, Result, SqliteStore, UserCursor, UserPage, UserStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct UserRow {
    project_id: Uuid,
    user_id: String,
    metadata: Json<Map<String, Value>>,
    disabled: bool,
    created_at: Ts,
    last_seen_at: Ts,
}

/// The columns [`UserRow`] decodes.
macro_rules! columns {
    () => {
        "project_id, user_id, metadata, disabled, created_at, last_seen_at"
    };
}

impl From<UserRow> for ConnectedUser {
    fn from(r: UserRow) -> Self {
        ConnectedUser {
            project_id: r.project_id.into(),
            user_id: r.user_id,
            metadata: r.metadata.0,
            disabled: r.disabled,
            created_at: r.created_at.0,
            last_seen_at: r.last_seen_at.0,
        }
    }
}

for_both_backends! {
    #[async_trait]
    impl UserStore for Db {
        async fn upsert_seen(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
            let user = user_id(user)?;
            let mut w = self.write_one().await?;
            // `disabled` is bound, not written as a literal: SQLite stores
            // booleans as 0/1, PostgreSQL as `boolean`.
            let row: UserRow = sqlx::query_as(concat!(
                "INSERT INTO connected_users (project_id, user_id, metadata, disabled, created_at, last_seen_at) \
                 VALUES ($1, $2, '{}', $3, $4, $4) \
                 ON CONFLICT (project_id, user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at \
                 RETURNING ",
                columns!()
            ))
            .bind(project.as_uuid())
            .bind(user)
            .bind(false)
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write("user already exists", "project")?;
            w.commit().await?;
            Ok(row.into())
        }

        async fn get_user(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
            let user = connected(user)?;
            let row: Option<UserRow> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM connected_users WHERE project_id = $1 AND user_id = $2"
            ))
            .bind(project.as_uuid())
            .bind(user)
            .fetch_optional(self.read())
            .await?;
            Ok(row.ok_or(Error::NotFound("user"))?.into())
        }

        async fn merge_metadata(
            &self,
            project: ProjectId,
            user: &str,
            patch: Map<String, Value>,
        ) -> Result<ConnectedUser> {
            crate::check::json_size("metadata", &patch)?;
            let user = connected(user)?;
            let row = self.merge_user_metadata(project, user, patch).await?;
            Ok(row.ok_or(Error::NotFound("user"))?.into())
        }

        async fn set_user_disabled(&self, project: ProjectId, user: &str, disabled: bool) -> Result<ConnectedUser> {
            let user = connected(user)?;
            let mut w = self.write_one().await?;
            let row: Option<UserRow> = sqlx::query_as(concat!(
                "UPDATE connected_users SET disabled = $3 WHERE project_id = $1 AND user_id = $2 RETURNING ",
                columns!()
            ))
            .bind(project.as_uuid())
            .bind(user)
            .bind(disabled)
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            Ok(row.ok_or(Error::NotFound("user"))?.into())
        }

        async fn list_users(&self, project: ProjectId, after: Option<UserCursor>, limit: u32) -> Result<UserPage> {
            let limit = page_size(limit)?;
            // Without a cursor, start before any possible row; one row more
            // than the page tells `page` there is a next one.
            let (at, id) = after.map_or((None, String::new()), |c| (Some(Ts(c.created_at)), c.user_id));
            let rows: Vec<UserRow> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM connected_users WHERE project_id = $1 AND user_id <> $5 \
                 AND ($2 IS NULL OR (created_at, user_id) > ($2, $3)) \
                 ORDER BY created_at, user_id LIMIT $4"
            ))
            .bind(project.as_uuid())
            .bind(at)
            .bind(id)
            .bind(i64::from(limit) + 1)
            .bind(APP_USER)
            .fetch_all(self.read())
            .await?;
            Ok(page(rows.into_iter().map(Into::into).collect(), limit))
        }
    }
}

impl SqliteStore {
    /// Shallow-merges `patch` into a user's metadata; `None` when there is
    /// no such user. SQLite's `json_patch()` is RFC 7396 (null deletes,
    /// objects merge deeply), not the merge wanted, so it happens in Rust:
    /// atomic because the write transaction holds the database's write lock
    /// from the read to the commit.
    async fn merge_user_metadata(
        &self,
        project: ProjectId,
        user: &str,
        patch: Map<String, Value>,
    ) -> Result<Option<UserRow>> {
        let mut tx = self.begin_write().await?;
        let stored: Option<Json<Map<String, Value>>> =
            sqlx::query_scalar("SELECT metadata FROM connected_users WHERE project_id = $1 AND user_id = $2")
                .bind(project.as_uuid())
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(stored) = stored else { return Ok(None) };
        let row: UserRow = sqlx::query_as(concat!(
            "UPDATE connected_users SET metadata = $3 WHERE project_id = $1 AND user_id = $2 RETURNING ",
            columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(Json(merge(stored.0, patch)))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(row))
    }
}

impl PgStore {
    /// Shallow-merges `patch` into a user's metadata; `None` when there is
    /// no such user. jsonb `||` is exactly that merge (right side wins,
    /// nulls are kept), and one UPDATE is atomic under the row lock.
    async fn merge_user_metadata(
        &self,
        project: ProjectId,
        user: &str,
        patch: Map<String, Value>,
    ) -> Result<Option<UserRow>> {
        let mut w = self.write_one().await?;
        let row = sqlx::query_as(concat!(
            "UPDATE connected_users SET metadata = metadata || $3 WHERE project_id = $1 AND user_id = $2 RETURNING ",
            columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(Json(patch))
        .fetch_optional(&mut *w)
        .await?;
        w.commit().await?;
        Ok(row)
    }
}
