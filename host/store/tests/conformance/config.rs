//! Environment secret names and app events.

use crate::harness::{Db, project};
use serde_json::json;
use weft_store::Error;

pub async fn secret_names(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let token = s.add_secret_name(p.id, "API_TOKEN").await.expect("add");
    assert_eq!((token.project_id, token.name.as_str()), (p.id, "API_TOKEN"));
    s.add_secret_name(p.id, "ALPHA").await.expect("add");
    match s.add_secret_name(p.id, "API_TOKEN").await {
        Err(Error::Conflict(m)) => assert!(m.contains("API_TOKEN"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let names: Vec<_> = s.list_secret_names(p.id).await.expect("list").into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["ALPHA", "API_TOKEN"]);
    s.delete_secret_name(p.id, "ALPHA").await.expect("delete");
    assert!(matches!(s.delete_secret_name(p.id, "ALPHA").await, Err(Error::NotFound(_))));
    assert_eq!(s.list_secret_names(p.id).await.expect("list"), vec![token]);
    assert!(matches!(s.add_secret_name(p.id, "not ok").await, Err(Error::Invalid(_))));
}

pub async fn app_events(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let created = s.create_app_event(p.id, "Contact Created", json!({"email": "a@b.test"})).await.expect("create");
    assert_eq!(created.example_payload, json!({"email": "a@b.test"}));
    match s.create_app_event(p.id, "Contact Created", json!({})).await {
        Err(Error::Conflict(m)) => assert!(m.contains("Contact Created"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    let replaced = s
        .upsert_app_event(p.id, "Contact Created", json!({"email": "c@d.test", "n": [1, 2]}))
        .await
        .expect("upsert existing");
    assert_eq!(replaced.example_payload, json!({"email": "c@d.test", "n": [1, 2]}));
    assert_eq!(replaced.created_at, created.created_at, "an upsert keeps the original row");
    let added = s.upsert_app_event(p.id, "Account Closed", json!(null)).await.expect("upsert new");
    assert_eq!(s.get_app_event(p.id, "Contact Created").await.expect("get"), replaced);
    assert_eq!(s.list_app_events(p.id).await.expect("list"), vec![added, replaced], "sorted by name");

    s.delete_app_event(p.id, "Account Closed").await.expect("delete");
    assert!(matches!(s.get_app_event(p.id, "Account Closed").await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_app_event(p.id, "Account Closed").await, Err(Error::NotFound(_))));
    assert!(matches!(s.create_app_event(p.id, " ", json!({})).await, Err(Error::Invalid(_))));
}

pub async fn config_tenancy(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    s.add_secret_name(a.id, "TOKEN").await.expect("secret");
    s.create_app_event(a.id, "Signed Up", json!({"plan": "pro"})).await.expect("event");

    assert!(s.list_secret_names(b.id).await.expect("list").is_empty());
    assert!(matches!(s.delete_secret_name(b.id, "TOKEN").await, Err(Error::NotFound(_))));
    assert!(s.list_app_events(b.id).await.expect("list").is_empty());
    assert!(matches!(s.get_app_event(b.id, "Signed Up").await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_app_event(b.id, "Signed Up").await, Err(Error::NotFound(_))));
    // B may use the same names; A's rows are untouched.
    s.add_secret_name(b.id, "TOKEN").await.expect("same name in B");
    s.upsert_app_event(b.id, "Signed Up", json!({"plan": "free"})).await.expect("same event in B");
    assert_eq!(s.get_app_event(a.id, "Signed Up").await.expect("A's event").example_payload, json!({"plan": "pro"}));
    assert_eq!(s.list_secret_names(a.id).await.expect("list").len(), 1);
}
