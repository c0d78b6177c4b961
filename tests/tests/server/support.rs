//! Shared fixtures: the application on port 0, the real binary, projects,
//! keys and tokens, fresh PostgreSQL databases.

use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use weft_server::Application;
use weft_server::config::Settings;
use weft_tests::plugin_path;

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) operator_key: String,
    pub(crate) store: std::sync::Arc<dyn weft_store::Store>,
    pub(crate) credentials: std::sync::Arc<weft_credentials::Credentials>,
    pub(crate) plugins: std::sync::Arc<weft_plugin_host::PluginHost>,
    pub(crate) _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A data directory holding the given plugins.
pub(crate) fn data_dir_with(plugins: &[&str]) -> tempfile::TempDir {
    let dir = weft_tests::sweep::data_dir();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    for p in plugins {
        std::fs::copy(plugin_path(p), plugin_dir.join(format!("{p}.wasm"))).unwrap();
    }
    dir
}

pub(crate) async fn spawn_app(plugins: &[&str]) -> TestApp {
    // The matrix and the refusal tests fail authentication on purpose, many
    // times, from one address; throttling has its own test.
    spawn_app_with(plugins, |s| s.auth.max_failures_per_minute = 100_000).await
}

/// [`spawn_app`] with no plugins, on a fresh PostgreSQL database when
/// `postgres` (kept alive by the second value), else on SQLite.
pub(crate) async fn spawn_app_on(postgres: bool) -> (TestApp, Option<PgDatabase>) {
    let db = postgres.then(PgDatabase::create);
    let url = db.as_ref().map(PgDatabase::url);
    let app = spawn_app_with(&[], |s| {
        s.auth.max_failures_per_minute = 100_000;
        s.database.url = url;
    })
    .await;
    (app, db)
}

pub(crate) async fn spawn_app_with(plugins: &[&str], adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_clocked(plugins, adjust, std::sync::Arc::new(weft_auth::SystemClock)).await
}

/// The application on port 0 with `clock` as its business time.
pub(crate) async fn spawn_app_clocked(
    plugins: &[&str],
    adjust: impl FnOnce(&mut Settings),
    clock: std::sync::Arc<dyn weft_auth::Clock>,
) -> TestApp {
    weft_tests::logs::install();
    let dir = data_dir_with(plugins);
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.data_dir = dir.path().to_owned();
    // Refreshes are driven by the tests, not a background sweep.
    settings.connect.sweep_interval_secs = 0;
    // Mock providers and authorization servers live on loopback.
    settings.egress.allow_loopback = true;
    adjust(&mut settings);
    let mut app = Application::build_with_clock(settings, clock).await.expect("build app");
    let (store, credentials, plugin_host) = (app.store(), app.credentials(), app.plugin_host());
    let operator_key = app.take_first_operator_key().map(|k| secrecy::ExposeSecret::expose_secret(&k).to_owned());
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        // Empty for a second server on a database that has one already.
        operator_key: operator_key.unwrap_or_default(),
        store,
        credentials,
        plugins: plugin_host,
        _dir: dir,
        stop: Some(stop),
        running: Some(running),
    }
}

impl TestApp {
    /// A clean shutdown, as on SIGTERM: waits until the server has stopped
    /// (in-flight requests finished, queued records stored, store closed).
    pub(crate) async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.expect("server task").expect("server stopped cleanly");
        }
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("request")
    }
}

/// The `weft` binary built by this workspace (tests run after `cargo test`
/// built every target).
pub(crate) fn weft_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/server-<hash> -> target/<profile>/weft
    let path = exe.parent().and_then(|p| p.parent()).unwrap().join(format!("weft{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} missing: run the tests with `cargo xtask test`", path.display());
    path
}

/// Runs a `weft` CLI command on `data_dir` and returns its stdout.
pub(crate) fn weft_cli(data_dir: &std::path::Path, args: &[&str]) -> String {
    weft_cli_env(data_dir, &[], args)
}

