//! The PostgreSQL implementation, for running several Weft processes on one
//! database.
//!
//! Single statements run on the pool in autocommit; what must read before
//! it writes runs in a transaction that locks the rows it read
//! (`SELECT ... FOR UPDATE`), so concurrent processes serialise per row
//! rather than per database.

use crate::{Backend, Result, Store};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Connections per process. Enough for a 2-core host's concurrent
/// requests and workers; several processes share the server's limit.
const MAX_CONNECTIONS: u32 = 10;

/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in a PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://...`).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("weft");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Starts a transaction (read committed). Dropping it uncommitted rolls
    /// back. Multi-statement writes start here, and so will the queue's
    /// claims.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Where a write of exactly one statement runs: a pooled connection in
    /// autocommit, since one statement is atomic by itself and a
    /// transaction around it would cost two more round trips. Never run a
    /// second statement on it: each would commit on its own.
    pub(crate) async fn write_one(&self) -> Result<Autocommit> {
        Ok(Autocommit(self.pool.acquire().await?))
    }

    /// The pool for reads.
    pub(crate) fn read(&self) -> &PgPool {
        &self.pool
    }
}

/// A pooled connection for one write statement (see [`PgStore::write_one`]).
/// It has the `commit` of a transaction, which does nothing, so a concern's
/// code reads the same on both backends.
pub(crate) struct Autocommit(PoolConnection<Postgres>);

impl Autocommit {
    /// Nothing to do: the statement committed when it ran.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl Deref for Autocommit {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for Autocommit {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<()> {
        // sqlx holds an advisory lock while migrating, so processes starting
        // together do not race.
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
