//! Integration triggers: routing keys, subscriptions, polls claimed once,
//! events de-duplicated and routed, tenancy.

use crate::harness::{Db, project};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;
use weft_store::{
    CredentialId, Error, IntegrationId, NewCredential, NewIntegration, NewSubscription, NewTriggerEvent, NewWorkflow,
    ProjectId, SealedColumn, Store, SubscriptionKind, SubscriptionScope, SubscriptionStatus, SubscriptionUpdate,
    WorkflowId,
};

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("a valid nanosecond")
}

/// A project with a `slack` integration, a workflow of it and an account of
/// `user-1`.
struct Setup {
    project: ProjectId,
    integration: IntegrationId,
    workflow: WorkflowId,
    credential: CredentialId,
}

async fn setup(s: &dyn Store, name: &str) -> Setup {
    let project = project(s, name).await.id;
    let new = NewIntegration { integration_type: "slack".into(), active: true, ..Default::default() };
    let integration = s.create_integration(project, new).await.unwrap().id;
    s.upsert_seen(project, "user-1").await.unwrap();
    let credential = account(s, project, integration, "user-1").await;
    let workflow = s
        .create_workflow(project, NewWorkflow { name: "W".into(), integration: "slack".into(), definition: json!({}) })
        .await
        .unwrap()
        .id;
    Setup { project, integration, workflow, credential }
}

async fn account(s: &dyn Store, project: ProjectId, integration: IntegrationId, user: &str) -> CredentialId {
    s.upsert_seen(project, user).await.unwrap();
    let new = NewCredential {
        id: CredentialId::new(),
        integration_id: integration,
        user_id: user.into(),
        provider_id: None,
        provider_data: json!({}),
        connection_config: Default::default(),
        secrets: vec![1, 0, 0, 0, 1, 9],
        expires_at: None,
    };
    s.insert_credential(project, new).await.unwrap().id
}

fn subscription(x: &Setup, kind: SubscriptionKind) -> NewSubscription {
    NewSubscription {
        integration: x.integration,
        workflow: Some(x.workflow),
        scope: SubscriptionScope::Workflow,
        credential: x.credential,
        trigger: "MESSAGE".into(),
        kind,
        config: json!({"channel": "C1"}),
        interval_secs: (kind == SubscriptionKind::Polling).then_some(60),
        status: if kind == SubscriptionKind::Webhook {
            SubscriptionStatus::Pending
        } else {
            SubscriptionStatus::Active
        },
        next_run_at: (kind == SubscriptionKind::Polling).then(now),
    }
}

fn event(dedupe: Option<&str>, routing: Option<&str>, payload: Value) -> NewTriggerEvent {
    NewTriggerEvent {
        subscription: None,
        trigger: "MESSAGE".into(),
        routing_key: routing.map(Into::into),
        dedupe_key: dedupe.map(Into::into),
        occurred_at: None,
        payload,
    }
}

pub async fn routing_keys(db: Db) {
    let s = &*db.store;
    let x = setup(s, "A").await;
    let other = account(s, x.project, x.integration, "user-2").await;
    s.set_routing_keys(x.project, x.credential, &["T1".into(), "U1".into()]).await.unwrap();
    s.set_routing_keys(x.project, other, &["T1".into()]).await.unwrap();
    let mut both = vec![x.credential, other];
    both.sort();
    assert_eq!(s.credentials_by_routing_key(x.project, x.integration, "T1").await.unwrap(), both);
    // Replaced as a whole.
    s.set_routing_keys(x.project, x.credential, &["T2".into()]).await.unwrap();
    assert_eq!(s.credentials_by_routing_key(x.project, x.integration, "T1").await.unwrap(), vec![other]);
    assert_eq!(s.credentials_by_routing_key(x.project, x.integration, "T2").await.unwrap(), vec![x.credential]);
    // Gone with the account.
    s.delete_credential(x.project, "user-2", other).await.unwrap();
    assert!(s.credentials_by_routing_key(x.project, x.integration, "T1").await.unwrap().is_empty());
    assert!(matches!(
        s.set_routing_keys(x.project, CredentialId::new(), &["T1".into()]).await,
        Err(Error::NotFound("credential"))
    ));
}

