//! `test-proxy`: its declared limit (20 calls a second per connection) is
//! enforced on the plugin's own HTTP by the same governor as the proxy's:
//! workflow steps and ActionKit, which run plugin actions, stay within it.

use serde_json::json;
use std::sync::Arc;
use weft_egress::OutboundRequest;
use weft_plugin_host::{
    ActionCall, CallError, CallOptions, CallScope, CredentialError, CredentialInjector, PluginError,
};
use weft_tests::TestHost;
use weft_tests::mock_api::MockApi;

struct Key;

#[async_trait::async_trait]
impl CredentialInjector for Key {
    async fn inject(&self, _: &CallScope, req: &mut OutboundRequest) -> Result<(), CredentialError> {
        req.injected_headers.push(("x-api-key".into(), "plugin-key".into()));
        Ok(())
    }
}

#[tokio::test]
async fn the_declared_limit_holds_for_plugin_calls() {
    let mock = MockApi::start_on(std::net::Ipv4Addr::new(127, 0, 0, 2)).await;
    let t = TestHost::with_credentials(Arc::new(Key));
    let id = t.install("test_proxy").await;
    let meta = t.host.get(&id).unwrap().metadata.clone().unwrap();
    assert_eq!(meta.allowed_hosts, ["127.0.0.2"]);
    assert_eq!((meta.rate_limits[0].requests, meta.rate_limits[0].per_seconds), (20, 1));
    let call = |conn: &str| {
        let opts = CallOptions::new("p1").with_connection(conn, json!({})).with_base_url(Some(&mock.api_base()));
        let host = t.host.clone();
        async move {
            host.run_action(
                "test-proxy",
                &opts,
                ActionCall { action: "TEST_PROXY_ECHO".into(), input: json!({}), page: None },
            )
            .await
        }
    };
    let (mut ok, mut limited) = (0, 0);
    for _ in 0..30 {
        match call("c1").await {
            Ok(out) => {
                assert_eq!(out.output["headers"]["x-api-key"], "plugin-key");
                ok += 1;
            }
            Err(CallError::Plugin(PluginError::RateLimited { .. })) => limited += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, limited), (20, 10));
    assert_eq!(mock.count(), 20, "rate-limited calls never reached the provider");
    assert!(call("c2").await.is_ok(), "another connection has its own budget");
}
