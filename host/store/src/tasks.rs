//! Task records: one row per unit of billable work (today a Proxy API
//! call), written in batches by a recorder off the request path.

use std::borrow::Cow;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::Ts;
use crate::{CredentialId, IntegrationId, PgStore, ProjectId, Result, SqliteStore};

/// One task as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// Its id.
    pub id: Uuid,
    /// The project it counts against.
    pub project_id: ProjectId,
    /// What ran: `proxy`. (The few fixed words of `kind`, `method` and
    /// `outcome` are borrowed when written, owned when read back.)
    pub kind: Cow<'static, str>,
    /// The connected user it ran for.
    pub user_id: String,
    /// The integration, once known.
    pub integration_id: Option<IntegrationId>,
    /// The credential used, once known.
    pub credential_id: Option<CredentialId>,
    /// The API request id (`X-Request-Id`).
    pub request_id: String,
    /// HTTP method sent.
    pub method: Cow<'static, str>,
    /// Scheme, host and path called (never the query: it may hold a key).
    pub target: String,
    /// The provider's status, or the status Weft answered when the provider
    /// was not called (a refusal, a rate limit, a timeout).
    pub status: u16,
    /// `ok`, `provider_error`, `rate_limited`, `refused`, `timeout`, `failed`.
    pub outcome: Cow<'static, str>,
    /// Wall time spent, in microseconds.
    pub duration_us: u64,
    /// When it started.
    pub created_at: OffsetDateTime,
}

/// Storage of task records.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Inserts a batch in one transaction; rows already stored (same
    /// project, time and id: a batch retried) are skipped.
    async fn insert_task_records(&self, batch: &[TaskRecord]) -> Result<()>;

    /// The project's most recent records, newest first.
    async fn list_task_records(&self, project: ProjectId, limit: u32) -> Result<Vec<TaskRecord>>;

    /// How many records the project has.
    async fn count_task_records(&self, project: ProjectId) -> Result<u64>;
}

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

/// The stored columns, in the order every statement names them.
macro_rules! columns {
    () => {
        "id, project_id, kind, user_id, integration_id, credential_id, request_id, method, target, status, \
         outcome, duration_us, created_at"
    };
}

/// PostgreSQL rows per statement: a batch travels as one JSON array bound
/// to one parameter, so the statement text never changes (it is prepared
/// once per connection) and the server unpacks the rows in one pass.
const ROWS_PER_INSERT: usize = 1024;

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

/// SQLite: the insert run once per record (parameters in column order);
/// a record already stored (a batch retried) is skipped.
const INSERT_SQLITE: &str = concat!(
    "INSERT INTO task_records (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING"
);

impl crate::SqliteStore {
    /// One transaction; the rows go through SQLite's C API (see
    /// `sqlite_rows`), on the writer connection this transaction holds.
    async fn insert_sqlite(&self, batch: &[TaskRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        {
            let mut handle = tx.lock_handle().await?;
            crate::sqlite_rows::insert_task_records(handle.as_raw_handle(), INSERT_SQLITE, batch)?;
        }
        tx.commit().await?;
        Ok(())
    }
}

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

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM task_records WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
);
const COUNT: &str = "SELECT COUNT(*) FROM task_records WHERE project_id = $1";

macro_rules! task_store {
    ($store:ty, $read:ident, $insert:ident) => {
        #[async_trait]
        impl TaskStore for $store {
            async fn insert_task_records(&self, batch: &[TaskRecord]) -> Result<()> {
                if batch.is_empty() {
                    return Ok(());
                }
                self.$insert(batch).await
            }

            async fn list_task_records(&self, project: ProjectId, limit: u32) -> Result<Vec<TaskRecord>> {
                let rows: Vec<TaskRow> = sqlx::query_as(LIST)
                    .bind(project.as_uuid())
                    .bind(i64::from(limit.min(10_000)))
                    .fetch_all(self.$read())
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn count_task_records(&self, project: ProjectId) -> Result<u64> {
                let n: i64 = sqlx::query_scalar(COUNT).bind(project.as_uuid()).fetch_one(self.$read()).await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }
    };
}

impl crate::PgStore {
    async fn insert_pg(&self, batch: &[TaskRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for rows in batch.chunks(ROWS_PER_INSERT) {
            sqlx::query(INSERT_PG).bind(json_rows(rows)?).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

task_store!(SqliteStore, read, insert_sqlite);
task_store!(PgStore, read, insert_pg);
