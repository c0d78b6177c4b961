//! C4: where a proxy call may go. Permitted hosts, path and URL tricks,
//! redirects, schemes, header hygiene and credential cross-wiring. The
//! "forbidden" mocks are real listeners that count what reaches them.

use super::fixture::{PERMITTED, ProxyFixture};
use reqwest::Method;
use serde_json::Value;
use std::net::Ipv4Addr;
use weft_tests::mock_api::MockApi;

const FORBIDDEN: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// C4-55: a fully qualified URL to a host the integration does not permit
/// gets 403 with the reference's message; the host sees nothing. A fully
/// qualified URL to the permitted host works.
#[tokio::test]
async fn only_permitted_hosts_are_reached() {
    let f = ProxyFixture::new().await;
    let forbidden = MockApi::start_on(FORBIDDEN).await;
    f.connect("u1", "key-55").await;
    let (status, body) = f.get("u1", &format!("test-proxy/{}/api/echo", forbidden.origin)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "This domain is invalid for the current integration");
    assert_eq!(body["code"], "HOST_NOT_PERMITTED");
    let (status, body) = f.get("u1", &format!("test-proxy/{}/api/echo", f.mock.origin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["headers"]["x-api-key"], "key-55");
    assert_eq!(forbidden.count(), 0);
}

/// The same rule for a plugin's own HTTP with the account's credentials:
/// the one authorised-request path refuses a host the integration does not
/// permit (a typed `denied` error for the plugin, nothing sent), and a path
/// cannot climb out of the base URL.
#[tokio::test]
async fn plugin_requests_reach_only_permitted_hosts() {
    let f = ProxyFixture::new().await;
    let forbidden = MockApi::start_on(OTHER).await;
    let credential = f.connect("u1", "key-plugin-55").await;
    let get = |url: String| f.plugin_action("u1", &credential, "TEST_PROXY_GET", serde_json::json!({ "url": url }));
    let err = get(format!("{}/api/echo", forbidden.origin)).await.unwrap_err();
    assert!(err.to_string().contains("not in the allowed hosts"), "{err}");
    let err = get("/../../escape".into()).await.unwrap_err();
    assert!(err.to_string().contains("leaves the integration's base URL"), "{err}");
    let out = get(format!("{}/api/echo", f.mock.origin)).await.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"]["headers"]["x-api-key"], "key-plugin-55");
    assert_eq!(forbidden.count(), 0);
    assert_eq!(f.mock.count(), 1);
}

/// C4-56: path tricks either stay on the permitted host or are refused;
/// the forbidden listener sees nothing and never the key.
#[tokio::test]
async fn path_tricks_stay_on_the_permitted_host() {
    let f = ProxyFixture::new().await;
    let forbidden = MockApi::start_on(FORBIDDEN).await;
    f.connect("u1", "key-56").await;
    let port = forbidden.addr.port();
    let tricks = [
        format!("@127.0.0.1:{port}/api/echo"),
        format!("/127.0.0.1:{port}/api/echo"),
        format!("%2F%2F127.0.0.1:{port}/api/echo"),
        format!("\\\\127.0.0.1:{port}\\api\\echo"),
        format!("%40127.0.0.1:{port}/api/echo"),
        format!("http:%2F%2F127.0.0.1:{port}/api/echo"),
        format!("https%3A%2F%2F127.0.0.1:{port}/api/echo"),
        "..%2f..%2fadmin".to_owned(),
        "../../admin".to_owned(),
        "echo/../../../x".to_owned(),
        "echo%0d%0aX-Injected:%201".to_owned(),
        format!("echo?next=http://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/api/echo"),
        format!("http://user:pw@127.0.0.2:{}/api/echo", f.mock.addr.port()),
        format!("http://127.0.0.2.nip.io:{port}/api/echo"),
    ];
    for trick in &tricks {
        let target = f.target(&format!("test-proxy/{trick}"));
        let answer = f.raw("GET", &target, "u1", &[]).await;
        assert!(
            answer.status == 200 || (400..=404).contains(&answer.status),
            "{trick}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        if answer.status == 200 {
            // It stayed on the permitted mock, inside the base path.
            let uri = answer.json()["output"]["uri"].as_str().unwrap_or_default().to_owned();
            assert!(uri.starts_with("/api/"), "{trick} reached {uri}");
        }
    }
    // A raw CR LF in the request line never becomes a header.
    let answer = f.raw("GET", &f.target("test-proxy/echo\r\nX-Injected: 1"), "u1", &[]).await;
    assert_ne!(answer.status, 200);
    assert_eq!(forbidden.count(), 0, "the forbidden listener was reached");
    assert!(f.mock.hits().iter().all(|h| h.header("x-injected").is_none()));
}

/// C4-60: a redirect from the permitted host comes back to the caller
/// untouched and is never followed; the key never reaches another origin.
#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let f = ProxyFixture::new().await;
    let sink = MockApi::start_on(FORBIDDEN).await;
    let other = MockApi::start_on(OTHER).await;
    f.connect("u1", "key-60").await;
    for to in [
        sink.url_of("/api/echo"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        other.url_of("/api/echo"),
        "//evil.test/api/echo".to_owned(),
        f.mock.url_of("/api/echo"),
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("to", &to).finish();
        let (status, body) = f.get("u1", &format!("test-proxy/redirect?{query}")).await;
        assert_eq!(status, 302, "{to}: {body}");
        let resp = f.proxy(Method::GET, "u1", &format!("test-proxy/redirect?{query}")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], to.as_str(), "the Location is passed on as it is");
        let raw = f
            .proxy(Method::GET, "u1", &format!("test-proxy/redirect?{query}"))
            .header("X-Paragon-Use-Raw-Response", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 302);
    }
    assert_eq!(sink.count() + other.count(), 0, "no redirect was followed");
    // The permitted mock saw only the redirect requests themselves.
    assert!(f.mock.hits().iter().all(|h| h.uri.starts_with("/api/redirect")));
}

