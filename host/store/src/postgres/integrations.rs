//! Integrations on PostgreSQL.

use crate::error::{WriteContext, found};
use crate::integrations::check_new;
use crate::rows::{IntegrationRow, integration_columns};
use crate::sql::postgres as sql;
use crate::{
    Error, Integration, IntegrationId, IntegrationPatch, IntegrationStore, NewIntegration, PgStore, ProjectId, Result,
};
use async_trait::async_trait;

#[async_trait]
impl IntegrationStore for PgStore {
    async fn create_integration(&self, project: ProjectId, new: NewIntegration) -> Result<Integration> {
        check_new(&new)?;
        let row = sql::insert_integration(project, &new)
            .fetch_one(self.pool())
            .await
            .on_write(&format!("the project already has a {} integration", new.integration_type), "project")?;
        Ok(row.into())
    }

    async fn get_integration(&self, project: ProjectId, id: IntegrationId) -> Result<Integration> {
        let row = sql::integration(project, id).fetch_optional(self.pool()).await?;
        Ok(row.ok_or(Error::NotFound("integration"))?.into())
    }

    async fn get_integration_by_type(&self, project: ProjectId, integration_type: &str) -> Result<Integration> {
        let row = sql::integration_by_type(project, integration_type).fetch_optional(self.pool()).await?;
        Ok(row.ok_or(Error::NotFound("integration"))?.into())
    }

    async fn list_integrations(&self, project: ProjectId) -> Result<Vec<Integration>> {
        let rows = sql::integrations(project).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn update_integration(
        &self,
        project: ProjectId,
        id: IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<Integration> {
        // Read, patch and check in Rust, write back: FOR UPDATE keeps other
        // writers of this row out until the commit.
        let mut tx = self.begin().await?;
        let row: Option<IntegrationRow> = sqlx::query_as(concat!(
            "SELECT ",
            integration_columns!(),
            " FROM integrations WHERE project_id = $1 AND id = $2 FOR UPDATE"
        ))
        .bind(project.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        let next = patch.apply(row.ok_or(Error::NotFound("integration"))?.into())?;
        let row = sql::update_integration(project, id, &next).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn delete_integration(&self, project: ProjectId, id: IntegrationId) -> Result<()> {
        let done = sql::delete_integration(project, id).execute(self.pool()).await?;
        found(done.rows_affected(), "integration")
    }
}
