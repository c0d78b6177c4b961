//! C2-34 and C8-107/108 with real processes: a `weft serve` child is killed with
//! SIGKILL while it holds a credential's refresh lease, and a new one is
//! started on the same data directory and database (SQLite file, or a
//! fresh PostgreSQL database).
//!
//! The kill lands while the token request is at the authorization server:
//! - the authorization server has not processed it ([`Fault::Hang`]): the old refresh
//!   token still works, so after the dead holder's lease expires one
//!   refresh presents it and the call succeeds with the new access token;
//! - it has processed it and rotated the refresh token, but the
//!   answer never reached Weft ([`Fault::DelayAfterProcessing`]): the same
//!   database state as a kill after the answer and before the commit, since
//!   the commit is the refresh's only write. The next refresh presents a
//!   used-up token and the credential ends in `needs_reauth` with reason
//!   `refresh_lost` (C2-41), once, without a retry loop.
//!
//! Either way the credential survives the crash unchanged and no lease
//! stays held for ever.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_store::{Credential, CredentialStatus, Store};
use weft_tests::mock_auth::{AuthRecord, Fault, MockAuthServer};

/// How long a refresh lease lasts: short, so the test is quick, and longer
/// than the token timeout, as a lease must be.
const LEASE_TTL_MS: u64 = 3_000;
const TOKEN_TIMEOUT_MS: u64 = 2_500;

/// One deployment: a data directory, its database, a project with an admin
/// key and a user token, the test-oauth integration wired to a mock
/// authorization server, and user u1's connected account.
struct Deployment {
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    env: Vec<(&'static str, String)>,
    mock: MockAuthServer,
    project: String,
    token: String,
    credential: String,
    client: reqwest::Client,
}

impl Deployment {
    /// Sets the deployment up with a first `weft serve`, which it returns
    /// (with its base URL) after u1 connected an account whose access token
    /// is already due for refresh.
    async fn connected(postgres: bool) -> (Self, tokio::process::Child, String) {
        let dir = data_dir_with(&["test_oauth"]);
        let pg = postgres.then(PgDatabase::create);
        let mut env = vec![
            ("WEFT__CONNECT__LEASE_TTL_MS", LEASE_TTL_MS.to_string()),
            ("WEFT__CONNECT__TOKEN_TIMEOUT_MS", TOKEN_TIMEOUT_MS.to_string()),
            // Only the test's calls refresh: no proactive sweep.
            ("WEFT__CONNECT__SWEEP_INTERVAL_SECS", "0".to_owned()),
        ];
        if let Some(pg) = &pg {
            env.push(("WEFT__DATABASE__URL", pg.url()));
        }
        let created = weft_cli_env(dir.path(), &env, &["project", "create", "--name", "Crash"]);
        let project = created.split_whitespace().nth(2).expect("project id").to_owned();
        let key = weft_cli_env(dir.path(), &env, &["key", "create", "--project", &project]);
        let key = key.lines().nth(1).expect("key line").trim().to_owned();
        let token = weft_cli_env(dir.path(), &env, &["token", "mint", "--project", &project, "--user", "u1"]);
        let token = token.trim().to_owned();
        let (child, _, base) = start_binary_env(dir.path(), &env).await;
        let mock = MockAuthServer::start().await;
        let mut deployment =
            Self { dir, pg, env, mock, project, token, credential: String::new(), client: reqwest::Client::new() };
        deployment.credential = deployment.connect(&base, &key).await;
        (deployment, child, base)
    }

    /// Adds the integration and connects u1; returns the credential id.
    async fn connect(&self, base: &str, key: &str) -> String {
        let (project, mock) = (&self.project, &self.mock);
        let body = json!({
            "type": "test-oauth", "active": true, "clientId": "crash", "clientSecret": "crash-secret",
            "baseUrl": mock.api_base(),
            "endpointOverrides": {"authorizeUrl": mock.authorize_url(), "tokenUrl": mock.token_url()},
        });
        let url = format!("{base}/admin/projects/{project}/integrations");
        let integration: Value =
            self.client.post(url).bearer_auth(key).json(&body).send().await.unwrap().json().await.unwrap();
        let integration = integration["id"].as_str().expect("integration created").to_owned();
        let callback = format!("{base}/projects/{project}/connect/{integration}/oauth/callback");
        mock.register_client("crash", "crash-secret", &callback);
        // Issued for a minute, inside the refresh margin: due at once.
        mock.set_access_token_ttl(Some(60));
        let url = format!("{base}/projects/{project}/sdk/connect/test-oauth");
        let started: Value =
            self.client.post(url).bearer_auth(&self.token).json(&json!({})).send().await.unwrap().json().await.unwrap();
        let location = mock.approve(started["authorizationUrl"].as_str().expect("authorization URL")).await;
        assert_eq!(self.client.get(&location).send().await.unwrap().status(), 200);
        mock.set_access_token_ttl(Some(3600));
        let url = format!("{base}/projects/{project}/sdk/credentials");
        let list: Value = self.client.get(url).bearer_auth(&self.token).send().await.unwrap().json().await.unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
        list[0]["id"].as_str().unwrap().to_owned()
    }

