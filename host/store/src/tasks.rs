//! Task records: one row per unit of billable work (today a Proxy API
//! call), written in batches by a recorder off the request path.

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
    /// What ran: `proxy`.
    pub kind: String,
    /// The connected user it ran for.
    pub user_id: String,
    /// The integration, once known.
    pub integration_id: Option<IntegrationId>,
    /// The credential used, once known.
    pub credential_id: Option<CredentialId>,
    /// The API request id (`X-Request-Id`).
    pub request_id: String,
    /// HTTP method sent.
    pub method: String,
    /// Scheme, host and path called (never the query: it may hold a key).
    pub target: String,
    /// The provider's status, or the status Weft answered when the provider
    /// was not called (a refusal, a rate limit, a timeout).
    pub status: u16,
    /// `ok`, `provider_error`, `rate_limited`, `refused`, `timeout`, `failed`.
    pub outcome: String,
    /// Wall time spent, in microseconds.
    pub duration_us: u64,
    /// When it started.
    pub created_at: OffsetDateTime,
}

/// Storage of task records.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Inserts a batch in one transaction.
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
            kind: r.kind,
            user_id: r.user_id,
            integration_id: r.integration_id.map(Into::into),
            credential_id: r.credential_id.map(Into::into),
            request_id: r.request_id,
            method: r.method,
            target: r.target,
            status: u16::try_from(r.status).unwrap_or(0),
            outcome: r.outcome,
            duration_us: u64::try_from(r.duration_us).unwrap_or(0),
            created_at: r.created_at.0,
        }
    }
}

/// Rows per `INSERT` statement: one statement per chunk keeps a batch to a
/// few round trips to the database (13 values a row stays far below both
/// backends' limits on bound parameters).
const ROWS_PER_INSERT: usize = 256;

/// Appends one multi-row insert of `rows` to `qb`.
fn push_insert<'a, DB>(qb: &mut sqlx::QueryBuilder<'a, DB>, rows: &'a [TaskRecord])
where
    DB: sqlx::Database,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<Uuid>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Ts: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push(
        "INSERT INTO task_records (id, project_id, kind, user_id, integration_id, credential_id, \
         request_id, method, target, status, outcome, duration_us, created_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        b.push_bind(r.id)
            .push_bind(r.project_id.as_uuid())
            .push_bind(r.kind.as_str())
            .push_bind(r.user_id.as_str())
            .push_bind(r.integration_id.map(|i| i.as_uuid()))
            .push_bind(r.credential_id.map(|c| c.as_uuid()))
            .push_bind(r.request_id.as_str())
            .push_bind(r.method.as_str())
            .push_bind(r.target.as_str())
            .push_bind(i32::from(r.status))
            .push_bind(r.outcome.as_str())
            .push_bind(i64::try_from(r.duration_us).unwrap_or(i64::MAX))
            .push_bind(Ts(r.created_at));
    });
    qb.push(" ON CONFLICT (id) DO NOTHING");
}

const LIST: &str = "SELECT id, project_id, kind, user_id, integration_id, credential_id, request_id, method, target, \
     status, outcome, duration_us, created_at FROM task_records WHERE project_id = $1 \
     ORDER BY created_at DESC, id DESC LIMIT $2";
const COUNT: &str = "SELECT COUNT(*) FROM task_records WHERE project_id = $1";

macro_rules! task_store {
    ($store:ty, $begin:ident, $read:ident) => {
        #[async_trait]
        impl TaskStore for $store {
            async fn insert_task_records(&self, batch: &[TaskRecord]) -> Result<()> {
                if batch.is_empty() {
                    return Ok(());
                }
                let mut tx = self.$begin().await?;
                for rows in batch.chunks(ROWS_PER_INSERT) {
                    let mut qb = sqlx::QueryBuilder::new("");
                    push_insert(&mut qb, rows);
                    // Statements of varying row counts: not worth caching.
                    qb.build().persistent(false).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
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

task_store!(SqliteStore, begin_write, read);
task_store!(PgStore, begin, pool);