/// C4-63: other schemes in the path are paths, never URLs to fetch.
#[tokio::test]
async fn other_schemes_are_never_fetched() {
    let f = ProxyFixture::new().await;
    let forbidden = MockApi::start_on(FORBIDDEN).await;
    f.connect("u1", "key-63").await;
    let port = forbidden.addr.port();
    for path in [
        "file:///etc/passwd".to_owned(),
        format!("gopher://127.0.0.1:{port}/_x"),
        format!("ftp://127.0.0.1:{port}/x"),
        "data:text/plain,hello".to_owned(),
        "unix:/var/run/docker.sock".to_owned(),
    ] {
        let answer = f.raw("GET", &f.target(&format!("test-proxy/{path}")), "u1", &[]).await;
        assert!(answer.status == 404 || answer.status == 400 || answer.status == 200, "{path}: {}", answer.status);
        if answer.status == 200 {
            let uri = answer.json()["output"]["uri"].as_str().unwrap_or_default().to_owned();
            assert!(uri.starts_with("/api/"), "{path} went to {uri}");
        }
    }
    assert_eq!(forbidden.count(), 0);
    assert!(std::fs::read_to_string("/etc/passwd").is_ok(), "the file exists, so a fetch would have worked");
}

/// C4-66: caller-supplied credentials, routing and forwarding headers are
/// dropped; the key is the host's, once; the user token never leaves.
#[tokio::test]
async fn caller_headers_are_cleaned() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-66").await;
    let resp = f
        .proxy(Method::GET, "u1", "test-proxy/echo")
        .header("X-API-Key", "caller-chosen-key")
        .header("X-Forwarded-For", "10.0.0.1")
        .header("X-Forwarded-Host", "internal.test")
        .header("Forwarded", "for=10.0.0.1")
        .header("X-Real-IP", "10.0.0.1")
        .header("Cookie", "session=caller")
        .header("Proxy-Authorization", "Basic eA==")
        .header("Connection", "keep-alive, x-api-key")
        .header("X-Custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let hit = f.mock.hits().pop().unwrap();
    let keys: Vec<_> = hit.headers.iter().filter(|(n, _)| n == "x-api-key").map(|(_, v)| v.as_str()).collect();
    assert_eq!(keys, ["key-66"], "only the injected key, once");
    for gone in ["x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip", "cookie", "proxy-authorization"] {
        assert!(hit.header(gone).is_none(), "{gone} was forwarded: {body}");
    }
    assert_eq!(hit.header("x-custom"), Some("kept"));
    let token = f.token("u1");
    let token_sig = token.rsplit('.').next().unwrap();
    assert!(hit.headers.iter().all(|(_, v)| !v.contains(token_sig)), "the user token reached the provider");
    assert_eq!(hit.header("host").unwrap(), format!("{}:{}", PERMITTED, f.mock.addr.port()));
}

/// C4-67: a call for integration A whose URL names integration B's host is
/// refused, although B's host is permitted for B: A's key never goes there.
#[tokio::test]
async fn one_integrations_key_never_reaches_anothers_host() {
    let f = ProxyFixture::new().await;
    let b_mock = MockApi::start_on(OTHER).await;
    let b = f.add_integration("test-apikey", &b_mock.api_base()).await;
    f.connect("u1", "key-of-a").await;
    f.connect_as("u1", "test-apikey", "key-of-b", false).await;
    let connected = b_mock.count();
    let (status, body) = f.get("u1", &format!("test-proxy/{}/api/echo", b_mock.origin)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(b_mock.count(), connected, "A's call reached B's host");
    // B's own calls go to B's host with B's key.
    let (status, body) = f.get("u1", &format!("custom/{b}/echo")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["headers"]["x-api-key"], "key-of-b");
    assert!(f.mock.hits().iter().all(|h| h.header("x-api-key") != Some("key-of-b")));
    assert!(b_mock.hits().iter().all(|h| h.header("x-api-key") != Some("key-of-a")));
}
