//! Environment secret names and app events on PostgreSQL.

use crate::config::{app_event_taken, check_app_event, secret_name};
use crate::error::{WriteContext, found};
use crate::sql::postgres as sql;
use crate::{AppEvent, ConfigStore, EnvironmentSecret, Error, PgStore, ProjectId, Result};
use async_trait::async_trait;
use serde_json::Value;

#[async_trait]
impl ConfigStore for PgStore {
    async fn add_secret_name(&self, project: ProjectId, name: &str) -> Result<EnvironmentSecret> {
        let name = secret_name(name)?;
        let row = sql::insert_secret_name(project, name)
            .fetch_one(self.pool())
            .await
            .on_write(&format!("the project already has a secret named {name}"), "project")?;
        Ok(row.into())
    }

    async fn list_secret_names(&self, project: ProjectId) -> Result<Vec<EnvironmentSecret>> {
        let rows = sql::secret_names(project).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_secret_name(&self, project: ProjectId, name: &str) -> Result<()> {
        let done = sql::delete_secret_name(project, name).execute(self.pool()).await?;
        found(done.rows_affected(), "secret")
    }

    async fn create_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent> {
        check_app_event(name, &example_payload)?;
        let row = sql::insert_app_event(project, name, &example_payload)
            .fetch_one(self.pool())
            .await
            .on_write(&app_event_taken(name), "project")?;
        Ok(row.into())
    }

    async fn upsert_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent> {
        check_app_event(name, &example_payload)?;
        let row = sql::upsert_app_event(project, name, &example_payload)
            .fetch_one(self.pool())
            .await
            .on_write(&app_event_taken(name), "project")?;
        Ok(row.into())
    }

    async fn get_app_event(&self, project: ProjectId, name: &str) -> Result<AppEvent> {
        let row = sql::app_event(project, name).fetch_optional(self.pool()).await?;
        Ok(row.ok_or(Error::NotFound("app event"))?.into())
    }

    async fn list_app_events(&self, project: ProjectId) -> Result<Vec<AppEvent>> {
        let rows = sql::app_events(project).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn delete_app_event(&self, project: ProjectId, name: &str) -> Result<()> {
        let done = sql::delete_app_event(project, name).execute(self.pool()).await?;
        found(done.rows_affected(), "app event")
    }
}
