//! API Resources (issue 19, ISSUE-NOTES correction 7): a project describes
//! its own API once as a resource (user- or app-level, OAuth 2.0 refresh
//! token, client credentials or API keys, a base URL built from the user's
//! inputs, an auth template, a user profile), users connect it with its
//! required keys, and workflow steps call it as the connecting user (or the
//! app) on the one authorised path. On SQLite and on PostgreSQL, against a
//! strict mock API with its own token endpoint (`resource_api`).

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use weft_store::Role;
use weft_tests::mock_providers::MockServer;
use weft_tests::mock_providers::resource_api::{self, ClientAuth, ResourceApi};

struct Ctx {
    app: TestApp,
    _db: Option<PgDatabase>,
    api: MockServer<ResourceApi>,
    project: String,
    admin: String,
    private_pem: String,
}

impl Ctx {
    async fn start(postgres: bool) -> Self {
        let (app, db) = spawn_app_on(postgres).await;
        let api = resource_api::start("eu").await;
        let (project, private_pem) = project_with_key(app.store.as_ref(), "Resources").await;
        let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
        Self { app, _db: db, api, project, admin, private_pem }
    }

    fn token(&self, user: &str) -> String {
        weft_auth::mint_user_token(&self.private_pem, Some("k"), user, now_unix(), 3600).unwrap()
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/admin/projects/{}{path}", self.project);
        self.app.call(method, &path, Some(&self.admin), body).await
    }

    async fn sdk(&self, user: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/projects/{}/sdk/{path}", self.project);
        self.app.call(method, &path, Some(&self.token(user)), body).await
    }

