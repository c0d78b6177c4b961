//! Connected users on SQLite.

use crate::error::WriteContext;
use crate::ids::now;
use crate::rows::{Ts, UserRow, user_columns};
use crate::sql::sqlite as sql;
use crate::users::{merge, page, page_size, user_id};
use crate::{ConnectedUser, Error, ProjectId, Result, SqliteStore, UserCursor, UserPage, UserStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;

#[async_trait]
impl UserStore for SqliteStore {
    async fn upsert_seen(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
        let user = user_id(user)?;
        let mut tx = self.begin_write().await?;
        // Not shared with PostgreSQL only for the boolean literal: the
        // SQLite schema stores `disabled` as 0/1.
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO connected_users (project_id, user_id, metadata, disabled, created_at, last_seen_at) \
             VALUES ($1, $2, '{}', 0, $3, $3) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at \
             RETURNING ",
            user_columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(Ts(now()))
        .fetch_one(&mut *tx)
        .await
        .on_write("user already exists", "project")?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn get_user(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
        let row = sql::user(project, user).fetch_optional(self.read()).await?;
        Ok(row.ok_or(Error::NotFound("user"))?.into())
    }

    async fn merge_metadata(&self, project: ProjectId, user: &str, patch: Map<String, Value>) -> Result<ConnectedUser> {
        crate::check::json_size("metadata", &patch)?;
        // SQLite's json_patch() is RFC 7396 (null deletes, objects merge
        // deeply), not the shallow merge wanted, so the merge happens here.
        // It is atomic because the write transaction holds the database's
        // write lock from the read to the commit.
        let mut tx = self.begin_write().await?;
        let stored: Option<Json<Map<String, Value>>> =
            sqlx::query_scalar("SELECT metadata FROM connected_users WHERE project_id = $1 AND user_id = $2")
                .bind(project.as_uuid())
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        let merged = merge(stored.ok_or(Error::NotFound("user"))?.0, patch);
        let row: UserRow = sqlx::query_as(concat!(
            "UPDATE connected_users SET metadata = $3 WHERE project_id = $1 AND user_id = $2 RETURNING ",
            user_columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(Json(merged))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn set_user_disabled(&self, project: ProjectId, user: &str, disabled: bool) -> Result<ConnectedUser> {
        let mut tx = self.begin_write().await?;
        let row = sql::set_user_disabled(project, user, disabled).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.ok_or(Error::NotFound("user"))?.into())
    }

    async fn list_users(&self, project: ProjectId, after: Option<UserCursor>, limit: u32) -> Result<UserPage> {
        let limit = page_size(limit)?;
        let rows = sql::users_after(project, after, limit).fetch_all(self.read()).await?;
        Ok(page(rows.into_iter().map(Into::into).collect(), limit))
    }
}
