//! Custom integrations' other ways to authenticate (issue 19): the OAuth
//! 2.0 password grant, client credentials the user enters, a user profile
//! that names the account, when tokens are renewed, and HTTP Basic from an
//! auth template. On SQLite and on PostgreSQL, against the strict mock
//! authorization server and the catalog's stand-in API.

use crate::custom::{Ctx, proxy_get};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use weft_store::CredentialStatus;
use weft_tests::mock_auth::{Fault, TokenDialect};
use weft_tests::mock_catalog::{Expect, Stand, profile_document};

/// A password-grant definition of `id` on the stand-in API, with `auth`
/// merged into its `auth`.
fn password_definition(cx: &Ctx, id: &str, auth: Value) -> Value {
    let mut definition = json!({
        "id": id, "name": id, "baseUrl": cx.api.base_of(id),
        "auth": {"type": "oauth2", "tokenUrl": cx.auth.token_url(), "passwordGrant": true, "scopes": ["tasks.read"]},
    });
    for (k, v) in auth.as_object().cloned().unwrap_or_default() {
        definition["auth"][k] = v;
    }
    definition
}

/// Stores `definition` as the custom integration of its id, with the app
/// client `client` (its secret `<client>-secret`, also registered at the
/// mock): the integration's id.
async fn create(cx: &Ctx, definition: Value, client: Option<&str>) -> String {
    let mut body = json!({"type": definition["id"], "active": true, "definition": definition});
    if let Some(client) = client {
        body["clientId"] = json!(client);
        body["clientSecret"] = json!(format!("{client}-secret"));
        cx.auth.register_client(client, &format!("{client}-secret"), "https://app.example/unused");
    }
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Connects `integration_type` with `fields`.
async fn submit(cx: &Ctx, integration_type: &str, fields: Value) -> (u16, Value) {
    let body = json!({"fields": fields, "allowMultipleCredentials": true});
    cx.sdk(Method::POST, &format!("connect/{integration_type}/credentials"), Some(body)).await
}

fn credential_id(credential: &Value) -> weft_store::CredentialId {
    credential["id"].as_str().unwrap().parse().unwrap()
}

async fn password_grant(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let profile = profile_document(Some("/id"), "acct-r", None, "");
    cx.api.stand("custom.ropc", Stand { expect: Expect::IssuedBearer, profile_path: Some("/me".into()), profile });
    let mut definition = password_definition(&cx, "custom.ropc", json!({"passwordApiKey": "apiKey"}));
    definition["authTemplate"] =
        json!({"headers": {"Authorization": "Bearer {{access_token}}", "X-Ropc-Key": "{{apiKey}}"}});
    definition["connectionTest"] = json!({"path": "/me", "accountId": "/id"});
    let integration = create(&cx, definition, Some("ropc-app")).await;
    cx.auth.add_user("ada", "ada-password-1", "acct-r");

    // No authorization page: the user is asked for what the grant needs.
    let (status, started) = cx.sdk(Method::POST, "connect/custom.ropc", Some(json!({}))).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started, json!({"type": "inputs", "fields": ["username", "password", "apiKey"]}));

    // A wrong password: 400 saying what to fix, nothing saved.
    let wrong = json!({"username": "ada", "password": "nope", "apiKey": "key-1"});
    let (status, refused) = submit(&cx, "custom.ropc", wrong).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("user name and password"), "{refused}");
    assert_eq!(cx.sdk(Method::GET, "credentials", None).await.1, json!([]));

    let right = json!({"username": "ada", "password": "ada-password-1", "apiKey": "key-1"});
    let (status, credential) = submit(&cx, "custom.ropc", right).await;
    assert_eq!(status, 201, "{credential}");
    assert_eq!(credential["providerId"], "acct-r");
    let log = cx.auth.log();
    let grant = log.iter().rev().find(|r| r.form_value("grant_type") == Some("password")).unwrap();
    assert_eq!((grant.outcome.as_str(), grant.form_value("scope")), ("ok", Some("tasks.read")));
    assert!(grant.header("authorization").is_some_and(|h| h.starts_with("Basic ")), "the app's client, basic");
    // The password is not kept; the API key is, sealed.
    let project = cx.project.parse().unwrap();
    let usable = cx.app.credentials.usable(project, credential_id(&credential)).await.unwrap();
    assert_eq!((usable.secrets.username.as_deref(), usable.secrets.password.as_deref()), (None, None));
    assert_eq!(usable.secrets.fields.get("apiKey").map(String::as_str), Some("key-1"));

    // A proxied call carries the token and the key as the template says.
    let (status, answer) = proxy_get(&cx, &integration, "tasks").await;
    assert_eq!(status, 200, "{answer}");
    let hit = cx.api.hits_of("custom.ropc").pop().unwrap();
    assert!(hit.authorized && hit.header("x-ropc-key") == Some("key-1"), "{hit:?}");

    // Refreshed with the refresh token the grant gave, then refused.
    cx.auth.expire_access_tokens();
    assert_eq!(proxy_get(&cx, &integration, "tasks").await.0, 200);
    assert_eq!(cx.auth.token_requests_with_grant("refresh_token"), 1);
    assert_eq!(cx.auth.token_requests_with_grant("password"), 2, "no new login");
    cx.auth.expire_access_tokens();
    cx.auth.push_fault(Fault::InvalidGrant);
    assert_ne!(proxy_get(&cx, &integration, "tasks").await.0, 200);
    let stored = cx.app.store.get_credential(project, credential_id(&credential)).await.unwrap();
    assert_eq!(stored.status, CredentialStatus::Invalid);
}

