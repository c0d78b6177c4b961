//! Migrating, closing and reopening.

use crate::harness::{Db, project, random_hash};
use serde_json::json;
use weft_store::NewIntegration;

pub async fn migrate_is_idempotent(db: Db) {
    let s = db.store;
    let p = project(&*s, "Before").await;
    // The harness migrated once already.
    s.migrate().await.expect("second migrate");
    s.migrate().await.expect("third migrate");
    assert_eq!(s.get_project(p.id).await.expect("data kept"), p);
    project(&*s, "After").await;
    assert_eq!(s.list_projects().await.expect("list").len(), 2);
}

pub async fn data_survives_reopen(db: Db) {
    let s = db.store.clone();
    let p = project(&*s, "Durable").await;
    let hash = random_hash();
    s.set_operator_key_hash(&hash).await.expect("operator key");
    s.upsert_seen(p.id, "u").await.expect("user");
    let meta = json!({"k": "v"}).as_object().cloned().unwrap_or_default();
    let user = s.merge_metadata(p.id, "u", meta).await.expect("merge");
    let slack = NewIntegration { integration_type: "slack".into(), ..Default::default() };
    let it = s.create_integration(p.id, slack).await.expect("integration");
    s.close().await;

    let again = db.reopen().await;
    again.migrate().await.expect("migrate on reopen");
    assert_eq!(again.get_project(p.id).await.expect("project"), p);
    assert_eq!(again.get_user(p.id, "u").await.expect("user"), user);
    assert_eq!(again.get_integration(p.id, it.id).await.expect("integration"), it);
    assert!(again.verify_operator_key_hash(&hash).await.expect("verify"));
    again.close().await;
}

pub async fn backend_is_reported(db: Db) {
    assert_eq!(db.store.backend(), db.expected);
}