    /// A proxy call as u1 to the provider's `/items`.
    async fn proxy(&self, base: &str) -> reqwest::Result<(StatusCode, Value)> {
        let url = format!("{base}/projects/{}/sdk/proxy/test-oauth/items", self.project);
        let resp = self.client.get(url).bearer_auth(&self.token).send().await?;
        let status = resp.status();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// The database, opened by the test itself.
    async fn store(&self) -> Arc<dyn Store> {
        let location = match &self.pg {
            Some(pg) => pg.url(),
            None => self.dir.path().join(weft_store::DEFAULT_SQLITE_FILE).display().to_string(),
        };
        weft_store::open(&location).await.expect("open the deployment's database")
    }

    /// u1's credential as stored.
    async fn stored(&self, store: &dyn Store) -> Credential {
        let (project, id) = (self.project.parse().unwrap(), self.credential.parse().unwrap());
        store.get_credential(project, id).await.expect("the credential exists")
    }

    /// The refresh grants the mock received, in order.
    fn refreshes(&self) -> Vec<AuthRecord> {
        let log = self.mock.log().into_iter();
        log.filter(|r| r.path == "/token" && r.form_value("grant_type") == Some("refresh_token")).collect()
    }

    /// The provider API requests the mock received, in order.
    fn api_calls(&self) -> Vec<AuthRecord> {
        self.mock.log().into_iter().filter(|r| r.path.starts_with("/api/")).collect()
    }
}

/// Starts a proxy call that needs a refresh, lets the token endpoint meet
/// `fault`, and kills the server with SIGKILL as soon as the mock has
/// recorded the refresh grant. Returns the refresh token it presented and
/// the credential as the dead server left it.
async fn kill_mid_refresh(
    d: &Deployment,
    mut child: tokio::process::Child,
    base: String,
    fault: Fault,
) -> (String, Credential) {
    let store = d.store().await;
    let before = d.stored(store.as_ref()).await;
    d.mock.push_fault(fault);
    let call = tokio::spawn({
        let url = format!("{base}/projects/{}/sdk/proxy/test-oauth/items", d.project);
        let request = d.client.get(url).bearer_auth(&d.token);
        async move { request.send().await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.refreshes().is_empty() {
        assert!(Instant::now() < deadline, "the proxy call never asked for a refresh");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().await.expect("SIGKILL the server");
    let answer = call.await.unwrap();
    assert!(answer.is_err(), "the call died with its server, got {answer:?}");
    let presented = d.refreshes()[0].form_value("refresh_token").expect("a refresh token").to_owned();

    let left = d.stored(store.as_ref()).await;
    assert!(left.lease_until.is_some(), "killed while holding the lease");
    assert_eq!(left.status, CredentialStatus::Valid);
    assert_eq!(left.version, before.version, "nothing was written");
    assert_eq!(left.secrets, before.secrets, "the sealed secrets are untouched");
    assert_eq!(left.refresh_failure_count, 0);
    (presented, left)
}

/// The token endpoint had not processed the grant: once the dead holder's
/// lease expires, one refresh with the same refresh token succeeds and the
/// call reaches the provider with the new access token.
async fn killed_before_the_provider_answered(postgres: bool) {
    let (d, child, base) = Deployment::connected(postgres).await;
    let (presented, left) = kill_mid_refresh(&d, child, base, Fault::Hang).await;
    assert_eq!(d.mock.account_of(&presented).as_deref(), Some("acct-1"));
    // Meanwhile the old access token expired for good at the provider.
    d.mock.expire_access_tokens();
    let api_before = d.api_calls().len();

    let (_child, _, base) = start_binary_env(d.dir.path(), &d.env).await;
    let (status, body) = d.proxy(&base).await.expect("answered");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["account"], "acct-1", "{body}");

    let refreshes = d.refreshes();
    assert_eq!(refreshes.len(), 2, "exactly one refresh after the restart");
    let after_restart = &refreshes[1];
    assert_eq!(after_restart.outcome, "ok");
    assert_eq!(after_restart.form_value("refresh_token"), Some(presented.as_str()), "the old refresh token");
    assert!(!d.mock.is_family_revoked(&presented));
    // One provider request, with a token the provider accepts: the new one
    // (every older access token was expired above).
    let api = &d.api_calls()[api_before..];
    assert_eq!(api.len(), 1, "{api:?}");
    assert_eq!(api[0].outcome, "ok");
    let bearer = api[0].header("authorization").and_then(|h| h.strip_prefix("Bearer ")).expect("a bearer token");
    assert!(d.mock.is_access_token_valid(bearer));

    let now = d.stored(d.store().await.as_ref()).await;
    assert_eq!(now.status, CredentialStatus::Valid);
    assert_eq!(now.version, left.version + 1);
    assert_eq!(now.lease_until, None, "the new holder released the lease");
    assert_ne!(now.secrets, left.secrets);
}

/// C2-34, C8-107 (no stuck refresh lock), C8-108 (the old token still
/// works) on SQLite.
#[tokio::test]
async fn a_kill_9_before_the_provider_answered_loses_nothing_and_the_lease_expires_on_sqlite() {
    killed_before_the_provider_answered(false).await;
}

/// The same on PostgreSQL.
#[tokio::test]
async fn a_kill_9_before_the_provider_answered_loses_nothing_and_the_lease_expires_on_postgresql() {
    killed_before_the_provider_answered(true).await;
}

/// The token endpoint rotated the refresh token but Weft never stored the
/// answer: after the restart one refresh meets `invalid_grant` (and the
/// provider's reuse detection), the credential turns invalid with reason
/// `refresh_lost`, one `credentials_failure` event is queued, and later
/// calls fail fast without another token request.
async fn killed_after_the_provider_rotated(postgres: bool) {
    let (d, child, base) = Deployment::connected(postgres).await;
    // The answer is held back far longer than the test lasts.
    let fault = Fault::DelayAfterProcessing(Duration::from_secs(600));
    let (presented, left) = kill_mid_refresh(&d, child, base, fault).await;
    assert_eq!(d.refreshes()[0].outcome, "ok", "the provider rotated the refresh token");

    let (_child, _, base) = start_binary_env(d.dir.path(), &d.env).await;
    let (status, body) = d.proxy(&base).await.expect("answered");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "CREDENTIAL_INVALID", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("refresh_lost")), "{body}");

    let refreshes = d.refreshes();
    assert_eq!(refreshes.len(), 2, "exactly one refresh after the restart");
    assert_eq!(refreshes[1].form_value("refresh_token"), Some(presented.as_str()), "the old refresh token");
    assert_eq!(refreshes[1].outcome, "invalid_grant");

    let store = d.store().await;
    let now = d.stored(store.as_ref()).await;
    assert_eq!(now.status, CredentialStatus::Invalid);
    assert_eq!(now.invalid_reason.as_deref(), Some("refresh_lost"));
    assert_eq!(now.version, left.version, "the secrets were not replaced");
    assert_eq!(now.lease_until, None, "the new holder released the lease");
    let events = store.list_events(d.project.parse().unwrap(), 100).await.unwrap();
    let failures = events.iter().filter(|e| e.event_type == "credentials_failure").count();
    assert_eq!(failures, 1);
    // No retry loop: the next call is refused without a token request.
    let (status, body) = d.proxy(&base).await.expect("answered");
    assert_eq!(status, 409, "{body}");
    assert_eq!(d.refreshes().len(), 2);
}

/// C8-108 (needs_reauth with a reason), pairs with C2-41, on SQLite.
#[tokio::test]
async fn a_kill_9_after_the_provider_rotated_ends_in_refresh_lost_on_sqlite() {
    killed_after_the_provider_rotated(false).await;
}

/// The same on PostgreSQL.
#[tokio::test]
async fn a_kill_9_after_the_provider_rotated_ends_in_refresh_lost_on_postgresql() {
    killed_after_the_provider_rotated(true).await;
}
