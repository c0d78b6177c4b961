//! User tokens at the server's door (issue 24): hostile claim values are
//! refused with 401 on the SDK routes and the Proxy API's fast path alike,
//! and a signing key checks the issuer and audience it is configured with.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

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

/// Issue 24, defect 5: a signing key added with an `issuer` and an
/// `audience` accepts only tokens carrying that `iss` and an `aud` naming
/// that audience; a key without them checks no `iss` and accepts only the
/// project as `aud`, as before.
#[tokio::test]
async fn a_signing_key_requires_the_issuer_and_audience_it_is_configured_with() {
    let app = spawn_app(&[]).await;
    let (project, admin_key) = app.create_project(json!({"name": "Claims"})).await;
    let keys = format!("/admin/projects/{project}/signing-keys");
    let add = |body: Value| app.call(Method::POST, &keys, Some(&admin_key), Some(body));
    let (status, ruled) =
        add(json!({"generate": true, "kid": "idp", "issuer": "https://idp.example", "audience": "weft-app"})).await;
    assert_eq!(status, 201, "{ruled}");
    assert_eq!((ruled["issuer"].as_str(), ruled["audience"].as_str()), (Some("https://idp.example"), Some("weft-app")));
    let (status, plain) = add(json!({"generate": true, "kid": "plain"})).await;
    assert_eq!(status, 201, "{plain}");
    assert_eq!((&plain["issuer"], &plain["audience"]), (&Value::Null, &Value::Null));
    let (status, listed) = app.call(Method::GET, &keys, Some(&admin_key), None).await;
    assert_eq!(status, 200, "{listed}");
    let idp = listed.as_array().unwrap().iter().find(|k| k["kid"] == "idp").expect("listed");
    assert_eq!((&idp["issuer"], &idp["audience"]), (&ruled["issuer"], &ruled["audience"]), "{listed}");

    let now = now_unix();
    let me = format!("/projects/{project}/sdk/me");
    let status_with = |key: &Value, kid: &str, extra: Value| {
        let mut claims = json!({"sub": "u1", "iat": now, "exp": now + 600});
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let token = mint_claims(key["privateKeyPem"].as_str().unwrap(), kid, &claims);
        let (app, me) = (&app, &me);
        async move { app.call(Method::GET, me, Some(&token), None).await }
    };
    for (extra, why) in [
        (json!({}), "neither claim"),
        (json!({"iss": "https://idp.example"}), "no aud"),
        (json!({"aud": "weft-app"}), "no iss"),
        (json!({"iss": "https://evil.example", "aud": "weft-app"}), "another issuer"),
        (json!({"iss": "https://idp.example", "aud": "other-app"}), "another audience"),
        (json!({"iss": "https://idp.example", "aud": project}), "the project is not this key's audience"),
    ] {
        let (status, body) = status_with(&ruled, "idp", extra).await;
        assert_eq!(status, 401, "{why}: {body}");
    }
    for extra in [
        json!({"iss": "https://idp.example", "aud": "weft-app"}),
        json!({"iss": "https://idp.example", "aud": ["other-app", "weft-app"]}),
    ] {
        let (status, body) = status_with(&ruled, "idp", extra.clone()).await;
        assert_eq!(status, 200, "{extra}: {body}");
    }
    assert_eq!(status_with(&plain, "plain", json!({"iss": "https://anyone.example"})).await.0, 200);
    assert_eq!(status_with(&plain, "plain", json!({"aud": project})).await.0, 200);
    assert_eq!(status_with(&plain, "plain", json!({"aud": "weft-app"})).await.0, 401);

    // Blank values are refused, not stored as "no requirement".
    let (status, body) = add(json!({"generate": true, "kid": "blank", "audience": " "})).await;
    assert_eq!(status, 400, "{body}");
}
