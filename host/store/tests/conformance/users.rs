//! Connected users.

use crate::harness::{Db, project};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use weft_store::Error;

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub async fn upsert_seen_creates_then_touches(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let first = s.upsert_seen(p.id, "user-1").await.expect("first");
    assert_eq!((first.project_id, first.user_id.as_str()), (p.id, "user-1"));
    assert_eq!(first.metadata, Map::new());
    assert!(!first.disabled);
    assert_eq!(first.created_at, first.last_seen_at);

    let second = s.upsert_seen(p.id, "user-1").await.expect("second");
    assert_eq!(second.created_at, first.created_at);
    assert!(second.last_seen_at >= first.last_seen_at);
    assert_eq!(s.get_user(p.id, "user-1").await.expect("get"), second);
    // The `sub` is stored exactly as given: no trimming or case folding.
    let odd = s.upsert_seen(p.id, " User-1 ").await.expect("odd id");
    assert_eq!(odd.user_id, " User-1 ");
    assert!(matches!(s.upsert_seen(p.id, "").await, Err(Error::Invalid(_))));
    assert!(matches!(s.get_user(p.id, "nobody").await, Err(Error::NotFound("user"))));
}

pub async fn upsert_seen_concurrent_creates_one_row(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let calls = (0..20).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.upsert_seen(p.id, "new-user").await })
    });
    let users: Vec<_> =
        futures::future::join_all(calls).await.into_iter().map(|r| r.expect("task").expect("upsert")).collect();
    let created: HashSet<_> = users.iter().map(|u| u.created_at).collect();
    assert_eq!(created.len(), 1, "every call saw the same row");
    let page = s.list_users(p.id, None, 100).await.expect("list");
    assert_eq!(page.users.len(), 1);
}

pub async fn merge_metadata_semantics(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    s.upsert_seen(p.id, "u").await.expect("user");
    let first = s
        .merge_metadata(p.id, "u", object(json!({"Name": "Ada", "plan": {"tier": "pro", "seats": 3}})))
        .await
        .expect("merge");
    assert_eq!(Value::Object(first.metadata), json!({"Name": "Ada", "plan": {"tier": "pro", "seats": 3}}));

    let merged = s
        .merge_metadata(p.id, "u", object(json!({"Name": "Ada L.", "plan": {"tier": "free"}, "Email": null})))
        .await
        .expect("merge");
    // Shallow: a nested object is replaced whole; null is a stored value.
    let expected = json!({"Name": "Ada L.", "plan": {"tier": "free"}, "Email": null});
    assert_eq!(Value::Object(merged.metadata.clone()), expected);
    assert_eq!(s.get_user(p.id, "u").await.expect("get").metadata, merged.metadata);

    let unchanged = s.merge_metadata(p.id, "u", Map::new()).await.expect("empty patch");
    assert_eq!(Value::Object(unchanged.metadata), expected);
    assert!(matches!(s.merge_metadata(p.id, "ghost", Map::new()).await, Err(Error::NotFound(_))));
    let huge = object(json!({"blob": "x".repeat(70 * 1024)}));
    assert!(matches!(s.merge_metadata(p.id, "u", huge).await, Err(Error::Invalid(_))));
}

pub async fn merge_metadata_concurrent_keys_all_survive(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    s.upsert_seen(p.id, "u").await.expect("user");
    s.merge_metadata(p.id, "u", object(json!({"base": true}))).await.expect("seed");
    let merges = (0..20).map(|i| {
        let s = s.clone();
        tokio::spawn(async move { s.merge_metadata(p.id, "u", object(json!({ format!("k{i}"): i }))).await })
    });
    for r in futures::future::join_all(merges).await {
        r.expect("task").expect("merge");
    }
    let meta = s.get_user(p.id, "u").await.expect("get").metadata;
    assert_eq!(meta.len(), 21, "a lost update would drop keys: {meta:?}");
    for i in 0..20 {
        assert_eq!(meta.get(&format!("k{i}")), Some(&json!(i)));
    }
    assert_eq!(meta.get("base"), Some(&json!(true)));
}

pub async fn disable_and_enable(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    s.upsert_seen(p.id, "u").await.expect("user");
    assert!(s.set_user_disabled(p.id, "u", true).await.expect("disable").disabled);
    assert!(s.get_user(p.id, "u").await.expect("get").disabled);
    // Seeing a disabled user's token does not re-enable it.
    assert!(s.upsert_seen(p.id, "u").await.expect("seen").disabled);
    assert!(!s.set_user_disabled(p.id, "u", false).await.expect("enable").disabled);
    assert!(matches!(s.set_user_disabled(p.id, "ghost", true).await, Err(Error::NotFound(_))));
}

pub async fn list_pagination(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(s.upsert_seen(p.id, &format!("user-{i}")).await.expect("user").user_id);
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s.list_users(p.id, after.clone(), 3).await.expect("page");
        pages += 1;
        assert!(page.users.len() <= 3);
        seen.extend(page.users.iter().map(|u| u.user_id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "every user once, in creation order");
    let exact = s.list_users(p.id, None, 7).await.expect("one page");
    assert_eq!((exact.users.len(), exact.next), (7, None));
    assert!(matches!(s.list_users(p.id, None, 0).await, Err(Error::Invalid(_))));
}

pub async fn user_tenancy(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    s.upsert_seen(a.id, "u").await.expect("user");
    s.merge_metadata(a.id, "u", object(json!({"secret": "a"}))).await.expect("merge");

    assert!(matches!(s.get_user(b.id, "u").await, Err(Error::NotFound(_))));
    assert!(matches!(s.merge_metadata(b.id, "u", Map::new()).await, Err(Error::NotFound(_))));
    assert!(matches!(s.set_user_disabled(b.id, "u", true).await, Err(Error::NotFound(_))));
    assert!(s.list_users(b.id, None, 10).await.expect("list").users.is_empty());

    // The same `sub` in project B is a different user.
    let other = s.upsert_seen(b.id, "u").await.expect("user in B");
    assert_eq!(other.metadata, Map::new());
    let in_a = s.get_user(a.id, "u").await.expect("user in A");
    assert_eq!(in_a.metadata.get("secret"), Some(&json!("a")));
    assert!(!in_a.disabled);
}
