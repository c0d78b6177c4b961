//! Acceptance 2 with real processes: two `weft serve` binaries on one
//! PostgreSQL database refresh a credential once between them.

use crate::support::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_tests::mock_auth::{Fault, MockAuthServer};

/// Both processes sweep every second for due tokens. The token endpoint is
/// slowed to 2 s, so while one process refreshes, the other sweeps over the
/// same due credential several times: only the database lease stands
/// between them and a second refresh (which the mock's reuse detection
/// would punish by revoking the family).
#[tokio::test]
async fn two_weft_processes_on_one_postgresql_database_refresh_once() {
    let pg = PgDatabase::create();
    let dir = data_dir_with(&["test_oauth"]);
    let env = [
        ("WEFT__DATABASE__URL", pg.url()),
        ("WEFT__CONNECT__SWEEP_INTERVAL_SECS", "1".to_owned()),
        ("WEFT__CONNECT__SWEEP_JITTER_SECS", "0".to_owned()),
        ("WEFT__CONNECT__TOKEN_TIMEOUT_MS", "5000".to_owned()),
    ];
    let created = weft_cli_env(dir.path(), &env, &["project", "create", "--name", "Two"]);
    let project = created.split_whitespace().nth(2).unwrap().to_owned();
    let key = weft_cli_env(dir.path(), &env, &["key", "create", "--project", &project]);
    let key = key.lines().nth(1).unwrap().trim().to_owned();
    let token = weft_cli_env(dir.path(), &env, &["token", "mint", "--project", &project, "--user", "u1"]);
    let token = token.trim().to_owned();

    let (_a, _, base_a) = start_binary_env(dir.path(), &env).await;
    let mock = MockAuthServer::start().await;
    let client = reqwest::Client::new();
    let body = json!({
        "type": "test-oauth", "active": true, "clientId": "two", "clientSecret": "two-secret",
        "baseUrl": mock.api_base(),
        "endpointOverrides": {"authorizeUrl": mock.authorize_url(), "tokenUrl": mock.token_url()},
    });
    let resp = client.post(format!("{base_a}/admin/projects/{project}/integrations")).bearer_auth(&key).json(&body);
    let integration: Value = resp.send().await.unwrap().json().await.unwrap();
    let integration = integration["id"].as_str().expect("integration created").to_owned();
    mock.register_client(
        "two",
        "two-secret",
        &format!("{base_a}/projects/{project}/connect/{integration}/oauth/callback"),
    );
    let started: Value = client
        .post(format!("{base_a}/projects/{project}/sdk/connect/test-oauth"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let location = mock.approve(started["authorizationUrl"].as_str().unwrap()).await;
    assert_eq!(client.get(&location).send().await.unwrap().status(), 200);
    assert_eq!(pg.sql("SELECT count(*) FROM credentials"), "1");

    let (_b, _, _base_b) = start_binary_env(dir.path(), &env).await;
    mock.push_fault(Fault::Delay(Duration::from_secs(2)));
    // Time passes: the access token is due now, for both processes.
    pg.sql("UPDATE credentials SET expires_at = now()");
    let deadline = Instant::now() + Duration::from_secs(30);
    while mock.token_requests_with_grant("refresh_token") == 0 {
        assert!(Instant::now() < deadline, "no process refreshed the due token");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both keep sweeping for a while after the first refresh started.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(mock.token_requests_with_grant("refresh_token"), 1, "one refresh between two processes");
    assert_eq!(pg.sql("SELECT version FROM credentials"), "2");
    assert_eq!(pg.sql("SELECT status FROM credentials"), "VALID");
}
