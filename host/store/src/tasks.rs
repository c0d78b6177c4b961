//! Task records: one row per unit of billable work (today a Proxy API
//! call), written in batches by a recorder off the request path; and the
//! project's task usage, those records together with the tasks its workflow
//! executions counted ([`TaskStore::task_usage`]).

mod sql;

use std::borrow::Cow;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{CredentialId, IntegrationId, ProjectId, Result};

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

/// One connected user's tasks over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUsage {
    /// The user (`None`: executions that ran for no user).
    pub user: Option<String>,
    /// Tasks counted by workflow steps (successful Integration, Request
    /// and Function steps, each fan-out iteration's included).
    pub workflow_tasks: u64,
    /// Proxy API calls.
    pub proxy_tasks: u64,
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

    /// The project's tasks per user from executions started and proxy calls
    /// made in `[from, to)`, ordered by user; only `user`'s when given.
    async fn task_usage(
        &self,
        project: ProjectId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        user: Option<&str>,
    ) -> Result<Vec<TaskUsage>>;
}
