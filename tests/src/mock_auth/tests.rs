//! The mock's own behaviour, driven over HTTP as a client would.

use super::*;
use serde_json::Value;

const CLIENT: &str = "weft-client";
/// Has characters that RFC 6749 §2.3.1 form-encoding must escape.
const SECRET: &str = "s3cr&t+=/:x";
const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
const VERIFIER: &str = "verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

async fn server() -> MockAuthServer {
    let s = MockAuthServer::start().await;
    s.register_client(CLIENT, SECRET, REDIRECT);
    s
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn authorization_url(s: &MockAuthServer, redirect_uri: &str) -> String {
    let challenge = pkce_challenge(VERIFIER);
    let params = [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", redirect_uri),
        ("state", "st-42"),
        ("scope", "read write"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    url::Url::parse_with_params(&s.authorize_url(), params).expect("url").to_string()
}

fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 4] {
    [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)]
}

/// POSTs a form to `/token` with HTTP Basic client authentication.
async fn token(s: &MockAuthServer, form: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = browser()
        .post(s.token_url())
        .basic_auth(enc(CLIENT), Some(enc(SECRET)))
        .form(form)
        .send()
        .await
        .expect("token request");
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

/// Runs the code flow and returns the token response.
async fn connect(s: &MockAuthServer) -> Value {
    let callback = s.approve(&authorization_url(s, REDIRECT)).await;
    let code = url_param(&callback, "code").expect("code");
    let form = code_form(&code, VERIFIER);
    let (status, _, body) = token(s, &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn me(s: &MockAuthServer, access: Option<&str>) -> (u16, Value) {
    let mut req = browser().get(format!("{}/me", s.api_base()));
    if let Some(t) = access {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("api request");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[tokio::test]
async fn code_flow_with_pkce() {
    let s = server().await;
    s.set_send_iss(true);
    s.set_approving_user("acct-7");
    let callback = s.approve(&authorization_url(&s, REDIRECT)).await;
    assert!(callback.starts_with(REDIRECT), "{callback}");
    assert_eq!(url_param(&callback, "state").as_deref(), Some("st-42"));
    assert_eq!(url_param(&callback, "iss").as_deref(), Some(s.base.as_str()));
    let code = url_param(&callback, "code").expect("code");
    let form = code_form(&code, VERIFIER);
    let (status, headers, body) = token(&s, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    assert!(body["refresh_token"].is_string());
    let (status, me_body) = me(&s, Some(str_of(&body, "access_token"))).await;
    assert_eq!((status, me_body), (200, serde_json::json!({ "id": "acct-7", "name": "User acct-7" })));
    let outcomes: Vec<_> = s.log().iter().map(|r| (r.path.clone(), r.outcome.clone())).collect();
    assert_eq!(
        outcomes,
        [("/authorize", "ok"), ("/token", "ok"), ("/api/me", "ok")].map(|(p, o)| (p.into(), o.into()))
    );
    assert_eq!(s.token_requests_with_grant("authorization_code"), 1);
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant() {
    let s = server().await;
    let code = url_param(&s.approve(&authorization_url(&s, REDIRECT)).await, "code").expect("code");
    let wrong = "another-verifier-0123456789-abcdefghijklmnopqrstu";
    let form = code_form(&code, wrong);
    let (status, _, body) = token(&s, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(s.log().last().map(|r| r.outcome.clone()).as_deref(), Some("invalid_grant"));
}

#[tokio::test]
async fn code_reuse_revokes_its_tokens() {
    let s = server().await;
    let code = url_param(&s.approve(&authorization_url(&s, REDIRECT)).await, "code").expect("code");
    let form = code_form(&code, VERIFIER);
    let (status, _, first) = token(&s, &form).await;
    assert_eq!(status, 200);
    let access = str_of(&first, "access_token");
    assert!(!s.is_family_revoked(access));
    let (status, _, body) = token(&s, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(s.is_family_revoked(access));
    assert!(s.is_family_revoked(str_of(&first, "refresh_token")));
    assert_eq!(me(&s, Some(access)).await.0, 401);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let s = server().await;
    let first = connect(&s).await;
    let rt1 = str_of(&first, "refresh_token");
    let (status, _, second) = token(&s, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await;
    assert_eq!(status, 200, "{second}");
    let (at2, rt2) = (str_of(&second, "access_token"), str_of(&second, "refresh_token"));
    assert_ne!(at2, str_of(&first, "access_token"));
    assert_ne!(rt2, rt1);
    assert_eq!(me(&s, Some(at2)).await.0, 200);
    assert_eq!(s.token_requests_with_grant("refresh_token"), 1);
    // Presenting the used-up token again is reuse: the whole family goes.
    let (status, _, body) = token(&s, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(s.is_family_revoked(rt2));
    assert_eq!(me(&s, Some(at2)).await.0, 401);
    let (status, _, _) = token(&s, &[("grant_type", "refresh_token"), ("refresh_token", rt2)]).await;
    assert_eq!(status, 400);
    assert_eq!(s.token_requests(), 4);
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_token() {
    let s = server().await;
    s.set_rotate_refresh_tokens(false);
    s.set_access_token_ttl(None);
    let first = connect(&s).await;
    assert!(first.get("expires_in").is_none());
    let rt = str_of(&first, "refresh_token");
    for _ in 0..2 {
        let (status, _, body) = token(&s, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
    }
    assert!(!s.is_family_revoked(rt));
}

#[tokio::test]
async fn faults_are_consumed_in_order() {
    let s = server().await;
    let (_, rt) = s.issue_tokens(CLIENT, "acct-2", "read");
    s.push_fault(Fault::TooManyRequests { retry_after_secs: 17 });
    s.push_fault(Fault::Status(503));
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let (status, headers, _) = token(&s, &form).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("17"));
    assert_eq!(token(&s, &form).await.0, 503);
    // Faulted requests did not use the refresh token up.
    let (status, _, body) = token(&s, &form).await;
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<_> = s.log().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["fault:429", "fault:503", "ok"]);
}

#[tokio::test]
async fn delay_after_processing_uses_the_refresh_token_up() {
    let s = server().await;
    let (_, rt) = s.issue_tokens(CLIENT, "acct-2", "");
    s.push_fault(Fault::DelayAfterProcessing(Duration::from_secs(5)));
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let lost = browser()
        .post(s.token_url())
        .basic_auth(enc(CLIENT), Some(enc(SECRET)))
        .form(&form)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(lost.is_err(), "the answer should have been too late");
    assert_eq!(s.log().last().map(|r| r.outcome.clone()).as_deref(), Some("ok"));
    assert_eq!(token(&s, &form).await.2["error"], "invalid_grant");
    assert!(s.is_family_revoked(&rt));
}

#[tokio::test]
async fn hang_records_at_once_never_answers_and_leaves_the_refresh_token_valid() {
    let s = server().await;
    let (_, rt) = s.issue_tokens(CLIENT, "acct-2", "");
    s.push_fault(Fault::Hang);
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let hung = browser()
        .post(s.token_url())
        .basic_auth(enc(CLIENT), Some(enc(SECRET)))
        .form(&form)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.is_err(), "a hung request is never answered");
    let log = s.log();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].outcome.as_str(), log[0].form_value("refresh_token")), ("fault:hang", Some(rt.as_str())));
    // Not processed: the refresh token still works, once.
    let (status, _, body) = token(&s, &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(!s.is_family_revoked(&rt));
}

#[tokio::test]
async fn api_requires_a_valid_bearer_token() {
    let s = server().await;
    let (access, _) = s.issue_tokens(CLIENT, "acct-3", "");
    let (status, body) = me(&s, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    assert_eq!(me(&s, Some("at_forged")).await.0, 401);
    assert_eq!(me(&s, Some(&access)).await.1["id"], "acct-3");
    let other = browser().post(format!("{}/items/9", s.api_base())).bearer_auth(&access).send().await.expect("api");
    let body: Value = other.json().await.expect("json");
    assert_eq!(body, serde_json::json!({ "path": "/items/9", "account": "acct-3" }));
    let presented = s.log().iter().filter_map(|r| r.header("authorization").map(str::to_owned)).next_back();
    assert_eq!(presented, Some(format!("Bearer {access}")));
    s.expire_access_tokens();
    assert_eq!(me(&s, Some(&access)).await.0, 401);
    assert_eq!(s.log().last().map(|r| r.outcome.clone()).as_deref(), Some("invalid_token"));
}

#[tokio::test]
async fn api_accepts_registered_api_keys() {
    let s = server().await;
    s.add_api_key("key-live-123", "acct-9");
    let with_key = |key: &str| browser().get(format!("{}/me", s.api_base())).header("X-API-Key", key);
    let resp = with_key("key-live-123").send().await.expect("api request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, serde_json::json!({ "id": "acct-9", "name": "User acct-9" }));
    let resp = with_key("key-unknown").send().await.expect("api request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(s.log().last().map(|r| r.outcome.clone()).as_deref(), Some("invalid_token"));
    // A valid bearer token wins over the key; an invalid one falls back to it.
    let (access, _) = s.issue_tokens(CLIENT, "acct-3", "");
    let both = with_key("key-live-123").bearer_auth(&access).send().await.expect("api request");
    assert_eq!(both.json::<Value>().await.expect("json")["id"], "acct-3");
    let forged = with_key("key-live-123").bearer_auth("at_forged").send().await.expect("api request");
    assert_eq!(forged.json::<Value>().await.expect("json")["id"], "acct-9");
}

#[tokio::test]
async fn authorize_refuses_a_wrong_redirect_uri() {
    let s = server().await;
    let refused = s.try_approve(&authorization_url(&s, "http://127.0.0.1:9/oauth/callback/")).await;
    let (status, body) = refused.expect_err("must refuse");
    assert_eq!(status, 400);
    assert!(body.contains("redirect_uri"), "{body}");
    assert_eq!(s.log()[0].outcome, "invalid_redirect_uri");
}

#[tokio::test]
async fn token_endpoint_is_strict_about_clients_and_content() {
    let s = server().await;
    let form = [("grant_type", "client_credentials")];
    // Form-field authentication works alone...
    let post = [("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", SECRET)];
    let resp = browser().post(s.token_url()).form(&post).send().await.expect("token");
    assert_eq!(resp.status(), 200);
    // ...but not together with Basic, and Basic must be form-encoded.
    let both = browser().post(s.token_url()).basic_auth(enc(CLIENT), Some(enc(SECRET))).form(&post);
    assert_eq!(both.send().await.expect("token").status(), 401);
    let raw = browser().post(s.token_url()).basic_auth(CLIENT, Some(SECRET)).form(&form);
    assert_eq!(raw.send().await.expect("token").status(), 401);
    let json = browser().post(s.token_url()).basic_auth(enc(CLIENT), Some(enc(SECRET))).json(&serde_json::json!({}));
    assert_eq!(json.send().await.expect("token").status(), 400);
    assert_eq!(token(&s, &[("grant_type", "implicit")]).await.2["error"], "unsupported_grant_type");
    let outcomes: Vec<_> = s.log().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["ok", "invalid_client", "invalid_client", "invalid_request", "unsupported_grant_type"]);
}

#[tokio::test]
async fn revoke_and_password_grant() {
    let s = server().await;
    s.add_user("ada", "pw", "acct-ada");
    let (status, _, body) = token(&s, &[("grant_type", "password"), ("username", "ada"), ("password", "nope")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (_, _, body) = token(&s, &[("grant_type", "password"), ("username", "ada"), ("password", "pw")]).await;
    let access = str_of(&body, "access_token");
    assert_eq!(s.account_of(access).as_deref(), Some("acct-ada"));
    let resp = browser()
        .post(s.revoke_url())
        .basic_auth(enc(CLIENT), Some(enc(SECRET)))
        .form(&[("token", str_of(&body, "refresh_token"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    assert_eq!(s.revocations(), [str_of(&body, "refresh_token")]);
    assert!(s.is_family_revoked(access));
    assert!(!s.is_access_token_valid(access));
}
