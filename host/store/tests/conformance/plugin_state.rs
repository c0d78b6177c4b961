//! Plugin state: scoping, expiry, quota, overwrite, delete, size limits.

use crate::harness::{Db, project};
use std::time::Duration;
use time::OffsetDateTime;
use weft_store::{
    Error, MAX_PLUGIN_STATE_KEY_BYTES, MAX_PLUGIN_STATE_VALUE_BYTES, PluginStateScope as Scope, ProjectId, Store,
};

/// Far more keys than any case writes.
const ROOMY: u32 = 1000;

/// A time to live long over by the time a case sleeps for [`EXPIRED`].
const SHORT: Option<Duration> = Some(Duration::from_millis(1));

/// How long a case waits for a [`SHORT`] time to live to pass.
const EXPIRED: Duration = Duration::from_millis(50);

/// A time to live no case outlives.
const LONG: Option<Duration> = Some(Duration::from_secs(3600));

async fn get(s: &dyn Store, scope: Scope<'_>, key: &str) -> Option<Vec<u8>> {
    s.get_plugin_state(scope, key).await.expect("get")
}

async fn set(s: &dyn Store, scope: Scope<'_>, key: &str, value: &[u8]) {
    s.set_plugin_state(scope, key, value, None, ROOMY).await.expect("set");
}

pub async fn scoping(db: Db) {
    let s = &*db.store;
    let (a, b) = (project(s, "A").await.id, project(s, "B").await.id);
    let scopes = [
        Scope::new(a, "github", Some("conn-1")),
        Scope::new(a, "github", Some("conn-2")),
        Scope::new(a, "github", None),
        Scope::new(a, "slack", Some("conn-1")),
        Scope::new(b, "github", Some("conn-1")),
    ];
    set(s, scopes[0], "cursor", b"a-1").await;
    for other in &scopes[1..] {
        assert_eq!(get(s, *other, "cursor").await, None, "{other:?} sees nothing of another scope");
    }
    // Each scope then holds its own value under the same key.
    for (n, scope) in scopes.iter().enumerate() {
        set(s, *scope, "cursor", format!("value-{n}").as_bytes()).await;
    }
    for (n, scope) in scopes.iter().enumerate() {
        assert_eq!(get(s, *scope, "cursor").await, Some(format!("value-{n}").into_bytes()), "{scope:?}");
    }
    // Deleting in one scope leaves the others alone.
    s.delete_plugin_state(scopes[4], "cursor").await.expect("delete");
    assert_eq!(get(s, scopes[4], "cursor").await, None);
    assert_eq!(get(s, scopes[0], "cursor").await, Some(b"value-0".to_vec()));
    // A project's quota is its own: a full scope does not fill another.
    s.set_plugin_state(scopes[2], "second", b"x", None, 1).await.expect_err("scope of A is full");
    s.set_plugin_state(scopes[4], "second", b"x", None, 1).await.expect("B's scope is empty");
}

pub async fn ttl_expiry(db: Db) {
    let s = &*db.store;
    let scope = Scope::new(project(s, "P").await.id, "github", None);
    s.set_plugin_state(scope, "short", b"1", SHORT, ROOMY).await.expect("set short");
    s.set_plugin_state(scope, "long", b"2", LONG, ROOMY).await.expect("set long");
    set(s, scope, "forever", b"3").await;
    // Overwriting drops the old expiry along with the old value.
    s.set_plugin_state(scope, "renewed", b"old", SHORT, ROOMY).await.expect("set renewed");
    set(s, scope, "renewed", b"new").await;
    tokio::time::sleep(EXPIRED).await;
    assert_eq!(get(s, scope, "short").await, None, "an expired value reads as absent");
    assert_eq!(get(s, scope, "long").await, Some(b"2".to_vec()));
    assert_eq!(get(s, scope, "forever").await, Some(b"3".to_vec()));
    assert_eq!(get(s, scope, "renewed").await, Some(b"new".to_vec()));
    // Writing an expired key again brings it back.
    set(s, scope, "short", b"again").await;
    assert_eq!(get(s, scope, "short").await, Some(b"again".to_vec()));
    // A zero time to live stores nothing.
    s.set_plugin_state(scope, "forever", b"gone", Some(Duration::ZERO), ROOMY).await.expect("zero ttl");
    assert_eq!(get(s, scope, "forever").await, None);
}

