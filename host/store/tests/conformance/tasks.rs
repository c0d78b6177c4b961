//! Task records: batches of any size, idempotent ids, newest first, per project.

use crate::harness::{Db, project};
use time::{Duration, OffsetDateTime};
use weft_store::TaskRecord;

fn record(project: weft_store::ProjectId, n: i64, at: OffsetDateTime) -> TaskRecord {
    TaskRecord {
        id: uuid::Uuid::new_v4(),
        project_id: project,
        kind: "proxy".into(),
        user_id: format!("user-{}", n % 3),
        // Every other row has its ids, so both NULL and values round-trip.
        integration_id: (n % 2 == 0).then(|| uuid::Uuid::new_v4().into()),
        credential_id: (n % 2 == 0).then(|| uuid::Uuid::new_v4().into()),
        request_id: format!("req-{n}"),
        method: "GET".into(),
        // Text that JSON must escape travels through the batch intact.
        target: format!("https://api.example.test/v1/it\"ems/{n}/\\/é✓"),
        status: 200,
        outcome: "ok".into(),
        duration_us: 1_000 + n as u64,
        created_at: at + Duration::milliseconds(n) + Duration::microseconds(n % 1000),
    }
}

pub async fn batches_and_order(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    // More rows than one INSERT statement carries.
    let batch: Vec<_> = (0..1100).map(|n| record(a.id, n, start)).collect();
    s.insert_task_records(&batch).await.expect("insert");
    s.insert_task_records(&batch[..10]).await.expect("a repeated batch is ignored, not an error");
    s.insert_task_records(&[]).await.expect("empty");
    s.insert_task_records(&[record(b.id, 0, start)]).await.expect("other project");
    assert_eq!(s.count_task_records(a.id).await.unwrap(), 1100);
    assert_eq!(s.count_task_records(b.id).await.unwrap(), 1);
    let newest = s.list_task_records(a.id, 5).await.unwrap();
    assert_eq!(newest.len(), 5);
    assert_eq!(newest[0], batch[1099], "newest first, every field round-trips");
    assert_eq!(newest[1], batch[1098], "and with NULL ids");
    assert!(newest.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert!(s.list_task_records(b.id, 100).await.unwrap().iter().all(|t| t.project_id == b.id));
}
