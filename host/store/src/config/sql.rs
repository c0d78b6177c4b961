//! Environment secret names and app events in SQL: the rows, and
//! [`ConfigStore`] for both backends.

use super::{app_event_taken, check_app_event, secret_name};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::rows::Ts;
use crate::{AppEvent, ConfigStore, EnvironmentSecret, Error, ProjectId, Result};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct SecretRow {
    project_id: Uuid,
    name: String,
    created_at: Ts,
}

/// The columns [`SecretRow`] decodes.
macro_rules! secret_columns {
    () => {
        "project_id, name, created_at"
    };
}

impl From<SecretRow> for EnvironmentSecret {
    fn from(r: SecretRow) -> Self {
        EnvironmentSecret { project_id: r.project_id.into(), name: r.name, created_at: r.created_at.0 }
    }
}

#[derive(sqlx::FromRow)]
struct AppEventRow {
    project_id: Uuid,
    name: String,
    example_payload: Json<Value>,
    created_at: Ts,
}

/// The columns [`AppEventRow`] decodes.
macro_rules! app_event_columns {
    () => {
        "project_id, name, example_payload, created_at"
    };
}

impl From<AppEventRow> for AppEvent {
    fn from(r: AppEventRow) -> Self {
        AppEvent {
            project_id: r.project_id.into(),
            name: r.name,
            example_payload: r.example_payload.0,
            created_at: r.created_at.0,
        }
    }
}

for_both_backends! {
    #[async_trait]
    impl ConfigStore for Db {
        async fn add_secret_name(&self, project: ProjectId, name: &str) -> Result<EnvironmentSecret> {
            let name = secret_name(name)?;
            let mut w = self.write_one().await?;
            let row: SecretRow = sqlx::query_as(concat!(
                "INSERT INTO environment_secrets (project_id, name, created_at) VALUES ($1, $2, $3) RETURNING ",
                secret_columns!()
            ))
            .bind(project.as_uuid())
            .bind(name)
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write(&format!("the project already has a secret named {name}"), "project")?;
            w.commit().await?;
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
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM environment_secrets WHERE project_id = $1 AND name = $2")
                .bind(project.as_uuid())
                .bind(name)
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "secret")
        }

        async fn create_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent> {
            check_app_event(name, &example_payload)?;
            let mut w = self.write_one().await?;
            let row: AppEventRow = sqlx::query_as(concat!(
                "INSERT INTO app_events (project_id, name, example_payload, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING ",
                app_event_columns!()
            ))
            .bind(project.as_uuid())
            .bind(name)
            .bind(Json(&example_payload))
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write(&app_event_taken(name), "project")?;
            w.commit().await?;
            Ok(row.into())
        }

        async fn upsert_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent> {
            check_app_event(name, &example_payload)?;
            let mut w = self.write_one().await?;
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
            .fetch_one(&mut *w)
            .await
            .on_write(&app_event_taken(name), "project")?;
            w.commit().await?;
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
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM app_events WHERE project_id = $1 AND name = $2")
                .bind(project.as_uuid())
                .bind(name)
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "app event")
        }
    }
}
