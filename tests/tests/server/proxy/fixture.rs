//! A project with the `test-proxy` integration pointed at a [`MockApi`] on
//! 127.0.0.2, users with tokens and connected API keys, and a raw HTTP
//! client for paths a URL library would normalise.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_server::config::Settings;
use weft_tests::mock_api::MockApi;

pub(crate) const PERMITTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

pub(crate) struct ProxyFixture {
    pub(crate) app: TestApp,
    pub(crate) mock: MockApi,
    pub(crate) project: String,
    pub(crate) admin_key: String,
    pub(crate) integration: String,
    private_pem: String,
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Never follows redirects: the tests look at the proxy's own answer.
    client: reqwest::Client,
}

/// A raw answer: status and body.
pub(crate) struct RawAnswer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl RawAnswer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl ProxyFixture {
    /// A second server (its own engine, pool and governor) on `pg`, the
    /// database this fixture runs on, and on its data directory (its vault
    /// key and plugins), with settings adjusted.
    pub(crate) async fn second_server(&self, pg: &PgDatabase, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let (url, dir) = (pg.url(), self.app._dir.path().to_owned());
        spawn_app_with(&[], move |s| {
            s.auth.max_failures_per_minute = 100_000;
            s.database.url = Some(url);
            s.data_dir = dir;
            adjust(s);
        })
        .await
    }

    /// `test-proxy` (and `test-apikey` for cross-wiring) with default settings.
    pub(crate) async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// With settings adjusted (timeouts, caps).
    pub(crate) async fn with(adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::with_plugins(&["test_proxy", "test_apikey"], adjust).await
    }

    /// With these plugins installed (`test_proxy` among them) and settings
    /// adjusted.
    pub(crate) async fn with_plugins(plugins: &[&str], adjust: impl FnOnce(&mut Settings)) -> Self {
        let mock = MockApi::start_on(PERMITTED).await;
        let app = spawn_app_with(plugins, |s| {
            s.auth.max_failures_per_minute = 100_000;
            adjust(s);
        })
        .await;
        let store = app.store.clone();
        let (project, private_pem) = project_with_key(store.as_ref(), "Proxy").await;
        let admin_key = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
        let mut fixture = Self {
            app,
            mock,
            project,
            admin_key,
            integration: String::new(),
            private_pem,
            tokens: Default::default(),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        };
        fixture.integration = fixture.add_integration("test-proxy", &fixture.mock.api_base()).await;
        fixture
    }