#[tokio::test]
async fn a_custom_password_grant_connects_refreshes_and_turns_invalid_on_sqlite() {
    password_grant(false).await;
}

#[tokio::test]
async fn a_custom_password_grant_connects_refreshes_and_turns_invalid_on_postgresql() {
    password_grant(true).await;
}

async fn user_client_credentials(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    cx.api.stand("custom.ledger", Stand { expect: Expect::IssuedBearer, profile_path: None, profile: json!({}) });
    let definition = json!({
        "id": "custom.ledger", "name": "Ledger", "baseUrl": cx.api.base_of("custom.ledger"),
        "auth": {"type": "oauth2-client-credentials", "tokenUrl": cx.auth.token_url(), "scopes": ["ledger"],
                 "clientAuth": "post", "client": "user"},
    });
    let integration = create(&cx, definition, None).await;
    // The user's own client, registered at the provider.
    cx.auth.register_client("users-client", "users-client-secret", "https://app.example/unused");

    let (status, started) = cx.sdk(Method::POST, "connect/custom.ledger", Some(json!({}))).await;
    assert_eq!((status, &started["fields"]), (200, &json!(["client_id", "client_secret"])), "{started}");
    let wrong = json!({"client_id": "users-client", "client_secret": "wrong"});
    let (status, refused) = submit(&cx, "custom.ledger", wrong).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("client id and secret"), "{refused}");

    let right = json!({"client_id": "users-client", "client_secret": "users-client-secret"});
    let (status, credential) = submit(&cx, "custom.ledger", right).await;
    assert_eq!(status, 201, "{credential}");
    assert!(!credential.to_string().contains("users-client-secret"));
    assert_eq!(proxy_get(&cx, &integration, "entries").await.0, 200);
    assert!(cx.api.hits_of("custom.ledger").last().is_some_and(|h| h.authorized));

    // Refused token: a new one with the user's client, kept sealed.
    cx.auth.expire_access_tokens();
    assert_eq!(proxy_get(&cx, &integration, "entries").await.0, 200);
    let granted: Vec<_> = cx
        .auth
        .log()
        .into_iter()
        .filter(|r| r.form_value("grant_type") == Some("client_credentials") && r.outcome == "ok")
        .collect();
    assert_eq!(granted.len(), 2, "connect, then the renewal after the 401");
    assert!(granted.iter().all(|r| r.form_value("client_id") == Some("users-client")));
    assert_eq!(granted[1].form_value("scope"), Some("ledger"));
    assert!(cx.api.hits_of("custom.ledger").last().is_some_and(|h| h.authorized));
}

#[tokio::test]
async fn user_entered_client_credentials_connect_and_renew_on_sqlite() {
    user_client_credentials(false).await;
}

#[tokio::test]
async fn user_entered_client_credentials_connect_and_renew_on_postgresql() {
    user_client_credentials(true).await;
}

