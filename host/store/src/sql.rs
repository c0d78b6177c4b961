//! The statements both backends run, written once.
//!
//! SQLite and PostgreSQL take the same text for each statement here (both
//! accept `$n` placeholders, and the row structs of `crate::rows` decode
//! from either) and bind the same values. What differs is where a statement
//! runs: on SQLite every write goes through the single writer inside
//! `BEGIN IMMEDIATE`, on PostgreSQL a single statement autocommits on the
//! pool. So these functions only build a query and bind its values; each
//! backend picks the executor and owns its transactions. Statements whose
//! SQL differs between the backends (a `FOR UPDATE`, SQLite's read, merge
//! and write of user metadata, a boolean literal) stay in the backend's file.
//!
//! Functions generic over `sqlx::Database` would need a where clause per
//! bound type on every one of them (sqlx cannot say "a backend that binds a
//! UUID" once), so `statements!` stamps the same functions out for each
//! backend instead: `sql::sqlite` and `sql::postgres`. Every function here
//! must be used by both backends, or the unused copy warns.
//!
//! Values that are generated (ids, `now()`) are taken when the statement is
//! built, so a backend builds it only once it holds what it needs (on
//! SQLite, after `BEGIN IMMEDIATE`, which keeps timestamps in commit order).

macro_rules! statements {
    ($db:ty) => {
        use crate::ids::now;
        use crate::rows::Ts;
        use crate::{IntegrationId, ProjectId};
        use serde_json::Value;
        use sqlx::query::{Query, QueryAs, QueryScalar};
        use sqlx::types::Json;

        /// A statement that returns rows of `R`.
        pub(crate) type Rows<'q, R> = QueryAs<'q, $db, R, <$db as sqlx::Database>::Arguments<'q>>;

        /// A statement that returns one value of type `T`.
        pub(crate) type Scalar<'q, T> = QueryScalar<'q, $db, T, <$db as sqlx::Database>::Arguments<'q>>;

        /// A statement whose result is only how many rows it touched.
        pub(crate) type Command<'q> = Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;
    };
}

mod credentials;

/// The shared statements, for SQLite.
pub(crate) mod sqlite {
    statements!(sqlx::Sqlite);
    super::credentials::credential_statements!(sqlx::Sqlite);
}

/// The shared statements, for PostgreSQL.
pub(crate) mod postgres {
    statements!(sqlx::Postgres);
    super::credentials::credential_statements!(sqlx::Postgres);
}
