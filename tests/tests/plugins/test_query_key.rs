//! `test-query-key`: it declares an API key carried as the `key` query
//! parameter, and its action sends the query pairs it is given. The server
//! suite uses it to show that a plugin never learns the key from an error
//! (`proxy::query_key`).

use serde_json::json;
use std::sync::Arc;
use weft_catalog::{ApiKeyLocation, AuthScheme};
use weft_egress::OutboundRequest;
use weft_plugin_host::{ActionCall, CallOptions};
use weft_tests::mock_api::MockApi;
use weft_tests::{TestCredentials, TestHost};

struct QueryKey;

#[async_trait::async_trait]
impl TestCredentials for QueryKey {
    async fn inject(&self, _connection: &str, req: &mut OutboundRequest) -> Result<(), String> {
        req.url.query_pairs_mut().append_pair("key", "plugin-key");
        Ok(())
    }
}

#[tokio::test]
async fn declares_a_query_key_and_sends_the_pairs_it_is_given() {
    let mock = MockApi::start_on(std::net::Ipv4Addr::new(127, 0, 0, 2)).await;
    let t = TestHost::with_credentials(Arc::new(QueryKey));
    let id = t.install("test_query_key").await;
    let meta = t.host.get(&id).unwrap().metadata.clone().unwrap();
    let AuthScheme::ApiKey { location, name, .. } = &meta.auth else { panic!("{:?}", meta.auth) };
    assert_eq!((*location, name.as_str()), (ApiKeyLocation::Query, "key"));

    let opts = CallOptions::new("p1").with_connection("c1", json!({})).with_base_url(Some(&mock.api_base()));
    let input = json!({"url": "/echo", "query": {"page": "2"}});
    let call = ActionCall { action: "TEST_QUERY_KEY_GET".into(), input, page: None };
    let out = t.host.run_action(&id, &t.granted(&id, opts), call).await.unwrap();
    assert_eq!(out.output["status"], 200, "{}", out.output);
    assert_eq!(out.output["body"]["uri"], "/api/echo?page=2&key=plugin-key", "{}", out.output);
}
