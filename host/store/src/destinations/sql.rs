//! Event destinations in SQL: the rows, and [`EventDestinationStore`] for
//! both backends. Only the claim of due deliveries differs: PostgreSQL
//! skips the rows another process is claiming (`SKIP LOCKED`), SQLite's
//! single writer needs nothing.

use std::collections::{BTreeMap, HashMap};

use super::{
    AttemptOutcome, AttemptRecorded, ClaimedDelivery, Delivery, DeliveryId, DeliveryState, Destination,
    DestinationConfig, DestinationId, MAX_DESTINATIONS_PAGE, check_config,
};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::rows::{Ts, convert};
use crate::{Error, EventDestinationStore, PgStore, ProjectEvent, ProjectId, Result, SqliteStore};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct DestinationRow {
    id: Uuid,
    project_id: Uuid,
    kind: String,
    url: String,
    headers: Json<BTreeMap<String, String>>,
    sealed_headers: Option<Vec<u8>>,
    payload: Option<Json<Value>>,
    events: Json<Vec<String>>,
    enabled: bool,
    consecutive_failures: i32,
    disabled_reason: Option<String>,
    disabled_at: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

/// The columns [`DestinationRow`] decodes.
macro_rules! destination_columns {
    () => {
        "id, project_id, kind, url, headers, sealed_headers, payload, events, enabled, consecutive_failures, \
         disabled_reason, disabled_at, created_at, updated_at"
    };
}

impl From<DestinationRow> for Destination {
    fn from(r: DestinationRow) -> Self {
        Destination {
            id: r.id.into(),
            project_id: r.project_id.into(),
            kind: r.kind,
            url: r.url,
            headers: r.headers.0,
            sealed_headers: r.sealed_headers,
            payload: r.payload.map(|p| p.0),
            events: r.events.0,
            enabled: r.enabled,
            consecutive_failures: u32::try_from(r.consecutive_failures).unwrap_or(0),
            disabled_reason: r.disabled_reason,
            disabled_at: r.disabled_at.map(|t| t.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    project_id: Uuid,
    destination_id: Uuid,
    event_id: Uuid,
    event_type: String,
    event: Json<Value>,
    state: String,
    attempts: i32,
    next_attempt_at: Ts,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

/// The columns [`DeliveryRow`] decodes.
macro_rules! delivery_columns {
    () => {
        "id, project_id, destination_id, event_id, event_type, event, state, attempts, next_attempt_at, \
         last_status, last_error, created_at, updated_at"
    };
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = Error;
    fn try_from(r: DeliveryRow) -> Result<Self> {
        Ok(Delivery {
            id: r.id.into(),
            project_id: r.project_id.into(),
            destination_id: r.destination_id.into(),
            event_id: r.event_id,
            event_type: r.event_type,
            event: r.event.0,
            state: DeliveryState::parse(&r.state)?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            next_attempt_at: r.next_attempt_at.0,
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PendingEventRow {
    id: Uuid,
    project_id: Uuid,
    event_type: String,
    payload: Json<Map<String, Value>>,
    created_at: Ts,
}

impl From<PendingEventRow> for ProjectEvent {
    fn from(r: PendingEventRow) -> Self {
        ProjectEvent {
            id: r.id,
            project_id: r.project_id.into(),
            event_type: r.event_type,
            payload: r.payload.0,
            created_at: r.created_at.0,
        }
    }
}

/// The deliveries due at `$1`, oldest due first, at most `$4`, whose
/// destination is enabled.
macro_rules! due_deliveries {
    () => {
        "SELECT d.id FROM event_deliveries d JOIN event_destinations t ON t.id = d.destination_id \
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
         AND (d.lease_until IS NULL OR d.lease_until <= $1) AND t.enabled \
         ORDER BY d.next_attempt_at LIMIT $4"
    };
}

/// Claims the due deliveries: `$2` the lease token, `$3` its expiry.
macro_rules! claim_deliveries {
    ($due:expr) => {
        concat!(
            "UPDATE event_deliveries SET lease_token = $2, lease_until = $3, attempts = attempts + 1, \
             updated_at = $1 WHERE id IN (",
            $due,
            ") RETURNING ",
            delivery_columns!()
        )
    };
}

impl SqliteStore {
    /// The claim: the single writer keeps every other claim out.
    const CLAIM_DELIVERIES: &str = claim_deliveries!(due_deliveries!());
}

impl PgStore {
    /// The claim: rows another process is claiming are skipped, not waited for.
    const CLAIM_DELIVERIES: &str = claim_deliveries!(concat!(due_deliveries!(), " FOR UPDATE OF d SKIP LOCKED"));
}

/// An error message as stored: at most 2,000 characters, no NUL.
fn stored_error(message: &str) -> String {
    message.chars().take(2000).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()
}

for_both_backends! {
    /// Disables destination `id`, dropping its pending deliveries.
    async fn disable(conn: &mut Conn, id: Uuid, reason: &str, now: Ts) -> Result<()> {
        sqlx::query(
            "UPDATE event_destinations SET enabled = $2, disabled_reason = $3, disabled_at = $4, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(false)
        .bind(stored_error(reason))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE event_deliveries SET state = 'dropped', lease_token = NULL, lease_until = NULL, updated_at = $2 \
             WHERE destination_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Destination `id` as it is inside the transaction.
    async fn destination(conn: &mut Conn, id: Uuid) -> Result<Option<Destination>> {
        let row: Option<DestinationRow> =
            sqlx::query_as(concat!("SELECT ", destination_columns!(), " FROM event_destinations WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(row.map(Into::into))
    }

    #[async_trait]
    impl EventDestinationStore for Db {
        async fn create_destination_with_id(
            &self,
            project: ProjectId,
            id: DestinationId,
            config: DestinationConfig,
        ) -> Result<Destination> {
            check_config(&config)?;
            let mut w = self.write_one().await?;
            let at = Ts(now());
            let row: DestinationRow = sqlx::query_as(concat!(
                "INSERT INTO event_destinations (id, project_id, kind, url, headers, payload, events, enabled, \
                 created_at, updated_at, sealed_headers) VALUES ($1, $2, 'webhook', $3, $4, $5, $6, $7, $8, $8, $9) \
                 RETURNING ",
                destination_columns!()
            ))
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(&config.url)
            .bind(Json(&config.headers))
            .bind(config.payload.as_ref().map(Json))
            .bind(Json(&config.events))
            .bind(true)
            .bind(at)
            .bind(config.sealed_headers.as_deref())
            .fetch_one(&mut *w)
            .await
            .on_write("destination exists", "project")?;
            w.commit().await?;
            Ok(row.into())
        }

        async fn list_destinations(&self, project: ProjectId) -> Result<Vec<Destination>> {
            let rows: Vec<DestinationRow> = sqlx::query_as(concat!(
                "SELECT ",
                destination_columns!(),
                " FROM event_destinations WHERE project_id = $1 ORDER BY created_at, id LIMIT $2"
            ))
            .bind(project.as_uuid())
            .bind(i64::from(MAX_DESTINATIONS_PAGE))
            .fetch_all(self.read())
            .await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn get_destination(&self, project: ProjectId, id: DestinationId) -> Result<Destination> {
            let row: Option<DestinationRow> = sqlx::query_as(concat!(
                "SELECT ",
                destination_columns!(),
                " FROM event_destinations WHERE project_id = $1 AND id = $2"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.read())
            .await?;
            Ok(row.ok_or(Error::NotFound("event destination"))?.into())
        }

        async fn update_destination(
            &self,
            project: ProjectId,
            id: DestinationId,
            config: DestinationConfig,
        ) -> Result<Destination> {
            check_config(&config)?;
            let mut w = self.write_one().await?;
            let row: Option<DestinationRow> = sqlx::query_as(concat!(
                "UPDATE event_destinations SET url = $3, headers = $4, payload = $5, events = $6, updated_at = $7, \
                 sealed_headers = $8 WHERE project_id = $1 AND id = $2 RETURNING ",
                destination_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(&config.url)
            .bind(Json(&config.headers))
            .bind(config.payload.as_ref().map(Json))
            .bind(Json(&config.events))
            .bind(Ts(now()))
            .bind(config.sealed_headers.as_deref())
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            Ok(row.ok_or(Error::NotFound("event destination"))?.into())
        }

        async fn set_destination_enabled(
            &self,
            project: ProjectId,
            id: DestinationId,
            enabled: bool,
            reason: &str,
        ) -> Result<Destination> {
            let mut tx = self.begin_write().await?;
            let at = Ts(now());
            let owned: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM event_destinations WHERE project_id = $1 AND id = $2")
                    .bind(project.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(owned) = owned else { return Err(Error::NotFound("event destination")) };
            if enabled {
                sqlx::query(
                    "UPDATE event_destinations SET enabled = $2, consecutive_failures = 0, disabled_reason = NULL, \
                     disabled_at = NULL, updated_at = $3 WHERE id = $1",
                )
                .bind(owned)
                .bind(true)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            } else {
                disable(&mut tx, owned, reason, at).await?;
            }
            let changed = destination(&mut tx, owned).await?.ok_or(Error::NotFound("event destination"))?;
            tx.commit().await?;
            Ok(changed)
        }

        async fn delete_destination(&self, project: ProjectId, id: DestinationId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM event_destinations WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "event destination")
        }

        async fn pending_events(&self, limit: u32) -> Result<Vec<ProjectEvent>> {
            // Every project's: the dispatcher serves them all.
            let rows: Vec<PendingEventRow> = sqlx::query_as(
                "SELECT id, project_id, event_type, payload, created_at FROM project_events \
                 WHERE dispatched_at IS NULL ORDER BY created_at, id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(self.read())
            .await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn dispatch_event(&self, event: &ProjectEvent, body: &Value, now: OffsetDateTime) -> Result<u32> {
            crate::check::json_size("an event", body)?;
            let mut tx = self.begin_write().await?;
            let at = Ts(now);
            let marked = sqlx::query(
                "UPDATE project_events SET dispatched_at = $3 \
                 WHERE project_id = $1 AND id = $2 AND dispatched_at IS NULL",
            )
            .bind(event.project_id.as_uuid())
            .bind(event.id)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if marked == 0 {
                return Ok(0);
            }
            let destinations: Vec<DestinationRow> = sqlx::query_as(concat!(
                "SELECT ",
                destination_columns!(),
                " FROM event_destinations WHERE project_id = $1 AND enabled = $2"
            ))
            .bind(event.project_id.as_uuid())
            .bind(true)
            .fetch_all(&mut *tx)
            .await?;
            let mut queued = 0;
            for d in destinations.into_iter().filter(|d| d.events.0.contains(&event.event_type)) {
                queued += sqlx::query(
                    "INSERT INTO event_deliveries (id, project_id, destination_id, event_id, event_type, event, \
                     state, attempts, next_attempt_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) ON CONFLICT DO NOTHING",
                )
                .bind(DeliveryId::new().as_uuid())
                .bind(event.project_id.as_uuid())
                .bind(d.id)
                .bind(event.id)
                .bind(&event.event_type)
                .bind(Json(body))
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(u32::try_from(queued).unwrap_or(u32::MAX))
        }

        async fn claim_deliveries(
            &self,
            now: OffsetDateTime,
            lease: std::time::Duration,
            limit: u32,
        ) -> Result<Vec<ClaimedDelivery>> {
            let token = Uuid::new_v4();
            let until = now + time::Duration::try_from(lease).unwrap_or(time::Duration::MINUTE);
            let mut tx = self.begin_write().await?;
            let rows: Vec<DeliveryRow> = sqlx::query_as(Db::CLAIM_DELIVERIES)
                .bind(Ts(now))
                .bind(token)
                .bind(Ts(until))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let deliveries: Vec<Delivery> = convert(rows)?;
            let mut destinations: HashMap<DestinationId, Destination> = HashMap::new();
            let mut claimed = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                let id = delivery.destination_id;
                let dest = match destinations.entry(id) {
                    std::collections::hash_map::Entry::Occupied(known) => known.get().clone(),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        // The join above saw it; a delete would have taken the delivery too.
                        let found = destination(&mut tx, id.as_uuid()).await?;
                        slot.insert(found.ok_or(Error::NotFound("event destination"))?).clone()
                    }
                };
                claimed.push(ClaimedDelivery { delivery, destination: dest, token });
            }
            tx.commit().await?;
            Ok(claimed)
        }

        async fn record_attempt(
            &self,
            claimed: &ClaimedDelivery,
            outcome: AttemptOutcome,
            disable_after: u32,
            now: OffsetDateTime,
        ) -> Result<AttemptRecorded> {
            let d = &claimed.delivery;
            let at = Ts(now);
            let (state, retry_at, status, error) = match &outcome {
                AttemptOutcome::Delivered { status } => (DeliveryState::Delivered, None, Some(*status), None),
                AttemptOutcome::Failed { status, error, retry_at } => {
                    let state = if retry_at.is_some() { DeliveryState::Pending } else { DeliveryState::Failed };
                    (state, *retry_at, *status, Some(stored_error(error)))
                }
            };
            let mut tx = self.begin_write().await?;
            let destination_id: Option<Uuid> = sqlx::query_scalar(
                "UPDATE event_deliveries SET state = $4, next_attempt_at = COALESCE($5, next_attempt_at), \
                 last_status = $6, last_error = $7, lease_token = NULL, lease_until = NULL, updated_at = $8 \
                 WHERE project_id = $1 AND id = $2 AND lease_token = $3 AND state = 'pending' \
                 RETURNING destination_id",
            )
            .bind(d.project_id.as_uuid())
            .bind(d.id.as_uuid())
            .bind(claimed.token)
            .bind(state.as_str())
            .bind(retry_at.map(Ts))
            .bind(status.map(i32::from))
            .bind(error)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(destination_id) = destination_id else { return Err(Error::LeaseLost) };
            if matches!(outcome, AttemptOutcome::Delivered { .. }) {
                sqlx::query("UPDATE event_destinations SET consecutive_failures = 0 WHERE id = $1")
                    .bind(destination_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(AttemptRecorded { consecutive_failures: 0, disabled: false });
            }
            let (failures, enabled): (i32, bool) = sqlx::query_as(
                "UPDATE event_destinations SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 \
                 RETURNING consecutive_failures, enabled",
            )
            .bind(destination_id)
            .fetch_one(&mut *tx)
            .await?;
            let failures = u32::try_from(failures).unwrap_or(0);
            let disabled = enabled && disable_after > 0 && failures >= disable_after;
            if disabled {
                let last = status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
                let reason = format!("disabled after {failures} failed deliveries in a row (the last: {last})");
                disable(&mut tx, destination_id, &reason, at).await?;
            }
            tx.commit().await?;
            Ok(AttemptRecorded { consecutive_failures: failures, disabled })
        }

        async fn list_deliveries(&self, project: ProjectId, id: DestinationId, limit: u32) -> Result<Vec<Delivery>> {
            let rows: Vec<DeliveryRow> = sqlx::query_as(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM event_deliveries WHERE project_id = $1 AND destination_id = $2 \
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(i64::from(limit.clamp(1, MAX_DESTINATIONS_PAGE)))
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn purge_event_outbox(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
            let mut tx = self.begin_write().await?;
            let deliveries = sqlx::query(
                "DELETE FROM event_deliveries WHERE id IN (SELECT id FROM event_deliveries \
                 WHERE state <> 'pending' AND updated_at < $1 LIMIT $2)",
            )
            .bind(Ts(before))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let events = sqlx::query(
                "DELETE FROM project_events WHERE id IN (SELECT id FROM project_events \
                 WHERE dispatched_at IS NOT NULL AND dispatched_at < $1 LIMIT $2)",
            )
            .bind(Ts(before))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(deliveries + events)
        }
    }
}
