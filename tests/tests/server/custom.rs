//! Custom integrations by configuration (issue 19): a project gives a
//! `custom.<name>` integration its own provider definition through the
//! admin API, and its users connect, refresh and proxy through it exactly as
//! through a shipped provider. On SQLite and on PostgreSQL.
//!
//! The provider is the catalog test's stand-in API (it answers 401 unless
//! the request carries exactly the credential it was told to expect), and
//! OAuth runs against the strict mock authorization server (PKCE, exact
//! redirect URI, registered client).

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use weft_store::{CredentialStatus, Role};
use weft_tests::mock_auth::{Fault, MockAuthServer, browser, url_param};
use weft_tests::mock_catalog::{CatalogApi, Expect, Stand, profile_document};

/// A running server (on a fresh PostgreSQL database when asked), the mocks,
/// and one project with an admin key and a user token.
pub(crate) struct Ctx {
    pub(crate) app: TestApp,
    _db: Option<PgDatabase>,
    pub(crate) auth: Arc<MockAuthServer>,
    pub(crate) api: CatalogApi,
    pub(crate) project: String,
    admin: String,
    token: String,
}

impl Ctx {
    pub(crate) async fn start(postgres: bool) -> Self {
        let (app, db) = spawn_app_on(postgres).await;
        let auth = Arc::new(MockAuthServer::start().await);
        let api = CatalogApi::start(auth.clone()).await;
        let (project, admin, token) = project_of(&app, "Custom").await;
        Self { app, _db: db, auth, api, project, admin, token }
    }

    pub(crate) async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/admin/projects/{}{path}", self.project);
        self.app.call(method, &path, Some(&self.admin), body).await
    }

    pub(crate) async fn sdk(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/projects/{}/sdk/{path}", self.project);
        self.app.call(method, &path, Some(&self.token), body).await
    }

    /// The OAuth redirect URI of `integration` (an id) in the project.
    fn callback(&self, integration: &str) -> String {
        format!("{}/projects/{}/connect/{integration}/oauth/callback", self.app.base, self.project)
    }

    /// Starts connecting `integration_type` with `body`: the authorization
    /// URL the user is sent to.
    async fn authorization_url(&self, integration_type: &str, body: Value) -> String {
        let (status, started) = self.sdk(Method::POST, &format!("connect/{integration_type}"), Some(body)).await;
        assert_eq!(status, 200, "{started}");
        started["authorizationUrl"].as_str().unwrap().to_owned()
    }

    /// The user approves at `url` and the browser follows the redirect back
    /// to Weft, which connects the account.
    async fn approve_and_return(&self, url: &str) {
        let location = self.auth.approve(url).await;
        let resp = browser().get(&location).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await.unwrap_or_default());
    }
}

/// A project, an admin API key of it and a token of one of its users.
async fn project_of(app: &TestApp, name: &str) -> (String, String, String) {
    let (project, private_pem) = project_with_key(app.store.as_ref(), name).await;
    let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let token = weft_auth::mint_user_token(&private_pem, Some("k"), "custom-user", now_unix(), 3600).unwrap();
    (project, admin, token)
}

/// An OAuth definition whose every URL is a mock's.
fn oauth_definition(cx: &Ctx) -> Value {
    json!({
        "id": "custom.tasklab",
        "name": "TaskLab",
        "baseUrl": cx.api.base_of("custom.tasklab"),
        "auth": {
            "type": "oauth2",
            "authorizeUrl": cx.auth.authorize_url(),
            "tokenUrl": cx.auth.token_url(),
            "scopes": ["tasks.read", "tasks.write"],
            "clientAuth": "post",
            "extraAuthorizeParams": [["prompt", "consent"]],
        },
        "connectionTest": {"path": "/me", "accountId": "/id", "accountName": "/profile/name"},
    })
}

/// A GET through the Proxy API's custom route.
pub(crate) async fn proxy_get(cx: &Ctx, integration: &str, path: &str) -> (u16, Value) {
    cx.sdk(Method::GET, &format!("proxy/custom/{integration}/{path}"), None).await
}

