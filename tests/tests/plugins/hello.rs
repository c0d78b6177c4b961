//! `hello` (the README's walkthrough) against the Hello mock: the action
//! sends the account's key, the connection test names the routing key, and
//! only correctly signed deliveries become events.

use serde_json::json;
use weft_plugin_host::{ActionCall, CallError, CallOptions, PluginError, WebhookDelivery};
use weft_tests::mock_providers::hello::{self, ACCOUNT};
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

/// A call as the test connection, with the base URL pointed at the mock.
/// `TestHost` plays the vault: it sends `Authorization: Bearer
/// {TOKEN_CANARY}`, as the plugin's API-key scheme does with a real key.
fn as_account(t: &TestHost, base_url: &str) -> CallOptions {
    let opts = CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(base_url));
    t.granted("hello", opts)
}

#[tokio::test]
async fn sends_a_greeting_with_the_accounts_key() {
    let mock = hello::start(TOKEN_CANARY).await;
    let t = TestHost::new();
    let id = t.install("hello").await;
    let input = json!({"to": "Grace", "text": "Hello, Grace!"});
    let call = ActionCall { action: "HELLO_SEND_GREETING".into(), input, page: None };
    let out = t.host.run_action(&id, &as_account(&t, &format!("{}/v1", mock.base)), call).await.unwrap();
    assert_eq!(out.output, json!({"id": "grt_1", "to": "Grace", "text": "Hello, Grace!"}));
    let calls = mock.calls();
    assert_eq!((calls.len(), calls[0].line().as_str(), calls[0].status), (1, "POST /v1/greetings", 201));
    assert_eq!(calls[0].header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()));
}

#[tokio::test]
async fn the_connection_test_names_the_account_and_refuses_a_bad_key() {
    let t = TestHost::new();
    let id = t.install("hello").await;
    let mock = hello::start(TOKEN_CANARY).await;
    let info = t.host.test_connection(&id, &as_account(&t, &format!("{}/v1", mock.base))).await.unwrap();
    assert_eq!((info.account_id.as_str(), info.routing_keys.as_slice()), (ACCOUNT, [ACCOUNT.to_owned()].as_slice()));
    let stranger = hello::start("another-key").await;
    let err = t.host.test_connection(&id, &as_account(&t, &format!("{}/v1", stranger.base))).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin(PluginError::Unauthorized { .. })), "{err:?}");
}

#[tokio::test]
async fn signed_deliveries_become_events_and_forged_ones_are_refused() {
    let t = TestHost::new();
    let id = t.install("hello").await;
    t.secrets.insert("p1", &id, "HELLO_WEBHOOK_SECRET", "whsec-hello-test");
    let body = json!({"id": "evt_1", "type": "greeting.replied", "account": ACCOUNT, "data": {"reply": "Hi!"}});
    let body = body.to_string().into_bytes();
    let project = CallOptions::new("p1");
    let deliver = |signature: String, body: Vec<u8>| {
        let headers = vec![("x-hello-signature".to_owned(), signature)];
        let delivery = WebhookDelivery { method: "POST".into(), headers, body, ..Default::default() };
        t.host.handle_webhook(&id, &project, delivery)
    };

    let out = deliver(hello::sign("whsec-hello-test", &body), body.clone()).await.unwrap();
    assert_eq!((out.verification, out.events.len()), (Ok(()), 1));
    let event = &out.events[0];
    assert_eq!(event.trigger, "HELLO_GREETING_REPLIED");
    assert_eq!((event.dedupe_key.as_deref(), event.routing_key.as_deref()), (Some("evt_1"), Some(ACCOUNT)));
    assert_eq!(event.payload["data"], json!({"reply": "Hi!"}));

    let mut flipped = body.clone();
    flipped[2] ^= 1;
    let out = deliver(hello::sign("whsec-hello-test", &body), flipped).await.unwrap();
    assert!(out.verification.is_err() && out.events.is_empty(), "{out:?}");
    let out = deliver(hello::sign("another-secret", &body), body).await.unwrap();
    assert!(out.verification.is_err() && out.events.is_empty(), "{out:?}");
}