pub async fn purge_expired(db: Db) {
    let s = &*db.store;
    let (a, b) = (project(s, "A").await.id, project(s, "B").await.id);
    // A scope each, its short-lived key written last: a new key would
    // delete its scope's expired rows itself.
    let plugins = ["p0", "p1", "p2"];
    for (plugin, project) in plugins.into_iter().zip([a, a, b]) {
        let scope = Scope::new(project, plugin, None);
        s.set_plugin_state(scope, "live", b"y", LONG, ROOMY).await.expect("set");
        s.set_plugin_state(scope, "old", b"x", SHORT, ROOMY).await.expect("set");
    }
    tokio::time::sleep(EXPIRED).await;
    let now = OffsetDateTime::now_utc();
    // Batches across projects, until none is left.
    assert_eq!(s.purge_expired_plugin_state(now, 2).await.expect("purge"), 2);
    assert_eq!(s.purge_expired_plugin_state(now, 2).await.expect("purge"), 1);
    assert_eq!(s.purge_expired_plugin_state(now, 2).await.expect("purge"), 0);
    for (plugin, project) in plugins.into_iter().zip([a, a, b]) {
        assert_eq!(get(s, Scope::new(project, plugin, None), "live").await, Some(b"y".to_vec()), "live values stay");
    }
}

pub async fn quota(db: Db) {
    let s = &*db.store;
    let p = project(s, "P").await.id;
    let scope = Scope::new(p, "github", Some("conn-1"));
    s.set_plugin_state(scope, "a", b"1", None, 2).await.expect("first key");
    s.set_plugin_state(scope, "b", b"2", LONG, 2).await.expect("second key");
    let full = s.set_plugin_state(scope, "c", b"3", None, 2).await;
    assert!(matches!(full, Err(Error::QuotaExceeded { limit: 2, .. })), "{full:?}");
    assert_eq!(get(s, scope, "c").await, None, "a refused write stores nothing");
    // Replacing a live key is no new key.
    s.set_plugin_state(scope, "a", b"1b", None, 2).await.expect("overwrite at the quota");
    assert_eq!(get(s, scope, "a").await, Some(b"1b".to_vec()));
    // Deleted keys leave room.
    s.delete_plugin_state(scope, "b").await.expect("delete");
    s.set_plugin_state(scope, "c", b"3", None, 2).await.expect("room left by a deleted key");
    assert!(matches!(s.set_plugin_state(scope, "d", b"4", None, 2).await, Err(Error::QuotaExceeded { .. })));
    // So do expired ones.
    let other = Scope::new(p, "github", Some("conn-2"));
    s.set_plugin_state(other, "x", b"1", None, 2).await.expect("first key");
    s.set_plugin_state(other, "y", b"2", SHORT, 2).await.expect("second key");
    tokio::time::sleep(EXPIRED).await;
    s.set_plugin_state(other, "z", b"3", None, 2).await.expect("room left by an expired key");
    assert!(matches!(s.set_plugin_state(other, "w", b"4", None, 2).await, Err(Error::QuotaExceeded { .. })));
    assert_eq!(get(s, other, "z").await, Some(b"3".to_vec()));
    // A quota of zero takes no key at all.
    let none = Scope::new(p, "slack", None);
    assert!(matches!(s.set_plugin_state(none, "e", b"", None, 0).await, Err(Error::QuotaExceeded { limit: 0, .. })));
}