async fn oauth_connect_refresh_and_invalid_grant(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let profile = profile_document(Some("/id"), "acct-42", Some("/profile/name"), "Ada");
    let stand = Stand { expect: Expect::IssuedBearer, profile_path: Some("/me".into()), profile };
    cx.api.stand("custom.tasklab", stand);
    let body = json!({
        "type": "custom.tasklab", "active": true, "clientId": "tasklab-app", "clientSecret": "tasklab-secret",
        "definition": oauth_definition(&cx),
    });
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let integration = created["id"].as_str().unwrap().to_owned();
    // The definition is returned as read: defaults filled in.
    let (_, got) = cx.admin(Method::GET, &format!("/integrations/{integration}"), None).await;
    assert_eq!(got["definition"]["auth"]["tokenUrl"], cx.auth.token_url());
    assert_eq!(got["definition"]["auth"]["scopeSeparator"], " ");
    assert_eq!(got["definition"]["auth"]["pkce"], true, "PKCE unless the definition turns it off");
    assert_eq!(got["definition"]["connectionTest"]["method"], "GET");

    // Connect: the authorization code flow with PKCE, as the definition says.
    cx.auth.register_client("tasklab-app", "tasklab-secret", &cx.callback(&integration));
    let url = cx.authorization_url("custom.tasklab", json!({})).await;
    assert!(url.starts_with(&cx.auth.authorize_url()), "{url}");
    assert_eq!(url_param(&url, "scope").as_deref(), Some("tasks.read tasks.write"));
    assert_eq!(url_param(&url, "prompt").as_deref(), Some("consent"));
    assert_eq!(url_param(&url, "code_challenge_method").as_deref(), Some("S256"));
    cx.approve_and_return(&url).await;
    let exchange = cx.auth.log().into_iter().find(|r| r.path == "/token").expect("a code exchange");
    assert!(exchange.form_value("code_verifier").is_some_and(|v| v.len() >= 43), "PKCE verifier sent");
    assert_eq!(exchange.form_value("client_id"), Some("tasklab-app"), "clientAuth post");

    // The test request named the account.
    let (_, list) = cx.sdk(Method::GET, "credentials", None).await;
    let credential = list.as_array().unwrap().iter().find(|c| c["integrationId"] == integration.as_str()).unwrap();
    assert_eq!(credential["providerId"], "acct-42");
    let credential_id: weft_store::CredentialId = credential["id"].as_str().unwrap().parse().unwrap();
    let (_, me) = cx.sdk(Method::GET, "me", None).await;
    assert_eq!(me["integrations"]["custom.tasklab"]["enabled"], true, "{me}");

    // A proxied call carries the user's token.
    let (status, answer) = proxy_get(&cx, &integration, "tasks?page=2").await;
    assert_eq!((status, answer["output"]["path"].as_str()), (200, Some("/tasks")), "{answer}");
    let hits = cx.api.hits_of("custom.tasklab");
    assert!(hits.last().is_some_and(|h| h.path == "/tasks" && h.authorized), "{hits:?}");

    // The provider stops honouring the token: one refresh, one retry.
    cx.auth.expire_access_tokens();
    let (status, answer) = proxy_get(&cx, &integration, "tasks").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(cx.auth.token_requests_with_grant("refresh_token"), 1);
    assert!(cx.api.hits_of("custom.tasklab").last().is_some_and(|h| h.authorized));

    // The refresh token is refused: the credential becomes INVALID.
    cx.auth.expire_access_tokens();
    cx.auth.push_fault(Fault::InvalidGrant);
    let (status, answer) = proxy_get(&cx, &integration, "tasks").await;
    assert_ne!(status, 200, "{answer}");
    let project = cx.project.parse().unwrap();
    let stored = cx.app.store.get_credential(project, credential_id).await.unwrap();
    assert_eq!(stored.status, CredentialStatus::Invalid);
    let (_, me) = cx.sdk(Method::GET, "me", None).await;
    assert_eq!(me["integrations"]["custom.tasklab"]["credentialStatus"], "INVALID", "{me}");
}

#[tokio::test]
async fn a_custom_oauth_integration_connects_refreshes_and_turns_invalid_on_sqlite() {
    oauth_connect_refresh_and_invalid_grant(false).await;
}

#[tokio::test]
async fn a_custom_oauth_integration_connects_refreshes_and_turns_invalid_on_postgresql() {
    oauth_connect_refresh_and_invalid_grant(true).await;
}

