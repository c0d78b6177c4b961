//! `test-apikey`: the declared API-key scheme, and `test_connection` against
//! a `MockAuthServer` provider API that accepts `X-API-Key`.

use serde_json::json;
use std::sync::Arc;
use weft_catalog::{ApiKeyLocation, AuthScheme};
use weft_egress::OutboundRequest;
use weft_plugin_host::{CallError, CallOptions, PluginError};
use weft_tests::mock_auth::MockAuthServer;
use weft_tests::{TestCredentials, TestHost};

/// Injects `X-API-Key: <key>` for connection `c1`, as the vault does for the
/// plugin's declared scheme.
struct ApiKeyCredentials {
    key: String,
}

#[async_trait::async_trait]
impl TestCredentials for ApiKeyCredentials {
    async fn inject(&self, connection: &str, req: &mut OutboundRequest) -> Result<(), String> {
        if connection != "c1" {
            return Err("no credentials for this connection".into());
        }
        req.injected_headers.push(("X-API-Key".into(), self.key.clone()));
        Ok(())
    }
}

async fn host_with_key(key: &str) -> (TestHost, String) {
    let t = TestHost::with_credentials(Arc::new(ApiKeyCredentials { key: key.into() }));
    let id = t.install("test_apikey").await;
    (t, id)
}

fn opts(t: &TestHost, id: &str, mock: &MockAuthServer) -> CallOptions {
    t.granted(id, CallOptions::new("p1").with_connection("c1", json!({})).with_base_url(Some(&mock.api_base())))
}

#[tokio::test]
async fn declares_an_api_key_header() {
    let t = TestHost::new();
    let id = t.install("test_apikey").await;
    assert_eq!(id, "test-apikey");
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(meta.base_url, "http://127.0.0.1/api");
    assert_eq!(meta.allowed_hosts, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"]);
    let AuthScheme::ApiKey { location, name, prefix, .. } = &meta.auth else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert_eq!((*location, name.as_str(), prefix.as_deref()), (ApiKeyLocation::Header, "X-API-Key", None));
    assert!(meta.connection_config_schema.is_none());
}

#[tokio::test]
async fn test_connection_reads_the_account_with_the_connection_key() {
    let mock = MockAuthServer::start().await;
    mock.add_api_key("key-live-7", "acct-7");
    let (t, id) = host_with_key("key-live-7").await;
    let info = t.host.test_connection(&id, &opts(&t, &id, &mock)).await.unwrap();
    assert_eq!(info.account_id, "acct-7");
    assert_eq!(info.display_name, "User acct-7");
    assert_eq!(info.profile, json!({"name": "User acct-7"}));
    let last = mock.log().pop().expect("the provider saw the request");
    assert_eq!((last.path.as_str(), last.outcome.as_str()), ("/api/me", "ok"));
    assert_eq!(last.header("x-api-key"), Some("key-live-7"));
    assert_eq!(last.header("authorization"), None);

    let (t, id) = host_with_key("key-unknown").await;
    let err = t.host.test_connection(&id, &opts(&t, &id, &mock)).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::Unauthorized { .. })), "{err:?}");
}
