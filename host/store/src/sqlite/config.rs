//! Environment secret names and app events on SQLite.

use crate::config::{check_app_event, secret_name};
use crate::error::WriteContext;
use crate::ids::now;
use crate::rows::{AppEventRow, SecretRow, Ts, app_event_columns, secret_columns};
use crate::{AppEvent, ConfigStore, EnvironmentSecret, Error, ProjectId, Result, SqliteStore};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;

#[async_trait]
impl ConfigStore for SqliteStore {
    async fn add_secret_name(&self, project: ProjectId, name: &str) -> Result<EnvironmentSecret> {
        let name = secret_name(name)?;
        let mut tx = self.begin_write().await?;
        let row: SecretRow = sqlx::query_as(concat!(
            "INSERT INTO environment_secrets (project_id, name, created_at) VALUES ($1, $2, $3) RETURNING ",
            secret_columns!()
        ))
        .bind(project.as_uuid())
        .bind(name)
        .bind(Ts(now()))
        .fetch_one(&mut *tx)
        .await
        .on_write(&format!("the project already has a secret named {name}"), "project")?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn list_secret_names(&self, project: ProjectId) -> Result<Vec<EnvironmentSecret>> {
        let rows: Vec<SecretRow> = sqlx::query_as(concat!(
            "SELECT ",
            secret_columns!(),
            " FROM environment_secrets WHERE project_id = $1 ORDER BY name"
        ))
        .bind(project.as_uuid())
        .fetch_all(self.read())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_secret_name(&self, project: ProjectId, name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM environment_secrets WHERE project_id = $1 AND name = $2")
            .bind(project.as_uuid())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("secret"));
        }
        Ok(())
    }

    async fn create_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent> {
        check_app_event(name, &example_payload)?;
        let mut tx = self.begin_write().await?;
        let row: AppEventRow = sqlx::query_as(concat!(
            "INSERT INTO app_events (project_id, name, example_payload, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING ",
            app_event_columns!()
        ))
        .bind(project.as_uuid())
        .bind(name)
        .bind(Json(&example_payload))
        .bind(Ts(now()))
        .fetch_one(&mut *tx)
        .await
        .on_write(
            &format!("the project already has an app event named {name:?}"),
            "project",
        )?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn upsert_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent> {
        check_app_event(name, &example_payload)?;
        let mut tx = self.begin_write().await?;
        let row: AppEventRow = sqlx::query_as(concat!(
            "INSERT INTO app_events (project_id, name, example_payload, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id, name) DO UPDATE SET example_payload = excluded.example_payload \
             RETURNING ",
            app_event_columns!()
        ))
        .bind(project.as_uuid())
        .bind(name)
        .bind(Json(&example_payload))
        .bind(Ts(now()))
        .fetch_one(&mut *tx)
        .await
        .on_write(
            &format!("the project already has an app event named {name:?}"),
            "project",
        )?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn get_app_event(&self, project: ProjectId, name: &str) -> Result<AppEvent> {
        let row: Option<AppEventRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_event_columns!(),
            " FROM app_events WHERE project_id = $1 AND name = $2"
        ))
        .bind(project.as_uuid())
        .bind(name)
        .fetch_optional(self.read())
        .await?;
        Ok(row.ok_or(Error::NotFound("app event"))?.into())
    }

    async fn list_app_events(&self, project: ProjectId) -> Result<Vec<AppEvent>> {
        let rows: Vec<AppEventRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_event_columns!(),
            " FROM app_events WHERE project_id = $1 ORDER BY name"
        ))
        .bind(project.as_uuid())
        .fetch_all(self.read())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_app_event(&self, project: ProjectId, name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM app_events WHERE project_id = $1 AND name = $2")
            .bind(project.as_uuid())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("app event"));
        }
        Ok(())
    }
}
