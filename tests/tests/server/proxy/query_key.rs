//! An API key that travels as a query parameter (issue 24, defects 2 and
//! 6): through the Proxy API (a provider definition) and a plugin's HTTP
//! (`test-query-key`), no error, answer or log line ever quotes the
//! outbound URL, and the injected key replaces a caller's parameter of the
//! same name.

use super::fixture::ProxyFixture;
use serde_json::{Value, json};

const KEYQ: &str = r#"
id: keyq
name: KeyQ
baseUrl: http://127.0.0.2/api
auth: { type: api-key, location: query, name: key }
connectionTest: { path: /me, accountId: /id, accountName: /name }
"#;

/// The Proxy API with the `keyq` definition, and `test-query-key`, both on
/// the mock provider.
async fn fixture() -> ProxyFixture {
    let f = ProxyFixture::with_plugins(&["test_proxy", "test_query_key"], |s| {
        let dir = s.data_dir.join("providers");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keyq.yaml"), KEYQ).unwrap();
    })
    .await;
    f.add_integration("keyq", &f.mock.api_base()).await;
    f.add_integration("test-query-key", &f.mock.api_base()).await;
    f
}

/// A key as long as a connect input may be, whose query encoding triples
/// it: with a long path it makes an outbound URL no HTTP library sends.
fn long_key(canary: &str) -> String {
    format!("{canary}{}", "!".repeat(8000))
}

fn assert_not_leaked(canary: &str, what: &str, text: &str) {
    assert!(!text.contains(canary), "the key leaked into {what}: {:.300}", text);
    assert!(!text.contains("%21%21%21"), "the key's encoding leaked into {what}: {:.300}", text);
}

/// Issue 24, defect 2, the Proxy API: a path under the caller's cap that
/// percent-encoding makes long, with the key injected in the query, is
/// refused with its own error; neither the answer nor the log holds the key.
#[tokio::test]
async fn a_long_target_never_quotes_the_injected_key_to_the_proxy_caller() {
    let f = fixture().await;
    let canary = "canary-proxy-2c41e";
    f.connect_as("u1", "keyq", &long_key(canary), false).await;
    let before = f.mock.count();
    let path = format!("keyq/echo/{}", "{".repeat(16_000));
    let answer = f.raw("GET", &f.target(&path), "u1", &[]).await;
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    assert!((400..500).contains(&answer.status), "{} {body:.300}", answer.status);
    assert_not_leaked(canary, "the answer", &body);
    assert_eq!(answer.json()["code"], "TARGET_TOO_LONG", "{body:.300}");
    assert_eq!(f.mock.count(), before, "nothing was sent");
    assert_not_leaked(canary, "the log", &weft_tests::logs::all());
}

/// Issue 24, defect 2, a plugin's HTTP: query pairs or a path that make the
/// outbound URL too long are refused as `invalid-request` without quoting
/// it, so a plugin cannot read its connection's key from the error.
#[tokio::test]
async fn a_long_target_never_quotes_the_injected_key_to_a_plugin() {
    let f = fixture().await;
    let canary = "canary-plugin-77d0a";
    let credential = f.connect_as("u1", "test-query-key", &long_key(canary), false).await;
    for input in [
        json!({"url": "/echo", "query": {"pad": "a".repeat(70_000)}}),
        json!({"url": "/echo", "query": {"pad": "a".repeat(20_000)}}),
        json!({"url": format!("/echo/{}", "{".repeat(16_000))}),
    ] {
        let out = f.action_of("test-query-key", &credential, "TEST_QUERY_KEY_GET", input).await.unwrap();
        let text = out.to_string();
        assert_not_leaked(canary, "the plugin's output", &text);
        assert_eq!(out["error"]["kind"], "invalid-request", "{text:.300}");
    }
    assert_not_leaked(canary, "the log", &weft_tests::logs::all());
}

/// Issue 24, defect 6: a caller's parameter named like the injected key is
/// replaced by the key, through the Proxy API and a plugin's HTTP; the
/// caller's other parameters are kept as sent.
#[tokio::test]
async fn the_injected_query_key_replaces_the_callers() {
    let f = fixture().await;
    f.connect_as("u1", "keyq", "real-key-proxy", false).await;
    let (status, body) = f.get("u1", "keyq/echo?key=attacker&page=2&Key=x&q=a%2Fb").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["uri"], "/api/echo?page=2&q=a%2Fb&key=real-key-proxy", "{body}");

    let credential = f.connect_as("u1", "test-query-key", "real-key-plugin", false).await;
    let input = json!({"url": "/echo?key=attacker", "query": {"key": "attacker-2", "page": "3"}});
    let out = f.action_of("test-query-key", &credential, "TEST_QUERY_KEY_GET", input).await.unwrap();
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"]["uri"], "/api/echo?page=3&key=real-key-plugin", "{out}");
    let sent: Vec<Value> = f.mock.hits().iter().map(|h| Value::from(h.uri.as_str())).collect();
    assert!(sent.iter().all(|u| !u.as_str().unwrap().contains("attacker")), "{sent:?}");
}
