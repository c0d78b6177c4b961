//! Projects in SQL: the row, and [`ProjectStore`] for both backends.

use super::{check_return_urls, project_name};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::rows::{Ts, convert, one};
use crate::{Error, NewProject, Project, ProjectId, ProjectStore, Result};
use async_trait::async_trait;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: Uuid,
    name: String,
    environment: String,
    release_group_id: Option<Uuid>,
    created_at: Ts,
    connect_return_urls: Json<Vec<String>>,
    concurrency_limit: Option<i32>,
}

/// The columns [`ProjectRow`] decodes.
macro_rules! columns {
    () => {
        "id, name, environment, release_group_id, created_at, connect_return_urls, concurrency_limit"
    };
}

impl TryFrom<ProjectRow> for Project {
    type Error = Error;
    fn try_from(r: ProjectRow) -> Result<Self> {
        Ok(Project {
            id: r.id.into(),
            name: r.name,
            environment: r.environment.parse().map_err(|_| Error::corrupt("unknown environment"))?,
            release_group_id: r.release_group_id.map(Into::into),
            created_at: r.created_at.0,
            connect_return_urls: r.connect_return_urls.0,
            concurrency_limit: r
                .concurrency_limit
                .map(|n| u32::try_from(n).map_err(|_| Error::corrupt("a negative concurrency limit")))
                .transpose()?,
        })
    }
}

for_both_backends! {
    #[async_trait]
    impl ProjectStore for Db {
        async fn create_project(&self, new: NewProject) -> Result<Project> {
            let name = project_name(&new.name)?;
            let mut w = self.write_one().await?;
            let row: ProjectRow = sqlx::query_as(concat!(
                "INSERT INTO projects (id, name, environment, release_group_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING ",
                columns!()
            ))
            .bind(ProjectId::new().as_uuid())
            .bind(&name)
            .bind(new.environment.as_str())
            .bind(new.release_group_id.map(|g| g.as_uuid()))
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write(&format!("the release group already has a {} project", new.environment), "project")?;
            w.commit().await?;
            one(row)
        }

        async fn get_project(&self, id: ProjectId) -> Result<Project> {
            let row: Option<ProjectRow> = sqlx::query_as(concat!("SELECT ", columns!(), " FROM projects WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(self.read())
                .await?;
            one(row.ok_or(Error::NotFound("project"))?)
        }

        async fn list_projects(&self) -> Result<Vec<Project>> {
            let rows: Vec<ProjectRow> =
                sqlx::query_as(concat!("SELECT ", columns!(), " FROM projects ORDER BY created_at, id"))
                    .fetch_all(self.read())
                    .await?;
            convert(rows)
        }

        async fn rename_project(&self, id: ProjectId, name: &str) -> Result<Project> {
            let name = project_name(name)?;
            let mut w = self.write_one().await?;
            let row: Option<ProjectRow> =
                sqlx::query_as(concat!("UPDATE projects SET name = $2 WHERE id = $1 RETURNING ", columns!()))
                    .bind(id.as_uuid())
                    .bind(&name)
                    .fetch_optional(&mut *w)
                    .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("project"))?)
        }

        async fn delete_project(&self, id: ProjectId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM projects WHERE id = $1").bind(id.as_uuid()).execute(&mut *w).await?;
            w.commit().await?;
            found(done.rows_affected(), "project")
        }

        async fn set_connect_return_urls(&self, id: ProjectId, urls: Vec<String>) -> Result<Project> {
            check_return_urls(&urls)?;
            let mut w = self.write_one().await?;
            let row: Option<ProjectRow> = sqlx::query_as(concat!(
                "UPDATE projects SET connect_return_urls = $2 WHERE id = $1 RETURNING ",
                columns!()
            ))
            .bind(id.as_uuid())
            .bind(Json(&urls))
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("project"))?)
        }

        async fn set_concurrency_limit(&self, id: ProjectId, limit: Option<u32>) -> Result<Project> {
            let limit = match limit {
                Some(0) => return Err(Error::Invalid("a concurrency limit is at least 1 (null lifts it)".into())),
                Some(n) => Some(i32::try_from(n).map_err(|_| Error::Invalid("the concurrency limit is too large".into()))?),
                None => None,
            };
            let mut w = self.write_one().await?;
            let row: Option<ProjectRow> = sqlx::query_as(concat!(
                "UPDATE projects SET concurrency_limit = $2 WHERE id = $1 RETURNING ",
                columns!()
            ))
            .bind(id.as_uuid())
            .bind(limit)
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("project"))?)
        }
    }
}
