//! Credentials, OAuth states and the event outbox (the sealed-value
//! bookkeeping of a master-key rotation is in `vault.rs`).

use crate::harness::{Db, project, random_hash};
use crate::vault::not_under;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use weft_store::{
    ConnectState, Credential, CredentialId, CredentialStatus, Error, IntegrationId, IntegrationPatch, NewCredential,
    NewIntegration, ProjectId, RefreshFailure, SealedColumn, SecretsUpdate, Store, day_number,
};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Now, truncated to the microsecond (what PostgreSQL keeps).
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("a valid nanosecond")
}

/// A fake sealed blob as the vault shapes it: format byte, big-endian master
/// key version, then bytes the store must treat as opaque.
pub(crate) fn sealed(key_version: u32) -> Vec<u8> {
    let mut bytes = vec![1u8];
    bytes.extend_from_slice(&key_version.to_be_bytes());
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes
}

/// An active integration of type `integration_type`.
pub(crate) async fn integration(store: &dyn Store, project: ProjectId, integration_type: &str) -> IntegrationId {
    let new = NewIntegration { integration_type: integration_type.into(), active: true, ..Default::default() };
    store.create_integration(project, new).await.expect("creating an integration").id
}

/// A project named `name` with a `test-echo` integration and the connected user `user-1`.
pub(crate) async fn setup(store: &dyn Store, name: &str) -> (ProjectId, IntegrationId) {
    let p = project(store, name).await.id;
    let it = integration(store, p, "test-echo").await;
    store.upsert_seen(p, "user-1").await.expect("user-1");
    (p, it)
}

/// A new credential of `user` for `integration`, sealed under key 1.
pub(crate) fn new_credential(integration: IntegrationId, user: &str) -> NewCredential {
    NewCredential {
        id: CredentialId::new(),
        integration_id: integration,
        user_id: user.into(),
        provider_id: Some(format!("acct-{user}")),
        provider_data: json!({"name": user, "emails": ["a@b.test"]}),
        connection_config: object(json!({"subdomain": "acme"})),
        secrets: sealed(1),
        expires_at: None,
    }
}

/// Inserts a credential expiring at `expires_at`.
async fn insert_expiring(
    store: &dyn Store,
    project: ProjectId,
    integration: IntegrationId,
    expires_at: Option<OffsetDateTime>,
) -> Credential {
    let new = NewCredential { expires_at, ..new_credential(integration, "user-1") };
    store.insert_credential(project, new).await.expect("inserting a credential")
}

/// A failure record under `lease` at `now`.
fn failure(lease: Uuid, now: OffsetDateTime, invalid_reason: Option<&str>) -> RefreshFailure {
    RefreshFailure {
        lease,
        now,
        retry_at: Some(now + Duration::minutes(1)),
        failure_days: 1,
        day: day_number(now),
        invalid_reason: invalid_reason.map(Into::into),
    }
}

/// Claims a lease on `id` for 30 seconds from `at`, which must be free.
async fn lease(store: &dyn Store, project: ProjectId, id: CredentialId, at: OffsetDateTime) -> Uuid {
    let lease = Uuid::new_v4();
    let taken = store.claim_refresh_lease(project, id, lease, at, at + Duration::seconds(30)).await.expect("claim");
    assert!(taken.is_some(), "the lease was free");
    lease
}

