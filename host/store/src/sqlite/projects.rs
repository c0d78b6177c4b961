//! Projects on SQLite.

use crate::error::WriteContext;
use crate::ids::now;
use crate::projects::project_name;
use crate::rows::{ProjectRow, Ts, convert, one, project_columns};
use crate::{Error, NewProject, Project, ProjectId, ProjectStore, Result, SqliteStore};
use async_trait::async_trait;

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn create_project(&self, new: NewProject) -> Result<Project> {
        let name = project_name(&new.name)?;
        let mut tx = self.begin_write().await?;
        let row: ProjectRow = sqlx::query_as(concat!(
            "INSERT INTO projects (id, name, environment, release_group_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            project_columns!()
        ))
        .bind(ProjectId::new().as_uuid())
        .bind(&name)
        .bind(new.environment.as_str())
        .bind(new.release_group_id.map(|g| g.as_uuid()))
        .bind(Ts(now()))
        .fetch_one(&mut *tx)
        .await
        .on_write(
            &format!("the release group already has a {} project", new.environment),
            "project",
        )?;
        tx.commit().await?;
        one(row)
    }

    async fn get_project(&self, id: ProjectId) -> Result<Project> {
        let row: Option<ProjectRow> =
            sqlx::query_as(concat!("SELECT ", project_columns!(), " FROM projects WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(self.read())
                .await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        let rows: Vec<ProjectRow> = sqlx::query_as(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects ORDER BY created_at, id"
        ))
        .fetch_all(self.read())
        .await?;
        convert(rows)
    }

    async fn rename_project(&self, id: ProjectId, name: &str) -> Result<Project> {
        let name = project_name(name)?;
        let mut tx = self.begin_write().await?;
        let row: Option<ProjectRow> = sqlx::query_as(concat!(
            "UPDATE projects SET name = $2 WHERE id = $1 RETURNING ",
            project_columns!()
        ))
        .bind(id.as_uuid())
        .bind(&name)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }

    async fn delete_project(&self, id: ProjectId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("project"));
        }
        Ok(())
    }
}