async fn api_key_with_a_test_request(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let profile = profile_document(Some("/account/id"), "acct-7", Some("/account/title"), "Shop 7");
    let expect = Expect::Header { name: "x-keyed-token".into(), value: "Key right-key".into() };
    cx.api.stand("custom.keyed", Stand { expect, profile_path: Some("/account".into()), profile });
    // Given as a definition file's text, in YAML.
    let definition = format!(
        "id: custom.keyed\nname: Keyed\nbaseUrl: {}\n\
         auth: {{type: api-key, location: header, name: X-Keyed-Token, prefix: 'Key ', field: apiKey}}\n\
         connectionTest: {{path: /account, accountId: /account/id, accountName: /account/title}}\n",
        cx.api.base_of("custom.keyed")
    );
    let body = json!({"type": "custom.keyed", "active": true, "definition": definition});
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let integration = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["definition"]["auth"]["name"], "X-Keyed-Token");

    let (status, started) = cx.sdk(Method::POST, "connect/custom.keyed", Some(json!({}))).await;
    // The user enters the key in the input the definition names.
    assert_eq!((status, &started["fields"]), (200, &json!(["apiKey"])), "{started}");
    let (status, unnamed) = cx
        .sdk(Method::POST, "connect/custom.keyed/credentials", Some(json!({"fields": {"api_key": "right-key"}})))
        .await;
    assert_eq!(status, 400, "{unnamed}");
    assert!(unnamed["message"].as_str().unwrap().contains("apiKey"), "{unnamed}");
    // A wrong key: the test request is refused, nothing is saved.
    let wrong = json!({"fields": {"apiKey": "wrong-key"}});
    let (status, refused) = cx.sdk(Method::POST, "connect/custom.keyed/credentials", Some(wrong)).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("CONNECTION_TEST_FAILED")), "{refused}");
    let (_, list) = cx.sdk(Method::GET, "credentials", None).await;
    assert_eq!(list, json!([]));
    let test_hits = cx.api.hits_of("custom.keyed");
    assert!(test_hits.iter().all(|h| h.path == "/account" && !h.authorized) && !test_hits.is_empty());

    // The right key passes, and the test request named the account.
    let right = json!({"fields": {"apiKey": "right-key"}});
    let (status, credential) = cx.sdk(Method::POST, "connect/custom.keyed/credentials", Some(right)).await;
    assert_eq!(status, 201, "{credential}");
    assert_eq!(credential["providerId"], "acct-7");

    // A proxied call carries the key in the header the definition names.
    let before = cx.api.hits_of("custom.keyed").len();
    let (status, answer) = proxy_get(&cx, &integration, "orders/1").await;
    assert_eq!((status, answer["output"]["path"].as_str()), (200, Some("/orders/1")), "{answer}");
    let hits = cx.api.hits_of("custom.keyed");
    assert_eq!(hits.len(), before + 1);
    assert!(hits[before].authorized && hits[before].path == "/orders/1", "{hits:?}");
}

#[tokio::test]
async fn a_custom_api_key_integration_tests_the_key_on_sqlite() {
    api_key_with_a_test_request(false).await;
}

#[tokio::test]
async fn a_custom_api_key_integration_tests_the_key_on_postgresql() {
    api_key_with_a_test_request(true).await;
}

