//! `test-custom-refresh`: declares OAuth with custom refresh, and its
//! `auth.refresh` hook answers new credentials.

use weft_catalog::AuthScheme;
use weft_plugin_host::CallOptions;
use weft_tests::TestHost;

#[tokio::test]
async fn declares_custom_refresh_and_refreshes_itself() {
    let t = TestHost::new();
    let id = t.install("test_custom_refresh").await;
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    let AuthScheme::Oauth2 { custom_refresh, password_grant, .. } = &meta.auth else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert!(*custom_refresh);
    assert!(!*password_grant);
    let opts = CallOptions::new("p1").with_connection("c1", serde_json::json!({})).with_invocation_id("inv-7");
    let refreshed = t.host.refresh(&id, &opts).await.unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&refreshed.access_token), "custom-inv-7");
    assert_eq!(refreshed.expires_in_seconds, Some(3600));
}
