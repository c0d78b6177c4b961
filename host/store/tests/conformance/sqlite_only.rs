//! What only SQLite has: the file's journal mode and the connections'
//! durability settings.

use crate::harness::project;
use weft_store::prelude::*;
use weft_store::{Backend, SqliteStore};

#[tokio::test]
async fn store_runs_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("weft.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store.migrate().await.expect("migrate");
    for (who, p) in [
        ("writer", store.writer_pragmas().await.expect("writer pragmas")),
        ("reader", store.reader_pragmas().await.expect("reader pragmas")),
    ] {
        assert_eq!(p.journal_mode, "wal", "{who}");
        assert_eq!(p.synchronous, 2, "{who}: synchronous=FULL");
        assert_eq!(p.foreign_keys, 1, "{who}");
        assert!(p.busy_timeout_ms >= 1000, "{who}: busy_timeout {}", p.busy_timeout_ms);
    }
    store.close().await;
    // WAL is recorded in the file itself: header bytes 18 and 19 are 2.
    let header = std::fs::read(&path).expect("read db file");
    assert_eq!((header[18], header[19]), (2, 2), "file format is WAL");
}

#[tokio::test]
async fn a_plain_path_opens_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested").join("weft.db");
    let store = weft_store::open(&path.display().to_string()).await.expect("open");
    assert_eq!(store.backend(), Backend::Sqlite);
    store.migrate().await.expect("migrate");
    project(&*store, "P").await;
    store.close().await;
    assert!(path.is_file());
}
