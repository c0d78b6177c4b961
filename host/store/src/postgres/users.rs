//! Connected users on PostgreSQL.

use crate::error::WriteContext;
use crate::ids::now;
use crate::rows::{Ts, UserRow, user_columns};
use crate::users::{page, page_size, user_id};
use crate::{ConnectedUser, Error, PgStore, ProjectId, Result, UserCursor, UserPage, UserStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;

#[async_trait]
impl UserStore for PgStore {
    async fn upsert_seen(&self, project: ProjectId, user: &str) -> Result<ConnectedUser> {
        let user = user_id(user)?;
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
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM connected_users WHERE project_id = $1 AND user_id = $2"
        ))
        .bind(project.as_uuid())
        .bind(user)
        .fetch_optional(self.pool())
        .await?;
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
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE connected_users SET disabled = $3 WHERE project_id = $1 AND user_id = $2 RETURNING ",
            user_columns!()
        ))
        .bind(project.as_uuid())
        .bind(user)
        .bind(disabled)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.ok_or(Error::NotFound("user"))?.into())
    }

    async fn list_users(&self, project: ProjectId, after: Option<UserCursor>, limit: u32) -> Result<UserPage> {
        let limit = page_size(limit)?;
        // Without a cursor, start before any possible row.
        let (at, id) = after.map_or((None, String::new()), |c| (Some(Ts(c.created_at)), c.user_id));
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
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
        .fetch_all(self.pool())
        .await?;
        Ok(page(rows.into_iter().map(Into::into).collect(), limit))
    }
}
