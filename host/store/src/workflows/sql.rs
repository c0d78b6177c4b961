//! Workflows in SQL: the rows, and [`WorkflowStore`] for both backends.
//! Every statement is shared.
//!
//! A version's number comes from the workflow's `versions` counter, raised
//! in the same transaction that writes the version: on PostgreSQL the
//! `UPDATE ... RETURNING` locks the workflow's row, so two deploys of one
//! workflow take consecutive numbers; on SQLite the single writer does.

use super::{
    Enablement, NewWorkflow, TriggerKey, VersionKind, Workflow, WorkflowVersion, check_definition, check_integration,
    check_name, credential_key,
};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::queue::WorkflowId;
use crate::rows::{Ts, convert, one};
use crate::{CredentialId, Error, ProjectId, Result, WorkflowStore};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct WorkflowRow {
    id: Uuid,
    project_id: Uuid,
    name: String,
    integration: String,
    definition: Json<Value>,
    versions: i32,
    deployed_version: Option<i32>,
    trigger_kind: Option<String>,
    trigger_key: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

/// The columns [`WorkflowRow`] decodes.
macro_rules! workflow_columns {
    () => {
        "id, project_id, name, integration, definition, versions, deployed_version, trigger_kind, trigger_key, \
         created_at, updated_at"
    };
}

impl TryFrom<WorkflowRow> for Workflow {
    type Error = Error;
    fn try_from(r: WorkflowRow) -> Result<Self> {
        Ok(Workflow {
            id: r.id.into(),
            project: r.project_id.into(),
            name: r.name,
            integration: r.integration,
            definition: r.definition.0,
            versions: number(r.versions)?,
            deployed_version: r.deployed_version.map(number).transpose()?,
            trigger: r.trigger_kind.map(|kind| TriggerKey { kind, key: r.trigger_key }),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    workflow_id: Uuid,
    version: i32,
    kind: String,
    definition: Json<Value>,
    created_at: Ts,
}

/// The columns [`VersionRow`] decodes.
macro_rules! version_columns {
    () => {
        "workflow_id, version, kind, definition, created_at"
    };
}

impl TryFrom<VersionRow> for WorkflowVersion {
    type Error = Error;
    fn try_from(r: VersionRow) -> Result<Self> {
        Ok(WorkflowVersion {
            workflow: r.workflow_id.into(),
            version: number(r.version)?,
            kind: r.kind.parse()?,
            definition: r.definition.0,
            created_at: r.created_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EnablementRow {
    workflow_id: Uuid,
    user_id: String,
    credential_key: String,
    enabled_at: Ts,
}

/// The columns [`EnablementRow`] decodes.
macro_rules! enablement_columns {
    () => {
        "workflow_id, user_id, credential_key, enabled_at"
    };
}

impl TryFrom<EnablementRow> for Enablement {
    type Error = Error;
    fn try_from(r: EnablementRow) -> Result<Self> {
        let credential = match r.credential_key.as_str() {
            "" => None,
            key => Some(
                key.parse::<CredentialId>()
                    .map_err(|_| Error::Invalid(format!("a stored enablement names no account: {key:?}")))?,
            ),
        };
        Ok(Enablement { workflow: r.workflow_id.into(), user: r.user_id, credential, enabled_at: r.enabled_at.0 })
    }
}

/// A stored version number (from 1).
fn number(n: i32) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Invalid(format!("a stored version number is negative: {n}")))
}

for_both_backends! {
    /// Fails with `NotFound("workflow")` unless the project has it.
    async fn workflow_exists(conn: &mut Conn, project: ProjectId, id: WorkflowId) -> Result<()> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workflows WHERE project_id = $1 AND id = $2)")
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *conn)
            .await?;
        if exists { Ok(()) } else { Err(Error::NotFound("workflow")) }
    }

    #[async_trait]
    impl WorkflowStore for Db {
        async fn create_workflow(&self, project: ProjectId, new: NewWorkflow) -> Result<Workflow> {
            check_name(&new.name)?;
            check_integration(&new.integration)?;
            check_definition(&new.definition)?;
            let mut tx = self.write_one().await?;
            let at = Ts(now());
            let row: WorkflowRow = sqlx::query_as(concat!(
                "INSERT INTO workflows (id, project_id, name, integration, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
                workflow_columns!()
            ))
            .bind(Uuid::new_v4())
            .bind(project.as_uuid())
            .bind(&new.name)
            .bind(&new.integration)
            .bind(Json(&new.definition))
            .bind(at)
            .fetch_one(&mut *tx)
            .await
            .on_write("workflow exists", "project")?;
            tx.commit().await?;
            one(row)
        }

        async fn get_workflow(&self, project: ProjectId, id: WorkflowId) -> Result<Workflow> {
            let row: Option<WorkflowRow> = sqlx::query_as(concat!(
                "SELECT ",
                workflow_columns!(),
                " FROM workflows WHERE project_id = $1 AND id = $2"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.read())
            .await?;
            one(row.ok_or(Error::NotFound("workflow"))?)
        }

        async fn list_workflows(&self, project: ProjectId, integration: Option<&str>) -> Result<Vec<Workflow>> {
            let rows: Vec<WorkflowRow> = sqlx::query_as(concat!(
                "SELECT ",
                workflow_columns!(),
                " FROM workflows WHERE project_id = $1 AND ($2 IS NULL OR integration = $2) ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .bind(integration)
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn update_workflow(
            &self,
            project: ProjectId,
            id: WorkflowId,
            name: Option<String>,
            definition: Option<Value>,
        ) -> Result<Workflow> {
            if let Some(n) = &name {
                check_name(n)?;
            }
            if let Some(d) = &definition {
                check_definition(d)?;
            }
            let mut tx = self.write_one().await?;
            let row: Option<WorkflowRow> = sqlx::query_as(concat!(
                "UPDATE workflows SET name = COALESCE($3, name), definition = COALESCE($4, definition), \
                 updated_at = $5 WHERE project_id = $1 AND id = $2 RETURNING ",
                workflow_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(name)
            .bind(definition.as_ref().map(Json))
            .bind(Ts(now()))
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            one(row.ok_or(Error::NotFound("workflow"))?)
        }

        async fn delete_workflow(&self, project: ProjectId, id: WorkflowId) -> Result<()> {
            let mut tx = self.write_one().await?;
            let deleted = sqlx::query("DELETE FROM workflows WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            found(deleted, "workflow")
        }

        async fn write_version(
            &self,
            project: ProjectId,
            id: WorkflowId,
            kind: VersionKind,
            definition: Value,
            deploy: Option<TriggerKey>,
        ) -> Result<u32> {
            check_definition(&definition)?;
            if let Some(t) = &deploy {
                crate::check::label("trigger kind", &t.kind, 64)?;
            }
            let mut tx = self.begin_write().await?;
            let at = Ts(now());
            let version: Option<i32> = sqlx::query_scalar(
                "UPDATE workflows SET versions = versions + 1, definition = $3, updated_at = $4 \
                 WHERE project_id = $1 AND id = $2 RETURNING versions",
            )
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(Json(&definition))
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let version = version.ok_or(Error::NotFound("workflow"))?;
            sqlx::query(
                "INSERT INTO workflow_versions (workflow_id, version, project_id, kind, definition, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_uuid())
            .bind(version)
            .bind(project.as_uuid())
            .bind(kind.as_str())
            .bind(Json(&definition))
            .bind(at)
            .execute(&mut *tx)
            .await
            .on_write("version exists", "workflow")?;
            if let Some(trigger) = deploy {
                sqlx::query(
                    "UPDATE workflows SET deployed_version = $2, trigger_kind = $3, trigger_key = $4 WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(version)
                .bind(&trigger.kind)
                .bind(&trigger.key)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            number(version)
        }

        async fn undeploy_workflow(&self, project: ProjectId, id: WorkflowId) -> Result<Workflow> {
            let mut tx = self.write_one().await?;
            let row: Option<WorkflowRow> = sqlx::query_as(concat!(
                "UPDATE workflows SET deployed_version = NULL, trigger_kind = NULL, trigger_key = NULL, \
                 updated_at = $3 WHERE project_id = $1 AND id = $2 RETURNING ",
                workflow_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(Ts(now()))
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            one(row.ok_or(Error::NotFound("workflow"))?)
        }

        async fn get_workflow_version(&self, project: ProjectId, id: WorkflowId, version: u32) -> Result<WorkflowVersion> {
            let version = i32::try_from(version).map_err(|_| Error::NotFound("workflow version"))?;
            let row: Option<VersionRow> = sqlx::query_as(concat!(
                "SELECT ",
                version_columns!(),
                " FROM workflow_versions WHERE project_id = $1 AND workflow_id = $2 AND version = $3"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(version)
            .fetch_optional(self.read())
            .await?;
            one(row.ok_or(Error::NotFound("workflow version"))?)
        }

        async fn list_workflow_versions(&self, project: ProjectId, id: WorkflowId) -> Result<Vec<WorkflowVersion>> {
            let mut conn = self.read().acquire().await?;
            workflow_exists(&mut conn, project, id).await?;
            let rows: Vec<VersionRow> = sqlx::query_as(concat!(
                "SELECT ",
                version_columns!(),
                " FROM workflow_versions WHERE project_id = $1 AND workflow_id = $2 ORDER BY version DESC"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(&mut *conn)
            .await?;
            convert(rows)
        }

        async fn deployed_with_trigger(&self, project: ProjectId, trigger: &TriggerKey) -> Result<Vec<Workflow>> {
            let rows: Vec<WorkflowRow> = sqlx::query_as(concat!(
                "SELECT ",
                workflow_columns!(),
                " FROM workflows WHERE project_id = $1 AND trigger_kind = $2 \
                 AND (trigger_key = $3 OR (trigger_key IS NULL AND $3 IS NULL)) \
                 AND deployed_version IS NOT NULL ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .bind(&trigger.kind)
            .bind(&trigger.key)
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn enable_workflow(
            &self,
            project: ProjectId,
            id: WorkflowId,
            user: &str,
            credential: Option<CredentialId>,
        ) -> Result<Enablement> {
            crate::check::label("user id", user, 255)?;
            let mut tx = self.begin_write().await?;
            workflow_exists(&mut tx, project, id).await?;
            let row: EnablementRow = sqlx::query_as(concat!(
                "INSERT INTO workflow_enablements (workflow_id, user_id, credential_key, project_id, enabled_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (workflow_id, user_id, credential_key) DO UPDATE SET user_id = excluded.user_id \
                 RETURNING ",
                enablement_columns!()
            ))
            .bind(id.as_uuid())
            .bind(user)
            .bind(credential_key(credential))
            .bind(project.as_uuid())
            .bind(Ts(now()))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            one(row)
        }

        async fn disable_workflow(
            &self,
            project: ProjectId,
            id: WorkflowId,
            user: &str,
            credential: Option<CredentialId>,
        ) -> Result<u64> {
            let mut tx = self.begin_write().await?;
            workflow_exists(&mut tx, project, id).await?;
            let removed = sqlx::query(
                "DELETE FROM workflow_enablements WHERE project_id = $1 AND workflow_id = $2 AND user_id = $3 \
                 AND ($4 IS NULL OR credential_key = $4)",
            )
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(user)
            .bind(credential.map(|c| c.to_string()))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(removed)
        }

        async fn user_enablements(&self, project: ProjectId, user: &str) -> Result<Vec<Enablement>> {
            let rows: Vec<EnablementRow> = sqlx::query_as(concat!(
                "SELECT ",
                enablement_columns!(),
                " FROM workflow_enablements WHERE project_id = $1 AND user_id = $2 ORDER BY enabled_at, workflow_id"
            ))
            .bind(project.as_uuid())
            .bind(user)
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn workflow_enablements(
            &self,
            project: ProjectId,
            id: WorkflowId,
            users: Option<&[String]>,
        ) -> Result<Vec<Enablement>> {
            let mut conn = self.read().acquire().await?;
            workflow_exists(&mut conn, project, id).await?;
            let rows: Vec<EnablementRow> = sqlx::query_as(concat!(
                "SELECT ",
                enablement_columns!(),
                " FROM workflow_enablements WHERE project_id = $1 AND workflow_id = $2 ORDER BY user_id, credential_key"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(&mut *conn)
            .await?;
            let all: Vec<Enablement> = convert(rows)?;
            Ok(match users {
                Some(users) => all.into_iter().filter(|e| users.contains(&e.user)).collect(),
                None => all,
            })
        }
    }
}
