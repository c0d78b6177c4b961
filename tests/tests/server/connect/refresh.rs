//! Refresh: single-flight in one and across two servers, double check,
//! transient backoff, invalid_grant / invalid_client, rotation, lost
//! rotation, the proactive sweep and the day-counted give-up.

use super::Fixture;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_store::CredentialStatus;
use weft_tests::mock_auth::Fault;

/// Connects u1 and returns the credential id.
async fn connected(f: &Fixture) -> String {
    f.connect("u1", "acct-1", json!({})).await["id"].as_str().unwrap().to_owned()
}

/// When the mock received each refresh grant.
fn refresh_times(f: &Fixture) -> Vec<Instant> {
    f.mock.log().into_iter().filter(|r| r.form_value("grant_type") == Some("refresh_token")).map(|r| r.at).collect()
}

/// The refresh tokens presented to the mock, in order.
fn refresh_tokens_sent(f: &Fixture) -> Vec<String> {
    f.mock.log().into_iter().filter_map(|r| r.form_value("refresh_token").map(str::to_owned)).collect()
}

async fn fifty_calls(f: &Fixture, id: &str) -> Vec<Result<Value, weft_plugin_host::CallError>> {
    join_all((0..50).map(|_| f.whoami(id))).await
}

async fn single_flight(postgres: bool) {
    let f = Fixture::new("test_oauth", json!({}), |_| {}, postgres).await;
    let id = connected(&f).await;
    let before = f.stored(&id).await;
    f.advance(3600);
    let results = fifty_calls(&f, &id).await;
    for r in &results {
        assert_eq!(r.as_ref().expect("every call succeeds")["id"], "acct-1");
    }
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 1, "exactly one refresh for 50 callers");
    let after = f.stored(&id).await;
    assert_eq!(after.version, before.version + 1);
    assert!(after.expires_at > before.expires_at);
}

/// C2-32/35, acceptance 2 (SQLite).
#[tokio::test]
async fn fifty_concurrent_calls_refresh_once_on_sqlite() {
    single_flight(false).await;
}

/// C2-32/35, acceptance 2 (PostgreSQL).
#[tokio::test]
async fn fifty_concurrent_calls_refresh_once_on_postgresql() {
    single_flight(true).await;
}

/// C2-33, acceptance 2: two servers (each with its own pool, locks and
/// caches) on one PostgreSQL database, 25 calls each → one refresh, and
/// both end with the same stored token.
#[tokio::test]
async fn two_servers_on_one_database_refresh_once() {
    let f = Fixture::new("test_oauth", json!({}), |_| {}, true).await;
    let id = connected(&f).await;
    // A second server on the same database and key directory.
    let url = f.app.store.backend();
    assert_eq!(url, weft_store::Backend::Postgres);
    let second = f.second_server().await;
    f.advance(3600);
    second.clock.advance(3600);
    let a = join_all((0..25).map(|_| f.whoami(&id)));
    let b = join_all((0..25).map(|_| second.whoami(&id)));
    let (a, b) = tokio::join!(a, b);
    for r in a.iter().chain(b.iter()) {
        assert_eq!(r.as_ref().expect("every call succeeds")["id"], "acct-1");
    }
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 1);
    let seen_by_a = f.stored(&id).await;
    let seen_by_b = second.stored(&id).await;
    assert_eq!(seen_by_a.secrets, seen_by_b.secrets);
}

/// C2-34: a lease left by a holder that died is taken over once it expires.
#[tokio::test]
async fn a_dead_holders_lease_expires() {
    let f = Fixture::new("test_oauth", json!({}), |s| s.connect.lease_ttl_ms = 1_000, false).await;
    let id = connected(&f).await;
    f.advance(3600);
    let cred = f.stored(&id).await;
    let now = time::OffsetDateTime::from_unix_timestamp(f.clock_now()).unwrap();
    // "Another process" claims the lease and dies without releasing it.
    let dead = uuid::Uuid::new_v4();
    let claimed =
        f.app.store.claim_refresh_lease(cred.project_id, cred.id, dead, now, now + Duration::from_secs(2)).await;
    assert!(claimed.unwrap().is_some());
    let waiter = tokio::spawn({
        let clock = f.clock.clone();
        async move {
            // Business time passes while the caller waits.
            tokio::time::sleep(Duration::from_millis(300)).await;
            clock.advance(5);
        }
    });
    let started = Instant::now();
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
    waiter.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 1);
    assert!(f.stored(&id).await.lease_until.is_none(), "the new holder released the lease");
}