pub async fn subscriptions(db: Db) {
    let s = &*db.store;
    let x = setup(s, "A").await;
    let sub = s.create_subscription(x.project, subscription(&x, SubscriptionKind::Webhook), now()).await.unwrap();
    assert_eq!((sub.user.as_str(), sub.status, sub.state.clone()), ("user-1", SubscriptionStatus::Pending, None));
    assert_eq!(sub.config, json!({"channel": "C1"}));
    // One per workflow and account.
    assert!(matches!(
        s.create_subscription(x.project, subscription(&x, SubscriptionKind::Webhook), now()).await,
        Err(Error::Conflict(_))
    ));
    // Pending ones are retried only once their maker had time to finish.
    let young = s.subscriptions_to_retry(now(), now() - time::Duration::minutes(1), 10).await.unwrap();
    assert!(young.is_empty());
    let old = s.subscriptions_to_retry(now(), now() + time::Duration::seconds(1), 10).await.unwrap();
    assert_eq!(old.iter().map(|s| s.id).collect::<Vec<_>>(), vec![sub.id]);
    // Failed with a retry time; then active with the plugin's state.
    let failed = SubscriptionUpdate {
        status: SubscriptionStatus::Failed,
        state: None,
        last_error: Some("403".into()),
        attempts: 1,
        next_run_at: Some(now() + time::Duration::minutes(1)),
    };
    let got = s.update_subscription(x.project, sub.id, failed, now()).await.unwrap();
    assert_eq!((got.status, got.attempts, got.last_error.as_deref()), (SubscriptionStatus::Failed, 1, Some("403")));
    assert!(s.subscriptions_to_retry(now(), now(), 10).await.unwrap().is_empty(), "not due yet");
    let due = s.subscriptions_to_retry(now() + time::Duration::minutes(2), now(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let active = SubscriptionUpdate {
        status: SubscriptionStatus::Active,
        state: Some(json!({"hookId": 7})),
        last_error: None,
        attempts: 0,
        next_run_at: None,
    };
    let got = s.update_subscription(x.project, sub.id, active, now()).await.unwrap();
    assert_eq!(
        (got.status, got.state.clone(), got.last_error.clone()),
        (SubscriptionStatus::Active, Some(json!({"hookId": 7})), None)
    );
    assert_eq!(s.get_subscription(x.project, sub.id).await.unwrap(), got);
    assert_eq!(s.list_subscriptions(x.project, Some("user-1")).await.unwrap(), vec![got.clone()]);
    assert!(s.list_subscriptions(x.project, Some("user-2")).await.unwrap().is_empty());
    let found = s.subscriptions_for(x.project, x.integration, "MESSAGE", &[x.credential]).await.unwrap();
    assert_eq!(found, vec![got.clone()]);
    assert!(s.subscriptions_for(x.project, x.integration, "OTHER", &[x.credential]).await.unwrap().is_empty());
    // Gone with its workflow.
    s.delete_workflow(x.project, x.workflow).await.unwrap();
    assert!(matches!(s.get_subscription(x.project, sub.id).await, Err(Error::NotFound("subscription"))));
}

/// Shared subscriptions: one per account and trigger, one per integration
/// and trigger for an app-level hook; a workflow's is adopted as its
/// account's; what a handshake kept is stored as given.
pub async fn shared_subscriptions(db: Db) {
    let s = &*db.store;
    let x = setup(s, "A").await;
    let shared = |scope| NewSubscription {
        workflow: None,
        scope,
        config: json!({}),
        ..subscription(&x, SubscriptionKind::Webhook)
    };
    let mine = s.create_subscription(x.project, shared(SubscriptionScope::Account), now()).await.unwrap();
    assert_eq!((mine.workflow, mine.scope, mine.persisted.clone()), (None, SubscriptionScope::Account, None));
    assert!(matches!(
        s.create_subscription(x.project, shared(SubscriptionScope::Account), now()).await,
        Err(Error::Conflict(_))
    ));
    let app = s.create_subscription(x.project, shared(SubscriptionScope::App), now()).await.unwrap();
    assert!(matches!(
        s.create_subscription(x.project, shared(SubscriptionScope::App), now()).await,
        Err(Error::Conflict(_))
    ));
    // Another trigger has its own.
    let other = NewSubscription { trigger: "OTHER".into(), ..shared(SubscriptionScope::App) };
    s.create_subscription(x.project, other, now()).await.unwrap();
    // A workflow is named exactly for a workflow's subscription.
    let odd = NewSubscription { workflow: Some(x.workflow), ..shared(SubscriptionScope::Account) };
    assert!(matches!(s.create_subscription(x.project, odd, now()).await, Err(Error::Invalid(_))));
    let odd = NewSubscription { workflow: None, ..subscription(&x, SubscriptionKind::Webhook) };
    assert!(matches!(s.create_subscription(x.project, odd, now()).await, Err(Error::Invalid(_))));
    // Persisted bytes, replaced by the next handshake's.
    s.set_subscription_persisted(x.project, app.id, vec![1, 2, 3]).await.unwrap();
    s.set_subscription_persisted(x.project, app.id, vec![4, 5]).await.unwrap();
    assert_eq!(s.get_subscription(x.project, app.id).await.unwrap().persisted, Some(vec![4, 5]));
    // Sealed bytes: a master-key rotation finds and re-wraps them.
    assert!(s.holds_sealed_values().await.unwrap());
    let listed = s.sealed_not_under(SealedColumn::SubscriptionPersisted, 1, 10).await.unwrap();
    let found: Vec<(&str, &[u8])> = listed.iter().map(|v| (v.owner_id.as_str(), v.bytes.as_slice())).collect();
    assert_eq!(found, [(app.id.as_uuid().to_string().as_str(), [4u8, 5].as_slice())]);
    assert!(s.replace_sealed(&listed[0], vec![1, 0, 0, 0, 1, 6]).await.unwrap());
    assert_eq!(s.get_subscription(x.project, app.id).await.unwrap().persisted, Some(vec![1, 0, 0, 0, 1, 6]));
    assert!(matches!(
        s.set_subscription_persisted(ProjectId::new(), app.id, vec![1]).await,
        Err(Error::NotFound("subscription"))
    ));
    // A workflow's subscription is adopted as the account's only while the
    // account has none for the trigger.
    let old = s.create_subscription(x.project, subscription(&x, SubscriptionKind::Webhook), now()).await.unwrap();
    assert!(matches!(s.share_subscription(x.project, old.id).await, Err(Error::Conflict(_))));
    s.delete_subscription(x.project, mine.id).await.unwrap();
    let adopted = s.share_subscription(x.project, old.id).await.unwrap();
    assert_eq!((adopted.workflow, adopted.scope, adopted.config), (None, SubscriptionScope::Account, json!({})));
    // Shared ones outlive the workflow, not the account.
    s.delete_workflow(x.project, x.workflow).await.unwrap();
    assert_eq!(s.list_subscriptions(x.project, Some("user-1")).await.unwrap().len(), 3);
    s.delete_credential(x.project, "user-1", x.credential).await.unwrap();
    assert!(s.list_subscriptions(x.project, None).await.unwrap().is_empty());
}

pub async fn subscription_tenancy(db: Db) {
    let s = &*db.store;
    let (a, b) = (setup(s, "A").await, setup(s, "B").await);
    let sub = s.create_subscription(a.project, subscription(&a, SubscriptionKind::AppWebhook), now()).await.unwrap();
    assert!(matches!(s.get_subscription(b.project, sub.id).await, Err(Error::NotFound(_))));
    assert!(s.list_subscriptions(b.project, None).await.unwrap().is_empty());
    assert!(matches!(s.delete_subscription(b.project, sub.id).await, Err(Error::NotFound(_))));
    // B's account, workflow or integration cannot be used in A.
    let crossed = NewSubscription { credential: b.credential, ..subscription(&a, SubscriptionKind::AppWebhook) };
    assert!(matches!(s.create_subscription(a.project, crossed, now()).await, Err(Error::NotFound(_))));
    let crossed = NewSubscription { workflow: Some(b.workflow), ..subscription(&a, SubscriptionKind::AppWebhook) };
    assert!(matches!(s.create_subscription(a.project, crossed, now()).await, Err(Error::NotFound(_))));
    assert!(matches!(
        s.record_events(b.project, a.integration, vec![event(None, None, json!({}))], now()).await,
        Err(Error::NotFound(_))
    ));
    s.delete_subscription(a.project, sub.id).await.unwrap();
    // Bad input.
    let bad = NewSubscription { config: json!([1]), ..subscription(&a, SubscriptionKind::AppWebhook) };
    assert!(matches!(s.create_subscription(a.project, bad, now()).await, Err(Error::Invalid(_))));
    let bad = NewSubscription { trigger: String::new(), ..subscription(&a, SubscriptionKind::AppWebhook) };
    assert!(matches!(s.create_subscription(a.project, bad, now()).await, Err(Error::Invalid(_))));
}

pub async fn events_are_deduplicated_and_routed(db: Db) {
    let s = &*db.store;
    let x = setup(s, "A").await;
    let first = s
        .record_events(
            x.project,
            x.integration,
            vec![event(Some("Ev1"), Some("T1"), json!({"n": 1})), event(None, Some("T1"), json!({"n": 2}))],
            now(),
        )
        .await
        .unwrap();
    assert!(first.iter().all(Option::is_some));
    // A redelivery: the id is known, nothing new; an event without one is
    // always new.
    let again = s
        .record_events(
            x.project,
            x.integration,
            vec![event(Some("Ev1"), Some("T1"), json!({"n": 1})), event(None, None, json!({"n": 3}))],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(again[0], None);
    assert!(again[1].is_some());
    // The same provider id in another subscription's scope is another event.
    let sub = s.create_subscription(x.project, subscription(&x, SubscriptionKind::Webhook), now()).await.unwrap();
    let scoped = NewTriggerEvent { subscription: Some(sub.id), ..event(Some("Ev1"), None, json!({})) };
    assert!(s.record_events(x.project, x.integration, vec![scoped], now()).await.unwrap()[0].is_some());
    // Another project's integration may reuse it too.
    let y = setup(s, "B").await;
    assert!(
        s.record_events(y.project, y.integration, vec![event(Some("Ev1"), None, json!({}))], now()).await.unwrap()[0]
            .is_some()
    );

    let id = first[0].unwrap();
    let stored = s.get_trigger_event(x.project, id).await.unwrap();
    assert_eq!(
        (stored.routing_key.as_deref(), &stored.payload, stored.routed_at),
        (Some("T1"), &json!({"n": 1}), None)
    );
    assert!(matches!(s.get_trigger_event(y.project, id).await, Err(Error::NotFound(_))));
    let later = now() + time::Duration::seconds(1);
    let unrouted: HashSet<_> = s.unrouted_events(later, 100).await.unwrap().into_iter().map(|e| e.id).collect();
    assert!(unrouted.contains(&id));
    assert!(s.unrouted_events(now() - time::Duration::minutes(1), 100).await.unwrap().is_empty(), "none that old");
    s.mark_event_routed(x.project, id, now()).await.unwrap();
    let unrouted: HashSet<_> = s.unrouted_events(later, 100).await.unwrap().into_iter().map(|e| e.id).collect();
    assert!(!unrouted.contains(&id));
    assert!(s.get_trigger_event(x.project, id).await.unwrap().routed_at.is_some());
    assert!(matches!(s.mark_event_routed(y.project, id, now()).await, Err(Error::NotFound(_))));
    // Purged past the retention; a redelivery after that is new again.
    assert!(s.purge_trigger_events(later, 1000).await.unwrap() >= 5);
    assert!(matches!(s.get_trigger_event(x.project, id).await, Err(Error::NotFound(_))));
    // A payload with a NUL is stored (PostgreSQL's jsonb refuses them raw).
    let nul = s.record_events(x.project, x.integration, vec![event(Some("Ev1"), None, json!({"t": "a\u{0}b"}))], now());
    let nul = nul.await.unwrap()[0].unwrap();
    assert_eq!(s.get_trigger_event(x.project, nul).await.unwrap().payload, json!({"t": "a\u{fffd}b"}));
}

pub async fn polls_are_claimed_once(db: Db) {
    let s = db.store.clone();
    let x = setup(&*s, "A").await;
    let sub = s.create_subscription(x.project, subscription(&x, SubscriptionKind::Polling), now()).await.unwrap();
    // Eight claimers at once: one gets it.
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.claim_polls(now(), Duration::from_secs(120), 10).await.unwrap() })
        })
        .collect();
    let mut claims = Vec::new();
    for c in claimers {
        claims.extend(c.await.unwrap());
    }
    assert_eq!(claims.len(), 1, "{claims:?}");
    let claim = claims.remove(0);
    assert_eq!(claim.subscription.id, sub.id);
    // Finished with its lease: cursor and events stored together.
    let found = vec![
        NewTriggerEvent { subscription: Some(sub.id), ..event(Some("r1"), None, json!({"id": "r1"})) },
        NewTriggerEvent { subscription: Some(sub.id), ..event(Some("r2"), None, json!({"id": "r2"})) },
    ];
    let next = now() + time::Duration::seconds(60);
    let ids =
        s.finish_poll(x.project, sub.id, claim.lease, Some("c-2"), found.clone(), None, next, now()).await.unwrap();
    assert_eq!(ids.len(), 2);
    let got = s.get_subscription(x.project, sub.id).await.unwrap();
    assert_eq!((got.cursor.as_deref(), got.next_run_at), (Some("c-2"), Some(next)));
    // The lease is spent: finishing again stores nothing.
    let stale = s.finish_poll(x.project, sub.id, claim.lease, Some("c-3"), found.clone(), None, next, now()).await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
    assert!(matches!(
        s.finish_poll(x.project, sub.id, Uuid::new_v4(), None, vec![], None, next, now()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(s.get_subscription(x.project, sub.id).await.unwrap().cursor.as_deref(), Some("c-2"));
    // Not due before its next poll; due after.
    assert!(s.claim_polls(now(), Duration::from_secs(120), 10).await.unwrap().is_empty());
    let again = s.claim_polls(next, Duration::from_secs(120), 10).await.unwrap();
    assert_eq!(again.len(), 1);
    // A poll that found the same records again adds no events; a failed
    // poll keeps the cursor and counts.
    let ids =
        s.finish_poll(x.project, sub.id, again[0].lease, None, found, Some("timeout"), next, now()).await.unwrap();
    assert!(ids.is_empty());
    let got = s.get_subscription(x.project, sub.id).await.unwrap();
    assert_eq!((got.cursor.as_deref(), got.attempts, got.last_error.as_deref()), (Some("c-2"), 1, Some("timeout")));
}

pub async fn deliveries_are_stored_and_marked_in_batches(db: Db) {
    let s = &*db.store;
    let (x, y) = (setup(s, "A").await, setup(s, "B").await);
    let batch = vec![
        (x.project, x.integration, vec![event(Some("E1"), None, json!({"n": 1})), event(Some("E2"), None, json!({}))]),
        (y.project, y.integration, vec![event(Some("E1"), None, json!({"n": 3}))]),
        // A redelivery inside the same batch is a duplicate too.
        (x.project, x.integration, vec![event(Some("E1"), None, json!({"n": 1}))]),
    ];
    let ids = s.record_event_batches(batch, now()).await.unwrap();
    assert_eq!(ids.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1, 1]);
    assert!(ids[0].iter().chain(&ids[1]).all(Option::is_some));
    assert_eq!(ids[2], vec![None]);
    assert_eq!(s.get_trigger_event(y.project, ids[1][0].unwrap()).await.unwrap().payload, json!({"n": 3}));
    // One delivery naming an integration of another project fails the batch,
    // and nothing of it is stored.
    let crossed = vec![
        (x.project, x.integration, vec![event(Some("E9"), None, json!({}))]),
        (x.project, y.integration, vec![event(None, None, json!({}))]),
    ];
    assert!(matches!(s.record_event_batches(crossed, now()).await, Err(Error::NotFound(_))));
    let again = s.record_events(x.project, x.integration, vec![event(Some("E9"), None, json!({}))], now());
    assert!(again.await.unwrap()[0].is_some(), "E9 was not kept by the failed batch");
    // Marked routed together; another project's pairing is skipped.
    let (a, b) = (ids[0][0].unwrap(), ids[1][0].unwrap());
    s.mark_events_routed(&[(x.project, a), (x.project, b)], now()).await.unwrap();
    assert!(s.get_trigger_event(x.project, a).await.unwrap().routed_at.is_some());
    assert!(s.get_trigger_event(y.project, b).await.unwrap().routed_at.is_none());
}