async fn user_profile(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    // The token answer names the user; the profile request reads it.
    cx.auth.set_client_dialect(
        "prof-app",
        TokenDialect::answering(|mut body, account| {
            body["user_id"] = json!(account);
            body
        }),
    );
    let profile = json!({"data": {"uid": 77, "email": "ada@example.com", "plan": {"name": "pro"}}});
    let stand = Stand { expect: Expect::IssuedBearer, profile_path: Some("/users/acct-u".into()), profile };
    cx.api.stand("custom.prof", stand);
    let mut definition = password_definition(&cx, "custom.prof", json!({}));
    definition["userProfile"] = json!({"path": "/users/{{user_id}}", "id": "/data/uid", "fields": {"email": "/data/email", "plan": "/data/plan/name"}});
    create(&cx, definition, Some("prof-app")).await;
    cx.auth.add_user("ada", "pw-ada-2", "acct-u");

    let (status, credential) = submit(&cx, "custom.prof", json!({"username": "ada", "password": "pw-ada-2"})).await;
    assert_eq!(status, 201, "{credential}");
    assert_eq!(credential["providerId"], "77");
    assert_eq!(credential["providerData"], json!({"email": "ada@example.com", "plan": "pro"}));
    let (_, me) = cx.sdk(Method::GET, "me", None).await;
    let seen = &me["integrations"]["custom.prof"];
    assert_eq!((seen["providerId"].as_str(), &seen["providerData"]["plan"]), (Some("77"), &json!("pro")), "{me}");
    let hits = cx.api.hits_of("custom.prof");
    assert!(hits.iter().any(|h| h.path == "/users/acct-u" && h.authorized), "{hits:?}");
}

#[tokio::test]
async fn a_user_profile_names_the_account_on_sqlite() {
    user_profile(false).await;
}

#[tokio::test]
async fn a_user_profile_names_the_account_on_postgresql() {
    user_profile(true).await;
}

async fn refresh_behaviours(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    // Tokens live a minute, inside the refresh margin: refreshing ahead
    // of expiry would refresh at once.
    cx.auth.set_access_token_ttl(Some(60));
    let mut integrations = Vec::new();
    for (id, refresh) in
        [("custom.eager", None), ("custom.lazy", Some("onUnauthorized")), ("custom.fixed", Some("never"))]
    {
        cx.api.stand(id, Stand { expect: Expect::IssuedBearer, profile_path: None, profile: json!({}) });
        let auth = refresh.map(|r| json!({"refresh": r})).unwrap_or_else(|| json!({}));
        let client = format!("{}-app", &id["custom.".len()..]);
        integrations.push(create(&cx, password_definition(&cx, id, auth), Some(&client)).await);
    }
    cx.auth.add_user("ada", "pw-ada-3", "acct-a");
    let mut credentials = Vec::new();
    for id in ["custom.eager", "custom.lazy", "custom.fixed"] {
        let (status, credential) = submit(&cx, id, json!({"username": "ada", "password": "pw-ada-3"})).await;
        assert_eq!(status, 201, "{credential}");
        credentials.push(credential);
    }
    // Refresh requests by each integration's client.
    let refreshes = |client: &str| {
        let basic = basic_of(&format!("{client}:{client}-secret"));
        let log = cx.auth.log();
        log.iter()
            .filter(|r| {
                r.form_value("grant_type") == Some("refresh_token") && r.header("authorization") == Some(basic.as_str())
            })
            .count()
    };
    assert!(!credentials[0]["dateValidUntil"].is_null());
    assert!(credentials[1]["dateValidUntil"].is_null() && credentials[2]["dateValidUntil"].is_null());

    // Ahead of expiry: refreshed before the call. The others are not.
    assert_eq!(proxy_get(&cx, &integrations[0], "x").await.0, 200);
    assert!(refreshes("eager-app") >= 1);
    assert_eq!(proxy_get(&cx, &integrations[1], "x").await.0, 200);
    assert_eq!(proxy_get(&cx, &integrations[2], "x").await.0, 200);
    assert_eq!((refreshes("lazy-app"), refreshes("fixed-app")), (0, 0));

    // After a 401: only-after-401 refreshes; never passes the 401 on.
    cx.auth.expire_access_tokens();
    assert_eq!(proxy_get(&cx, &integrations[1], "x").await.0, 200);
    assert_eq!(refreshes("lazy-app"), 1);
    let (status, answer) = proxy_get(&cx, &integrations[2], "x").await;
    assert_ne!(status, 200, "{answer}");
    assert_eq!(refreshes("fixed-app"), 0, "never: the token endpoint is not called");
    let project = cx.project.parse().unwrap();
    let fixed = cx.app.store.get_credential(project, credential_id(&credentials[2])).await.unwrap();
    assert_eq!(fixed.status, CredentialStatus::Valid);
}

#[tokio::test]
async fn refresh_behaviours_are_observable_on_sqlite() {
    refresh_behaviours(false).await;
}

#[tokio::test]
async fn refresh_behaviours_are_observable_on_postgresql() {
    refresh_behaviours(true).await;
}

