//! Connected users on PostgreSQL.

use crate::error::WriteContext;
use crate::ids::now;
use crate::rows::{Ts, UserRow, user_columns};
use crate::sql::postgres as sql;
use crate::users::{page, page_size, user_id};
use crate::{ConnectedUser, Error, PgStore, ProjectId, Result, UserCursor, UserPage, UserStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;

#[async_trait]
impl UserStore for PgStore {
    async fn upsert_seen(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
        let user = user_id(user)?;
        // Not shared with SQLite only for the boolean literal: `false` is
        // PostgreSQL's, the SQLite schema stores 0.
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO connected_users (project_id, user_id, metadata, disabled, created_at, last_seen_at) \
             VALUES ($1, $2, '{}', false, $3, $3) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at \
             RETURNING ",
            user_columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(Ts(now()))
        .fetch_one(self.pool())
        .await
        .on_write("user already exists", "project")?;
        Ok(row.into())
    }

    async fn get_user(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
        let row = sql::user(project, user).fetch_optional(self.pool()).await?;
        Ok(row.ok_or(Error::NotFound("user"))?.into())
    }

    async fn merge_metadata(&self, project: ProjectId, user: &str, patch: Map<String, Value>) -> Result<ConnectedUser> {
        crate::check::json_size("metadata", &patch)?;
        // jsonb `||` is exactly the shallow merge wanted (right side wins,
        // nulls are kept), and one UPDATE is atomic under the row lock.
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE connected_users SET metadata = metadata || $3 \
             WHERE project_id = $1 AND user_id = $2 RETURNING ",
            user_columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(Json(patch))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.ok_or(Error::NotFound("user"))?.into())
    }

    async fn set_user_disabled(&self, project: ProjectId, user: &str, disabled: bool) -> Result<ConnectedUser> {
        let row = sql::set_user_disabled(project, user, disabled).fetch_optional(self.pool()).await?;
        Ok(row.ok_or(Error::NotFound("user"))?.into())
    }

    async fn list_users(&self, project: ProjectId, after: Option<UserCursor>, limit: u32) -> Result<UserPage> {
        let limit = page_size(limit)?;
        let rows = sql::users_after(project, after, limit).fetch_all(self.pool()).await?;
        Ok(page(rows.into_iter().map(Into::into).collect(), limit))
    }
}
