//! Writing a concern's storage once for both backends.
//!
//! A concern's trait is implemented by one body of code that serves SQLite
//! and PostgreSQL alike: the same SQL text (both take `$n` placeholders),
//! the same bound values, the same row structs. What the compiler needs per
//! backend is only the types: the store, its connection, the sqlx database.
//! sqlx cannot say "a database that binds a UUID, a timestamp and JSON"
//! once (a generic function needs a where clause per bound type, on every
//! function), so [`for_both_backends!`] stamps the body out twice instead,
//! into a module per backend where these names point at that backend:
//!
//! - `Db`: the store, [`SqliteStore`](crate::SqliteStore) or
//!   [`PgStore`](crate::PgStore);
//! - `Conn`: its connection; `&mut Conn` runs a statement inside a write
//!   (helpers that take part in a transaction take `conn: &mut Conn`).
//!
//! Inside, the body uses the same few methods that both stores have:
//!
//! - `self.read()`: the pool reads run on (SQLite: the read-only readers);
//! - `self.write_one()`: where one write statement runs, finished with
//!   `.commit()` (SQLite: a `BEGIN IMMEDIATE` transaction of the single
//!   writer; PostgreSQL: autocommit);
//! - `self.begin_write()`: a transaction for writes of several statements
//!   (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: read committed, plus the row or
//!   advisory locks the concern takes).
//!
//! Where a concern's backends really differ, the difference has one name
//! and two definitions next to each other in the concern's `sql.rs`: an
//! associated `const` of SQL text on each store (`Db::LOCK_...`) when only
//! the text differs, an inherent method on each store when the steps do.

/// Stamps the items (a concern's trait impl and its helpers) out for
/// SQLite and for PostgreSQL; see the module docs for the names they get.
macro_rules! for_both_backends {
    ($($item:item)*) => {
        /// This concern's storage on SQLite.
        mod on_sqlite {
            #[allow(unused_imports)]
            use super::*;
            /// The store these items are for.
            #[allow(dead_code)]
            type Db = crate::SqliteStore;
            /// Its connection: `&mut Conn` runs a statement inside a write.
            #[allow(dead_code)]
            type Conn = sqlx::SqliteConnection;
            $($item)*
        }
        /// This concern's storage on PostgreSQL.
        mod on_postgres {
            #[allow(unused_imports)]
            use super::*;
            /// The store these items are for.
            #[allow(dead_code)]
            type Db = crate::PgStore;
            /// Its connection: `&mut Conn` runs a statement inside a write.
            #[allow(dead_code)]
            type Conn = sqlx::PgConnection;
            $($item)*
        }
    };
}

pub(crate) use for_both_backends;
