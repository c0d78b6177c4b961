//! Integrations on SQLite.

use crate::error::{WriteContext, found};
use crate::integrations::check_new;
use crate::sql::sqlite as sql;
use crate::{
    Error, Integration, IntegrationId, IntegrationPatch, IntegrationStore, NewIntegration, ProjectId, Result,
    SqliteStore,
};
use async_trait::async_trait;

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, project: ProjectId, new: NewIntegration) -> Result<Integration> {
        check_new(&new)?;
        let mut tx = self.begin_write().await?;
        let row = sql::insert_integration(project, &new)
            .fetch_one(&mut *tx)
            .await
            .on_write(&format!("the project already has a {} integration", new.integration_type), "project")?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn get_integration(&self, project: ProjectId, id: IntegrationId) -> Result<Integration> {
        let row = sql::integration(project, id).fetch_optional(self.read()).await?;
        Ok(row.ok_or(Error::NotFound("integration"))?.into())
    }

    async fn get_integration_by_type(&self, project: ProjectId, integration_type: &str) -> Result<Integration> {
        let row = sql::integration_by_type(project, integration_type).fetch_optional(self.read()).await?;
        Ok(row.ok_or(Error::NotFound("integration"))?.into())
    }

    async fn list_integrations(&self, project: ProjectId) -> Result<Vec<Integration>> {
        let rows = sql::integrations(project).fetch_all(self.read()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn update_integration(
        &self,
        project: ProjectId,
        id: IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<Integration> {
        // Read, patch and check in Rust, write back: the write lock taken
        // by BEGIN IMMEDIATE keeps anyone else out in between.
        let mut tx = self.begin_write().await?;
        let row = sql::integration(project, id).fetch_optional(&mut *tx).await?;
        let next = patch.apply(row.ok_or(Error::NotFound("integration"))?.into())?;
        let row = sql::update_integration(project, id, &next).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn delete_integration(&self, project: ProjectId, id: IntegrationId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sql::delete_integration(project, id).execute(&mut *tx).await?;
        tx.commit().await?;
        found(done.rows_affected(), "integration")
    }
}
