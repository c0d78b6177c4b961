//! What every concern's row structs are made of, and the helpers that turn
//! fetched rows into domain types.
//!
//! A row struct decodes from SQLite and PostgreSQL alike because every
//! column has one Rust type on both: UUIDs (BLOB / `uuid`), [`Ts`] (INTEGER
//! / `timestamptz`), booleans (INTEGER 0/1 / `boolean`), text, bytes (BLOB
//! / `bytea`) and JSON (TEXT / `jsonb`, through `sqlx::types::Json`). The
//! row structs themselves live with their concern, in its `sql.rs`.

use crate::{Error, Result};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;

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