/// [`weft_cli`] with extra environment (settings overrides).
pub(crate) fn weft_cli_env(data_dir: &std::path::Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = std::process::Command::new(weft_binary())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("WEFT__DATA_DIR", data_dir)
        .env("WEFT__LOG__FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "weft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `weft args` against `data_dir` and expects it to refuse (exit 1):
/// what it printed on stderr.
pub(crate) fn weft_cli_refused(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(weft_binary()).args(args).env("WEFT__DATA_DIR", data_dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "weft {args:?}: {stderr}");
    stderr
}

/// The real server binary on port 0; its printed lines, and its base URL.
pub(crate) async fn start_binary(data_dir: &std::path::Path) -> (tokio::process::Child, Vec<String>, String) {
    start_binary_env(data_dir, &[]).await
}

/// [`start_binary`] with extra environment (settings overrides).
pub(crate) async fn start_binary_env(
    data_dir: &std::path::Path,
    env: &[(&str, String)],
) -> (tokio::process::Child, Vec<String>, String) {
    start_binary_args(data_dir, &["serve"], env).await
}

/// [`start_binary_env`] with other arguments (`serve --demo`).
pub(crate) async fn start_binary_args(
    data_dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (tokio::process::Child, Vec<String>, String) {
    let mut child = tokio::process::Command::new(weft_binary())
        .args(args)
        // Mock providers live on loopback; `env` may say otherwise.
        .env("WEFT__EGRESS__ALLOW_LOOPBACK", "true")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("WEFT__SERVER__PORT", "0")
        .env("WEFT__DATA_DIR", data_dir)
        .env("WEFT__LOG__FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut printed = Vec::new();
    let base = loop {
        assert!(Instant::now() < deadline, "no listening line in {printed:?}");
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("stdout closed");
        printed.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_millis(500), lines.next_line()).await {
        printed.push(line);
    }
    (child, printed, base)
}

/// A development project named `name` with a generated signing key (kid
/// `k`): its id and the private key, to mint its users' tokens.
pub(crate) async fn project_with_key(store: &dyn weft_store::Store, name: &str) -> (String, String) {
    use weft_store::{Environment, NewProject, NewSigningKey, SigningKeyMaterial};
    let project = store.create_project(NewProject::new(name, Environment::Development)).await.unwrap();
    let (private_pem, public_pem) = weft_auth::generate_signing_key().unwrap();
    let material = SigningKeyMaterial::Generated { public_key_pem: public_pem };
    store.add_signing_key(project.id, NewSigningKey::new(Some("k".into()), material)).await.unwrap();
    (project.id.to_string(), private_pem)
}

/// A project with a generated signing key, and a token of one of its users.
pub(crate) async fn project_with_token(store: &dyn weft_store::Store, name: &str) -> (String, String) {
    let (project, private_pem) = project_with_key(store, name).await;
    let token = weft_auth::mint_user_token(&private_pem, Some("k"), "matrix-user", now_unix(), 600).unwrap();
    (project, token)
}

/// An RS256 token with exactly `claims`, signed with `private_pem` (for
/// claims `weft_auth::mint_user_token` would never write).
pub(crate) fn mint_claims(private_pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// An API key of `project` with `role`, stored as the API would store it.
pub(crate) async fn api_key(store: &dyn weft_store::Store, project: &str, role: weft_store::Role) -> String {
    let key = weft_auth::generate_api_key("weft_key").unwrap();
    let new = weft_store::NewApiKey { name: "test".into(), role, key_prefix: "weft_key".into(), key_hash: key.hash };
    store.create_api_key(project.parse().unwrap(), new).await.unwrap();
    key.plaintext
}

/// A fresh PostgreSQL database on the local server, dropped on drop.
pub(crate) struct PgDatabase {
    name: String,
}

impl PgDatabase {
    pub(crate) fn create() -> Self {
        let name = format!("weft_e2e_{}", uuid_simple());
        let ok = std::process::Command::new("psql")
            .args(["-h", "/var/run/postgresql", "-U", "postgres", "-q", "-c", &format!("CREATE DATABASE {name}")])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "PostgreSQL must be running locally for this test (.ci/run starts it)");
        Self { name }
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@localhost/{}?host=/var/run/postgresql", self.name)
    }

    /// Runs one SQL statement and returns psql's unaligned output.
    pub(crate) fn sql(&self, statement: &str) -> String {
        let out = std::process::Command::new("psql")
            .args(["-h", "/var/run/postgresql", "-U", "postgres", "-At", "-d", &self.name, "-c", statement])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub(crate) fn dump(&self) -> Vec<u8> {
        let out = std::process::Command::new("pg_dump")
            .args(["-h", "/var/run/postgresql", "-U", "postgres", &self.name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // The canary sweep scans what PostgreSQL stored, too.
        if let Some(sweep) = weft_tests::sweep::dir() {
            let out = std::process::Command::new("pg_dump")
                .args(["-h", "/var/run/postgresql", "-U", "postgres", &self.name])
                .output();
            if let Some(out) = out.ok().filter(|o| o.status.success()) {
                let dir = sweep.join("data");
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(format!("{}.sql", self.name)), out.stdout);
            }
        }
        let _ = std::process::Command::new("psql")
            .args(["-h", "/var/run/postgresql", "-U", "postgres", "-q", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .status();
    }
}

/// Seconds since the Unix epoch, for minting tokens.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub(crate) fn uuid_simple() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}{:x}", t, std::process::id())
}

impl TestApp {
    /// Sends `method path` with an optional bearer credential and JSON body;
    /// returns the status and the JSON answer (`null` when there is none).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A project created over the admin API with the operator key: its id
    /// and its first admin API key.
    pub(crate) async fn create_project(&self, body: Value) -> (String, String) {
        let (status, created) =
            self.call(reqwest::Method::POST, "/admin/projects", Some(&self.operator_key), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        (created["project"]["id"].as_str().unwrap().to_owned(), created["apiKey"]["key"].as_str().unwrap().to_owned())
    }
}

/// Declares the project secret `name` and sets its value through the admin
/// API with `admin_key`.
pub(crate) async fn set_secret(app: &TestApp, project: &str, admin_key: &str, name: &str, value: &str) {
    let path = format!("/admin/projects/{project}/secrets");
    let (status, body) =
        app.call(reqwest::Method::POST, &path, Some(admin_key), Some(serde_json::json!({"name": name}))).await;
    assert_eq!(status, 201, "{body}");
    let path = format!("{path}/{name}");
    let (status, body) =
        app.call(reqwest::Method::PUT, &path, Some(admin_key), Some(serde_json::json!({"value": value}))).await;
    assert_eq!(status, 204, "{body}");
}

/// The executions of `workflow` in `project`, oldest first (Task History).
pub(crate) async fn workflow_executions(
    app: &TestApp,
    project: &str,
    admin: &str,
    workflow: &str,
) -> Vec<serde_json::Value> {
    let path = format!("/projects/{project}/task-history/workflow-executions?workflowId={workflow}&sortBy=ASC");
    let (status, body) = app.call(reqwest::Method::GET, &path, Some(admin), None).await;
    assert_eq!(status, 200, "{body}");
    body["workflowExecutions"].as_array().cloned().unwrap_or_default()
}

/// Waits for `n` ended executions of `workflow` in `project`.
pub(crate) async fn settled_executions(
    app: &TestApp,
    project: &str,
    admin: &str,
    workflow: &str,
    n: usize,
) -> Vec<serde_json::Value> {
    for _ in 0..400 {
        let all = workflow_executions(app, project, admin, workflow).await;
        if all.len() >= n && all.iter().all(|e| matches!(e["status"].as_str(), Some("SUCCEEDED" | "FAILED"))) {
            return all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{workflow}: not {n} ended executions: {:?}", workflow_executions(app, project, admin, workflow).await);
}