/// C2-36: 503, 503, 200 → success after backoff; 429 with Retry-After 2 →
/// the next attempt at least 2 s later; never marked invalid.
#[tokio::test]
async fn transient_failures_back_off_and_recover() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    f.advance(3600);
    f.mock.push_fault(Fault::Status(503));
    f.mock.push_fault(Fault::Status(503));
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 3);
    assert_eq!(f.stored(&id).await.status, CredentialStatus::Valid);

    f.advance(3600);
    f.mock.push_fault(Fault::TooManyRequests { retry_after_secs: 2 });
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
    let times = refresh_times(&f);
    let (busy, retried) = (times[times.len() - 2], times[times.len() - 1]);
    assert!(retried - busy >= Duration::from_secs(2), "waited {:?}", retried - busy);

    // Bounded: a provider down for good fails the call with 503 semantics
    // after the configured attempts, and the credential stays valid.
    f.advance(3600);
    for _ in 0..3 {
        f.mock.push_fault(Fault::Status(503));
    }
    let before = f.mock.token_requests();
    assert!(f.whoami(&id).await.is_err());
    assert_eq!(f.mock.token_requests() - before, 3);
    let stored = f.stored(&id).await;
    assert_eq!(stored.status, CredentialStatus::Valid);
    assert_eq!(stored.refresh_failure_count, 1);
    assert!(stored.retry_at.is_some());
}

/// C2-37: invalid_grant → INVALID, later calls fail fast without AS calls,
/// exactly one credentials_failure event; a reconnect clears it.
#[tokio::test]
async fn invalid_grant_marks_the_credential_invalid_once() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    f.advance(3600);
    f.mock.push_fault(Fault::InvalidGrant);
    assert!(f.whoami(&id).await.is_err());
    let stored = f.stored(&id).await;
    assert_eq!(stored.status, CredentialStatus::Invalid);
    assert_eq!(stored.invalid_reason.as_deref(), Some("needs_reauth"));
    let before = f.mock.token_requests();
    for _ in 0..5 {
        assert!(f.whoami(&id).await.is_err());
    }
    assert_eq!(f.mock.token_requests(), before, "an invalid credential fails fast");
    let events = f.events("credentials_failure").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].payload["data"]["error"], "invalid_grant");
    assert_eq!(events[0].payload["user"]["id"], "u1");
    let (_, me) = f.sdk(Method::GET, "me", "u1", None).await;
    assert_eq!(me["integrations"]["test-oauth"]["credentialStatus"], "INVALID");
    assert_eq!(me["integrations"]["test-oauth"]["enabled"], false);

    // Reconnecting the same account (selectedCredentialId) makes it VALID.
    let again = f.connect("u1", "acct-1", json!({"selectedCredentialId": id})).await;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["status"], "VALID");
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
}

/// C2-39: invalid_client marks the integration misconfigured and leaves
/// the credential as it is.
#[tokio::test]
async fn invalid_client_blames_the_integration_not_the_user() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    f.advance(3600);
    f.mock.push_fault(Fault::InvalidClient);
    assert!(f.whoami(&id).await.is_err());
    assert_eq!(f.stored(&id).await.status, CredentialStatus::Valid);
    assert!(f.events("credentials_failure").await.is_empty());
    let (_, integration) = f
        .app
        .call(
            Method::GET,
            &format!("/admin/projects/{}/integrations/{}", f.project, f.integration),
            Some(&f.admin_key),
            None,
        )
        .await;
    assert!(integration["misconfigured"].as_str().unwrap().contains("invalid_client"), "{integration}");
    // Setting a new client secret clears the mark.
    let path = format!("/admin/projects/{}/integrations/{}", f.project, f.integration);
    let body = json!({"clientSecret": f.client_secret});
    let (status, fixed) = f.app.call(Method::PATCH, &path, Some(&f.admin_key), Some(body)).await;
    assert_eq!(status, 200);
    assert_eq!(fixed["misconfigured"], Value::Null);
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
}

