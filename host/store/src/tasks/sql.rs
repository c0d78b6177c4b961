//! Task records in SQL: the row, [`TaskStore`] for both backends, and the
//! batch insert, which each backend does its own way because it is the
//! hottest write Weft has (every Proxy API call adds a record).
//!
//! SQLite inserts through its C API (`sql/sqlite_insert.rs`: one prepared
//! statement re-bound per record, values read in place). PostgreSQL gets a
//! whole batch as one JSON array bound to one parameter. Listing and
//! counting are shared.

mod sqlite_insert;

use crate::backends::for_both_backends;
use crate::rows::Ts;
use crate::{PgStore, ProjectId, Result, SqliteStore, TaskRecord, TaskStore, TaskUsage};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    project_id: Uuid,
    kind: String,
    user_id: String,
    integration_id: Option<Uuid>,
    credential_id: Option<Uuid>,
    request_id: String,
    method: String,
    target: String,
    status: i32,
    outcome: String,
    duration_us: i64,
    created_at: Ts,
}

/// The stored columns, in the order every statement names them (and the
/// SQLite insert binds them).
macro_rules! columns {
    () => {
        "id, project_id, kind, user_id, integration_id, credential_id, request_id, method, target, status, \
         outcome, duration_us, created_at"
    };
}

impl From<TaskRow> for TaskRecord {
    fn from(r: TaskRow) -> Self {
        TaskRecord {
            id: r.id,
            project_id: r.project_id.into(),
            kind: r.kind.into(),
            user_id: r.user_id,
            integration_id: r.integration_id.map(Into::into),
            credential_id: r.credential_id.map(Into::into),
            request_id: r.request_id,
            method: r.method.into(),
            target: r.target,
            status: u16::try_from(r.status).unwrap_or(0),
            outcome: r.outcome.into(),
            duration_us: u64::try_from(r.duration_us).unwrap_or(0),
            created_at: r.created_at.0,
        }
    }
}

for_both_backends! {
    #[async_trait]
    impl TaskStore for Db {
        async fn insert_task_records(&self, batch: &[TaskRecord]) -> Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            self.insert_task_batch(batch).await
        }

        async fn list_task_records(&self, project: ProjectId, limit: u32) -> Result<Vec<TaskRecord>> {
            let rows: Vec<TaskRow> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM task_records WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(project.as_uuid())
            .bind(i64::from(limit.min(10_000)))
            .fetch_all(self.read())
            .await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn count_task_records(&self, project: ProjectId) -> Result<u64> {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM task_records WHERE project_id = $1")
                .bind(project.as_uuid())
                .fetch_one(self.read())
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        }

        async fn task_usage(
            &self,
            project: ProjectId,
            from: OffsetDateTime,
            to: OffsetDateTime,
            user: Option<&str>,
        ) -> Result<Vec<TaskUsage>> {
            let rows: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
                "SELECT user_id, CAST(SUM(w) AS BIGINT), CAST(SUM(p) AS BIGINT) FROM ( \
                 SELECT user_id, tasks AS w, 0 AS p FROM executions \
                 WHERE project_id = $1 AND created_at >= $2 AND created_at < $3 AND tasks > 0 \
                 UNION ALL SELECT user_id, 0, 1 FROM task_records \
                 WHERE project_id = $1 AND created_at >= $2 AND created_at < $3) u \
                 WHERE $4 IS NULL OR user_id = $4 GROUP BY user_id ORDER BY user_id",
            )
            .bind(project.as_uuid())
            .bind(Ts(from))
            .bind(Ts(to))
            .bind(user)
            .fetch_all(self.read())
            .await?;
            Ok(rows
                .into_iter()
                .map(|(user, w, p)| TaskUsage {
                    user,
                    workflow_tasks: u64::try_from(w).unwrap_or(0),
                    proxy_tasks: u64::try_from(p).unwrap_or(0),
                })
                .collect())
        }
    }
}

/// SQLite: the insert run once per record (parameters in column order);
/// a record already stored (a batch retried) is skipped.
const INSERT_SQLITE: &str = concat!(
    "INSERT INTO task_records (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING"
);

impl SqliteStore {
    /// One transaction; the rows go through SQLite's C API (see
    /// `sqlite_insert`), on the writer connection this transaction holds.
    async fn insert_task_batch(&self, batch: &[TaskRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        {
            let mut handle = tx.lock_handle().await?;
            sqlite_insert::insert_task_records(handle.as_raw_handle(), INSERT_SQLITE, batch)?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// PostgreSQL rows per statement: a batch travels as one JSON array bound
/// to one parameter, so the statement text never changes (it is prepared
/// once per connection) and the server unpacks the rows in one pass.
const ROWS_PER_INSERT: usize = 1024;

/// PostgreSQL: the rows of `jsonb_to_recordset`, typed by its column list.
const INSERT_PG: &str = concat!(
    "INSERT INTO task_records (",
    columns!(),
    ") SELECT ",
    columns!(),
    " FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, project_id uuid, kind text, user_id text, \
     integration_id uuid, credential_id uuid, request_id text, method text, target text, status integer, \
     outcome text, duration_us bigint, created_at timestamptz) ON CONFLICT DO NOTHING"
);

impl PgStore {
    /// One transaction of as many JSON-array statements as the batch needs.
    async fn insert_task_batch(&self, batch: &[TaskRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for rows in batch.chunks(ROWS_PER_INSERT) {
            sqlx::query(INSERT_PG).bind(json_rows(rows)?).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// One row as PostgreSQL's insert reads it from JSON.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    id: uuid::fmt::Simple,
    project_id: uuid::fmt::Simple,
    kind: &'a str,
    user_id: &'a str,
    integration_id: Option<uuid::fmt::Simple>,
    credential_id: Option<uuid::fmt::Simple>,
    request_id: &'a str,
    method: &'a str,
    target: &'a str,
    status: u16,
    outcome: &'a str,
    duration_us: i64,
    created_at: String,
}

/// The batch as a JSON array.
fn json_rows(rows: &[TaskRecord]) -> Result<String> {
    let rows: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|r| {
            let created_at = r
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| crate::Error::Invalid(format!("timestamp: {e}")))?;
            Ok(JsonRow {
                id: r.id.simple(),
                project_id: r.project_id.as_uuid().simple(),
                kind: &r.kind,
                user_id: &r.user_id,
                integration_id: r.integration_id.map(|i| i.as_uuid().simple()),
                credential_id: r.credential_id.map(|c| c.as_uuid().simple()),
                request_id: &r.request_id,
                method: &r.method,
                target: &r.target,
                status: r.status,
                outcome: &r.outcome,
                duration_us: i64::try_from(r.duration_us).unwrap_or(i64::MAX),
                created_at,
            })
        })
        .collect::<Result<_>>()?;
    serde_json::to_string(&rows).map_err(|e| crate::Error::Invalid(format!("task records: {e}")))
}