pub async fn insert_get_list(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    s.upsert_seen(p, "user-2").await.expect("user-2");
    let expires = now() + Duration::hours(1);
    let new = NewCredential { expires_at: Some(expires), ..new_credential(it, "user-1") };
    let first = s.insert_credential(p, new.clone()).await.expect("first");
    assert_eq!((first.id, first.project_id, first.integration_id, first.user_id.as_str()), (new.id, p, it, "user-1"));
    assert_eq!((first.status, first.invalid_reason.as_deref(), first.version), (CredentialStatus::Valid, None, 1));
    assert_eq!(first.config, Map::new());
    assert_eq!((&first.provider_id, &first.provider_data), (&new.provider_id, &new.provider_data));
    assert_eq!(first.connection_config, new.connection_config);
    assert_eq!(first.secrets, new.secrets, "the sealed bytes come back unchanged");
    assert_eq!(first.expires_at, Some(expires));
    assert_eq!(
        (first.refresh_failure_count, first.failure_days, first.last_failure_day, first.retry_at, first.lease_until),
        (0, 0, None, None, None)
    );

    let second = s.insert_credential(p, new_credential(it, "user-1")).await.expect("second, same integration");
    let other = s.insert_credential(p, new_credential(it, "user-2")).await.expect("another user's");
    assert_eq!(s.get_credential(p, first.id).await.expect("get"), first);
    assert_eq!(s.list_user_credentials(p, "user-1").await.expect("list"), vec![first.clone(), second.clone()]);
    assert_eq!(s.list_user_credentials(p, "user-2").await.expect("list"), vec![other.clone()]);
    assert!(s.list_user_credentials(p, "nobody").await.expect("list").is_empty());
    assert_eq!(s.count_credentials(p).await.expect("count"), 3);
    match s.insert_credential(p, NewCredential { id: first.id, ..new_credential(it, "user-1") }).await {
        Err(Error::Conflict(_)) => {}
        other => panic!("expected a conflict for a reused id, got {other:?}"),
    }

    // Another project sees none of it, and cannot lend its integration.
    let (q, q_it) = setup(&*s, "Q").await;
    assert!(matches!(s.get_credential(q, first.id).await, Err(Error::NotFound(_))));
    assert!(s.list_user_credentials(q, "user-1").await.expect("list").is_empty());
    assert_eq!(s.count_credentials(q).await.expect("count"), 0);
    let foreign = new_credential(q_it, "user-1");
    assert!(matches!(s.insert_credential(p, foreign.clone()).await, Err(Error::NotFound(_))));
    assert!(matches!(s.get_credential(p, foreign.id).await, Err(Error::NotFound(_))), "no row");
    assert!(matches!(s.get_credential(q, foreign.id).await, Err(Error::NotFound(_))), "no row");
    // A user never seen cannot hold a credential.
    let ghost = new_credential(it, "ghost");
    let res = s.insert_credential(p, ghost.clone()).await;
    assert!(matches!(res, Err(Error::NotFound("user"))), "{res:?}");
    assert!(matches!(s.get_credential(p, ghost.id).await, Err(Error::NotFound(_))), "no row");
    assert_eq!(s.count_credentials(p).await.expect("count"), 3);

    // Deleting is the owner's, in the credential's project.
    assert!(matches!(s.delete_credential(q, "user-1", first.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete_credential(p, "user-2", first.id).await, Err(Error::NotFound(_))));
    s.delete_credential(p, "user-1", first.id).await.expect("delete");
    assert!(matches!(s.delete_credential(p, "user-1", first.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.get_credential(p, first.id).await, Err(Error::NotFound(_))));
    assert_eq!(s.list_user_credentials(p, "user-1").await.expect("list"), vec![second]);
    assert_eq!(s.get_credential(p, other.id).await.expect("untouched"), other);
}

pub async fn config_replacement(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let c = s.insert_credential(p, new_credential(it, "user-1")).await.expect("insert");
    let full = object(json!({"configuredWorkflows": {"wf-1": {"enabled": true}}, "sharedSettings": {"x": 1}}));
    let set = s.set_credential_config(p, "user-1", c.id, full.clone()).await.expect("set");
    assert_eq!(set.config, full);
    assert_eq!((set.version, &set.secrets), (c.version, &c.secrets), "config is not a secrets change");

    let replaced =
        s.set_credential_config(p, "user-1", c.id, object(json!({"sharedSettings": {"y": 2}}))).await.expect("set");
    assert_eq!(Value::Object(replaced.config.clone()), json!({"sharedSettings": {"y": 2}}), "replaced, not merged");
    assert_eq!(s.get_credential(p, c.id).await.expect("get"), replaced);

    s.upsert_seen(p, "user-2").await.expect("user-2");
    assert!(matches!(s.set_credential_config(p, "user-2", c.id, Map::new()).await, Err(Error::NotFound(_))));
    assert!(matches!(
        s.set_credential_config(p, "user-1", CredentialId::new(), Map::new()).await,
        Err(Error::NotFound(_))
    ));
    let (q, _) = setup(&*s, "Q").await;
    assert!(matches!(s.set_credential_config(q, "user-1", c.id, Map::new()).await, Err(Error::NotFound(_))));
    let huge = object(json!({"blob": "x".repeat(70 * 1024)}));
    assert!(matches!(s.set_credential_config(p, "user-1", c.id, huge).await, Err(Error::Invalid(_))));
    assert_eq!(s.get_credential(p, c.id).await.expect("get").config, replaced.config, "nothing else applied");
}

pub async fn refresh_lease(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let c = s.insert_credential(p, new_credential(it, "user-1")).await.expect("insert");
    let t0 = now();
    let (l1, l2, l3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    let until = t0 + Duration::seconds(30);
    let leased = s.claim_refresh_lease(p, c.id, l1, t0, until).await.expect("claim").expect("a free lease is taken");
    assert_eq!(leased.lease_until, Some(until));
    assert_eq!((leased.id, leased.version, &leased.secrets), (c.id, c.version, &c.secrets));
    assert_eq!(s.get_credential(p, c.id).await.expect("get").lease_until, Some(until));

    let later = t0 + Duration::seconds(10);
    let busy = s.claim_refresh_lease(p, c.id, l2, later, later + Duration::seconds(30)).await.expect("claim");
    assert_eq!(busy, None, "held until {until}");
    let expired = until + Duration::seconds(1);
    let until2 = expired + Duration::seconds(30);
    let retaken = s.claim_refresh_lease(p, c.id, l2, expired, until2).await.expect("claim").expect("an expired lease");
    assert_eq!(retaken.lease_until, Some(until2));

    // Only the holder gives a lease back.
    s.release_refresh_lease(p, c.id, l1).await.expect("stale release");
    assert_eq!(s.get_credential(p, c.id).await.expect("get").lease_until, Some(until2), "still l2's");
    s.release_refresh_lease(p, c.id, l2).await.expect("release");
    let released = s.get_credential(p, c.id).await.expect("get");
    assert_eq!(released.lease_until, None);
    assert_eq!((released.version, &released.secrets), (c.version, &c.secrets), "a lease changes nothing else");
    let again = s.claim_refresh_lease(p, c.id, l3, expired, until2).await.expect("claim");
    assert!(again.is_some(), "a released lease is free before its old expiry");
    s.release_refresh_lease(p, c.id, l3).await.expect("release");

    // Twenty claimers at once: exactly one holds the lease.
    let id = c.id;
    let claimers = (0..20).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            let t = now();
            s.claim_refresh_lease(p, id, Uuid::new_v4(), t, t + Duration::seconds(30)).await
        })
    });
    let taken = futures::future::join_all(claimers)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("claim"))
        .filter(Option::is_some)
        .count();
    assert_eq!(taken, 1, "one holder at a time");

    let missing = s.claim_refresh_lease(p, CredentialId::new(), l1, t0, until).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let (q, _) = setup(&*s, "Q").await;
    let foreign = s.claim_refresh_lease(q, c.id, l1, t0, until).await;
    assert!(matches!(foreign, Err(Error::NotFound(_))), "{foreign:?}");
}

