//! A caller's `X-Request-Id` is echoed, logged and stored with task
//! records: only a short plain one is kept (issue 24, defect 7).

use super::fixture::ProxyFixture;
use reqwest::Method;

/// Issue 24, defect 7: an over-long or strange caller request id is
/// replaced by a generated one on the routed path and the proxy's fast
/// path; the answer, its error body and the task record carry the new one.
#[tokio::test]
async fn an_unbounded_request_id_is_replaced_not_echoed_or_stored() {
    let f = ProxyFixture::new().await;
    f.connect("u1", "key-ids").await;
    let huge = format!("req-{}", "x".repeat(8 * 1024));
    for sent in [huge.as_str(), "<script>alert(1)</script>", "two words", "a/b?c"] {
        // The proxy's fast path, answered by the provider and recorded.
        let resp = f.proxy(Method::GET, "u1", "test-proxy/echo").header("X-Request-Id", sent).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{sent:.40} answered as {id:.40}");
        let mut recorded = false;
        for _ in 0..200 {
            if f.tasks(1).await.iter().any(|t| t.request_id == id) {
                recorded = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(recorded, "no task record under {id}");

        // A routed error answer: the header and the error body agree.
        let path = format!("{}/projects/{}/sdk/nothing-here", f.app.base, f.project);
        let resp = f.app.client.get(path).header("X-Request-Id", sent).send().await.unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{sent:.40} answered as {id:.40}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["meta"]["requestId"], id.as_str());
    }
    let tasks = f.tasks(4).await;
    assert!(tasks.iter().all(|t| uuid::Uuid::parse_str(&t.request_id).is_ok()), "{tasks:?}");
    // A plain one is still kept.
    let resp = f.proxy(Method::GET, "u1", "test-proxy/echo").header("X-Request-Id", "trace:01HX.span_2").send().await;
    assert_eq!(resp.unwrap().headers()["x-request-id"], "trace:01HX.span_2");
}
