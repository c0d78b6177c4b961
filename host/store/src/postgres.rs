//! The PostgreSQL implementation, for running several Weft processes on one
//! database.
//!
//! Single statements run on the pool in autocommit; what must read before
//! it writes runs in a transaction that locks the rows it read
//! (`SELECT ... FOR UPDATE`), so concurrent processes serialise per row
//! rather than per database.

mod config;
mod integrations;
mod keys;
mod projects;
mod users;

use crate::{Backend, Result, Store};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
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
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// The pool, for single statements.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
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
