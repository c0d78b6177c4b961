//! The SQLite implementation: one file, WAL, one writer.
//!
//! Every write goes through a single connection in a `BEGIN IMMEDIATE`
//! transaction, so writers queue in the pool instead of colliding on
//! SQLite's one write lock; taking the lock up front also means a
//! transaction that reads before it writes cannot fail half-way on a lock
//! upgrade. Reads use a small pool of read-only connections, which WAL lets
//! run alongside the writer. `synchronous=FULL` makes a commit durable
//! before it returns: accepted work survives a power cut. The one write
//! that need not survive it, a queue claim, skips the flush
//! ([`SqliteStore::begin_volatile`]).

use crate::{Backend, Result, Store};
use async_trait::async_trait;
use serde::Serialize;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Read connections. Reads are short; a few let requests overlap without
/// holding many file handles.
const READERS: u32 = 4;

/// How long a connection waits for a lock held elsewhere (another process,
/// or a reader during a WAL checkpoint) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A store in one SQLite file.
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    path: PathBuf,
    /// Set while the writer connection runs at `synchronous=NORMAL` (a
    /// volatile write holds it); the writer pool's release hook then puts
    /// it back to `FULL` before anyone else gets the connection.
    relaxed: Arc<AtomicBool>,
}

/// Settings read back from a live connection, to check what is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlitePragmas {
    /// `journal_mode` (expected: `wal`).
    pub journal_mode: String,
    /// `synchronous` (0 off, 1 normal, 2 full, 3 extra; expected: 2).
    pub synchronous: i64,
    /// `foreign_keys` (expected: 1).
    pub foreign_keys: i64,
    /// `busy_timeout` in milliseconds.
    pub busy_timeout_ms: i64,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its
    /// directory.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Full);
        // The writer opens first: it creates the file and switches it to
        // WAL (a property of the file), which the read-only readers need.
        let relaxed = Arc::new(AtomicBool::new(false));
        let restore = relaxed.clone();
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            // However a volatile write ended (committed, failed, or dropped
            // half-way), its connection goes back to the pool durable again;
            // if that fails, the connection is closed and a new one (FULL
            // from the options) replaces it.
            .after_release(move |conn, _| {
                let restore = restore.clone();
                Box::pin(async move {
                    if restore.swap(false, Ordering::AcqRel) {
                        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone().create_if_missing(true).journal_mode(SqliteJournalMode::Wal))
            .await?;
        // Read-only, so a write sent here by mistake fails loudly instead
        // of bypassing the single writer.
        let readers = SqlitePoolOptions::new().max_connections(READERS).connect_with(options.read_only(true)).await?;
        Ok(Self { writer, readers, path: path.to_owned(), relaxed })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force on the writer connection.
    pub async fn writer_pragmas(&self) -> Result<SqlitePragmas> {
        pragmas(&self.writer).await
    }

    /// The settings in force on a reader connection.
    pub async fn reader_pragmas(&self) -> Result<SqlitePragmas> {
        pragmas(&self.readers).await
    }

    /// Starts a write transaction on the writer connection; it takes the
    /// write lock at once (`BEGIN IMMEDIATE`). Dropping it uncommitted
    /// rolls back. Every write of this backend starts here, and so will the
    /// queue's claims.
    ///
    /// It begins in a task of its own: sqlx's `begin_with` is not
    /// cancel-safe. A caller dropped after the connection began the
    /// transaction but before `begin_with` returned it (it awaits once more,
    /// to check the statement began one) would leave the one writer inside
    /// a transaction nobody can end, and every later write would fail. In
    /// its own task the begin always completes, and a transaction whose
    /// caller went away is dropped there, which rolls it back.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        let writer = self.writer.clone();
        let begun = tokio::spawn(async move { writer.begin_with("BEGIN IMMEDIATE").await });
        Ok(begun.await.map_err(|_| sqlx::Error::WorkerCrashed)??)
    }

    /// Starts a write transaction, like [`SqliteStore::begin_write`], whose
    /// commit does not wait for the disk (`synchronous=NORMAL` on the
    /// writer until the transaction ends). WAL keeps it atomic and in
    /// order: a power cut may undo it, and only it and other volatile
    /// writes after the last durable commit (whose flush also carries every
    /// write before it). Only for writes whose loss is harmless: a queue
    /// claim, which a power cut would end anyway (the step is queued again,
    /// with its idempotency key). It saves a flush per claim.
    pub(crate) async fn begin_volatile(&self) -> Result<Transaction<'static, Sqlite>> {
        let mut conn = self.writer.acquire().await?;
        // Holding the only writer connection: its release restores FULL,
        // even if this future is dropped from here on.
        self.relaxed.store(true, Ordering::Release);
        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
        // `Transaction::begin` is what `Pool::begin_with` runs, here on a
        // connection already acquired.
        Ok(Transaction::begin(conn, Some("BEGIN IMMEDIATE".into())).await?)
    }

    /// Where a write of exactly one statement runs: here, like every write,
    /// in a `BEGIN IMMEDIATE` transaction of the writer. Even one statement
    /// needs it: another process (the `weft` command) may write the same
    /// file, and a statement that reads before it writes would otherwise
    /// fail on the lock upgrade instead of waiting; values it generates (ids,
    /// times) are then also taken in commit order.
    pub(crate) async fn write_one(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }

    /// The pool for reads.
    pub(crate) fn read(&self) -> &SqlitePool {
        &self.readers
    }
}

async fn pragmas(pool: &SqlitePool) -> Result<SqlitePragmas> {
    let mut conn = pool.acquire().await?;
    let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await?;
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await?;
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut *conn).await?;
    let busy_timeout_ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut *conn).await?;
    Ok(SqlitePragmas { journal_mode, synchronous, foreign_keys, busy_timeout_ms })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    async fn close(&self) {
        self.readers.close().await;
        // Last, so the final connection to close checkpoints the WAL.
        self.writer.close().await;
    }
}
