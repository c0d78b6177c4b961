//! Integrations on SQLite.

use crate::error::WriteContext;
use crate::ids::now;
use crate::integrations::check_new;
use crate::rows::{IntegrationRow, Ts, integration_columns};
use crate::{
    Error, Integration, IntegrationId, IntegrationPatch, IntegrationStore, NewIntegration, ProjectId, Result,
    SqliteStore,
};
use async_trait::async_trait;
use sqlx::types::Json;

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, project: ProjectId, new: NewIntegration) -> Result<Integration> {
        check_new(&new)?;
        let mut tx = self.begin_write().await?;
        let row: IntegrationRow = sqlx::query_as(concat!(
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
        .fetch_one(&mut *tx)
        .await
        .on_write(
            &format!("the project already has a {} integration", new.integration_type),
            "project",
        )?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn get_integration(&self, project: ProjectId, id: IntegrationId) -> Result<Integration> {
        let row: Option<IntegrationRow> = sqlx::query_as(concat!(
            "SELECT ",
            integration_columns!(),
            " FROM integrations WHERE project_id = $1 AND id = $2"
        ))
        .bind(project.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(self.read())
        .await?;
        Ok(row.ok_or(Error::NotFound("integration"))?.into())
    }

    async fn get_integration_by_type(&self, project: ProjectId, integration_type: &str) -> Result<Integration> {
        let row: Option<IntegrationRow> = sqlx::query_as(concat!(
            "SELECT ",
            integration_columns!(),
            " FROM integrations WHERE project_id = $1 AND integration_type = $2"
        ))
        .bind(project.as_uuid())
        .bind(integration_type)
        .fetch_optional(self.read())
        .await?;
        Ok(row.ok_or(Error::NotFound("integration"))?.into())
    }

    async fn list_integrations(&self, project: ProjectId) -> Result<Vec<Integration>> {
        let rows: Vec<IntegrationRow> = sqlx::query_as(concat!(
            "SELECT ",
            integration_columns!(),
            " FROM integrations WHERE project_id = $1 ORDER BY integration_type"
        ))
        .bind(project.as_uuid())
        .fetch_all(self.read())
        .await?;
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
        let row: Option<IntegrationRow> = sqlx::query_as(concat!(
            "SELECT ",
            integration_columns!(),
            " FROM integrations WHERE project_id = $1 AND id = $2"
        ))
        .bind(project.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        let next = patch.apply(row.ok_or(Error::NotFound("integration"))?.into())?;
        let row: IntegrationRow = sqlx::query_as(concat!(
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
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn delete_integration(&self, project: ProjectId, id: IntegrationId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM integrations WHERE project_id = $1 AND id = $2")
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("integration"));
        }
        Ok(())
    }
}
