//! Task records into SQLite through the C API: one prepared single-row
//! insert, reset and re-bound for every record, with each value bound in
//! place (`SQLITE_STATIC`: SQLite reads the record's own bytes, copies
//! nothing and allocates nothing per value).
//!
//! Under load the proxy stores tens of thousands of records a second, and
//! sqlx's general path (an owned argument list per statement, every text
//! copied twice, a thread hop per statement) cost about as much CPU as the
//! calls themselves. The statement runs on the caller's connection, inside
//! its transaction, with the worker thread locked out by
//! [`sqlx::sqlite::SqliteConnection::lock_handle`].
//!
//! `libsqlite3-sys` is pinned to the version sqlx links (see its
//! `as_raw_handle` notes); both then use the one bundled SQLite.
//!
//! In the store's pattern this is a backend-specific step of one concern
//! (SQLite's half of `insert_task_batch`, which `TaskStore` calls on both
//! backends), in a file of its own because it is the only code of the crate
//! that is `unsafe`. Nothing else should follow it without a measurement
//! as clear as this one's.

use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

use crate::tasks::TaskRecord;
use crate::{Error, Result};

/// A prepared statement, finalized when dropped.
struct Statement {
    db: NonNull<ffi::sqlite3>,
    stmt: NonNull<ffi::sqlite3_stmt>,
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: `stmt` was prepared on `db` and is finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// The error SQLite reports for `rc` on `db`.
fn failure(db: NonNull<ffi::sqlite3>, rc: c_int, doing: &str) -> Error {
    // SAFETY: `db` is an open connection; the message is copied before any
    // other call on it.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }.to_string_lossy().into_owned();
    Error::Backend(sqlx::Error::Protocol(format!("sqlite {doing} failed ({rc}): {message}")))
}

impl Statement {
    fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Self> {
        let mut stmt = ptr::null_mut();
        let len = c_int::try_from(sql.len()).map_err(|_| Error::Invalid("statement too long".into()))?;
        // SAFETY: `db` is an open connection this thread holds exclusively
        // (the sqlx worker is locked out); `sql` is valid for `len` bytes.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db.as_ptr(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        match NonNull::new(stmt) {
            Some(stmt) if rc == ffi::SQLITE_OK => Ok(Self { db, stmt }),
            Some(stmt) => {
                let error = failure(db, rc, "prepare");
                // SAFETY: prepared above, never used again.
                unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
                Err(error)
            }
            None => Err(failure(db, rc, "prepare")),
        }
    }

    fn check(&self, rc: c_int, doing: &str) -> Result<()> {
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(failure(self.db, rc, doing)) }
    }

    /// Binds `bytes` (text or blob) to parameter `at`, without a copy.
    ///
    /// SAFETY (for callers): `bytes` must stay alive and unchanged until
    /// the statement is stepped and reset.
    unsafe fn bind_bytes(&self, at: c_int, bytes: &[u8], text: bool) -> Result<()> {
        let len = c_int::try_from(bytes.len())
            .map_err(|_| Error::Invalid(format!("a task record value of {} bytes is too long", bytes.len())))?;
        let data = bytes.as_ptr();
        // SAFETY: `data` is valid for `len` bytes for as long as the caller
        // promises; SQLITE_STATIC makes SQLite read it in place.
        let rc = unsafe {
            if text {
                ffi::sqlite3_bind_text(self.stmt.as_ptr(), at, data.cast(), len, ffi::SQLITE_STATIC())
            } else {
                ffi::sqlite3_bind_blob(self.stmt.as_ptr(), at, data.cast(), len, ffi::SQLITE_STATIC())
            }
        };
        self.check(rc, "bind")
    }

    fn bind_int(&self, at: c_int, value: i64) -> Result<()> {
        // SAFETY: a prepared statement and one of its parameters.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), at, value) };
        self.check(rc, "bind")
    }

    fn bind_null(&self, at: c_int) -> Result<()> {
        // SAFETY: a prepared statement and one of its parameters.
        let rc = unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), at) };
        self.check(rc, "bind")
    }

    /// Binds `r` and runs the insert once; the bindings are cleared before
    /// it returns, so no pointer into `r` outlives the call.
    fn insert(&self, r: &TaskRecord) -> Result<()> {
        let created_at = i64::try_from(r.created_at.unix_timestamp_nanos() / 1_000)
            .map_err(|_| Error::Invalid("a task record's time is out of range".into()))?;
        let (project, integration, credential) =
            (r.project_id.as_uuid(), r.integration_id.map(|i| i.as_uuid()), r.credential_id.map(|c| c.as_uuid()));
        let bound = (|| {
            // SAFETY: every slice bound here is a field of `r` or a local
            // of this function, alive and unchanged until the reset below.
            unsafe {
                self.bind_bytes(1, r.id.as_bytes(), false)?;
                self.bind_bytes(2, project.as_bytes(), false)?;
                self.bind_bytes(3, r.kind.as_bytes(), true)?;
                self.bind_bytes(4, r.user_id.as_bytes(), true)?;
                match &integration {
                    Some(id) => self.bind_bytes(5, id.as_bytes(), false)?,
                    None => self.bind_null(5)?,
                }
                match &credential {
                    Some(id) => self.bind_bytes(6, id.as_bytes(), false)?,
                    None => self.bind_null(6)?,
                }
                self.bind_bytes(7, r.request_id.as_bytes(), true)?;
                self.bind_bytes(8, r.method.as_bytes(), true)?;
                self.bind_bytes(9, r.target.as_bytes(), true)?;
                self.bind_bytes(11, r.outcome.as_bytes(), true)?;
            }
            self.bind_int(10, i64::from(r.status))?;
            self.bind_int(12, i64::try_from(r.duration_us).unwrap_or(i64::MAX))?;
            self.bind_int(13, created_at)?;
            // SAFETY: a prepared statement with every parameter bound.
            match unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) } {
                ffi::SQLITE_DONE => Ok(()),
                rc => Err(failure(self.db, rc, "insert")),
            }
        })();
        // SAFETY: a prepared statement; after these it holds no pointer
        // into `r` or this frame.
        unsafe {
            ffi::sqlite3_reset(self.stmt.as_ptr());
            ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
        }
        bound
    }
}

/// Inserts `batch` on `db`, which the caller holds (locked out of sqlx's
/// worker, inside the caller's transaction), with `sql`: a single-row
/// insert whose 13 parameters are the columns in the order `insert` binds
/// them (the store's column order).
pub(crate) fn insert_task_records(db: NonNull<ffi::sqlite3>, sql: &str, batch: &[TaskRecord]) -> Result<()> {
    let statement = Statement::prepare(db, sql)?;
    batch.iter().try_for_each(|r| statement.insert(r))
}