pub async fn update_secrets_cas(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let c = insert_expiring(&*s, p, it, Some(now())).await;
    let t0 = now();
    // A failed attempt first, so the success has counters to clear.
    let l0 = lease(&*s, p, c.id, t0).await;
    s.record_refresh_failure(p, c.id, failure(l0, t0, None)).await.expect("failure");
    let held = lease(&*s, p, c.id, t0 + Duration::minutes(2)).await;

    let secrets = sealed(1);
    let expires = t0 + Duration::hours(1);
    let refreshed = t0 + Duration::minutes(2) + Duration::seconds(1);
    let update = SecretsUpdate {
        expected_version: 1,
        secrets: secrets.clone(),
        expires_at: Some(expires),
        lease: Some(held),
        now: refreshed,
        connection_config: None,
    };
    let updated = s.update_secrets(p, c.id, update.clone()).await.expect("update");
    assert_eq!((updated.version, &updated.secrets, updated.expires_at), (2, &secrets, Some(expires)));
    assert_eq!(updated.refreshed_at, Some(refreshed));
    assert_eq!(
        (updated.refresh_failure_count, updated.failure_days, updated.last_failure_day, updated.retry_at),
        (0, 0, None, None),
        "failures cleared"
    );
    assert_eq!(updated.lease_until, None, "lease released");
    assert_eq!(updated.config, c.config);
    assert_eq!(updated.connection_config, c.connection_config, "no new settings keep the old");
    assert_eq!(s.get_credential(p, c.id).await.expect("get"), updated);

    match s.update_secrets(p, c.id, SecretsUpdate { secrets: sealed(1), lease: None, ..update.clone() }).await {
        Err(Error::Conflict(_)) => {}
        other => panic!("a stale version must conflict, got {other:?}"),
    }
    // A lease taken by someone else refuses the write, with or without a lease.
    let other = lease(&*s, p, c.id, refreshed).await;
    for lease in [Some(held), None] {
        let attempt = SecretsUpdate { expected_version: 2, secrets: sealed(1), lease, ..update.clone() };
        let res = s.update_secrets(p, c.id, attempt).await;
        assert!(matches!(res, Err(Error::Conflict(_))), "{lease:?}: {res:?}");
    }
    s.release_refresh_lease(p, c.id, other).await.expect("release");
    assert_eq!(s.get_credential(p, c.id).await.expect("get").secrets, secrets, "nothing written");

    let v2 = SecretsUpdate { expected_version: 2, lease: None, ..update.clone() };
    assert!(matches!(s.update_secrets(p, CredentialId::new(), v2.clone()).await, Err(Error::NotFound(_))));
    let (q, _) = setup(&*s, "Q").await;
    assert!(matches!(s.update_secrets(q, c.id, v2).await, Err(Error::NotFound(_))));

    // Twenty writers that read version 2: exactly one wins.
    let id = c.id;
    let writers = (0..20).map(|_| {
        let s = s.clone();
        let mine = sealed(1);
        tokio::spawn(async move {
            let update = SecretsUpdate {
                expected_version: 2,
                secrets: mine.clone(),
                expires_at: None,
                lease: None,
                now: now(),
                connection_config: None,
            };
            (mine, s.update_secrets(p, id, update).await)
        })
    });
    let mut winners = Vec::new();
    for outcome in futures::future::join_all(writers).await {
        match outcome.expect("task") {
            (mine, Ok(cred)) => winners.push((mine, cred)),
            (_, Err(Error::Conflict(_))) => {}
            (_, Err(e)) => panic!("expected a conflict, got {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "one compare-and-swap wins");
    let (mine, cred) = winners.pop().expect("a winner");
    assert_eq!((cred.version, &cred.secrets), (3, &mine));
    assert_eq!(s.get_credential(p, c.id).await.expect("get"), cred);

    // A refresh may move the account's settings with its secrets, in the
    // same write (Salesforce's `instance_url`).
    let moved = object(json!({"token.instance_url": "https://eu12.example"}));
    let update = SecretsUpdate {
        expected_version: 3,
        secrets: sealed(1),
        expires_at: None,
        lease: None,
        now: now(),
        connection_config: Some(moved.clone()),
    };
    let written = s.update_secrets(p, c.id, update).await.expect("update with settings");
    assert_eq!((written.version, &written.connection_config), (4, &moved));
    assert_eq!(s.get_credential(p, c.id).await.expect("get").connection_config, moved);
}

pub async fn refresh_failures(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let c = insert_expiring(&*s, p, it, Some(now())).await;
    let t0 = now();
    let day = day_number(t0);

    let l1 = lease(&*s, p, c.id, t0).await;
    let retry = t0 + Duration::minutes(1);
    let first = s
        .record_refresh_failure(p, c.id, RefreshFailure { retry_at: Some(retry), ..failure(l1, t0, None) })
        .await
        .expect("first failure");
    assert!(!first.became_invalid);
    let cred = &first.credential;
    assert_eq!((cred.status, cred.invalid_reason.as_deref()), (CredentialStatus::Valid, None));
    assert_eq!((cred.refresh_failure_count, cred.failure_days, cred.last_failure_day), (1, 1, Some(day)));
    assert_eq!((cred.retry_at, cred.lease_until), (Some(retry), None), "backoff stored, lease released");
    assert_eq!((cred.version, &cred.secrets), (c.version, &c.secrets), "secrets untouched");
    assert_eq!(cred.updated_at, t0);
    assert_eq!(&s.get_credential(p, c.id).await.expect("get"), cred);

    let t1 = t0 + Duration::days(1);
    let l2 = lease(&*s, p, c.id, t1).await;
    let second = s
        .record_refresh_failure(
            p,
            c.id,
            RefreshFailure { retry_at: None, failure_days: 2, ..failure(l2, t1, Some("needs_reauth")) },
        )
        .await
        .expect("second failure");
    assert!(second.became_invalid, "this write turned it invalid");
    let cred = &second.credential;
    assert_eq!((cred.status, cred.invalid_reason.as_deref()), (CredentialStatus::Invalid, Some("needs_reauth")));
    assert_eq!((cred.refresh_failure_count, cred.failure_days, cred.last_failure_day), (2, 2, Some(day + 1)));
    assert_eq!((cred.retry_at, cred.lease_until), (None, None));

    let t2 = t1 + Duration::minutes(5);
    let l3 = lease(&*s, p, c.id, t2).await;
    let third = s.record_refresh_failure(p, c.id, failure(l3, t2, Some("needs_reauth"))).await.expect("third failure");
    assert!(!third.became_invalid, "already invalid");
    assert_eq!((third.credential.status, third.credential.refresh_failure_count), (CredentialStatus::Invalid, 3));
    // A failure without a reason does not make it valid again.
    let l4 = lease(&*s, p, c.id, t2).await;
    let fourth = s.record_refresh_failure(p, c.id, failure(l4, t2, None)).await.expect("fourth failure");
    assert!(!fourth.became_invalid);
    let cred = &fourth.credential;
    assert_eq!((cred.status, cred.invalid_reason.as_deref()), (CredentialStatus::Invalid, Some("needs_reauth")));

    // Without the lease: refused, nothing recorded.
    let res = s.record_refresh_failure(p, c.id, failure(Uuid::new_v4(), t2, None)).await;
    assert!(matches!(res, Err(Error::Conflict(_))), "no lease held: {res:?}");
    let holder = lease(&*s, p, c.id, t2).await;
    let res = s.record_refresh_failure(p, c.id, failure(l4, t2, None)).await;
    assert!(matches!(res, Err(Error::Conflict(_))), "another holder's lease: {res:?}");
    let after = s.get_credential(p, c.id).await.expect("get");
    assert_eq!(after.refresh_failure_count, 4);
    assert_eq!(after.lease_until, Some(t2 + Duration::seconds(30)), "the holder keeps its lease");
    s.release_refresh_lease(p, c.id, holder).await.expect("release");
    let res = s.record_refresh_failure(p, CredentialId::new(), failure(holder, t2, None)).await;
    assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
}

pub async fn reconnect_replaces(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let c = insert_expiring(&*s, p, it, Some(now())).await;
    let config = object(json!({"sharedSettings": {"channel": "#general"}}));
    s.set_credential_config(p, "user-1", c.id, config.clone()).await.expect("config");
    let t0 = now();
    let l = lease(&*s, p, c.id, t0).await;
    let dead = s.record_refresh_failure(p, c.id, failure(l, t0, Some("needs_reauth"))).await.expect("failure");
    assert_eq!(dead.credential.status, CredentialStatus::Invalid);

    let expires = now() + Duration::hours(2);
    let new = NewCredential {
        id: c.id,
        integration_id: it,
        user_id: "user-1".into(),
        provider_id: Some("acct-2".into()),
        provider_data: json!({"name": "renamed"}),
        connection_config: object(json!({"subdomain": "beta"})),
        secrets: sealed(2),
        expires_at: Some(expires),
    };
    let r = s.replace_credential(p, "user-1", new.clone()).await.expect("replace");
    assert_eq!((r.status, r.invalid_reason.as_deref()), (CredentialStatus::Valid, None));
    assert_eq!((&r.secrets, r.version, r.expires_at), (&new.secrets, c.version + 1, Some(expires)));
    assert_eq!((&r.provider_id, &r.provider_data), (&new.provider_id, &new.provider_data));
    assert_eq!(r.connection_config, new.connection_config);
    assert_eq!(r.config, config, "workflow settings survive a reconnect");
    assert_eq!(
        (r.refresh_failure_count, r.failure_days, r.last_failure_day, r.retry_at, r.lease_until),
        (0, 0, None, None, None),
        "failures cleared"
    );
    assert_eq!((r.id, r.user_id.as_str(), r.created_at), (c.id, "user-1", c.created_at));
    assert_eq!(s.get_credential(p, c.id).await.expect("get"), r);

    s.upsert_seen(p, "user-2").await.expect("user-2");
    let other_it = integration(&*s, p, "test-other").await;
    let (q, _) = setup(&*s, "Q").await;
    let attempts = [
        (p, "user-2", new.clone()),
        (p, "user-1", NewCredential { integration_id: other_it, ..new.clone() }),
        (p, "user-1", NewCredential { id: CredentialId::new(), ..new.clone() }),
        (q, "user-1", new.clone()),
    ];
    for (project, user, attempt) in attempts {
        let res = s.replace_credential(project, user, NewCredential { secrets: sealed(3), ..attempt }).await;
        assert!(matches!(res, Err(Error::NotFound(_))), "{res:?}");
    }
    assert_eq!(s.get_credential(p, c.id).await.expect("get"), r, "unchanged");
}

pub async fn expiring_sweep(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let (q, q_it) = setup(&*s, "Q").await;
    let t = now();
    let at = |minutes: i64| Some(t + Duration::minutes(minutes));
    let key = |c: &Credential| (c.project_id, c.id);

    // Inserted out of expiry order.
    let c = insert_expiring(&*s, p, it, at(3)).await;
    let b = insert_expiring(&*s, q, q_it, at(2)).await;
    let a = insert_expiring(&*s, p, it, at(1)).await;
    let expired = insert_expiring(&*s, p, it, at(-1)).await;
    let _late = insert_expiring(&*s, p, it, at(30)).await;
    let _never = insert_expiring(&*s, p, it, None).await;
    let invalid = insert_expiring(&*s, q, q_it, at(4)).await;
    let l = lease(&*s, q, invalid.id, t).await;
    s.record_refresh_failure(q, invalid.id, RefreshFailure { retry_at: None, ..failure(l, t, Some("refresh_lost")) })
        .await
        .expect("invalidate");
    let backoff = insert_expiring(&*s, p, it, at(5)).await;
    let l = lease(&*s, p, backoff.id, t).await;
    s.record_refresh_failure(p, backoff.id, RefreshFailure { retry_at: at(1), ..failure(l, t, None) })
        .await
        .expect("backoff");
    let leased = insert_expiring(&*s, p, it, at(6)).await;
    s.claim_refresh_lease(p, leased.id, Uuid::new_v4(), t, t + Duration::minutes(2)).await.expect("claim");

    let before = t + Duration::minutes(10);
    let due = s.credentials_expiring(before, t, 100).await.expect("sweep");
    assert_eq!(due, vec![key(&expired), key(&a), key(&b), key(&c)]);
    assert_eq!(s.credentials_expiring(before, t, 2).await.expect("sweep"), vec![key(&expired), key(&a)]);
    // Once the backoff and the lease are over, those come back.
    let due = s.credentials_expiring(before, t + Duration::minutes(2), 100).await.expect("sweep");
    assert_eq!(due, vec![key(&expired), key(&a), key(&b), key(&c), key(&backoff), key(&leased)]);
    let soon = s.credentials_expiring(t + Duration::minutes(1), t, 100).await.expect("sweep");
    assert_eq!(soon, vec![key(&expired)], "strictly before");
}

pub async fn connect_states(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let other_it = integration(&*s, p, "test-other").await;
    let (q, q_it) = setup(&*s, "Q").await;
    let t = now();
    let state = |integration: IntegrationId, expires_at: OffsetDateTime| ConnectState {
        state_hash: random_hash(),
        project_id: p,
        integration_id: integration,
        user_id: "user-1".into(),
        sealed: sealed(1),
        expires_at,
    };

    let pending = state(it, t + Duration::minutes(10));
    s.insert_connect_state(pending.clone()).await.expect("insert");
    match s.insert_connect_state(ConnectState { sealed: sealed(1), ..pending.clone() }).await {
        Err(Error::Conflict(_)) => {}
        other => panic!("a reused state must conflict, got {other:?}"),
    }
    let hash = pending.state_hash.as_str();
    assert_eq!(s.take_connect_state(q, it, hash).await.expect("take"), None, "another project");
    assert_eq!(s.take_connect_state(q, q_it, hash).await.expect("take"), None, "another project");
    assert_eq!(s.take_connect_state(p, other_it, hash).await.expect("take"), None, "another integration");
    assert_eq!(s.take_connect_state(p, it, hash).await.expect("take"), Some(pending.clone()), "still there");
    assert_eq!(s.take_connect_state(p, it, hash).await.expect("take"), None, "taken once");

    let unknown = ConnectState { integration_id: IntegrationId::new(), ..state(it, t) };
    assert!(matches!(s.insert_connect_state(unknown).await, Err(Error::NotFound(_))));

    let expired = state(it, t - Duration::minutes(1));
    let fresh = state(other_it, t + Duration::minutes(10));
    let expired_too = state(it, t - Duration::seconds(1));
    for st in [&expired, &fresh, &expired_too] {
        s.insert_connect_state(st.clone()).await.expect("insert");
    }
    assert_eq!(s.purge_connect_states(t).await.expect("purge"), 2);
    assert_eq!(s.purge_connect_states(t).await.expect("purge"), 0);
    assert_eq!(s.take_connect_state(p, it, &expired.state_hash).await.expect("take"), None, "purged");
    assert_eq!(s.take_connect_state(p, other_it, &fresh.state_hash).await.expect("take"), Some(fresh));

    // Expiry is the caller's check: an expired state not yet purged is taken.
    let stale = state(it, t - Duration::minutes(1));
    s.insert_connect_state(stale.clone()).await.expect("insert");
    assert_eq!(s.take_connect_state(p, it, &stale.state_hash).await.expect("take"), Some(stale));
}

pub async fn events(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await.id;
    let q = project(&*s, "Q").await.id;
    let start = now();
    let payload = object(json!({"credentialId": "c-1", "reason": "needs_reauth", "nested": {"n": [1, 2]}}));
    let first = s.insert_event(p, "credentials_failure", payload.clone()).await.expect("insert");
    assert_eq!((first.project_id, first.event_type.as_str(), &first.payload), (p, "credentials_failure", &payload));
    assert!(first.created_at >= start && first.created_at <= now(), "{}", first.created_at);
    let second = s.insert_event(p, "credentials_refreshed", Map::new()).await.expect("insert");
    let third = s.insert_event(p, "credentials_failure", object(json!({"credentialId": "c-2"}))).await.expect("insert");
    let theirs = s.insert_event(q, "credentials_failure", Map::new()).await.expect("insert");
    assert_ne!(first.id, second.id);

    assert_eq!(s.list_events(p, 10).await.expect("list"), vec![first.clone(), second.clone(), third]);
    assert_eq!(s.list_events(p, 2).await.expect("list"), vec![first, second]);
    assert_eq!(s.list_events(q, 10).await.expect("list"), vec![theirs]);
    assert!(matches!(s.insert_event(ProjectId::new(), "x", Map::new()).await, Err(Error::NotFound(_))));
    assert!(s.list_events(ProjectId::new(), 10).await.expect("list").is_empty());
}

pub async fn integration_secrets(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let q = project(&*s, "Q").await.id;
    let fresh = s.get_integration(p, it).await.expect("get");
    assert_eq!((fresh.has_client_secret, fresh.misconfigured.as_deref()), (false, None));
    assert_eq!(s.client_secret(p, it).await.expect("client secret"), None);

    let secret = sealed(1);
    s.set_client_secret(p, it, Some(secret.clone())).await.expect("set");
    assert_eq!(s.client_secret(p, it).await.expect("client secret"), Some(secret.clone()));
    assert!(s.get_integration(p, it).await.expect("get").has_client_secret);
    let patch = IntegrationPatch { active: Some(false), ..Default::default() };
    let patched = s.update_integration(p, it, patch).await.expect("patch");
    assert!(patched.has_client_secret, "a patch keeps the client secret");
    assert_eq!(s.client_secret(p, it).await.expect("client secret"), Some(secret.clone()));
    assert!(matches!(s.set_client_secret(q, it, Some(sealed(1))).await, Err(Error::NotFound(_))));
    assert!(matches!(s.client_secret(q, it).await, Err(Error::NotFound(_))));
    assert!(matches!(s.client_secret(p, IntegrationId::new()).await, Err(Error::NotFound(_))));
    s.set_client_secret(p, it, None).await.expect("clear");
    assert_eq!(s.client_secret(p, it).await.expect("client secret"), None);
    assert!(!s.get_integration(p, it).await.expect("get").has_client_secret);

    s.set_misconfigured(p, it, Some("invalid_client")).await.expect("mark");
    assert_eq!(s.get_integration(p, it).await.expect("get").misconfigured.as_deref(), Some("invalid_client"));
    assert_eq!(s.list_integrations(p).await.expect("list")[0].misconfigured.as_deref(), Some("invalid_client"));
    assert!(matches!(s.set_misconfigured(q, it, Some("x")).await, Err(Error::NotFound(_))));
    s.set_misconfigured(p, it, None).await.expect("clear");
    assert_eq!(s.get_integration(p, it).await.expect("get").misconfigured, None);

    s.add_secret_name(p, "API_TOKEN").await.expect("name");
    s.add_secret_name(q, "API_TOKEN").await.expect("same name in Q");
    assert_eq!(s.secret_value(p, "API_TOKEN").await.expect("value"), None, "a name without a value");
    let (v1, v2) = (sealed(1), sealed(1));
    s.set_secret_value(p, "API_TOKEN", v1.clone()).await.expect("set");
    assert_eq!(s.secret_value(p, "API_TOKEN").await.expect("value"), Some(v1));
    s.set_secret_value(p, "API_TOKEN", v2.clone()).await.expect("replace");
    assert_eq!(s.secret_value(p, "API_TOKEN").await.expect("value"), Some(v2));
    assert_eq!(s.secret_value(q, "API_TOKEN").await.expect("value"), None, "Q's value is its own");
    assert!(matches!(s.set_secret_value(p, "UNKNOWN", sealed(1)).await, Err(Error::NotFound(_))));
    assert!(matches!(s.secret_value(p, "UNKNOWN").await, Err(Error::NotFound(_))));
    s.delete_secret_name(p, "API_TOKEN").await.expect("delete");
    assert!(matches!(s.secret_value(p, "API_TOKEN").await, Err(Error::NotFound(_))));
}

pub async fn cascade(db: Db) {
    let s = db.store;
    let (p, it) = setup(&*s, "P").await;
    let it2 = integration(&*s, p, "test-other").await;
    s.upsert_seen(p, "user-2").await.expect("user-2");
    let (q, q_it) = setup(&*s, "Q").await;
    let on_it_1 = s.insert_credential(p, new_credential(it, "user-1")).await.expect("credential");
    let on_it_2 = s.insert_credential(p, new_credential(it, "user-2")).await.expect("credential");
    let on_it2 = s.insert_credential(p, new_credential(it2, "user-1")).await.expect("credential");
    let theirs = s.insert_credential(q, new_credential(q_it, "user-1")).await.expect("credential");
    let state = |project: ProjectId, integration: IntegrationId| ConnectState {
        state_hash: random_hash(),
        project_id: project,
        integration_id: integration,
        user_id: "user-1".into(),
        sealed: sealed(1),
        expires_at: now() + Duration::minutes(10),
    };
    let (state_it, state_it2, state_q) = (state(p, it), state(p, it2), state(q, q_it));
    for st in [&state_it, &state_it2, &state_q] {
        s.insert_connect_state(st.clone()).await.expect("state");
    }
    s.insert_event(p, "credentials_failure", Map::new()).await.expect("event");
    let their_event = s.insert_event(q, "credentials_failure", Map::new()).await.expect("event");
    s.set_client_secret(p, it2, Some(sealed(1))).await.expect("client secret");
    s.add_secret_name(p, "TOKEN").await.expect("name");
    s.set_secret_value(p, "TOKEN", sealed(1)).await.expect("value");

    s.delete_integration(p, it).await.expect("delete integration");
    for id in [on_it_1.id, on_it_2.id] {
        assert!(matches!(s.get_credential(p, id).await, Err(Error::NotFound(_))), "deleted with its integration");
    }
    assert_eq!(s.list_user_credentials(p, "user-1").await.expect("list"), vec![on_it2.clone()]);
    assert!(s.list_user_credentials(p, "user-2").await.expect("list").is_empty());
    assert_eq!(s.count_credentials(p).await.expect("count"), 1);
    let leftover = s.sealed_not_under(SealedColumn::ConnectState, 2, 100).await.expect("states");
    let mut hashes: Vec<_> = leftover.into_iter().map(|v| v.owner_id).collect();
    hashes.sort();
    let mut expected = vec![state_it2.state_hash.clone(), state_q.state_hash.clone()];
    expected.sort();
    assert_eq!(hashes, expected, "the integration's pending states went with it");

    s.delete_project(p).await.expect("delete project");
    assert_eq!(s.count_credentials(p).await.expect("count"), 0);
    assert!(matches!(s.get_credential(p, on_it2.id).await, Err(Error::NotFound(_))));
    assert!(s.list_user_credentials(p, "user-1").await.expect("list").is_empty());
    assert!(s.list_events(p, 10).await.expect("events").is_empty());
    assert_eq!(s.take_connect_state(p, it2, &state_it2.state_hash).await.expect("take"), None);
    // Only Q's sealed values are left, and Q's rows are intact.
    for v in not_under(&*s, 99).await {
        assert_eq!(v.project_id, Some(q), "{v:?}");
    }
    assert_eq!(s.get_credential(q, theirs.id).await.expect("Q's credential"), theirs);
    assert_eq!(s.list_events(q, 10).await.expect("events"), vec![their_event]);
    assert_eq!(s.take_connect_state(q, q_it, &state_q.state_hash).await.expect("take"), Some(state_q));
}