pub async fn concurrent_new_keys_respect_the_quota(db: Db) {
    let s = db.store.clone();
    let project = project(&*s, "P").await.id;
    let writes = (0..16).map(|n| {
        let s = s.clone();
        tokio::spawn(async move {
            let scope = Scope::new(project, "github", Some("conn-1"));
            s.set_plugin_state(scope, &format!("key-{n}"), b"v", None, 5).await
        })
    });
    let outcomes = futures::future::join_all(writes).await;
    let mut stored = 0;
    for outcome in outcomes {
        match outcome.expect("task") {
            Ok(()) => stored += 1,
            Err(Error::QuotaExceeded { limit: 5, .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stored, 5, "exactly the quota is stored, however the writes interleave");
    let scope = Scope::new(project, "github", Some("conn-1"));
    let mut found = 0;
    for n in 0..16 {
        found += usize::from(get(&*s, scope, &format!("key-{n}")).await.is_some());
    }
    assert_eq!(found, 5);
}

pub async fn overwrite(db: Db) {
    let s = &*db.store;
    let scope = Scope::new(project(s, "P").await.id, "github", None);
    set(s, scope, "k", b"first, and longer").await;
    set(s, scope, "k", b"second").await;
    assert_eq!(get(s, scope, "k").await, Some(b"second".to_vec()));
    set(s, scope, "k", b"").await;
    assert_eq!(get(s, scope, "k").await, Some(Vec::new()), "an empty value is a value, not an absence");
}

pub async fn delete(db: Db) {
    let s = &*db.store;
    let scope = Scope::new(project(s, "P").await.id, "github", Some("conn-1"));
    set(s, scope, "a", b"1").await;
    set(s, scope, "b", b"2").await;
    s.delete_plugin_state(scope, "a").await.expect("delete");
    assert_eq!(get(s, scope, "a").await, None);
    assert_eq!(get(s, scope, "b").await, Some(b"2".to_vec()), "only that key goes");
    s.delete_plugin_state(scope, "a").await.expect("deleting an absent key succeeds");
    s.delete_plugin_state(scope, "never-set").await.expect("deleting a key never set succeeds");
}

pub async fn large_binary_values(db: Db) {
    let s = &*db.store;
    let scope = Scope::new(project(s, "P").await.id, "github", None);
    // Every byte value, NUL and invalid UTF-8 included, at the largest size.
    let value: Vec<u8> = (0..MAX_PLUGIN_STATE_VALUE_BYTES).map(|i| (i * 7 % 256) as u8).collect();
    set(s, scope, "blob", &value).await;
    assert_eq!(get(s, scope, "blob").await, Some(value.clone()), "round-trips byte for byte");
    let over = vec![0u8; MAX_PLUGIN_STATE_VALUE_BYTES + 1];
    let refused = s.set_plugin_state(scope, "blob", &over, None, ROOMY).await;
    assert!(
        matches!(refused, Err(Error::TooLarge { limit, .. }) if limit == MAX_PLUGIN_STATE_VALUE_BYTES as u64),
        "{refused:?}"
    );
    assert_eq!(get(s, scope, "blob").await, Some(value), "a refused write leaves the old value");
    // Keys: the largest, non-ASCII, empty; one byte more is refused.
    let key = "k".repeat(MAX_PLUGIN_STATE_KEY_BYTES);
    for key in [key.as_str(), "ключ/✓", ""] {
        set(s, scope, key, key.as_bytes()).await;
        assert_eq!(get(s, scope, key).await, Some(key.as_bytes().to_vec()));
    }
    let long = "k".repeat(MAX_PLUGIN_STATE_KEY_BYTES + 1);
    assert!(matches!(s.get_plugin_state(scope, &long).await, Err(Error::TooLarge { .. })));
    assert!(matches!(s.set_plugin_state(scope, &long, b"v", None, ROOMY).await, Err(Error::TooLarge { .. })));
}

pub async fn invalid_input(db: Db) {
    let s = &*db.store;
    let p = project(s, "P").await.id;
    let scope = Scope::new(p, "github", None);
    // NUL is refused alike on both backends (PostgreSQL text cannot hold it).
    assert!(matches!(s.set_plugin_state(scope, "a\0b", b"v", None, ROOMY).await, Err(Error::Invalid(_))));
    assert!(matches!(s.get_plugin_state(scope, "a\0b").await, Err(Error::Invalid(_))));
    // Some("") would be the plugin-wide scope in disguise.
    assert!(matches!(s.get_plugin_state(Scope::new(p, "github", Some("")), "k").await, Err(Error::Invalid(_))));
    assert!(matches!(s.get_plugin_state(Scope::new(p, "", None), "k").await, Err(Error::Invalid(_))));
    let unknown = Scope::new(ProjectId::new(), "github", None);
    assert!(matches!(s.set_plugin_state(unknown, "k", b"v", None, ROOMY).await, Err(Error::NotFound("project"))));
    assert_eq!(get(s, unknown, "k").await, None);
    // A deleted project takes its state along.
    set(s, scope, "k", b"v").await;
    s.delete_project(p).await.expect("delete project");
    assert_eq!(get(s, scope, "k").await, None);
}
