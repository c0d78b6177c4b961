//! A project with a test-oauth (or other) integration wired to a mock
//! authorization server, users with tokens, and helpers for the flows.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use weft_auth::ManualClock;
use weft_plugin_host::{ActionCall, CallError, CallOptions};
use weft_server::config::Settings;
use weft_tests::mock_auth::MockAuthServer;

pub(crate) const CLIENT_ID: &str = "weft-client";

pub(crate) struct Fixture {
    pub(crate) app: TestApp,
    pub(crate) mock: MockAuthServer,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) project: String,
    pub(crate) admin_key: String,
    pub(crate) integration: String,
    pub(crate) client_secret: String,
    pub(crate) plugin: String,
    private_pem: String,
    _pg: Option<PgDatabase>,
}

/// A unique, greppable secret value.
pub(crate) fn canary(what: &str) -> String {
    format!("cnry-{what}-{}", uuid_simple())
}

impl Fixture {
    /// test-oauth on SQLite with default settings.
    pub(crate) async fn oauth() -> Self {
        Self::new("test_oauth", json!({}), |_| {}, false).await
    }

    /// `plugin` (crate identifier) with extra endpoint overrides, settings
    /// adjusted, on PostgreSQL when `postgres`.
    pub(crate) async fn new(
        plugin: &str,
        extra_overrides: Value,
        adjust: impl FnOnce(&mut Settings),
        postgres: bool,
    ) -> Self {
        let mock = MockAuthServer::start().await;
        Self::with_mock(plugin, extra_overrides, adjust, postgres, mock).await
    }

    pub(crate) async fn with_mock(
        plugin: &str,
        extra_overrides: Value,
        adjust: impl FnOnce(&mut Settings),
        postgres: bool,
        mock: MockAuthServer,
    ) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let pg = postgres.then(PgDatabase::create);
        let url = pg.as_ref().map(PgDatabase::url);
        let app = spawn_app_clocked(
            &[plugin],
            |s| {
                s.auth.max_failures_per_minute = 100_000;
                s.connect.backoff_base_ms = 50;
                s.connect.token_timeout_ms = 2_000;
                if let Some(url) = url {
                    s.database.url = Some(url);
                }
                adjust(s);
            },
            clock.clone(),
        )
        .await;
        let plugin_id = plugin.replace('_', "-");
        let side = add_project(&app, &mock, &plugin_id, extra_overrides, "Connect", CLIENT_ID).await;
        Fixture {
            app,
            mock,
            clock,
            project: side.project,
            admin_key: side.admin_key,
            integration: side.integration,
            client_secret: side.client_secret,
            plugin: plugin_id,
            private_pem: side.private_pem,
            _pg: pg,
        }
    }

    /// Another project on the same server, with the same plugin's
    /// integration wired to the same mock authorization server (its own
    /// client secret, redirect URI and signing key).
    pub(crate) async fn add_project(&self, name: &str) -> ProjectSide {
        // Its own client at the authorization server, as another app
        // registration would be.
        let client_id = format!("{CLIENT_ID}-{}", name.to_ascii_lowercase().replace(' ', "-"));
        add_project(&self.app, &self.mock, &self.plugin, json!({}), name, &client_id).await
    }

    /// Makes `side` the project every helper acts on; returns the one it
    /// replaces.
    pub(crate) fn switch_project(&mut self, side: ProjectSide) -> ProjectSide {
        ProjectSide {
            project: std::mem::replace(&mut self.project, side.project),
            admin_key: std::mem::replace(&mut self.admin_key, side.admin_key),
            integration: std::mem::replace(&mut self.integration, side.integration),
            client_secret: std::mem::replace(&mut self.client_secret, side.client_secret),
            private_pem: std::mem::replace(&mut self.private_pem, side.private_pem),
        }
    }

    /// A user token for `user`.
    pub(crate) fn token(&self, user: &str) -> String {
        weft_auth::mint_user_token(&self.private_pem, Some("k"), user, now_unix(), 3600).unwrap()
    }

    /// An SDK call as `user`: `/projects/{p}/sdk/{suffix}`.
    pub(crate) async fn sdk(&self, method: Method, suffix: &str, user: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/projects/{}/sdk/{suffix}", self.project);
        self.app.call(method, &path, Some(&self.token(user)), body).await
    }

    /// Starts an OAuth connect; returns the authorization URL.
    pub(crate) async fn start(&self, user: &str, body: Value) -> String {
        let (status, started) = self.sdk(Method::POST, &format!("connect/{}", self.plugin), user, Some(body)).await;
        assert_eq!(status, 200, "{started}");
        assert_eq!(started["type"], "oauth");
        started["authorizationUrl"].as_str().unwrap().to_owned()
    }

    /// Delivers a callback URL (the `Location` the provider redirected to).
    pub(crate) async fn deliver(&self, location: &str) -> (u16, String) {
        let resp = self.app.client.get(location).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// A full OAuth connect of `user` approved as `account`; returns the new credential.
    pub(crate) async fn connect(&self, user: &str, account: &str, body: Value) -> Value {
        let url = self.start(user, body).await;
        self.mock.set_approving_user(account);
        let location = self.mock.approve(&url).await;
        let (status, page) = self.deliver(&location).await;
        assert_eq!(status, 200, "{page}");
        let (_, list) = self.sdk(Method::GET, "credentials", user, None).await;
        let list = list.as_array().unwrap().clone();
        list.into_iter().max_by_key(|c| c["dateUpdated"].as_str().unwrap_or_default().to_owned()).unwrap()
    }

    /// Runs the plugin's `TEST_OAUTH_WHOAMI` action for a credential, as a
    /// workflow step or ActionKit would.
    pub(crate) async fn whoami(&self, credential: &str) -> Result<Value, CallError> {
        whoami(&self.app, &self.project, &self.plugin, &self.mock.api_base(), credential).await
    }

    /// The stored credential.
    pub(crate) async fn stored(&self, credential: &str) -> weft_store::Credential {
        self.app.store.get_credential(self.project.parse().unwrap(), credential.parse().unwrap()).await.unwrap()
    }

    /// A second server on the same (PostgreSQL) database and master keys,
    /// with its own pool, locks and clock: another `weft` process.
    pub(crate) async fn second_server(&self) -> Peer {
        let clock = Arc::new(ManualClock::starting_now());
        let url = self._pg.as_ref().map(PgDatabase::url).expect("a second server shares a PostgreSQL database");
        let key_dir = self.app._dir.path().join("vault");
        let app = spawn_app_clocked(
            &[self.plugin.replace('-', "_").as_str()],
            |s| {
                s.database.url = Some(url);
                s.vault.key_dir = Some(key_dir);
                s.connect.backoff_base_ms = 50;
            },
            clock.clone(),
        )
        .await;
        Peer { app, clock, project: self.project.clone(), plugin: self.plugin.clone(), api_base: self.mock.api_base() }
    }

    /// `pg_dump` of the PostgreSQL database.
    pub(crate) fn dump(&self) -> Vec<u8> {
        self._pg.as_ref().expect("a PostgreSQL fixture").dump()
    }

    /// Business time now (Unix seconds).
    pub(crate) fn clock_now(&self) -> i64 {
        weft_auth::Clock::now_unix(self.clock.as_ref())
    }

    /// Moves business time forward.
    pub(crate) fn advance(&self, secs: i64) {
        self.clock.advance(secs);
    }

    /// The project's queued events of `kind`.
    pub(crate) async fn events(&self, kind: &str) -> Vec<weft_store::ProjectEvent> {
        let all = self.app.store.list_events(self.project.parse().unwrap(), 1000).await.unwrap();
        all.into_iter().filter(|e| e.event_type == kind).collect()
    }
}

