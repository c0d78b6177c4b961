//! `test-proxy`: its echo action calls the provider with the connection's
//! credentials and declares a limit (20 calls a second per connection). The
//! limit is enforced on the one authorised-request path, which plugin calls
//! share with the proxy: see the server suite's `plugin_calls_share_the_budget`.

use serde_json::json;
use std::sync::Arc;
use weft_catalog::RateLimitScope;
use weft_egress::OutboundRequest;
use weft_plugin_host::{ActionCall, CallOptions};
use weft_tests::mock_api::MockApi;
use weft_tests::{TestCredentials, TestHost};

struct Key;

#[async_trait::async_trait]
impl TestCredentials for Key {
    async fn inject(&self, _connection: &str, req: &mut OutboundRequest) -> Result<(), String> {
        req.injected_headers.push(("x-api-key".into(), "plugin-key".into()));
        Ok(())
    }
}

#[tokio::test]
async fn the_echo_action_reaches_the_provider_with_the_connections_key() {
    let mock = MockApi::start_on(std::net::Ipv4Addr::new(127, 0, 0, 2)).await;
    let t = TestHost::with_credentials(Arc::new(Key));
    let id = t.install("test_proxy").await;
    let meta = t.host.get(&id).unwrap().metadata.clone().unwrap();
    assert_eq!(meta.allowed_hosts, ["127.0.0.2"]);
    let limit = meta.rate_limits[0];
    assert_eq!((limit.scope, limit.requests, limit.per_seconds), (RateLimitScope::Connection, 20, 1));
    let opts = CallOptions::new("p1").with_connection("c1", json!({})).with_base_url(Some(&mock.api_base()));
    let call = ActionCall { action: "TEST_PROXY_ECHO".into(), input: json!({}), page: None };
    let out = t.host.run_action(&id, &t.granted(&id, opts), call).await.unwrap();
    assert_eq!(out.output["headers"]["x-api-key"], "plugin-key");
    assert_eq!(mock.count(), 1);
}
