//! User tokens at the server's door (issue 24): hostile claim values are
//! refused with 401 on the SDK routes and the Proxy API's fast path alike,
//! and a signing key checks the issuer and audience it is configured with.

use crate::support::*;
use reqwest::Method;
use serde_json::json;

/// Issue 24, defect 1: a correctly signed token whose `exp - iat` overflows
/// (an `iat` of i64::MIN) is refused. Before, a debug build panicked on the
/// request and a release build wrapped past the 24 h cap and accepted it.
#[tokio::test]
async fn a_token_whose_lifetime_overflows_is_refused() {
    let app = spawn_app(&[]).await;
    let (project, private_pem) = project_with_key(app.store.as_ref(), "Times").await;
    let now = now_unix();
    let me = format!("/projects/{project}/sdk/me");
    let proxied = format!("{}/projects/{project}/sdk/proxy/test-proxy/echo", app.base);
    for claims in [
        json!({"sub": "u1", "iat": i64::MIN, "exp": now + 600}),
        json!({"sub": "u1", "iat": i64::MIN, "exp": i64::MAX}),
        json!({"sub": "u1", "iat": now - 60, "exp": i64::MAX}),
        json!({"sub": "u1", "iat": i64::MIN + 1, "exp": now + 600, "nbf": i64::MIN}),
    ] {
        let token = mint_claims(&private_pem, "k", &claims);
        let (status, body) = app.call(Method::GET, &me, Some(&token), None).await;
        assert_eq!(status, 401, "{claims}: {body}");
        assert_eq!(body["code"], "UNAUTHORIZED", "{body}");
        // The proxy's fast path verifies with the same verifier.
        let resp = app.client.get(proxied.as_str()).bearer_auth(&token).send().await.expect("an answer, not a reset");
        assert_eq!(resp.status(), 401, "{claims}");
    }
    // The server is still serving, and a sane token still works.
    let sane = mint_claims(&private_pem, "k", &json!({"sub": "u1", "iat": now, "exp": now + 600}));
    let (status, body) = app.call(Method::GET, &me, Some(&sane), None).await;
    assert_eq!(status, 200, "{body}");
}
