//! A project with one real integration plugin (`github`, `hubspot`,
//! `googleCalendar`, ...) whose API calls go to a strict provider mock and
//! whose OAuth flow goes to a [`MockAuthServer`] answering the token
//! request the way the provider documents it; helpers to connect a user,
//! list the plugin's actions through ActionKit and run them.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use weft_tests::mock_auth::{Fault, MockAuthServer};
use weft_tests::mock_providers::{Call, MockServer, Provider};
use weft_tests::plugin_cases::Cases;

pub(crate) const CLIENT_ID: &str = "weft-plugin-client";

/// What must hold of an action's output and of the provider requests it made.
pub(crate) type Check = Box<dyn Fn(&Value, &[Call])>;

/// One action's run through ActionKit: its parameters and its check.
pub(crate) struct ActionCase {
    pub(crate) parameters: Value,
    pub(crate) check: Check,
}

/// An [`ActionCase`].
pub(crate) fn case(parameters: Value, check: impl Fn(&Value, &[Call]) + 'static) -> ActionCase {
    ActionCase { parameters, check: Box::new(check) }
}

pub(crate) struct PluginFixture {
    pub(crate) app: TestApp,
    pub(crate) auth: MockAuthServer,
    pub(crate) project: String,
    pub(crate) integration: String,
    /// The integration type, which is the plugin id.
    pub(crate) kind: String,
    pub(crate) client_secret: String,
    private_pem: String,
}

impl PluginFixture {
    /// The plugin crate `plugin` installed, an active integration of type
    /// `kind` with OAuth endpoints on a mock authorization server and its
    /// base URL at `api_base` (the provider mock).
    pub(crate) async fn new(plugin: &str, kind: &str, api_base: &str) -> Self {
        let auth = MockAuthServer::start().await;
        let app = spawn_app(&[plugin]).await;
        let store = app.store.clone();
        let (project, private_pem) = project_with_key(store.as_ref(), "Plugins").await;
        let admin_key = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
        let client_secret = format!("cnry-{kind}-clientsecret-{}", uuid_simple());
        let body = json!({
            "type": kind, "active": true, "clientId": CLIENT_ID, "clientSecret": client_secret, "baseUrl": api_base,
            "endpointOverrides": { "authorizeUrl": auth.authorize_url(), "tokenUrl": auth.token_url() },
        });
        let path = format!("/admin/projects/{project}/integrations");
        let (status, created) = app.call(Method::POST, &path, Some(&admin_key), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let integration = created["id"].as_str().unwrap().to_owned();
        let redirect = format!("{}/projects/{project}/connect/{integration}/oauth/callback", app.base);
        auth.register_client(CLIENT_ID, &client_secret, &redirect);
        Self { app, auth, project, integration, kind: kind.to_owned(), client_secret, private_pem }
    }

    /// A user token for `user`.
    pub(crate) fn token(&self, user: &str) -> String {
        weft_auth::mint_user_token(&self.private_pem, Some("k"), user, now_unix(), 3600).unwrap()
    }

    /// Starts an OAuth connect as `user`; the authorization URL's query.
    pub(crate) async fn start(&self, user: &str) -> (String, Vec<(String, String)>) {
        let path = format!("/projects/{}/sdk/connect/{}", self.project, self.kind);
        let (status, started) = self.app.call(Method::POST, &path, Some(&self.token(user)), Some(json!({}))).await;
        assert_eq!(status, 200, "{started}");
        let url = started["authorizationUrl"].as_str().expect("an authorization URL").to_owned();
        let query = reqwest::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
        (url, query)
    }

    /// Connects `user` through the whole OAuth flow. The authorization
    /// server answers the code exchange with exactly `token_answer` (the
    /// provider's documented token response), then Weft tests the
    /// connection against the provider mock. Returns the authorization
    /// request's query and the new credential as `GET /sdk/credentials`
    /// lists it.
    pub(crate) async fn connect(&self, user: &str, token_answer: Value) -> (Vec<(String, String)>, Value) {
        for key in ["access_token", "refresh_token"] {
            if let Some(token) = token_answer[key].as_str() {
                weft_tests::sweep::register(token);
            }
        }
        let (url, query) = self.start(user).await;
        self.auth.push_fault(Fault::Body {
            status: 200,
            content_type: "application/json;charset=UTF-8".into(),
            body: token_answer.to_string().into_bytes(),
        });
        let location = self.auth.approve(&url).await;
        let resp = self.app.client.get(&location).send().await.unwrap();
        let (status, page) = (resp.status().as_u16(), resp.text().await.unwrap());
        assert_eq!(status, 200, "the callback page: {page}");
        let exchange = self.auth.log().into_iter().rev().find(|r| r.path == "/token").expect("a token request");
        assert_eq!(exchange.form_value("grant_type"), Some("authorization_code"));
        assert_eq!(exchange.form_value("client_id"), Some(CLIENT_ID), "client credentials go in the form body");
        assert_eq!(exchange.form_value("client_secret"), Some(self.client_secret.as_str()));
        assert!(exchange.form_value("code").is_some_and(|c| !c.is_empty()));
        let path = format!("/projects/{}/sdk/credentials", self.project);
        let (_, list) = self.app.call(Method::GET, &path, Some(&self.token(user)), None).await;
        let credential = list
            .as_array()
            .and_then(|l| l.iter().rev().find(|c| c["integrationId"] == self.integration.as_str()).cloned())
            .unwrap_or_else(|| panic!("no credential after connecting: {list}"));
        (query, credential)
    }

    /// The plugin's action keys as ActionKit lists them to `user`.
    pub(crate) async fn action_keys(&self, user: &str) -> Vec<String> {
        let path = format!("/projects/{}/actions?integrations={}", self.project, self.kind);
        let (status, listed) = self.app.call(Method::GET, &path, Some(&self.token(user)), None).await;
        assert_eq!(status, 200, "{listed}");
        let tools = listed["actions"][&self.kind].as_array().cloned().unwrap_or_default();
        tools.iter().map(|t| t["function"]["name"].as_str().unwrap().to_owned()).collect()
    }

    /// The plugin's tools as ActionKit lists them to `user`.
    pub(crate) async fn tools(&self, user: &str) -> Vec<Value> {
        let path = format!("/projects/{}/actions?integrations={}", self.project, self.kind);
        let (_, listed) = self.app.call(Method::GET, &path, Some(&self.token(user)), None).await;
        listed["actions"][&self.kind].as_array().cloned().unwrap_or_default()
    }

    /// `POST /projects/{p}/actions` as `user`.
    pub(crate) async fn run(&self, user: &str, action: &str, parameters: Value) -> (u16, Value) {
        let path = format!("/projects/{}/actions", self.project);
        let body = json!({ "action": action, "parameters": parameters });
        self.app.call(Method::POST, &path, Some(&self.token(user)), Some(body)).await
    }

    /// Runs, as `user`, every action ActionKit lists for the plugin: each
    /// must have its case in `cases` (and each case a listed action), answer
    /// 200, and pass its check against the requests `mock` saw meanwhile.
    pub(crate) async fn run_every_action<P: Provider>(
        &self,
        user: &str,
        mock: &MockServer<P>,
        cases: Cases<ActionCase>,
    ) {
        let keys = self.action_keys(user).await;
        for (key, case) in cases.cover(&keys) {
            let before = mock.count();
            let (status, out) = self.run(user, &key, case.parameters).await;
            assert_eq!(status, 200, "{key}: {out}");
            (case.check)(&out, &mock.calls_since(before));
        }
    }
}