async fn isolation(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let expect = Expect::Header { name: "x-a-key".into(), value: "a-key".into() };
    cx.api.stand("a", Stand { expect, profile_path: None, profile: json!({}) });
    let mine = json!({
        "type": "custom.shared", "active": true,
        "definition": {
            "id": "custom.shared", "name": "Project A's", "baseUrl": cx.api.base_of("a"),
            "auth": {"type": "api-key", "location": "header", "name": "X-A-Key"},
        },
    });
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(mine)).await;
    assert_eq!(status, 201, "{created}");
    let a_integration = created["id"].as_str().unwrap().to_owned();

    // Project B has an integration of the same type and no definition:
    // A's definition is not B's provider.
    let (b_project, b_admin, b_token) = project_of(&cx.app, "Other").await;
    let b_path = format!("/admin/projects/{b_project}/integrations");
    let theirs = json!({"type": "custom.shared", "active": true});
    let (status, b_created) = cx.app.call(Method::POST, &b_path, Some(&b_admin), Some(theirs)).await;
    assert_eq!(status, 201, "{b_created}");
    assert!(b_created.get("definition").is_none(), "{b_created}");
    let connect = format!("/projects/{b_project}/sdk/connect/custom.shared/credentials");
    let fields = json!({"fields": {"api_key": "a-key"}});
    let (status, answer) = cx.app.call(Method::POST, &connect, Some(&b_token), Some(fields)).await;
    assert_eq!(status, 404, "{answer}");
    let (_, listed) = cx.app.call(Method::GET, &b_path, Some(&b_admin), None).await;
    assert!(listed.as_array().unwrap().iter().all(|i| i.get("definition").is_none()), "{listed}");
    // Nor can B reach A's integration by its id, through the admin API or the proxy.
    let a_in_b = format!("{b_path}/{a_integration}");
    assert_eq!(cx.app.call(Method::GET, &a_in_b, Some(&b_admin), None).await.0, 404);
    let change = json!({"definition": null});
    assert_eq!(cx.app.call(Method::PATCH, &a_in_b, Some(&b_admin), Some(change)).await.0, 404);
    let proxied = format!("/projects/{b_project}/sdk/proxy/custom/{a_integration}/x");
    assert_eq!(cx.app.call(Method::GET, &proxied, Some(&b_token), None).await.0, 404);
    assert!(cx.api.hits_of("a").is_empty(), "nothing reached A's provider");

    // In A, the same key connects through A's definition.
    let (status, credential) =
        cx.sdk(Method::POST, "connect/custom.shared/credentials", Some(json!({"fields": {"api_key": "a-key"}}))).await;
    assert_eq!(status, 201, "{credential}");
    let (status, _) = proxy_get(&cx, &a_integration, "x").await;
    assert_eq!(status, 200);
    assert!(cx.api.hits_of("a").last().is_some_and(|h| h.authorized));
}

#[tokio::test]
async fn a_custom_definition_is_only_its_projects_on_sqlite() {
    isolation(false).await;
}

#[tokio::test]
async fn a_custom_definition_is_only_its_projects_on_postgresql() {
    isolation(true).await;
}

/// A provider that refuses PKCE's parameters: with `pkce: false` the
/// authorization request carries no challenge and the code exchange no
/// verifier, and the account connects; the same provider refuses a flow
/// with PKCE.
async fn without_pkce(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let profile = profile_document(Some("/id"), "acct-9", None, "");
    let stand = Stand { expect: Expect::IssuedBearer, profile_path: Some("/me".into()), profile };
    cx.api.stand("custom.nopkce", stand);
    let mut definition = oauth_definition(&cx);
    definition["id"] = json!("custom.nopkce");
    definition["baseUrl"] = json!(cx.api.base_of("custom.nopkce"));
    definition["connectionTest"] = json!({"path": "/me", "accountId": "/id"});
    definition["auth"]["pkce"] = json!(false);
    let body = json!({
        "type": "custom.nopkce", "active": true, "clientId": "nopkce-app", "clientSecret": "nopkce-secret",
        "definition": definition,
    });
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let integration = created["id"].as_str().unwrap().to_owned();
    cx.auth.register_client_without_pkce("nopkce-app", "nopkce-secret", &cx.callback(&integration));

    let url = cx.authorization_url("custom.nopkce", json!({})).await;
    assert_eq!((url_param(&url, "code_challenge"), url_param(&url, "code_challenge_method")), (None, None), "{url}");
    cx.approve_and_return(&url).await;
    let exchange = cx.auth.log().into_iter().find(|r| r.path == "/token").expect("a code exchange");
    assert_eq!(exchange.form_value("code_verifier"), None, "no verifier without a challenge");
    let (_, list) = cx.sdk(Method::GET, "credentials", None).await;
    assert_eq!(list[0]["providerId"], "acct-9", "{list}");

    // The same provider refuses a flow with PKCE: the switch is what
    // connected it.
    definition["auth"]["pkce"] = json!(true);
    let path = format!("/integrations/{integration}");
    let (status, patched) = cx.admin(Method::PATCH, &path, Some(json!({"definition": definition}))).await;
    assert_eq!(status, 200, "{patched}");
    let url = cx.authorization_url("custom.nopkce", json!({"allowMultipleCredentials": true})).await;
    assert!(url_param(&url, "code_challenge").is_some(), "{url}");
    let (status, why) = cx.auth.try_approve(&url).await.unwrap_err();
    assert_eq!(status, 400);
    assert!(why.contains("code_challenge"), "{why}");
}