/// C2-40: a rotated refresh token is stored with the access token (version
/// bumped); when the provider does not rotate, the old one is kept.
#[tokio::test]
async fn rotation_bookkeeping() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    for round in 0..2 {
        f.advance(3600);
        assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1", "round {round}");
    }
    // Two rotations, each with the refresh token of the one before: a
    // reused token would have revoked the family.
    let sent = refresh_tokens_sent(&f);
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0], sent[1]);
    assert!(!f.mock.is_family_revoked(&sent[1]));
    f.mock.set_rotate_refresh_tokens(false);
    for _ in 0..2 {
        f.advance(3600);
        assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
    }
    let sent = refresh_tokens_sent(&f);
    assert_eq!(sent[2], sent[3], "without rotation the old refresh token is kept");
    assert_eq!(f.stored(&id).await.version, 5);
}

/// C2-41: the provider rotates but its answer is lost to our timeout → the
/// next attempt gets invalid_grant → INVALID with reason refresh_lost, no loop.
#[tokio::test]
async fn a_lost_rotation_ends_in_refresh_lost() {
    let f = Fixture::new("test_oauth", json!({}), |s| s.connect.token_timeout_ms = 300, false).await;
    let id = connected(&f).await;
    f.advance(3600);
    f.mock.push_fault(Fault::DelayAfterProcessing(Duration::from_secs(2)));
    assert!(f.whoami(&id).await.is_err());
    let stored = f.stored(&id).await;
    assert_eq!(stored.status, CredentialStatus::Invalid);
    assert_eq!(stored.invalid_reason.as_deref(), Some("refresh_lost"));
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 2, "one lost answer, one refused reuse");
}

/// C2-42: the sweep refreshes tokens within the margin, leaves the others,
/// and spreads the refreshes over the jitter window.
#[tokio::test]
async fn the_sweep_refreshes_due_tokens_with_jitter() {
    let f = Fixture::new("test_oauth", json!({}), |s| s.connect.sweep_jitter_secs = 1, false).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let c = f.connect("u1", &format!("acct-{i}"), json!({"allowMultipleCredentials": true})).await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    f.mock.set_access_token_ttl(Some(7200));
    let late = f.connect("u2", "acct-late", json!({})).await["id"].as_str().unwrap().to_owned();
    // Now the first eight expire within the 5-minute margin; the last does not.
    f.advance(3600 - 120);
    let handles = f.app.credentials.sweep_once().await.unwrap();
    assert_eq!(handles.len(), 8);
    join_all(handles).await;
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 8);
    for id in &ids {
        assert_eq!(f.stored(id).await.version, 2);
    }
    assert_eq!(f.stored(&late).await.version, 1, "a token outside the margin is untouched");
    let times = refresh_times(&f);
    let spread = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(spread >= Duration::from_millis(100), "refreshes are spread, not a spike: {spread:?}");
}

/// C2-43: failures on four distinct days give up (refresh_exhausted); a
/// forced refresh bypasses it and success resets the counters.
#[tokio::test]
async fn failing_on_four_days_gives_up_until_forced() {
    let f = Fixture::new("test_oauth", json!({}), |s| s.connect.max_refresh_attempts = 1, false).await;
    let id = connected(&f).await;
    for day in 1..=4 {
        f.advance(86_400);
        f.mock.push_fault(Fault::Status(503));
        assert!(f.whoami(&id).await.is_err(), "day {day}");
        let stored = f.stored(&id).await;
        assert_eq!(stored.failure_days, day);
        let expected = if day < 4 { CredentialStatus::Valid } else { CredentialStatus::Invalid };
        assert_eq!(stored.status, expected, "day {day}");
    }
    assert_eq!(f.stored(&id).await.invalid_reason.as_deref(), Some("refresh_exhausted"));
    assert_eq!(f.events("credentials_failure").await.len(), 1);
    let (project, cid) = (f.project.parse().unwrap(), id.parse().unwrap());
    let forced = f.app.credentials.force_refresh(project, cid).await.expect("a forced refresh bypasses the give-up");
    assert_eq!(forced.credential.status, CredentialStatus::Valid);
    assert_eq!((forced.credential.failure_days, forced.credential.refresh_failure_count), (0, 0));
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
}