    /// Adds an active integration of `kind` whose base URL is `base`.
    pub(crate) async fn add_integration(&self, kind: &str, base: &str) -> String {
        let body = json!({ "type": kind, "active": true, "baseUrl": base });
        let path = format!("/admin/projects/{}/integrations", self.project);
        let (status, created) = self.app.call(Method::POST, &path, Some(&self.admin_key), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Points an integration at another base URL.
    pub(crate) async fn set_base(&self, integration: &str, base: &str) {
        let path = format!("/admin/projects/{}/integrations/{integration}", self.project);
        let (status, body) =
            self.app.call(Method::PATCH, &path, Some(&self.admin_key), Some(json!({ "baseUrl": base }))).await;
        assert_eq!(status, 200, "{body}");
    }

    /// The PEM of the project's signing key (what a workflow that mints user
    /// tokens keeps as an environment secret).
    pub(crate) fn signing_key_pem(&self) -> &str {
        &self.private_pem
    }

    /// A user token for `user`, minted once (RSA signing is slow in debug builds).
    pub(crate) fn token(&self, user: &str) -> String {
        let mut tokens = self.tokens.lock().unwrap();
        tokens
            .entry(user.to_owned())
            .or_insert_with(|| {
                weft_auth::mint_user_token(&self.private_pem, Some("k"), user, now_unix(), 3600).unwrap()
            })
            .clone()
    }

    /// Connects `key` for `user` on `kind`; returns the credential id.
    pub(crate) async fn connect_as(&self, user: &str, kind: &str, key: &str, multiple: bool) -> String {
        if key.len() >= 12 {
            weft_tests::sweep::register(key);
        }
        let path = format!("/projects/{}/sdk/connect/{kind}/credentials", self.project);
        let body = json!({ "fields": { "api_key": key }, "allowMultipleCredentials": multiple });
        let (status, created) = self.app.call(Method::POST, &path, Some(&self.token(user)), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Connects `key` for `user` on `test-proxy`.
    pub(crate) async fn connect(&self, user: &str, key: &str) -> String {
        self.connect_as(user, "test-proxy", key, false).await
    }

    /// Runs `action` of the `test-proxy` plugin as `credential`, granted by
    /// the credential service as for every plugin call acting for an account.
    pub(crate) async fn plugin_action(
        &self,
        _user: &str,
        credential: &str,
        action: &str,
        input: Value,
    ) -> Result<Value, weft_plugin_host::CallError> {
        self.action_of("test-proxy", credential, action, input).await
    }

    /// Runs `action` of `plugin` as `credential`, granted as
    /// [`Self::plugin_action`] does.
    pub(crate) async fn action_of(
        &self,
        plugin: &str,
        credential: &str,
        action: &str,
        input: Value,
    ) -> Result<Value, weft_plugin_host::CallError> {
        let project = self.project.parse().unwrap();
        let grant = self.app.credentials.grant(project, credential.parse().unwrap(), plugin);
        let opts = weft_plugin_host::CallOptions::new(self.project.clone())
            .with_connection(credential, json!({}))
            .with_base_url(Some(&self.mock.api_base()))
            .with_connection_http(grant);
        let call = weft_plugin_host::ActionCall { action: action.into(), input, page: None };
        self.app.plugins.run_action(plugin, &opts, call).await.map(|o| o.output)
    }

    /// `/projects/{p}/sdk/proxy/{rest}` as `user` (a reqwest request to finish).
    pub(crate) fn proxy(&self, method: Method, user: &str, rest: &str) -> reqwest::RequestBuilder {
        self.unauthenticated(method, rest).bearer_auth(self.token(user))
    }

    /// `/projects/{p}/sdk/proxy/{rest}` with no user token.
    pub(crate) fn unauthenticated(&self, method: Method, rest: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{}", self.app.base, self.target(rest)))
    }

    /// A GET through the proxy; status and JSON answer.
    pub(crate) async fn get(&self, user: &str, rest: &str) -> (u16, Value) {
        let resp = self.proxy(Method::GET, user, rest).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Sends `METHOD <raw target> HTTP/1.1` byte for byte, as `user`.
    pub(crate) async fn raw(&self, method: &str, target: &str, user: &str, extra: &[(&str, &str)]) -> RawAnswer {
        let addr = self.app.base.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut req = format!(
            "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\nconnection: close\r\n",
            self.token(user)
        );
        for (n, v) in extra {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut bytes)).await;
        parse_answer(&bytes)
    }

    /// The raw request target of `/sdk/proxy/{rest}` in this project.
    pub(crate) fn target(&self, rest: &str) -> String {
        format!("/projects/{}/sdk/proxy/{rest}", self.project)
    }

    /// The project's task records, once `at_least` are stored.
    pub(crate) async fn tasks(&self, at_least: usize) -> Vec<weft_store::TaskRecord> {
        let project = self.project.parse().unwrap();
        for _ in 0..200 {
            let list = self.app.store.list_task_records(project, 1000).await.unwrap();
            if list.len() >= at_least {
                return list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("fewer than {at_least} task records after 5 s");
    }
}

/// Parses an HTTP/1.1 answer (content-length or chunked body).
pub(crate) fn parse_answer(bytes: &[u8]) -> RawAnswer {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw_body = bytes.get(split + 4..).unwrap_or_default();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(raw_body) } else { raw_body.to_vec() };
    RawAnswer { status, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
    out
}
