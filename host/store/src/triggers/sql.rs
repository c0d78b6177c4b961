//! Integration triggers in SQL: the rows, and [`TriggerStore`] for both
//! backends. Only the poll claim differs: PostgreSQL skips the rows another
//! process is claiming, SQLite's single writer needs no lock.

use super::{
    NewSubscription, NewTriggerEvent, PollClaim, Subscription, SubscriptionId, SubscriptionKind, SubscriptionScope,
    SubscriptionStatus, SubscriptionUpdate, TriggerEvent, TriggerEventId, check_config, check_cursor, check_event,
    check_event_key, check_trigger,
};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::rows::{Ts, convert, one};
use crate::{CredentialId, Error, IntegrationId, PgStore, ProjectId, Result, SqliteStore, TriggerStore};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: Uuid,
    project_id: Uuid,
    integration_id: Uuid,
    workflow_id: Option<Uuid>,
    scope: String,
    credential_id: Uuid,
    user_id: String,
    trigger_key: String,
    kind: String,
    config: Json<Value>,
    state: Option<Json<Value>>,
    persisted: Option<Vec<u8>>,
    status: String,
    last_error: Option<String>,
    attempts: i32,
    cursor: Option<String>,
    interval_secs: Option<i32>,
    next_run_at: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

/// The columns [`SubscriptionRow`] decodes.
macro_rules! subscription_columns {
    () => {
        "id, project_id, integration_id, workflow_id, scope, credential_id, user_id, trigger_key, kind, config, \
         state, persisted, status, last_error, attempts, cursor, interval_secs, next_run_at, created_at, updated_at"
    };
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = Error;
    fn try_from(r: SubscriptionRow) -> Result<Self> {
        Ok(Subscription {
            id: r.id.into(),
            project: r.project_id.into(),
            integration: r.integration_id.into(),
            workflow: r.workflow_id.map(Into::into),
            scope: SubscriptionScope::parse(&r.scope)?,
            credential: r.credential_id.into(),
            user: r.user_id,
            trigger: r.trigger_key,
            kind: SubscriptionKind::parse(&r.kind)?,
            config: r.config.0,
            state: r.state.map(|s| s.0),
            persisted: r.persisted,
            status: SubscriptionStatus::parse(&r.status)?,
            last_error: r.last_error,
            attempts: u32::try_from(r.attempts).map_err(|_| Error::corrupt("negative attempts"))?,
            cursor: r.cursor,
            interval_secs: r.interval_secs.map(u32::try_from).transpose().map_err(|_| Error::corrupt("interval"))?,
            next_run_at: r.next_run_at.map(|t| t.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    project_id: Uuid,
    integration_id: Uuid,
    subscription_id: Option<Uuid>,
    trigger_key: String,
    routing_key: Option<String>,
    dedupe_key: Option<String>,
    payload: Json<Value>,
    occurred_at: Option<Ts>,
    received_at: Ts,
    routed_at: Option<Ts>,
}

/// The columns [`EventRow`] decodes.
macro_rules! event_columns {
    () => {
        "id, project_id, integration_id, subscription_id, trigger_key, routing_key, dedupe_key, payload, \
         occurred_at, received_at, routed_at"
    };
}

impl From<EventRow> for TriggerEvent {
    fn from(r: EventRow) -> Self {
        TriggerEvent {
            id: r.id.into(),
            project: r.project_id.into(),
            integration: r.integration_id.into(),
            subscription: r.subscription_id.map(Into::into),
            trigger: r.trigger_key,
            routing_key: r.routing_key,
            dedupe_key: r.dedupe_key,
            payload: r.payload.0,
            occurred_at: r.occurred_at.map(|t| t.0),
            received_at: r.received_at.0,
            routed_at: r.routed_at.map(|t| t.0),
        }
    }
}

/// An event's de-duplication scope: its subscription, or the app-wide
/// webhook's `''`.
fn scope(subscription: Option<SubscriptionId>) -> String {
    subscription.map(|s| s.to_string()).unwrap_or_default()
}

for_both_backends! {
    /// Stores `events` inside a write, skipping seen dedupe keys.
    async fn insert_events(
        conn: &mut Conn,
        project: ProjectId,
        integration: IntegrationId,
        events: Vec<NewTriggerEvent>,
        now: Ts,
    ) -> Result<Vec<Option<TriggerEventId>>> {
        let mut ids = Vec::with_capacity(events.len());
        for mut e in events {
            check_event(&mut e)?;
            let id = TriggerEventId::new();
            let done = sqlx::query(
                "INSERT INTO trigger_events (id, project_id, integration_id, scope, subscription_id, trigger_key, \
                 routing_key, dedupe_key, payload, occurred_at, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (project_id, integration_id, scope, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
            )
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(integration.as_uuid())
            .bind(scope(e.subscription))
            .bind(e.subscription.map(|s| s.as_uuid()))
            .bind(&e.trigger)
            .bind(&e.routing_key)
            .bind(&e.dedupe_key)
            .bind(Json(&e.payload))
            .bind(e.occurred_at.map(Ts))
            .bind(now)
            .execute(&mut *conn)
            .await
            .on_write("trigger event", "integration")?;
            ids.push((done.rows_affected() == 1).then_some(id));
        }
        Ok(ids)
    }

    #[async_trait]
    impl TriggerStore for Db {
        async fn set_routing_keys(&self, project: ProjectId, credential: CredentialId, keys: &[String]) -> Result<()> {
            for k in keys {
                check_event_key("routing key", k)?;
            }
            let mut tx = self.begin_write().await?;
            let integration: Option<Uuid> =
                sqlx::query_scalar("SELECT integration_id FROM credentials WHERE id = $1 AND project_id = $2")
                    .bind(credential.as_uuid())
                    .bind(project.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
            let integration = integration.ok_or(Error::NotFound("credential"))?;
            sqlx::query("DELETE FROM credential_routing_keys WHERE credential_id = $1")
                .bind(credential.as_uuid())
                .execute(&mut *tx)
                .await?;
            for k in keys {
                sqlx::query(
                    "INSERT INTO credential_routing_keys (project_id, integration_id, routing_key, credential_id) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(project.as_uuid())
                .bind(integration)
                .bind(k)
                .bind(credential.as_uuid())
                .execute(&mut *tx)
                .await
                .on_write("", "credential")?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn credentials_by_routing_key(
            &self,
            project: ProjectId,
            integration: IntegrationId,
            key: &str,
        ) -> Result<Vec<CredentialId>> {
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "SELECT credential_id FROM credential_routing_keys \
                 WHERE project_id = $1 AND integration_id = $2 AND routing_key = $3 ORDER BY credential_id",
            )
            .bind(project.as_uuid())
            .bind(integration.as_uuid())
            .bind(key)
            .fetch_all(self.read())
            .await?;
            Ok(ids.into_iter().map(Into::into).collect())
        }

        async fn create_subscription(
            &self,
            project: ProjectId,
            new: NewSubscription,
            now: OffsetDateTime,
        ) -> Result<Subscription> {
            check_trigger(&new.trigger)?;
            check_config(&new.config)?;
            let mut tx = self.begin_write().await?;
            // The account names the user, and must be of this project and
            // integration; so must the workflow.
            let user: Option<String> = sqlx::query_scalar(
                "SELECT user_id FROM credentials WHERE id = $1 AND project_id = $2 AND integration_id = $3",
            )
            .bind(new.credential.as_uuid())
            .bind(project.as_uuid())
            .bind(new.integration.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
            let user = user.ok_or(Error::NotFound("credential"))?;
            if new.workflow.is_some() != (new.scope == SubscriptionScope::Workflow) {
                return Err(Error::invalid("a workflow's subscription names its workflow; a shared one names none"));
            }
            if let Some(workflow) = new.workflow {
                let found: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM workflows WHERE id = $1 AND project_id = $2")
                        .bind(workflow.as_uuid())
                        .bind(project.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                found.ok_or(Error::NotFound("workflow"))?;
            }
            let row: SubscriptionRow = sqlx::query_as(concat!(
                "INSERT INTO trigger_subscriptions (id, project_id, integration_id, workflow_id, scope, credential_id, \
                 user_id, trigger_key, kind, config, status, interval_secs, next_run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING ",
                subscription_columns!()
            ))
            .bind(SubscriptionId::new().as_uuid())
            .bind(project.as_uuid())
            .bind(new.integration.as_uuid())
            .bind(new.workflow.map(|w| w.as_uuid()))
            .bind(new.scope.as_str())
            .bind(new.credential.as_uuid())
            .bind(user)
            .bind(&new.trigger)
            .bind(new.kind.as_str())
            .bind(Json(&new.config))
            .bind(new.status.as_str())
            .bind(new.interval_secs.map(|s| i32::try_from(s).unwrap_or(i32::MAX)))
            .bind(new.next_run_at.map(Ts))
            .bind(Ts(now))
            .fetch_one(&mut *tx)
            .await
            .on_write("the trigger already has a subscription in this place", "integration")?;
            tx.commit().await?;
            one(row)
        }

        async fn get_subscription(&self, project: ProjectId, id: SubscriptionId) -> Result<Subscription> {
            let row: Option<SubscriptionRow> = sqlx::query_as(concat!(
                "SELECT ",
                subscription_columns!(),
                " FROM trigger_subscriptions WHERE id = $1 AND project_id = $2"
            ))
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .fetch_optional(self.read())
            .await?;
            one(row.ok_or(Error::NotFound("subscription"))?)
        }

        async fn list_subscriptions(&self, project: ProjectId, user: Option<&str>) -> Result<Vec<Subscription>> {
            let rows: Vec<SubscriptionRow> = sqlx::query_as(concat!(
                "SELECT ",
                subscription_columns!(),
                " FROM trigger_subscriptions WHERE project_id = $1 AND ($2 IS NULL OR user_id = $2) \
                 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .bind(user)
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn subscriptions_for(
            &self,
            project: ProjectId,
            integration: IntegrationId,
            trigger: &str,
            credentials: &[CredentialId],
        ) -> Result<Vec<Subscription>> {
            let mut out = Vec::new();
            for c in credentials {
                let rows: Vec<SubscriptionRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    subscription_columns!(),
                    " FROM trigger_subscriptions WHERE project_id = $1 AND integration_id = $2 \
                     AND trigger_key = $3 AND credential_id = $4 AND status = 'ACTIVE' ORDER BY created_at, id"
                ))
                .bind(project.as_uuid())
                .bind(integration.as_uuid())
                .bind(trigger)
                .bind(c.as_uuid())
                .fetch_all(self.read())
                .await?;
                out.extend(convert::<_, Subscription>(rows)?);
            }
            Ok(out)
        }

        async fn update_subscription(
            &self,
            project: ProjectId,
            id: SubscriptionId,
            update: SubscriptionUpdate,
            now: OffsetDateTime,
        ) -> Result<Subscription> {
            let mut w = self.write_one().await?;
            let row: Option<SubscriptionRow> = sqlx::query_as(concat!(
                "UPDATE trigger_subscriptions SET status = $3, state = COALESCE($4, state), last_error = $5, \
                 attempts = $6, next_run_at = $7, updated_at = $8 WHERE id = $1 AND project_id = $2 RETURNING ",
                subscription_columns!()
            ))
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(update.status.as_str())
            .bind(update.state.as_ref().map(Json))
            .bind(update.last_error.as_deref())
            .bind(i32::try_from(update.attempts).unwrap_or(i32::MAX))
            .bind(update.next_run_at.map(Ts))
            .bind(Ts(now))
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("subscription"))?)
        }

        async fn set_subscription_persisted(
            &self,
            project: ProjectId,
            id: SubscriptionId,
            sealed: Vec<u8>,
        ) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("UPDATE trigger_subscriptions SET persisted = $3 WHERE id = $1 AND project_id = $2")
                .bind(id.as_uuid())
                .bind(project.as_uuid())
                .bind(sealed)
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "subscription")
        }

        async fn share_subscription(&self, project: ProjectId, id: SubscriptionId) -> Result<Subscription> {
            let mut w = self.write_one().await?;
            let row: Option<SubscriptionRow> = sqlx::query_as(concat!(
                "UPDATE trigger_subscriptions SET scope = 'account', workflow_id = NULL, config = $3 \
                 WHERE id = $1 AND project_id = $2 RETURNING ",
                subscription_columns!()
            ))
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(Json(Value::Object(Default::default())))
            .fetch_optional(&mut *w)
            .await
            .on_write("the account already has a subscription for this trigger", "subscription")?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("subscription"))?)
        }

        async fn delete_subscription(&self, project: ProjectId, id: SubscriptionId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM trigger_subscriptions WHERE id = $1 AND project_id = $2")
                .bind(id.as_uuid())
                .bind(project.as_uuid())
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "subscription")
        }

        async fn subscriptions_to_retry(
            &self,
            now: OffsetDateTime,
            pending_before: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<Subscription>> {
            let rows: Vec<SubscriptionRow> = sqlx::query_as(concat!(
                "SELECT ",
                subscription_columns!(),
                " FROM trigger_subscriptions WHERE kind = 'webhook' AND ((status = 'PENDING' AND updated_at < $2) \
                 OR (status = 'FAILED' AND next_run_at <= $1)) ORDER BY updated_at, id LIMIT $3"
            ))
            .bind(Ts(now))
            .bind(Ts(pending_before))
            .bind(i64::from(limit))
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn claim_polls(
            &self,
            now: OffsetDateTime,
            lease: std::time::Duration,
            limit: u32,
        ) -> Result<Vec<PollClaim>> {
            let token = Uuid::new_v4();
            let until = now + lease;
            let mut w = self.write_one().await?;
            let rows: Vec<SubscriptionRow> = sqlx::query_as(Db::CLAIM_POLLS)
                .bind(Ts(now))
                .bind(Ts(until))
                .bind(token)
                .bind(i64::from(limit))
                .fetch_all(&mut *w)
                .await?;
            w.commit().await?;
            Ok(convert::<_, Subscription>(rows)?
                .into_iter()
                .map(|subscription| PollClaim { subscription, lease: token })
                .collect())
        }

        async fn finish_poll(
            &self,
            project: ProjectId,
            id: SubscriptionId,
            lease: Uuid,
            cursor: Option<&str>,
            events: Vec<NewTriggerEvent>,
            error: Option<&str>,
            next_run_at: OffsetDateTime,
            now: OffsetDateTime,
        ) -> Result<Vec<TriggerEventId>> {
            if let Some(c) = cursor {
                check_cursor(c)?;
            }
            let mut tx = self.begin_write().await?;
            let integration: Option<Uuid> = sqlx::query_scalar(
                "UPDATE trigger_subscriptions SET cursor = COALESCE($4, cursor), next_run_at = $5, lease = NULL, \
                 last_error = $6, attempts = CASE WHEN $6 IS NULL THEN 0 ELSE attempts + 1 END, updated_at = $7 \
                 WHERE id = $1 AND project_id = $2 AND lease = $3 RETURNING integration_id",
            )
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(lease)
            .bind(cursor)
            .bind(Ts(next_run_at))
            .bind(error)
            .bind(Ts(now))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(integration) = integration else {
                return Err(Error::Conflict("poll lease".into()));
            };
            let ids = insert_events(&mut tx, project, integration.into(), events, Ts(now)).await?;
            tx.commit().await?;
            Ok(ids.into_iter().flatten().collect())
        }

        async fn record_events(
            &self,
            project: ProjectId,
            integration: IntegrationId,
            events: Vec<NewTriggerEvent>,
            now: OffsetDateTime,
        ) -> Result<Vec<Option<TriggerEventId>>> {
            if events.is_empty() {
                return Ok(Vec::new());
            }
            let mut tx = self.begin_write().await?;
            let known: Option<Uuid> = sqlx::query_scalar("SELECT id FROM integrations WHERE id = $1 AND project_id = $2")
                .bind(integration.as_uuid())
                .bind(project.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
            known.ok_or(Error::NotFound("integration"))?;
            let ids = insert_events(&mut tx, project, integration, events, Ts(now)).await?;
            tx.commit().await?;
            Ok(ids)
        }

        async fn record_event_batches(
            &self,
            deliveries: Vec<(ProjectId, IntegrationId, Vec<NewTriggerEvent>)>,
            now: OffsetDateTime,
        ) -> Result<Vec<Vec<Option<TriggerEventId>>>> {
            let mut tx = self.begin_write().await?;
            let mut out = Vec::with_capacity(deliveries.len());
            for (project, integration, events) in deliveries {
                let known: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM integrations WHERE id = $1 AND project_id = $2")
                        .bind(integration.as_uuid())
                        .bind(project.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                known.ok_or(Error::NotFound("integration"))?;
                out.push(insert_events(&mut tx, project, integration, events, Ts(now)).await?);
            }
            tx.commit().await?;
            Ok(out)
        }

        async fn mark_events_routed(&self, events: &[(ProjectId, TriggerEventId)], now: OffsetDateTime) -> Result<()> {
            if events.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin_write().await?;
            for (project, id) in events {
                sqlx::query(
                    "UPDATE trigger_events SET routed_at = COALESCE(routed_at, $3) WHERE id = $1 AND project_id = $2",
                )
                .bind(id.as_uuid())
                .bind(project.as_uuid())
                .bind(Ts(now))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn get_trigger_event(&self, project: ProjectId, id: TriggerEventId) -> Result<TriggerEvent> {
            let row: Option<EventRow> = sqlx::query_as(concat!(
                "SELECT ",
                event_columns!(),
                " FROM trigger_events WHERE id = $1 AND project_id = $2"
            ))
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .fetch_optional(self.read())
            .await?;
            Ok(row.ok_or(Error::NotFound("trigger event"))?.into())
        }

        async fn unrouted_events(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<TriggerEvent>> {
            let rows: Vec<EventRow> = sqlx::query_as(concat!(
                "SELECT ",
                event_columns!(),
                " FROM trigger_events WHERE routed_at IS NULL AND received_at < $1 ORDER BY received_at LIMIT $2"
            ))
            .bind(Ts(before))
            .bind(i64::from(limit))
            .fetch_all(self.read())
            .await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn mark_event_routed(&self, project: ProjectId, id: TriggerEventId, now: OffsetDateTime) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query(
                "UPDATE trigger_events SET routed_at = COALESCE(routed_at, $3) WHERE id = $1 AND project_id = $2",
            )
            .bind(id.as_uuid())
            .bind(project.as_uuid())
            .bind(Ts(now))
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            found(done.rows_affected(), "trigger event")
        }

        async fn purge_trigger_events(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
            let mut w = self.write_one().await?;
            let done = sqlx::query(
                "DELETE FROM trigger_events WHERE id IN \
                 (SELECT id FROM trigger_events WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
            )
            .bind(Ts(before))
            .bind(i64::from(limit))
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(done.rows_affected())
        }
    }
}

/// Claims due polls: `$1` now, `$2` the lease's end (the next poll unless
/// finished sooner), `$3` the token, `$4` how many.
macro_rules! claim_polls {
    ($lock:literal) => {
        concat!(
            "UPDATE trigger_subscriptions SET next_run_at = $2, lease = $3 WHERE id IN \
             (SELECT id FROM trigger_subscriptions WHERE kind = 'polling' AND status = 'ACTIVE' \
             AND next_run_at <= $1 ORDER BY next_run_at LIMIT $4",
            $lock,
            ") AND next_run_at <= $1 RETURNING ",
            subscription_columns!()
        )
    };
}

impl SqliteStore {
    /// The single writer makes claims serial: no row lock needed.
    const CLAIM_POLLS: &str = claim_polls!("");
}

impl PgStore {
    /// Skips rows another process is claiming; the outer `next_run_at`
    /// check, evaluated again on a row that changed meanwhile, keeps a
    /// poll from being claimed twice.
    const CLAIM_POLLS: &str = claim_polls!(" FOR UPDATE SKIP LOCKED");
}