    /// Creates a resource: its id and the integration type a workflow on
    /// it names.
    async fn create(&self, body: Value) -> (String, String) {
        let (status, created) = self.admin(Method::POST, "/resources", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        (created["id"].as_str().unwrap().to_owned(), created["integrationType"].as_str().unwrap().to_owned())
    }

    async fn connect(&self, user: &str, resource: &str, body: Value) -> (u16, Value) {
        self.sdk(user, Method::POST, &format!("resources/{resource}/connect"), Some(body)).await
    }

    /// Deploys a workflow of `resource` on the app event `event` whose one
    /// step calls it, and enables it for `users`: its id.
    async fn deploy(&self, event: &str, (resource, integration): &(String, String), users: &[&str]) -> String {
        let definition = json!({
            "name": format!("On {event}"), "integration": integration,
            "trigger": {"type": "appEvent", "event": event},
            "steps": [{
                "id": "call", "type": "resourceRequest", "resource": resource, "method": "POST", "url": "/echo",
                "params": {"q": "{{trigger.output.q}}"}, "headers": {"X-Trace": "t-1"},
                "bodyType": "json", "body": {"hello": "world"},
            }],
        });
        let (status, created) = self.admin(Method::POST, "/workflows", Some(definition)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, body) = self.admin(Method::POST, &format!("/workflows/{id}/deploy"), None).await;
        assert_eq!(status, 200, "{body}");
        for user in users {
            let (status, body) = self.sdk(user, Method::POST, &format!("workflows/{id}"), None).await;
            assert_eq!(status, 200, "{body}");
        }
        id
    }

    /// Sends the app event as `user` and waits for its one execution: the
    /// call step's output (or error) and the execution's status.
    async fn run(&self, user: &str, event: &str, q: &str) -> (String, Value) {
        let body = json!({"name": event, "payload": {"q": q}});
        let (status, started) = self.sdk(user, Method::POST, "events/trigger", Some(body)).await;
        assert_eq!(status, 201, "{started}");
        let execution = started["executions"][0].as_str().expect("one execution").to_owned();
        let path = format!("/projects/{}/task-history/workflow-executions/{execution}", self.project);
        for _ in 0..400 {
            let (_, run) = self.app.call(Method::GET, &path, Some(&self.admin), None).await;
            if let Some(status @ ("SUCCEEDED" | "FAILED")) = run["status"].as_str() {
                let steps = run["stepExecutions"].as_array().cloned().unwrap_or_default();
                let step = steps.into_iter().find(|s| s["stepId"] == "call").unwrap_or_default();
                let detail = format!("{path}/step-executions/{}", step["id"].as_str().unwrap_or_default());
                let (_, detail) = self.app.call(Method::GET, &detail, Some(&self.admin), None).await;
                return (status.to_owned(), detail);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("execution {execution} did not end");
    }

    /// The token endpoint's calls so far.
    fn token_calls(&self) -> Vec<weft_tests::mock_providers::Call> {
        self.api.calls().into_iter().filter(|c| c.path == "/oauth/token").collect()
    }
}

/// A user-level OAuth 2.0 resource on the mock, whose base URL reads the
/// user's `region`.
fn oauth_resource(cx: &Ctx) -> Value {
    json!({
        "name": "Ledgerly",
        "level": "user",
        "auth": {"type": "oauth2-refresh-token", "accessTokenUrl": format!("{}/oauth/token", cx.api.base),
                 "clientId": "ledger-app"},
        "clientSecret": "ledger-secret",
        "inputs": ["region"],
        "baseUrl": format!("{}/{{{{region}}}}", cx.api.base),
        "userProfile": {"path": "/me", "id": "/id", "fields": {"email": "/email", "plan": "/plan"}},
    })
}

async fn user_level_oauth(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    cx.api.with(|api| {
        api.client("ledger-app", "ledger-secret", ClientAuth::Basic);
        api.issue("acct-ada", "at-ada", "rt-ada");
        api.issue("acct-bob", "at-bob", "rt-bob");
    });

    // Mistakes are refused with their path in the resource.
    let mistakes = [
        ("/baseUrl", json!(format!("{}/{{{{tenant}}}}", cx.api.base)), "inputs"),
        ("/auth/accessTokenUrl", json!("https://169.254.169.254/token"), "metadata"),
        ("/level", json!("team"), "one of"),
    ];
    for (path, value, word) in mistakes {
        let mut bad = oauth_resource(&cx);
        *bad.pointer_mut(path).unwrap() = value;
        let (status, refused) = cx.admin(Method::POST, "/resources", Some(bad)).await;
        assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_RESOURCE")), "{refused}");
        let problems = refused["meta"]["problems"].as_array().unwrap();
        assert!(
            problems.iter().any(|p| p["path"] == path && p["reason"].as_str().unwrap().contains(word)),
            "{refused}"
        );
    }

    let created = cx.create(oauth_resource(&cx)).await;
    let resource = created.0.clone();
    assert!(uuid::Uuid::parse_str(&resource).is_ok(), "a resource id is a UUID: {resource}");
    let (status, got) = cx.admin(Method::GET, &format!("/resources/{resource}"), None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!((got["name"].as_str(), got["hasClientSecret"].as_bool()), (Some("Ledgerly"), Some(true)), "{got}");
    assert!(got.get("clientSecret").is_none(), "the client secret is write-only: {got}");
    assert_eq!(got["auth"]["includeClientIdAndSecret"], true, "defaults filled: {got}");
    let (_, listed) = cx.admin(Method::GET, "/resources", None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    // The resource's connection machinery is not an integration of the project.
    let (_, integrations) = cx.admin(Method::GET, "/integrations", None).await;
    assert_eq!(integrations, json!([]));
    let (status, _) = cx.admin(Method::GET, &format!("/integrations/{resource}"), None).await;
    assert_eq!(status, 404);
    let reserved = json!({"type": "custom.resource-abc", "active": true});
    assert_eq!(cx.admin(Method::POST, "/integrations", Some(reserved)).await.0, 400);

    // Connecting: exactly the resource's keys, named when wrong.
    let (status, refused) = cx.connect("ada", &resource, json!({"access_token": "at-ada"})).await;
    let message = refused["message"].as_str().unwrap_or_default();
    assert_eq!(status, 400, "{refused}");
    assert!(message.contains("missing `refresh_token`, `region`"), "{message}");
    let extra = json!({"access_token": "at-ada", "refresh_token": "rt-ada", "region": "eu", "password": "x"});
    let (status, refused) = cx.connect("ada", &resource, extra).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("unknown `password`"), "{refused}");
    // A token the API refuses (and no refresh of an unsaved account) fails the profile request.
    let wrong = json!({"access_token": "stolen", "refresh_token": "rt-none", "region": "eu"});
    let (status, refused) = cx.connect("ada", &resource, wrong).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("CONNECTION_TEST_FAILED")), "{refused}");
    // A region the base URL cannot hold.
    let unsafe_region = json!({"access_token": "at-ada", "refresh_token": "rt-ada", "region": "eu/../x"});
    assert_eq!(cx.connect("ada", &resource, unsafe_region).await.0, 400);

    let body = json!({"access_token": "at-ada", "refresh_token": "rt-ada", "region": "eu"});
    let (status, ada) = cx.connect("ada", &resource, body).await;
    assert_eq!(status, 201, "{ada}");
    assert_eq!(ada["providerId"], "acct-ada", "{ada}");
    assert_eq!(ada["providerData"], json!({"email": "acct-ada@example.test", "plan": "pro"}), "{ada}");
    let (_, me) = cx.sdk("ada", Method::GET, "me", None).await;
    let listed = &me["resources"][0];
    assert_eq!((listed["id"].as_str(), listed["connected"].as_bool()), (Some(resource.as_str()), Some(true)), "{me}");
    assert_eq!(me["integrations"], json!({}), "{me}");
    // Stored sealed: no token in the row.
    let project: weft_store::ProjectId = cx.project.parse().unwrap();
    let row = cx.app.store.get_credential(project, ada["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
    assert!(!String::from_utf8_lossy(&row.secrets).contains("at-ada"));
    // Bob connects with a token that is already due.
    let body = json!({"access_token": "at-bob", "refresh_token": "rt-bob", "region": "eu", "expires_in": 0});
    let (status, bob) = cx.connect("bob", &resource, body).await;
    assert_eq!(status, 201, "{bob}");

    // A step calls the resource as the user, under the user's base URL.
    cx.deploy("Sync", &created, &["ada", "bob", "carol"]).await;
    let before = cx.api.count();
    let (status, step) = cx.run("ada", "Sync", "first").await;
    assert_eq!(status, "SUCCEEDED", "{step}");
    let answer = &step["output"]["response"];
    assert_eq!(answer["statusCode"], 200, "{step}");
    assert_eq!(answer["body"]["account"], "acct-ada");
    assert_eq!(answer["body"]["query"]["q"], "first");
    assert_eq!(
        (answer["body"]["trace"].as_str(), answer["body"]["body"]["hello"].as_str()),
        (Some("t-1"), Some("world"))
    );
    let calls = cx.api.calls();
    let call = &calls[before];
    assert_eq!((call.method.as_str(), call.path.as_str(), call.status), ("POST", "/eu/echo", 200));
    assert_eq!(call.header("authorization"), Some("Bearer at-ada"));
    assert!(cx.token_calls().is_empty(), "a live token is not refreshed");

    // Bob's token was due: refreshed first, with the resource's client.
    let (status, step) = cx.run("bob", "Sync", "second").await;
    assert_eq!((status.as_str(), &step["output"]["response"]["body"]["account"]), ("SUCCEEDED", &json!("acct-bob")));
    let tokens = cx.token_calls();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&tokens[0].body).into_owned().collect();
    assert_eq!((form["grant_type"].as_str(), form["refresh_token"].as_str()), ("refresh_token", "rt-bob"));

    // The API stops honouring Ada's token: a 401, one refresh, one retry.
    cx.api.with(|api| api.expire_access_tokens());
    let before = cx.api.count();
    let (status, step) = cx.run("ada", "Sync", "third").await;
    assert_eq!(status, "SUCCEEDED", "{step}");
    let statuses: Vec<(String, u16)> =
        cx.api.calls_since(before).into_iter().map(|c| (c.path.clone(), c.status)).collect();
    let expected = [("/eu/echo", 401), ("/oauth/token", 200), ("/eu/echo", 200)];
    assert_eq!(statuses, expected.map(|(p, s)| (p.to_owned(), s)), "{statuses:?}");
    let retried = cx.api.calls_since(before).pop().unwrap();
    assert_eq!(retried.header("authorization"), Some("Bearer issued-2"));

    // A user without a connection: the step fails and says why.
    let (status, step) = cx.run("carol", "Sync", "fourth").await;
    assert_eq!(status, "FAILED", "{step}");
    assert!(step.to_string().contains("has not connected"), "{step}");

    // Replacing the resource keeps its id, connections and client secret;
    // deleting it removes them.
    let mut changed = oauth_resource(&cx);
    changed.as_object_mut().unwrap().remove("clientSecret");
    changed["name"] = json!("Ledgerly EU");
    let (status, replaced) = cx.admin(Method::PUT, &format!("/resources/{resource}"), Some(changed)).await;
    assert_eq!(
        (status, replaced["name"].as_str(), replaced["hasClientSecret"].as_bool()),
        (200, Some("Ledgerly EU"), Some(true))
    );
    let (status, _) = cx.run("ada", "Sync", "fifth").await;
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(cx.admin(Method::DELETE, &format!("/resources/{resource}"), None).await.0, 204);
    assert_eq!(cx.admin(Method::GET, &format!("/resources/{resource}"), None).await.0, 404);
    let (status, step) = cx.run("ada", "Sync", "sixth").await;
    assert_eq!(status, "FAILED", "{step}");
}

#[tokio::test]
async fn a_user_level_oauth_resource_connects_calls_and_refreshes_on_sqlite() {
    user_level_oauth(false).await;
}

#[tokio::test]
async fn a_user_level_oauth_resource_connects_calls_and_refreshes_on_postgresql() {
    user_level_oauth(true).await;
}

async fn app_level_keys_and_client_credentials(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    cx.api.with(|api| {
        api.accept_key("key-of-app", "acct-app");
        api.client("cc-app", "cc-secret", ClientAuth::Post);
    });
    // App-level API keys: the template puts them in a header and the query.
    let keys = cx
        .create(json!({
            "name": "Ledger Keys", "level": "app",
            "auth": {"type": "api-keys", "keys": ["apiKey", "account"]},
            "baseUrl": format!("{}/eu", cx.api.base),
            "authTemplate": {"headers": {"X-Ledger-Key": "{{apiKey}}"}, "query": {"account": "{{account}}"}},
            "userProfile": {"path": "/me", "id": "/id"},
        }))
        .await;
    let resource = keys.0.clone();
    // Users do not connect an app-level resource.
    let (status, refused) = cx.connect("ada", &resource, json!({"apiKey": "key-of-app", "account": "acct-app"})).await;
    assert_eq!(status, 400, "{refused}");
    let path = format!("/resources/{resource}/credential");
    let (status, refused) = cx.admin(Method::PUT, &path, Some(json!({"apiKey": "wrong", "account": "acct-app"}))).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("CONNECTION_TEST_FAILED")), "{refused}");
    let (status, set) =
        cx.admin(Method::PUT, &path, Some(json!({"apiKey": "key-of-app", "account": "acct-app"}))).await;
    assert_eq!((status, set["providerId"].as_str()), (200, Some("acct-app")), "{set}");
    app_user_is_no_user(&cx).await;

    cx.deploy("Keys", &keys, &["ada"]).await;
    let before = cx.api.count();
    let (status, step) = cx.run("ada", "Keys", "k").await;
    assert_eq!(status, "SUCCEEDED", "{step}");
    // The API echoed the `account` key: a secret of the credential, kept
    // out of the task history like the API key.
    assert_eq!(step["output"]["response"]["body"]["account"], weft_credentials::REDACTED, "{step}");
    let call = cx.api.calls_since(before).pop().unwrap();
    assert_eq!((call.header("x-ledger-key"), call.query_value("account")), (Some("key-of-app"), Some("acct-app")));
    assert_eq!(call.query_value("q"), Some("k"));
    // The key never reaches the task history.
    assert!(!step.to_string().contains("key-of-app"), "{step}");

    // A user-level client-credentials resource: the token comes from the
    // resource's own client, at connect and again once the API refuses it.
    let service = cx
        .create(json!({
            "name": "Ledger Service",
            "auth": {"type": "oauth2-client-credentials", "accessTokenUrl": format!("{}/oauth/token", cx.api.base),
                     "clientId": "cc-app", "includeClientIdAndSecret": false},
            "clientSecret": "cc-secret",
            "baseUrl": format!("{}/eu", cx.api.base),
        }))
        .await;
    let cc = service.0.clone();
    let (status, refused) = cx.connect("ada", &cc, json!({"access_token": "x"})).await;
    assert_eq!(status, 400, "{refused}");
    let (status, connected) = cx.connect("ada", &cc, json!({})).await;
    assert_eq!(status, 201, "{connected}");
    cx.deploy("Service", &service, &["ada"]).await;
    cx.api.with(|api| api.expire_access_tokens());
    let (status, step) = cx.run("ada", "Service", "s").await;
    assert_eq!(status, "SUCCEEDED", "{step}");
    assert_eq!(step["output"]["response"]["body"]["account"], "app-cc-app", "{step}");
    let tokens = cx.token_calls();
    assert_eq!(tokens.len(), 2, "connect, then the refresh after the 401: {tokens:?}");
    assert!(tokens.iter().all(|t| t.status == 200 && t.header("authorization").is_none()));
}

/// The internal holder of the app-level credential (`weft:app`) is stored
/// like a user but is none: the Users API neither lists nor shows it, user
/// operations do not reach it, and no user token may name it.
async fn app_user_is_no_user(cx: &Ctx) {
    let (status, _) = cx.sdk("ada", Method::GET, "me", None).await;
    assert_eq!(status, 200);
    let (status, listed) = cx.admin(Method::GET, "/users", None).await;
    assert_eq!(status, 200, "{listed}");
    let ids: Vec<&str> = listed["users"].as_array().unwrap().iter().filter_map(|u| u["userId"].as_str()).collect();
    assert_eq!(ids, ["ada"], "{listed}");
    let app = format!("/users/{}", weft_store::APP_USER);
    let (status, body) = cx.admin(Method::GET, &app, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = cx.admin(Method::PATCH, &app, Some(json!({"disabled": true}))).await;
    assert_eq!(status, 404, "{body}");
    for (method, path, body) in [
        (Method::GET, "me", None),
        (Method::PATCH, "me", Some(json!({"name": "x"}))),
        (Method::GET, "credentials", None),
    ] {
        let (status, refused) = cx.sdk(weft_store::APP_USER, method, path, body).await;
        assert_eq!((status, refused["code"].as_str()), (403, Some("RESERVED_USER")), "{path}: {refused}");
    }
    // Untouched: still the app's credential, still enabled.
    let row = cx.app.store.list_user_credentials(cx.project.parse().unwrap(), weft_store::APP_USER).await.unwrap();
    assert_eq!(row.len(), 1);
    let project = cx.project.parse().unwrap();
    assert!(!cx.app.store.upsert_seen(project, weft_store::APP_USER).await.unwrap().disabled);
}

#[tokio::test]
async fn app_level_keys_and_client_credentials_resources_on_sqlite() {
    app_level_keys_and_client_credentials(false).await;
}

#[tokio::test]
async fn app_level_keys_and_client_credentials_resources_on_postgresql() {
    app_level_keys_and_client_credentials(true).await;
}
