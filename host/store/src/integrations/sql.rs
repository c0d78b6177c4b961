//! Integrations in SQL: the row, and [`IntegrationStore`] for both
//! backends.

use super::check_new;
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::rows::Ts;
use crate::{
    Error, Integration, IntegrationId, IntegrationPatch, IntegrationStore, NewIntegration, PgStore, ProjectId, Result,
    SqliteStore,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct IntegrationRow {
    id: Uuid,
    project_id: Uuid,
    integration_type: String,
    active: bool,
    client_id: Option<String>,
    scopes: Json<Vec<String>>,
    base_url: Option<String>,
    endpoint_overrides: Json<Map<String, Value>>,
    portal_texts: Json<Map<String, Value>>,
    accent_color: Option<String>,
    created_at: Ts,
    has_client_secret: bool,
    misconfigured: Option<String>,
    definition: Option<Json<Map<String, Value>>>,
}

/// The columns [`IntegrationRow`] decodes.
macro_rules! columns {
    () => {
        "id, project_id, integration_type, active, client_id, scopes, base_url, \
         endpoint_overrides, portal_texts, accent_color, created_at, \
         client_secret IS NOT NULL AS has_client_secret, misconfigured, definition"
    };
}

impl From<IntegrationRow> for Integration {
    fn from(r: IntegrationRow) -> Self {
        Integration {
            id: r.id.into(),
            project_id: r.project_id.into(),
            integration_type: r.integration_type,
            active: r.active,
            client_id: r.client_id,
            scopes: r.scopes.0,
            base_url: r.base_url,
            endpoint_overrides: r.endpoint_overrides.0,
            portal_texts: r.portal_texts.0,
            accent_color: r.accent_color,
            created_at: r.created_at.0,
            has_client_secret: r.has_client_secret,
            misconfigured: r.misconfigured,
            definition: r.definition.map(|d| d.0),
        }
    }
}

/// The integration to patch, read inside the write transaction.
macro_rules! integration_to_update {
    () => {
        concat!("SELECT ", columns!(), " FROM integrations WHERE project_id = $1 AND id = $2")
    };
}

impl SqliteStore {
    /// Reads an integration to patch. `BEGIN IMMEDIATE` already keeps every
    /// other writer out until the commit.
    const INTEGRATION_TO_UPDATE: &str = integration_to_update!();
}

impl PgStore {
    /// Reads an integration to patch, locking its row until the commit.
    const INTEGRATION_TO_UPDATE: &str = concat!(integration_to_update!(), " FOR UPDATE");
}

for_both_backends! {
    #[async_trait]
    impl IntegrationStore for Db {
        async fn create_integration(&self, project: ProjectId, new: NewIntegration) -> Result<Integration> {
            check_new(&new)?;
            let mut w = self.write_one().await?;
            let row: IntegrationRow = sqlx::query_as(concat!(
                "INSERT INTO integrations (id, project_id, integration_type, active, client_id, scopes, base_url, \
                 endpoint_overrides, portal_texts, accent_color, created_at, definition) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
                columns!()
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
            .bind(new.definition.as_ref().map(Json))
            .fetch_one(&mut *w)
            .await
            .on_write(&format!("the project already has a {} integration", new.integration_type), "project")?;
            w.commit().await?;
            Ok(row.into())
        }

        async fn get_integration(&self, project: ProjectId, id: IntegrationId) -> Result<Integration> {
            let row: Option<IntegrationRow> =
                sqlx::query_as(concat!("SELECT ", columns!(), " FROM integrations WHERE project_id = $1 AND id = $2"))
                    .bind(project.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(self.read())
                    .await?;
            Ok(row.ok_or(Error::NotFound("integration"))?.into())
        }

        async fn get_integration_by_type(&self, project: ProjectId, integration_type: &str) -> Result<Integration> {
            let row: Option<IntegrationRow> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
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
                columns!(),
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
            // Read, patch and check in Rust, write back, with other writers
            // of the row kept out in between (see INTEGRATION_TO_UPDATE).
            let mut tx = self.begin_write().await?;
            let row: Option<IntegrationRow> = sqlx::query_as(Db::INTEGRATION_TO_UPDATE)
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
            let next = patch.apply(row.ok_or(Error::NotFound("integration"))?.into())?;
            let row: IntegrationRow = sqlx::query_as(concat!(
                "UPDATE integrations SET active = $3, client_id = $4, scopes = $5, base_url = $6, \
                 endpoint_overrides = $7, portal_texts = $8, accent_color = $9, definition = $10 \
                 WHERE project_id = $1 AND id = $2 RETURNING ",
                columns!()
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
            .bind(next.definition.as_ref().map(Json))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(row.into())
        }

        async fn delete_integration(&self, project: ProjectId, id: IntegrationId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM integrations WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "integration")
        }
    }
}
