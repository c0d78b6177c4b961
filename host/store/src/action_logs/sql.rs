//! ActionKit logs in SQL: the row, and [`ActionLogStore`] for both
//! backends, all shared. Entries arrive in batches of at most a few
//! hundred (one per ActionKit call), so a batch is one transaction of
//! one prepared insert per entry; nothing here needs a backend of its own.

use super::{
    ActionCallKind, ActionCallSource, ActionLog, ActionLogQuery, MAX_ACTION_LOGS_PAGE, check_entry, cut_message,
};
use crate::backends::for_both_backends;
use crate::rows::{Ts, convert};
use crate::{ActionLogStore, Error, ProjectId, Result};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use std::borrow::Cow;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ActionLogRow {
    id: Uuid,
    project_id: Uuid,
    created_at: Ts,
    trace_id: String,
    request_id: String,
    user_id: String,
    kind: String,
    source: String,
    integration: Option<String>,
    action: Option<String>,
    status: String,
    http_status: i32,
    error_code: Option<String>,
    error_message: Option<String>,
    duration_us: i64,
    parameters: Option<Json<Value>>,
}

/// The stored columns, in the order every statement names them.
macro_rules! columns {
    () => {
        "id, project_id, created_at, trace_id, request_id, user_id, kind, source, integration, action, status, \
         http_status, error_code, error_message, duration_us, parameters"
    };
}

impl TryFrom<ActionLogRow> for ActionLog {
    type Error = Error;
    fn try_from(r: ActionLogRow) -> Result<Self> {
        Ok(ActionLog {
            id: r.id,
            project_id: r.project_id.into(),
            created_at: r.created_at.0,
            trace_id: r.trace_id,
            request_id: r.request_id,
            user_id: r.user_id,
            kind: ActionCallKind::parse(&r.kind)?,
            source: ActionCallSource::parse(&r.source)?,
            integration: r.integration,
            action: r.action,
            status: r.status.parse().map_err(|_| Error::corrupt("unknown ActionKit log status"))?,
            http_status: u16::try_from(r.http_status).map_err(|_| Error::corrupt("HTTP status"))?,
            error_code: r.error_code,
            error_message: r.error_message,
            duration_us: u64::try_from(r.duration_us).unwrap_or(0),
            parameters: r.parameters.map(|p| p.0),
        })
    }
}

/// Text PostgreSQL accepts: each NUL character (which a caller can send
/// as an action name) becomes U+FFFD, on SQLite too, so both keep the same.
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(s) }
}

/// The filters of a listing: `$1` the project, then the optional user,
/// integration, status, action, trace (or request) id, since and until.
macro_rules! filters {
    () => {
        "project_id = $1 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR integration = $3) \
         AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR action = $5) \
         AND ($6 IS NULL OR trace_id = $6 OR request_id = $6) \
         AND ($7 IS NULL OR created_at >= $7) AND ($8 IS NULL OR created_at < $8)"
    };
}

for_both_backends! {
    #[async_trait]
    impl ActionLogStore for Db {
        async fn insert_action_logs(&self, batch: &[ActionLog]) -> Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            for e in batch {
                check_entry(e)?;
            }
            let mut tx = self.begin_write().await?;
            for e in batch {
                let parameters = e.parameters.clone().map(|mut p| {
                    crate::queue::storable(&mut p);
                    p
                });
                sqlx::query(concat!(
                    "INSERT INTO action_logs (",
                    columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT DO NOTHING"
                ))
                .bind(e.id)
                .bind(e.project_id.as_uuid())
                .bind(Ts(e.created_at))
                .bind(text(&e.trace_id))
                .bind(text(&e.request_id))
                .bind(text(&e.user_id))
                .bind(e.kind.as_str())
                .bind(e.source.as_str())
                .bind(e.integration.as_deref().map(text))
                .bind(e.action.as_deref().map(text))
                .bind(e.status.as_str())
                .bind(i32::from(e.http_status))
                .bind(e.error_code.as_deref().map(text))
                .bind(e.error_message.as_deref().map(|m| text(cut_message(m))))
                .bind(i64::try_from(e.duration_us).unwrap_or(i64::MAX))
                .bind(parameters.map(Json))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn list_action_logs(&self, project: ProjectId, q: &ActionLogQuery) -> Result<Vec<ActionLog>> {
            let offset = i64::try_from(q.offset).map_err(|_| Error::invalid("offset is too large"))?;
            let rows: Vec<ActionLogRow> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM action_logs WHERE ",
                filters!(),
                " ORDER BY created_at DESC, id DESC LIMIT $9 OFFSET $10"
            ))
            .bind(project.as_uuid())
            .bind(&q.user)
            .bind(&q.integration)
            .bind(q.status.map(|s| s.as_str()))
            .bind(&q.action)
            .bind(&q.trace)
            .bind(q.since.map(Ts))
            .bind(q.until.map(Ts))
            .bind(i64::from(q.limit.min(MAX_ACTION_LOGS_PAGE)))
            .bind(offset)
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn purge_action_logs(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
            // Through the primary key, so both backends delete exactly the
            // rows the inner query picked (SQLite's DELETE takes no LIMIT).
            let mut w = self.write_one().await?;
            let deleted = sqlx::query(
                "DELETE FROM action_logs WHERE (project_id, created_at, id) IN \
                 (SELECT project_id, created_at, id FROM action_logs WHERE created_at < $1 \
                  ORDER BY created_at LIMIT $2)",
            )
            .bind(Ts(before))
            .bind(i64::from(limit))
            .execute(&mut *w)
            .await?
            .rows_affected();
            w.commit().await?;
            Ok(deleted)
        }
    }
}
