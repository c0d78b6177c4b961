//! Projects on SQLite.

use crate::error::{WriteContext, found};
use crate::projects::project_name;
use crate::rows::{convert, one};
use crate::sql::sqlite as sql;
use crate::{Error, NewProject, Project, ProjectId, ProjectStore, Result, SqliteStore};
use async_trait::async_trait;

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn create_project(&self, new: NewProject) -> Result<Project> {
        let name = project_name(&new.name)?;
        let mut tx = self.begin_write().await?;
        let row = sql::insert_project(&new, &name)
            .fetch_one(&mut *tx)
            .await
            .on_write(&format!("the release group already has a {} project", new.environment), "project")?;
        tx.commit().await?;
        one(row)
    }

    async fn get_project(&self, id: ProjectId) -> Result<Project> {
        let row = sql::project(id).fetch_optional(self.read()).await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        convert(sql::projects().fetch_all(self.read()).await?)
    }

    async fn rename_project(&self, id: ProjectId, name: &str) -> Result<Project> {
        let name = project_name(name)?;
        let mut tx = self.begin_write().await?;
        let row = sql::rename_project(id, &name).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }

    async fn delete_project(&self, id: ProjectId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sql::delete_project(id).execute(&mut *tx).await?;
        tx.commit().await?;
        found(done.rows_affected(), "project")
    }

    async fn set_connect_return_urls(&self, id: ProjectId, urls: Vec<String>) -> Result<Project> {
        crate::projects::check_return_urls(&urls)?;
        let mut tx = self.begin_write().await?;
        let row = sql::set_return_urls(id, &urls).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }
}
