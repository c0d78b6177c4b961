//! `test-oauth`: the declared OAuth 2.0 authorization code scheme, and
//! `test_connection` and actions against a `MockAuthServer` provider API.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use weft_catalog::AuthScheme;
use weft_egress::OutboundRequest;
use weft_plugin_host::{ActionCall, CallError, CallOptions, PluginError};
use weft_tests::mock_auth::MockAuthServer;
use weft_tests::{StaticCredentials, TestCredentials, TestHost};

const CLIENT: &str = "weft-client";

async fn mock() -> MockAuthServer {
    let mock = MockAuthServer::start().await;
    mock.register_client(CLIENT, "s3cret", "http://127.0.0.1:9/oauth/callback");
    mock
}

/// A host that sends `Authorization: Bearer <token>` for connection `c1`.
async fn host_with_token(token: &str) -> (TestHost, String) {
    let credentials = StaticCredentials { connection_id: "c1".into(), token: token.into() };
    let t = TestHost::with_credentials(Arc::new(credentials));
    let id = t.install("test_oauth").await;
    (t, id)
}

fn opts(mock: &MockAuthServer) -> CallOptions {
    CallOptions::new("p1").with_connection("c1", json!({})).with_base_url(Some(&mock.api_base()))
}

async fn run(t: &TestHost, id: &str, opts: &CallOptions, key: &str, input: Value) -> Result<Value, CallError> {
    let call = ActionCall { action: key.into(), input, page: None };
    t.host.run_action(id, &t.granted(id, opts.clone()), call).await.map(|o| o.output)
}

#[tokio::test]
async fn declares_oauth2_with_password_grant_and_a_subdomain_setting() {
    let t = TestHost::new();
    let id = t.install("test_oauth").await;
    assert_eq!(id, "test-oauth");
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(meta.name, "Test OAuth");
    assert_eq!(meta.base_url, "http://127.0.0.1/api");
    assert_eq!(meta.allowed_hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"]);
    let AuthScheme::Oauth2 {
        authorize_url,
        token_url,
        revoke_url,
        scopes,
        client_auth,
        custom_refresh: false,
        password_grant: true,
        ..
    } = &meta.auth
    else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert_eq!(authorize_url, "http://127.0.0.1/authorize");
    assert_eq!(token_url, "http://127.0.0.1/token");
    assert_eq!(revoke_url.as_deref(), Some("http://127.0.0.1/revoke"));
    assert_eq!(scopes, &["read"]);
    assert_eq!(*client_auth, weft_catalog::ClientAuth::Basic);
    let schema = meta.connection_config_schema.as_ref().expect("connection-config schema");
    let subdomain = &schema["properties"]["subdomain"];
    assert!(subdomain["type"] == "string" || subdomain["type"] == json!(["string", "null"]), "{schema}");
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    assert!(!required.contains(&json!("subdomain")), "subdomain must be optional: {schema}");
    let keys: Vec<_> = info.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["TEST_OAUTH_WHOAMI", "TEST_OAUTH_GET"]);
}

#[tokio::test]
async fn test_connection_reads_the_account_with_the_connection_token() {
    let mock = mock().await;
    let (access, _) = mock.issue_tokens(CLIENT, "acct-7", "read");
    let (t, id) = host_with_token(&access).await;
    let info = t.host.test_connection(&id, &t.granted(&id, opts(&mock))).await.unwrap();
    assert_eq!(info.account_id, "acct-7");
    assert_eq!(info.display_name, "User acct-7");
    assert_eq!(info.profile, json!({"name": "User acct-7"}));
    let seen = mock.log();
    let last = seen.last().expect("the provider saw the request");
    assert_eq!((last.method.as_str(), last.path.as_str(), last.outcome.as_str()), ("GET", "/api/me", "ok"));
    assert_eq!(last.header("authorization"), Some(format!("Bearer {access}").as_str()));
}

#[tokio::test]
async fn test_connection_with_a_rejected_token_is_unauthorized() {
    let mock = mock().await;
    mock.issue_tokens(CLIENT, "acct-7", "read");
    let (t, id) = host_with_token("at_forged").await;
    let err = t.host.test_connection(&id, &t.granted(&id, opts(&mock))).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::Unauthorized { .. })), "{err:?}");
    assert_eq!(mock.log().last().map(|r| r.outcome.clone()).as_deref(), Some("invalid_token"));
}

#[tokio::test]
async fn actions_call_the_provider_api() {
    let mock = mock().await;
    let (access, _) = mock.issue_tokens(CLIENT, "acct-7", "read");
    let (t, id) = host_with_token(&access).await;
    let opts = opts(&mock);
    let me = run(&t, &id, &opts, "TEST_OAUTH_WHOAMI", json!({})).await.unwrap();
    assert_eq!(me, json!({"id": "acct-7", "name": "User acct-7"}));
    let item = run(&t, &id, &opts, "TEST_OAUTH_GET", json!({"path": "/items/9"})).await.unwrap();
    assert_eq!(item, json!({"path": "/items/9", "account": "acct-7"}));
    mock.expire_access_tokens();
    let err = run(&t, &id, &opts, "TEST_OAUTH_GET", json!({"path": "/items/9"})).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::Unauthorized { .. })), "{err:?}");
}

/// Bearer tokens for `c1`: the first until the provider rejects it, then the
/// next one (a stand-in for the vault's refresh).
struct RotatingTokens(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl TestCredentials for RotatingTokens {
    async fn inject(&self, connection: &str, req: &mut OutboundRequest) -> Result<(), String> {
        if connection != "c1" {
            return Err("no credentials for this connection".into());
        }
        let token = self.0.lock().unwrap().first().cloned().ok_or_else(|| "no token left".to_owned())?;
        req.injected_headers.push(("Authorization".into(), format!("Bearer {token}")));
        Ok(())
    }

    async fn refresh_rejected(&self, _connection: &str) -> bool {
        let mut tokens = self.0.lock().unwrap();
        if tokens.len() < 2 {
            return false;
        }
        tokens.remove(0);
        true
    }
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_request_retried() {
    let mock = mock().await;
    let (stale, _) = mock.issue_tokens(CLIENT, "acct-7", "read");
    mock.expire_access_tokens();
    let (fresh, _) = mock.issue_tokens(CLIENT, "acct-7", "read");
    let t = TestHost::with_credentials(Arc::new(RotatingTokens(Mutex::new(vec![stale.clone(), fresh.clone()]))));
    let id = t.install("test_oauth").await;
    let out = run(&t, &id, &opts(&mock), "TEST_OAUTH_GET", json!({"path": "/items/1"})).await.unwrap();
    assert_eq!(out, json!({"path": "/items/1", "account": "acct-7"}));
    let presented: Vec<_> = mock.log().iter().filter_map(|r| r.header("authorization").map(str::to_owned)).collect();
    assert_eq!(presented, [format!("Bearer {stale}"), format!("Bearer {fresh}")]);
}