fn basic_of(pair: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

async fn basic_auth_templates(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    // A custom integration in the reference's format: the API key as the
    // user name of HTTP Basic, an empty password.
    let expect = Expect::Header { name: "authorization".into(), value: basic_of("key-9:") };
    let profile = profile_document(Some("/id"), "acct-b", None, "");
    cx.api.stand("custom.keyedbasic", Stand { expect, profile_path: Some("/me".into()), profile });
    let reference = json!({
        "name": "Keyed Basic", "authenticationType": "basic", "apiBaseUrl": cx.api.base_of("custom.keyedbasic"),
        "testEndpointPath": "/me", "authorization": {"type": "basic", "username": "{{settings.apiKey}}", "password": ""},
    });
    let body = json!({"type": "custom.keyedbasic", "active": true, "definition": reference});
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let integration = created["id"].as_str().unwrap().to_owned();
    let (_, started) = cx.sdk(Method::POST, "connect/custom.keyedbasic", Some(json!({}))).await;
    assert_eq!(started["fields"], json!(["apiKey"]), "{started}");
    let (status, refused) = submit(&cx, "custom.keyedbasic", json!({"apiKey": "key-8"})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("CONNECTION_TEST_FAILED")), "{refused}");
    let (status, credential) = submit(&cx, "custom.keyedbasic", json!({"apiKey": "key-9"})).await;
    assert_eq!(status, 201, "{credential}");
    assert_eq!(proxy_get(&cx, &integration, "orders").await.0, 200);
    let hit = cx.api.hits_of("custom.keyedbasic").pop().unwrap();
    assert_eq!((hit.path.as_str(), hit.authorized), ("/orders", true));

    // An API resource whose keys are a user name and a password.
    let expect = Expect::Header { name: "authorization".into(), value: basic_of("ada:s3cret") };
    let profile = profile_document(Some("/id"), "acct-res", None, "");
    cx.api.stand("res", Stand { expect, profile_path: Some("/me".into()), profile });
    let resource = json!({
        "name": "Basic API", "auth": {"type": "api-keys", "keys": ["username", "password"]},
        "baseUrl": cx.api.base_of("res"),
        "authTemplate": {"basic": {"username": "{{username}}", "password": "{{password}}"}},
        "userProfile": {"path": "/me", "id": "/id"},
    });
    let (status, created) = cx.admin(Method::POST, "/resources", Some(resource)).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("resources/{}/connect", created["id"].as_str().unwrap());
    let (status, refused) = cx.sdk(Method::POST, &path, Some(json!({"username": "ada", "password": "x"}))).await;
    assert_eq!(status, 400, "{refused}");
    let (status, connected) = cx.sdk(Method::POST, &path, Some(json!({"username": "ada", "password": "s3cret"}))).await;
    assert_eq!(status, 201, "{connected}");
    assert_eq!(connected["providerId"], "acct-res");
    assert!(cx.api.hits_of("res").last().is_some_and(|h| h.authorized));
}

#[tokio::test]
async fn auth_templates_send_http_basic_on_sqlite() {
    basic_auth_templates(false).await;
}

#[tokio::test]
async fn auth_templates_send_http_basic_on_postgresql() {
    basic_auth_templates(true).await;
}

