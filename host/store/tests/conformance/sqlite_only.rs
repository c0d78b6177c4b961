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

/// A write whose caller gives up at any moment (a select that another
/// branch won, a client that went away) leaves the single writer usable.
/// Found by the queue's crash harness: a caller dropped just after the
/// writer had begun its transaction, before the caller received it, left
/// the connection inside that transaction, and every later write failed
/// ("begin_with at non-zero transaction depth").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_at_any_point_leaves_the_writer_usable() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("weft.db")).await.expect("open");
    store.migrate().await.expect("migrate");
    let (project, step) = (weft_store::ProjectId::new(), weft_store::StepRunId::new());
    let write = || {
        store.heartbeat(project, step, uuid::Uuid::new_v4(), time::OffsetDateTime::now_utc(), Duration::from_secs(1))
    };
    for i in 0..3000u64 {
        // Gives up after 0 to 150 µs, yielding meanwhile.
        let patience = Duration::from_micros(i * 7919 % 151);
        let give_up = async {
            let began = Instant::now();
            while began.elapsed() < patience {
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            _ = write() => {}
            () = give_up => {}
        }
        // The next write, left to finish, works (no such lease: LeaseLost).
        let next = write().await;
        assert!(matches!(next, Err(weft_store::Error::LeaseLost)), "after {i} cancelled writes: {next:?}");
    }
    store.close().await;
}

/// A claim commits without a flush (`synchronous=NORMAL` for its
/// transaction): however it ends, even dropped half-way, the writer is
/// back at FULL before any other write gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_leave_the_writer_durable() {
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("weft.db")).await.expect("open");
    store.migrate().await.expect("migrate");
    let p = project(&store, "P").await.id;
    let start = || weft_store::NewExecution {
        project: p,
        workflow: weft_store::WorkflowId::new(),
        version: 1,
        integration: "slack".into(),
        user: None,
        credential: None,
        trigger_step: "trigger".into(),
        trigger_kind: "TRIGGER/APP_EVENT".into(),
        trigger_output: serde_json::json!({}),
        first: vec![weft_store::NewStep::new("a", "ACTION/REQUEST")],
    };
    let (lease, deadline) = (Duration::from_secs(30), Duration::from_secs(600));
    let now = time::OffsetDateTime::now_utc();
    store.start_execution(start(), now).await.expect("start");
    assert_eq!(store.claim_steps(now, lease, deadline, 10).await.expect("claim").len(), 1);
    assert_eq!(store.writer_pragmas().await.expect("pragmas").synchronous, 2, "after a claim");
    // Claims dropped at every stage they can be dropped at.
    for micros in [0, 10, 50, 100, 200, 500, 1000, 2000] {
        store.start_execution(start(), now).await.expect("start");
        let claim = store.claim_steps(now, lease, deadline, 10);
        let _ = tokio::time::timeout(Duration::from_micros(micros), claim).await;
        assert_eq!(
            store.writer_pragmas().await.expect("pragmas").synchronous,
            2,
            "after a claim dropped at {micros} µs"
        );
    }
    store.close().await;
}