/// C2-38: an invalid_grant answered after someone else replaced the
/// tokens (here a reconnect while the refresh was in flight) is not
/// believed: the caller re-reads and uses the new tokens.
#[tokio::test]
async fn a_stale_invalid_grant_is_not_believed_after_a_re_read() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    f.advance(3600);
    f.mock.push_fault(Fault::DelayThen(Duration::from_millis(1500), Box::new(Fault::InvalidGrant)));
    let (call, reconnected) = tokio::join!(f.whoami(&id), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        f.connect("u1", "acct-1", json!({"selectedCredentialId": id})).await
    });
    assert_eq!(reconnected["status"], "VALID");
    assert_eq!(call.expect("the re-read finds the new tokens")["id"], "acct-1");
    let stored = f.stored(&id).await;
    assert_eq!(stored.status, CredentialStatus::Valid);
    assert!(f.events("credentials_failure").await.is_empty());
}

/// A plugin that declares custom refresh is asked through its
/// `auth.refresh` hook; the token endpoint is never called for a refresh.
#[tokio::test]
async fn a_custom_refresh_plugin_refreshes_through_its_hook() {
    let f = Fixture::new("test_custom_refresh", json!({}), |_| {}, false).await;
    let id = f.connect("u1", "acct-1", json!({})).await["id"].as_str().unwrap().to_owned();
    f.advance(3600);
    let (project, cid) = (f.project.parse().unwrap(), id.parse().unwrap());
    let usable = f.app.credentials.usable(project, cid).await.unwrap();
    assert!(usable.secrets.access_token.as_deref().unwrap().starts_with("custom-"), "{:?}", usable.secrets);
    assert_eq!(usable.credential.version, 2);
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 0);
}

/// Reactive refresh: the provider rejects a token the host still thought
/// valid → one refresh (shared by every concurrent caller) and one retry.
#[tokio::test]
async fn a_provider_401_triggers_one_refresh_and_one_retry() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    // Revoked or expired early at the provider; not due by our clock.
    f.mock.expire_access_tokens();
    let results = fifty_calls(&f, &id).await;
    for r in &results {
        assert_eq!(r.as_ref().expect("retried with the new token")["id"], "acct-1");
    }
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 1);
    // The retries went out with the new token, and each call retried once.
    let rejected = f.mock.log().into_iter().filter(|r| r.path == "/api/me" && r.outcome != "ok").count();
    assert_eq!(rejected, 50, "each caller saw one 401");
    assert_eq!(f.stored(&id).await.version, 2);
}

/// An early refresh (inside the margin) that meets a provider outage does
/// not fail the call: the token has not expired, so it is used, and the
/// refresh is tried again after the backoff.
#[tokio::test]
async fn an_early_refresh_that_fails_keeps_the_valid_token() {
    let f = Fixture::new("test_oauth", json!({}), |s| s.connect.max_refresh_attempts = 1, false).await;
    let id = connected(&f).await;
    f.advance(3600 - 60);
    f.mock.push_fault(Fault::Status(503));
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1", "the unexpired token is used");
    let stored = f.stored(&id).await;
    assert_eq!((stored.version, stored.refresh_failure_count), (1, 1));
    assert!(stored.retry_at.is_some());
    // Inside the backoff the call does not retry the provider.
    let before = f.mock.token_requests();
    assert!(f.whoami(&id).await.is_ok());
    assert_eq!(f.mock.token_requests(), before);
    // Past the backoff (and the expiry) it refreshes.
    f.advance(120);
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
    assert_eq!(f.stored(&id).await.version, 2);
}

/// A caller that goes away mid-refresh (a client disconnect) does not leave
/// the lease held: the refresh finishes on its own and the next caller
/// gets its result at once, without a second token request.
#[tokio::test]
async fn a_cancelled_caller_does_not_strand_the_refresh() {
    let f = Fixture::oauth().await;
    let id = connected(&f).await;
    f.advance(3600);
    f.mock.push_fault(Fault::Delay(Duration::from_millis(700)));
    let cancelled = tokio::time::timeout(Duration::from_millis(200), f.whoami(&id)).await;
    assert!(cancelled.is_err(), "the first caller gave up");
    let started = Instant::now();
    assert_eq!(f.whoami(&id).await.unwrap()["id"], "acct-1");
    assert!(started.elapsed() < Duration::from_secs(10), "not stranded behind a 30 s lease");
    assert_eq!(f.mock.token_requests_with_grant("refresh_token"), 1);
    let stored = f.stored(&id).await;
    assert_eq!((stored.version, stored.lease_until), (2, None));
}