/// The new fields' mistakes, each at its path; in the reference's format
/// at the field the project wrote.
async fn refused_definitions(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let good = || password_definition(&cx, "custom.bad", json!({}));
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut d = good();
        edit(&mut d);
        d
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(&|d| d["auth"]["passwordGrant"] = json!(false)), "/auth/authorizeUrl", "passwordGrant"),
        (
            with(&|d| {
                d["auth"]["passwordGrant"] = json!(false);
                d["auth"]["authorizeUrl"] = json!("https://idp.example/authorize");
                d["auth"]["passwordApiKey"] = json!("apiKey");
            }),
            "/auth/passwordApiKey",
            "password grant",
        ),
        (with(&|d| d["auth"]["passwordApiKey"] = json!("password")), "/auth/passwordApiKey", "other than"),
        (with(&|d| d["auth"]["refresh"] = json!("sometimes")), "/auth/refresh", "one of"),
        (
            with(&|d| {
                d["auth"] =
                    json!({"type": "oauth2-client-credentials", "tokenUrl": "https://idp.example/t", "client": "team"})
            }),
            "/auth/client",
            "one of",
        ),
        (with(&|d| d["userProfile"] = json!({"path": "/me", "id": "data/id"})), "/userProfile/id", "JSON Pointer"),
        (
            with(&|d| d["userProfile"] = json!({"path": "https://elsewhere.example/me/{{user_id}}"})),
            "/userProfile/path",
            "permitted",
        ),
        (with(&|d| d["userProfile"] = json!({"path": "/users/{{user id}}"})), "/userProfile/path", "variable"),
        (
            with(&|d| {
                d["authTemplate"] = json!({"headers": {"Authorization": "x"}, "basic": {"username": "{{username}}"}})
            }),
            "/authTemplate/headers/Authorization",
            "basic",
        ),
        (
            json!({"name": "Bad", "authenticationType": "basic", "apiBaseUrl": "https://api.example",
                   "authorization": {"type": "basic", "username": "{{settings.apiKey}}", "password": "{{secret}}"}}),
            "/authorization/password",
            "user setting",
        ),
    ];
    for (definition, path, word) in cases {
        let body = json!({"type": "custom.bad", "active": true, "definition": definition});
        let (status, refused) = cx.admin(Method::POST, "/integrations", Some(body)).await;
        assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_DEFINITION")), "{path}: {refused}");
        let problems = refused["meta"]["problems"].as_array().unwrap();
        let named = |p: &&Value| p["path"] == path && p["reason"].as_str().is_some_and(|r| r.contains(word));
        assert!(problems.iter().any(|p| named(&p)), "{path} {word}: {refused}");
    }
    let (_, listed) = cx.admin(Method::GET, "/integrations", None).await;
    assert_eq!(listed, json!([]), "nothing stored");
}

#[tokio::test]
async fn new_definition_fields_are_refused_by_path_on_sqlite() {
    refused_definitions(false).await;
}

#[tokio::test]
async fn new_definition_fields_are_refused_by_path_on_postgresql() {
    refused_definitions(true).await;
}

/// A provider whose password grant gives no refresh token: with the
/// integration's `keepPassword` the sealed password logs in again once the
/// token is refused; without it the account must be connected again.
async fn kept_password(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let no_refresh_token = || {
        TokenDialect::answering(|mut body, _| {
            body.as_object_mut().map(|o| o.remove("refresh_token"));
            body
        })
    };
    let mut integrations = Vec::new();
    for (id, keep) in [("custom.keep", true), ("custom.forget", false)] {
        cx.api.stand(id, Stand { expect: Expect::IssuedBearer, profile_path: None, profile: json!({}) });
        let client = format!("{}-app", &id["custom.".len()..]);
        cx.auth.register_client(&client, &format!("{client}-secret"), "https://app.example/unused");
        cx.auth.set_client_dialect(&client, no_refresh_token());
        let body = json!({
            "type": id, "active": true, "clientId": client, "clientSecret": format!("{client}-secret"),
            "endpointOverrides": {"keepPassword": keep}, "definition": password_definition(&cx, id, json!({})),
        });
        let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        integrations.push(created["id"].as_str().unwrap().to_owned());
    }
    cx.auth.add_user("ada", "pw-ada-4", "acct-k");
    let mut credentials = Vec::new();
    for id in ["custom.keep", "custom.forget"] {
        let (status, credential) = submit(&cx, id, json!({"username": "ada", "password": "pw-ada-4"})).await;
        assert_eq!(status, 201, "{credential}");
        credentials.push(credential_id(&credential));
    }
    let logins = |client: &str| {
        let basic = basic_of(&format!("{client}:{client}-secret"));
        let log = cx.auth.log();
        log.iter()
            .filter(|r| {
                r.form_value("grant_type") == Some("password") && r.header("authorization") == Some(basic.as_str())
            })
            .count()
    };
    cx.auth.expire_access_tokens();
    assert_eq!(proxy_get(&cx, &integrations[0], "x").await.0, 200);
    assert_eq!(logins("keep-app"), 2, "logged in again with the kept password");
    assert_ne!(proxy_get(&cx, &integrations[1], "x").await.0, 200);
    assert_eq!(logins("forget-app"), 1);
    let project = cx.project.parse().unwrap();
    let forgot = cx.app.store.get_credential(project, credentials[1]).await.unwrap();
    assert_eq!(forgot.status, CredentialStatus::Invalid);
    let kept = cx.app.credentials.usable(project, credentials[0]).await.unwrap();
    assert_eq!(kept.secrets.password.as_deref(), Some("pw-ada-4"), "kept, sealed");
}

#[tokio::test]
async fn a_kept_password_logs_in_again_without_a_refresh_token_on_sqlite() {
    kept_password(false).await;
}

#[tokio::test]
async fn a_kept_password_logs_in_again_without_a_refresh_token_on_postgresql() {
    kept_password(true).await;
}
