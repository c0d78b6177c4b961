//! `test-client-credentials`: the declared OAuth 2.0 client credentials
//! scheme, and `test_connection` against a `MockAuthServer` provider API.

use serde_json::json;
use std::sync::Arc;
use weft_catalog::{AuthScheme, ClientAuth};
use weft_plugin_host::{CallError, CallOptions, PluginError};
use weft_tests::mock_auth::MockAuthServer;
use weft_tests::{StaticCredentials, TestHost};

const CLIENT: &str = "weft-client";

async fn host_with_token(token: &str) -> (TestHost, String) {
    let credentials = StaticCredentials { connection_id: "c1".into(), token: token.into() };
    let t = TestHost::with_credentials(Arc::new(credentials));
    let id = t.install("test_client_credentials").await;
    (t, id)
}

fn opts(mock: &MockAuthServer) -> CallOptions {
    CallOptions::new("p1").with_connection("c1", json!({})).with_base_url(Some(&mock.api_base()))
}

#[tokio::test]
async fn declares_client_credentials() {
    let t = TestHost::new();
    let id = t.install("test_client_credentials").await;
    assert_eq!(id, "test-client-credentials");
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(meta.base_url, "http://127.0.0.1/api");
    assert_eq!(meta.allowed_hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"]);
    let AuthScheme::Oauth2ClientCredentials { token_url, scopes, client_auth, client, refresh } = &meta.auth else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert_eq!(token_url, "http://127.0.0.1/token");
    assert_eq!(scopes, &["read"]);
    assert_eq!(*client_auth, ClientAuth::Basic);
    // A plugin's users bring their own client; tokens renewed as always.
    assert_eq!((*client, *refresh), (weft_catalog::ClientSource::User, weft_catalog::RefreshPolicy::BeforeExpiry));
    assert!(meta.connection_config_schema.is_none());
}

#[tokio::test]
async fn test_connection_reads_the_account_with_the_connection_token() {
    let mock = MockAuthServer::start().await;
    mock.register_client(CLIENT, "s3cret", "http://127.0.0.1:9/oauth/callback");
    let (access, _) = mock.issue_tokens(CLIENT, "acct-7", "read");
    let (t, id) = host_with_token(&access).await;
    let info = t.host.test_connection(&id, &t.granted(&id, opts(&mock))).await.unwrap();
    assert_eq!(info.account_id, "acct-7");
    assert_eq!(info.display_name, "User acct-7");
    assert_eq!(info.profile, json!({"name": "User acct-7"}));
    let last = mock.log().pop().expect("the provider saw the request");
    assert_eq!(last.path, "/api/me");
    assert_eq!(last.header("authorization"), Some(format!("Bearer {access}").as_str()));

    let (t, id) = host_with_token("at_forged").await;
    let err = t.host.test_connection(&id, &t.granted(&id, opts(&mock))).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::Unauthorized { .. })), "{err:?}");
}