/// Another server of a [`Fixture`]'s deployment.
pub(crate) struct Peer {
    pub(crate) app: TestApp,
    pub(crate) clock: Arc<ManualClock>,
    project: String,
    plugin: String,
    api_base: String,
}

impl Peer {
    pub(crate) async fn whoami(&self, credential: &str) -> Result<Value, CallError> {
        whoami(&self.app, &self.project, &self.plugin, &self.api_base, credential).await
    }

    pub(crate) async fn stored(&self, credential: &str) -> weft_store::Credential {
        self.app.store.get_credential(self.project.parse().unwrap(), credential.parse().unwrap()).await.unwrap()
    }
}

async fn whoami(
    app: &TestApp,
    project: &str,
    plugin: &str,
    api_base: &str,
    credential: &str,
) -> Result<Value, CallError> {
    // The credential service grants the account to this call, as it does
    // for every plugin call acting for a connection.
    let grant = app.credentials.grant(project.parse().unwrap(), credential.parse().unwrap(), plugin);
    let opts = CallOptions::new(project.to_owned())
        .with_connection(credential, json!({}))
        .with_base_url(Some(api_base))
        .with_connection_http(grant);
    let call = ActionCall { action: "TEST_OAUTH_WHOAMI".into(), input: json!({}), page: None };
    app.plugins.run_action(plugin, &opts, call).await.map(|o| o.output)
}

/// One project's side of a [`Fixture`]: the project, its admin key, its
/// integration of the fixture's plugin and that integration's client secret,
/// and the key its user tokens are signed with.
pub(crate) struct ProjectSide {
    pub(crate) project: String,
    pub(crate) admin_key: String,
    pub(crate) integration: String,
    pub(crate) client_secret: String,
    private_pem: String,
}

/// Creates a project named `name` with an integration of `plugin_id` whose
/// OAuth endpoints are `mock`'s, and registers its client there.
async fn add_project(
    app: &TestApp,
    mock: &MockAuthServer,
    plugin_id: &str,
    extra_overrides: Value,
    name: &str,
    client_id: &str,
) -> ProjectSide {
    let store = app.store.clone();
    let (project, private_pem) = project_with_key(store.as_ref(), name).await;
    let admin_key = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    let client_secret = canary("clientsecret");
    let mut overrides = json!({
        "authorizeUrl": mock.authorize_url(),
        "tokenUrl": mock.token_url(),
        "revokeUrl": mock.revoke_url(),
    });
    if let (Some(o), Value::Object(extra)) = (overrides.as_object_mut(), extra_overrides) {
        o.extend(extra);
    }
    let body = json!({
        "type": plugin_id, "active": true, "clientId": client_id, "clientSecret": client_secret,
        "baseUrl": mock.api_base(), "endpointOverrides": overrides,
    });
    let (status, created) =
        app.call(Method::POST, &format!("/admin/projects/{project}/integrations"), Some(&admin_key), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["hasClientSecret"], true, "{created}");
    assert!(!created.to_string().contains(&client_secret), "the client secret is write-only");
    let integration = created["id"].as_str().unwrap().to_owned();
    let redirect = format!("{}/projects/{project}/connect/{integration}/oauth/callback", app.base);
    mock.register_client(client_id, &client_secret, &redirect);
    ProjectSide { project, admin_key, integration, client_secret, private_pem }
}
