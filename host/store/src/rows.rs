//! Rows as both backends return them, and their conversion into the domain
//! types. The row structs decode from SQLite and PostgreSQL alike because
//! every column has one Rust type on both: UUIDs (BLOB / `uuid`), [`Ts`]
//! (INTEGER / `timestamptz`), booleans, text and JSON (TEXT / `jsonb`).

use crate::{ConnectState, Credential, CredentialStatus, Error, ProjectEvent, Result};
use serde_json::{Map, Value};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::types::Json;
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;
use uuid::Uuid;

/// A timestamp column. SQLite has no time type and its text forms do not
/// sort reliably, so there it is INTEGER microseconds since the Unix epoch
/// (comparable in SQL, which the queue's lease expiries will need);
/// PostgreSQL stores `timestamptz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ts(pub OffsetDateTime);

impl Type<Sqlite> for Ts {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        let micros = i64::try_from(self.0.unix_timestamp_nanos() / 1_000)?;
        <i64 as Encode<'q, Sqlite>>::encode(micros, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: <Sqlite as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<'r, Sqlite>>::decode(value)?;
        Ok(Ts(OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)?))
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut <Postgres as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: <Postgres as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <OffsetDateTime as Decode<'r, Postgres>>::decode(value).map(Ts)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    id: Uuid,
    project_id: Uuid,
    integration_id: Uuid,
    user_id: String,
    status: String,
    invalid_reason: Option<String>,
    provider_id: Option<String>,
    provider_data: Json<Value>,
    config: Json<Map<String, Value>>,
    connection_config: Json<Map<String, Value>>,
    secrets: Vec<u8>,
    version: i64,
    expires_at: Option<Ts>,
    refreshed_at: Option<Ts>,
    refresh_failure_count: i64,
    failure_days: i64,
    last_failure_day: Option<i64>,
    retry_at: Option<Ts>,
    lease_until: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = Error;
    fn try_from(r: CredentialRow) -> Result<Self> {
        Ok(Credential {
            id: r.id.into(),
            project_id: r.project_id.into(),
            integration_id: r.integration_id.into(),
            user_id: r.user_id,
            status: CredentialStatus::parse(&r.status)?,
            invalid_reason: r.invalid_reason,
            provider_id: r.provider_id,
            provider_data: r.provider_data.0,
            config: r.config.0,
            connection_config: r.connection_config.0,
            secrets: r.secrets,
            version: r.version,
            expires_at: r.expires_at.map(|t| t.0),
            refreshed_at: r.refreshed_at.map(|t| t.0),
            refresh_failure_count: r.refresh_failure_count,
            failure_days: r.failure_days,
            last_failure_day: r.last_failure_day,
            retry_at: r.retry_at.map(|t| t.0),
            lease_until: r.lease_until.map(|t| t.0),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConnectStateRow {
    state_hash: String,
    project_id: Uuid,
    integration_id: Uuid,
    user_id: String,
    sealed: Vec<u8>,
    expires_at: Ts,
}

impl From<ConnectStateRow> for ConnectState {
    fn from(r: ConnectStateRow) -> Self {
        ConnectState {
            state_hash: r.state_hash,
            project_id: r.project_id.into(),
            integration_id: r.integration_id.into(),
            user_id: r.user_id,
            sealed: r.sealed,
            expires_at: r.expires_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    id: Uuid,
    project_id: Uuid,
    event_type: String,
    payload: Json<Map<String, Value>>,
    created_at: Ts,
}

impl From<EventRow> for ProjectEvent {
    fn from(r: EventRow) -> Self {
        ProjectEvent {
            id: r.id,
            project_id: r.project_id.into(),
            event_type: r.event_type,
            payload: r.payload.0,
            created_at: r.created_at.0,
        }
    }
}

/// Converts fetched rows.
pub(crate) fn convert<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    T: TryFrom<R>,
    Error: From<T::Error>,
{
    rows.into_iter().map(|r| T::try_from(r).map_err(Error::from)).collect()
}

/// Converts one fetched row.
pub(crate) fn one<R, T>(row: R) -> Result<T>
where
    T: TryFrom<R>,
    Error: From<T::Error>,
{
    T::try_from(row).map_err(Error::from)
}

// The column lists the row structs above decode, for `concat!` into the
// queries of both backends; kept here so they change with the structs.
macro_rules! credential_columns {
    () => {
        "id, project_id, integration_id, user_id, status, invalid_reason, provider_id, provider_data, config, \
         connection_config, secrets, version, expires_at, refreshed_at, refresh_failure_count, failure_days, \
         last_failure_day, retry_at, lease_until, created_at, updated_at"
    };
}
macro_rules! connect_state_columns {
    () => {
        "state_hash, project_id, integration_id, user_id, sealed, expires_at"
    };
}
macro_rules! event_columns {
    () => {
        "id, project_id, event_type, payload, created_at"
    };
}
pub(crate) use {connect_state_columns, credential_columns, event_columns};