#[tokio::test]
async fn a_custom_oauth_integration_may_turn_pkce_off_on_sqlite() {
    without_pkce(false).await;
}

#[tokio::test]
async fn a_custom_oauth_integration_may_turn_pkce_off_on_postgresql() {
    without_pkce(true).await;
}

/// A definition in the reference's own configuration format is read as the
/// catalog definition it describes: stored translated, connected with PKCE
/// and the client's id and secret in the token request's body as it says,
/// and its mistakes named at the fields the project wrote.
async fn reference_format(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    let profile = profile_document(Some("/id"), "acct-5", None, "");
    let stand = Stand { expect: Expect::IssuedBearer, profile_path: Some("/me".into()), profile };
    cx.api.stand("custom.tasklab", stand);
    let reference = json!({
        "name": "TaskLab",
        "accentColor": "#3355ff",
        "authenticationType": "oauth",
        "authorizationUrl": cx.auth.authorize_url(),
        "accessTokenUrl": cx.auth.token_url(),
        "scopes": "tasks.read tasks.write",
        "includeClientIdAndSecrets": true,
        "usePKCEInCodeExchange": true,
        "apiBaseUrl": cx.api.base_of("custom.tasklab"),
        "testEndpointPath": "/me",
        "authorization": {"type": "bearer", "token": "{{settings.oauthAccessToken}}"},
    });

    // Mistakes first: each at the reference's field.
    let mut wrong = reference.clone();
    wrong["accessTokenUrl"] = json!("http://169.254.169.254/token");
    wrong["usePKCEInCodeExchange"] = json!("sometimes");
    let body = json!({"type": "custom.tasklab", "active": true, "definition": wrong});
    let (status, refused) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_DEFINITION")), "{refused}");
    let paths: Vec<&str> =
        refused["meta"]["problems"].as_array().unwrap().iter().filter_map(|p| p["path"].as_str()).collect();
    assert_eq!(paths, ["/usePKCEInCodeExchange"], "the translation's own problems come first: {refused}");
    wrong["usePKCEInCodeExchange"] = json!(true);
    let body = json!({"type": "custom.tasklab", "active": true, "definition": wrong});
    let (status, refused) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["meta"]["problems"][0]["path"], "/accessTokenUrl", "{refused}");

    let body = json!({
        "type": "custom.tasklab", "active": true, "clientId": "ref-app", "clientSecret": "ref-app-secret",
        "definition": reference,
    });
    let (status, created) = cx.admin(Method::POST, "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let integration = created["id"].as_str().unwrap().to_owned();
    let auth = &created["definition"]["auth"];
    assert_eq!((auth["type"].as_str(), auth["clientAuth"].as_str()), (Some("oauth2"), Some("post")), "{created}");
    assert_eq!(created["definition"]["extra"]["accentColor"], "#3355ff");

    cx.auth.register_client("ref-app", "ref-app-secret", &cx.callback(&integration));
    let url = cx.authorization_url("custom.tasklab", json!({})).await;
    assert_eq!(url_param(&url, "scope").as_deref(), Some("tasks.read tasks.write"));
    cx.approve_and_return(&url).await;
    let exchange = cx.auth.log().into_iter().find(|r| r.path == "/token").expect("a code exchange");
    assert_eq!(exchange.form_value("client_id"), Some("ref-app"), "includeClientIdAndSecrets");
    assert!(exchange.form_value("code_verifier").is_some(), "usePKCEInCodeExchange");
    let (status, answer) = proxy_get(&cx, &integration, "tasks").await;
    assert_eq!(status, 200, "{answer}");
    assert!(cx.api.hits_of("custom.tasklab").last().is_some_and(|h| h.path == "/tasks" && h.authorized));
}

#[tokio::test]
async fn a_definition_in_the_references_format_is_read_and_connects_on_sqlite() {
    reference_format(false).await;
}

#[tokio::test]
async fn a_definition_in_the_references_format_is_read_and_connects_on_postgresql() {
    reference_format(true).await;
}
