//! Projects on PostgreSQL.

use crate::error::{WriteContext, found};
use crate::projects::project_name;
use crate::rows::{convert, one};
use crate::sql::postgres as sql;
use crate::{Error, NewProject, PgStore, Project, ProjectId, ProjectStore, Result};
use async_trait::async_trait;

#[async_trait]
impl ProjectStore for PgStore {
    async fn create_project(&self, new: NewProject) -> Result<Project> {
        let name = project_name(&new.name)?;
        let row = sql::insert_project(&new, &name)
            .fetch_one(self.pool())
            .await
            .on_write(&format!("the release group already has a {} project", new.environment), "project")?;
        one(row)
    }

    async fn get_project(&self, id: ProjectId) -> Result<Project> {
        let row = sql::project(id).fetch_optional(self.pool()).await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        convert(sql::projects().fetch_all(self.pool()).await?)
    }

    async fn rename_project(&self, id: ProjectId, name: &str) -> Result<Project> {
        let name = project_name(name)?;
        let row = sql::rename_project(id, &name).fetch_optional(self.pool()).await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }

    async fn delete_project(&self, id: ProjectId) -> Result<()> {
        let done = sql::delete_project(id).execute(self.pool()).await?;
        found(done.rows_affected(), "project")
    }

    async fn set_connect_return_urls(&self, id: ProjectId, urls: Vec<String>) -> Result<Project> {
        crate::projects::check_return_urls(&urls)?;
        let row = sql::set_return_urls(id, &urls).fetch_optional(self.pool()).await?;
        one(row.ok_or(Error::NotFound("project"))?)
    }
}
