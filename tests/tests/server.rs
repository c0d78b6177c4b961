//! End-to-end tests of the server: the real application on port 0 with real
//! components in its plugin directory, over real HTTP on loopback; and the
//! real `weft` binary started as a child process.

use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use weft_server::Application;
use weft_server::config::Settings;
use weft_tests::plugin_path;

struct TestApp {
    base: String,
    client: reqwest::Client,
    operator_key: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A data directory holding the given plugins.
fn data_dir_with(plugins: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    for p in plugins {
        std::fs::copy(plugin_path(p), plugin_dir.join(format!("{p}.wasm"))).unwrap();
    }
    dir
}

async fn spawn_app(plugins: &[&str]) -> TestApp {
    // The matrix and the refusal tests fail authentication on purpose, many
    // times, from one address; throttling has its own test.
    spawn_app_with(plugins, |s| s.auth.max_failures_per_minute = 100_000).await
}

async fn spawn_app_with(plugins: &[&str], adjust: impl FnOnce(&mut Settings)) -> TestApp {
    weft_tests::logs::install();
    let dir = data_dir_with(plugins);
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.data_dir = dir.path().to_owned();
    adjust(&mut settings);
    let mut app = Application::build(settings).await.expect("build app");
    let operator_key = app.take_first_operator_key().map(|k| secrecy::ExposeSecret::expose_secret(&k).to_owned());
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        operator_key: operator_key.expect("a fresh data directory creates the operator key"),
        _dir: dir,
        stop: Some(stop),
    }
}

impl TestApp {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("request")
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app(&[]).await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn lists_installed_plugins_with_actions_and_skips_refused_ones() {
    let app = spawn_app(&["test_echo", "example_step", "test_fs_import"]).await;
    let r = app.get("/plugins").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let plugins = body["plugins"].as_array().unwrap();
    let ids: Vec<_> = plugins.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["example-step", "test-echo"], "the filesystem plugin must be refused");
    let echo = &plugins[1];
    assert_eq!(echo["world"], "integration");
    assert_eq!(echo["metadata"]["name"], "Test Echo");
    let action = echo["actions"].as_array().unwrap().iter().find(|a| a["key"] == "ECHO").unwrap();
    assert_eq!(action["inputSchema"]["type"], "object");
    let one: Value = app.get("/plugins/test-echo").await.json().await.unwrap();
    assert_eq!(one["id"], "test-echo");
}

#[tokio::test]
async fn errors_have_one_shape_with_the_request_id() {
    let app = spawn_app(&[]).await;
    let r = app.get("/plugins/nope").await;
    assert_eq!(r.status(), 404);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!request_id.is_empty());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["code"], "NOT_FOUND");
    assert!(body["message"].as_str().unwrap().contains("nope"));
    assert_eq!(body["meta"]["requestId"], request_id);
    let r = app.get("/no/such/route").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    let r = app.client.post(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "METHOD_NOT_ALLOWED");
    // A caller-supplied request id is kept, so logs can be correlated.
    let r = app.client.get(format!("{}/plugins/x", app.base)).header("x-request-id", "req-abc").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["meta"]["requestId"], "req-abc");
}

#[tokio::test]
async fn sdk_routes_answer_cors_preflights_with_the_sdk_headers() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "authorization, content-type, x-paragon-credential")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("PATCH"));
    let allowed = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    for name in ["authorization", "content-type", "x-paragon-credential"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    // An actual cross-origin call carries the CORS header even when refused.
    let r = app
        .client
        .get(format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

/// The `weft` binary built by this workspace (tests run after `cargo test`
/// built every target).
fn weft_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/server-<hash> -> target/<profile>/weft
    let path = exe.parent().and_then(|p| p.parent()).unwrap().join(format!("weft{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} missing: run the tests with `cargo xtask test`", path.display());
    path
}

/// Runs a `weft` CLI command on `data_dir` and returns its stdout.
fn weft_cli(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(weft_binary())
        .args(args)
        .env("WEFT__DATA_DIR", data_dir)
        .env("WEFT__LOG__FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "weft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The real server binary on port 0; its printed lines, and its base URL.
async fn start_binary(data_dir: &std::path::Path) -> (tokio::process::Child, Vec<String>, String) {
    let mut child = tokio::process::Command::new(weft_binary())
        .arg("serve")
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

#[tokio::test]
async fn the_binary_serves_its_plugins_and_stops_gracefully_on_sigterm() {
    let dir = data_dir_with(&["test_echo"]);
    let (mut child, printed, base) = start_binary(dir.path()).await;
    // It prints what it serves, and the operator key of its first start.
    assert!(printed.iter().any(|l| l.contains("test-echo")), "{printed:?}");
    assert!(printed.iter().any(|l| l.trim_start().starts_with("weft_op_")), "{printed:?}");
    let body: Value = reqwest::get(format!("{base}/plugins")).await.unwrap().json().await.unwrap();
    assert_eq!(body["plugins"][0]["id"], "test-echo");
    let pid = child.id().unwrap() as i32;
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("stops within 10 s").unwrap();
    assert!(status.success(), "{status:?}");
}

/// The README's path for a newcomer: create a project, mint a token, call
/// `/sdk/me` with it.
#[tokio::test]
async fn cli_creates_a_project_and_mints_a_token_that_sdk_me_accepts() {
    let dir = data_dir_with(&[]);
    let created = weft_cli(dir.path(), &["project", "create", "--name", "Demo"]);
    let project = created.split_whitespace().nth(2).expect("project id").to_owned();
    assert_eq!(project.len(), 36, "{created}");
    let token = weft_cli(dir.path(), &["token", "mint", "--project", &project, "--user", "user-42"]).trim().to_owned();
    let other = weft_cli(dir.path(), &["project", "create", "--name", "Other"]);
    let other = other.split_whitespace().nth(2).unwrap().to_owned();
    let other_token =
        weft_cli(dir.path(), &["token", "mint", "--project", &other, "--user", "user-42"]).trim().to_owned();
    let (_child, _, base) = start_binary(dir.path()).await;
    let client = reqwest::Client::new();
    let me = format!("{base}/projects/{project}/sdk/me");

    let r = client.get(&me).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"authenticated": true, "userId": "user-42", "integrations": {}, "meta": {}}));

    let r = client
        .patch(&me)
        .bearer_auth(&token)
        .json(&serde_json::json!({"meta": {"Email": "a@b.c"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = client.get(&me).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["meta"], serde_json::json!({"Email": "a@b.c"}));
    // The reference also accepts the token without the Bearer scheme.
    let r = client.get(&me).header("authorization", &token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    for (auth, why) in
        [(None, "no token"), (Some("garbage"), "garbage"), (Some(other_token.as_str()), "other project's token")]
    {
        let mut req = client.get(&me);
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{why}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHORIZED", "{why}");
        assert!(body["meta"]["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{why}");
    }
    let r = client.patch(&me).bearer_auth(&token).json(&serde_json::json!({"meta": "nope"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    for path in ["sdk/metadata", "sdk/integrations"] {
        let r = client.get(format!("{base}/projects/{project}/{path}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!([]), "{path}");
    }
}

#[tokio::test]
async fn first_start_creates_the_database_and_an_operator_key_shown_once() {
    let dir = data_dir_with(&[]);
    let settings = || {
        let mut s = Settings::default();
        s.server.port = 0;
        s.data_dir = dir.path().to_owned();
        s
    };
    let mut first = Application::build(settings()).await.unwrap();
    let key = first.take_first_operator_key().expect("first start creates the operator key");
    let key = secrecy::ExposeSecret::expose_secret(&key).to_owned();
    assert!(key.starts_with("weft_op_"), "{key}");
    assert!(first.take_first_operator_key().is_none(), "shown once");
    drop(first);
    assert!(dir.path().join("weft.db").is_file());
    let mut second = Application::build(settings()).await.unwrap();
    assert!(second.take_first_operator_key().is_none(), "a restart keeps the existing key");
    // Only the hash is stored.
    let db = std::fs::read(dir.path().join("weft.db")).unwrap();
    let wal = std::fs::read(dir.path().join("weft.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "plaintext operator key on disk");
    }
}

/// A project with a generated signing key, and a token of one of its users.
async fn project_with_token(store: &dyn weft_store::Store, name: &str) -> (String, String) {
    use weft_store::{Environment, NewProject, NewSigningKey, SigningKeyMaterial};
    let project = store.create_project(NewProject::new(name, Environment::Development)).await.unwrap();
    let (private_pem, public_pem) = weft_auth::generate_signing_key().unwrap();
    let material = SigningKeyMaterial::Generated { public_key_pem: public_pem };
    store.add_signing_key(project.id, NewSigningKey { kid: Some("k".into()), material }).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = weft_auth::mint_user_token(&private_pem, Some("k"), "matrix-user", now, 600).unwrap();
    (project.id.to_string(), token)
}

/// An API key of `project` with `role`, stored as the API would store it.
async fn api_key(store: &dyn weft_store::Store, project: &str, role: weft_store::Role) -> String {
    let key = weft_auth::generate_api_key("weft_key").unwrap();
    let new = weft_store::NewApiKey { name: "test".into(), role, key_prefix: "weft_key".into(), key_hash: key.hash };
    store.create_api_key(project.parse().unwrap(), new).await.unwrap();
    key.plaintext
}

/// Every route of the route table × every kind of caller. Expectations come
/// from each route's declared access, so a new route is covered the moment
/// it is registered, and a new kind of access does not compile here until
/// the matrix says what it expects.
#[tokio::test]
async fn authorization_matrix_over_the_route_table() {
    use weft_api::Access;
    use weft_store::Role;
    let app = spawn_app(&["test_echo"]).await;
    let store = weft_store::open(&app._dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, token) = project_with_token(store.as_ref(), "A").await;
    let (other, other_token) = project_with_token(store.as_ref(), "B").await;
    let bearer = |k: &str| Some(format!("Bearer {k}"));
    let principals: Vec<(&str, Option<Role>, Option<String>)> = vec![
        ("same-project user", None, bearer(&token)),
        ("other-project user", None, bearer(&other_token)),
        ("none", None, None),
        ("malformed", None, Some("Bearer not.a.jwt".into())),
        ("operator", None, bearer(&app.operator_key)),
        ("admin key", Some(Role::Admin), bearer(&api_key(store.as_ref(), &project, Role::Admin).await)),
        ("member key", Some(Role::Member), bearer(&api_key(store.as_ref(), &project, Role::Member).await)),
        ("support key", Some(Role::Support), bearer(&api_key(store.as_ref(), &project, Role::Support).await)),
        ("other-project key", None, bearer(&api_key(store.as_ref(), &other, Role::Admin).await)),
    ];
    let table = weft_api::route_table();
    assert!(table.len() >= 19, "{table:?}");
    let mut checked = 0;
    for route in &table {
        let path = route
            .path
            .replace("{projectId}", &project)
            .replace("{id}", "test-echo")
            .replace("{keyId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c11")
            .replace("{integrationId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c12")
            .replace("{userId}", "nobody")
            .replace("{signingKeyId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c14")
            .replace("{name}", "nothing");
        for (who, role, auth) in &principals {
            let mut req = app.client.request(route.method.clone(), format!("{}{path}", app.base));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            if route.method != reqwest::Method::GET {
                req = req.json(&serde_json::json!({}));
            }
            let status = req.send().await.unwrap().status().as_u16();
            // Allowed callers get an answer about the resource: success, a
            // body error for the empty test body, or 404 for the made-up ids.
            let allowed = (200..300).contains(&status) || status == 400 || status == 404;
            let ok = match (route.access, *who) {
                (Access::Public, _) => status < 400,
                (Access::User, "same-project user") => (200..300).contains(&status) || status == 400,
                (Access::User, _) => status == 401,
                (Access::Operator, "operator") => allowed,
                (Access::Operator, w) if w.ends_with(" key") => status == 403,
                (Access::Operator, _) => status == 401,
                (Access::Project(_), "other-project key") => status == 404,
                (Access::Project(roles), _) if role.is_some() => {
                    if roles.contains(&role.unwrap()) {
                        allowed
                    } else {
                        status == 403
                    }
                }
                (Access::Project(_), "operator") => status == 403,
                (Access::Project(_), _) => status == 401,
            };
            assert!(ok, "{} {} as {who}: {status} (access {:?})", route.method, route.path, route.access);
            checked += 1;
        }
    }
    assert_eq!(checked, table.len() * principals.len());
}

/// Acceptance: ids of project A used with project B's credentials give 404,
/// indistinguishable from ids that do not exist.
#[tokio::test]
async fn another_projects_ids_are_not_found_with_your_credentials() {
    let app = spawn_app(&[]).await;
    let created: Value = app
        .client
        .post(format!("{}/admin/projects", app.base))
        .bearer_auth(&app.operator_key)
        .json(&serde_json::json!({"name": "A"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (a, key_a) =
        (created["project"]["id"].as_str().unwrap().to_owned(), created["apiKey"]["key"].as_str().unwrap().to_owned());
    let created_b: Value = app
        .client
        .post(format!("{}/admin/projects", app.base))
        .bearer_auth(&app.operator_key)
        .json(&serde_json::json!({"name": "B", "environment": "production"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (b, key_b) = (
        created_b["project"]["id"].as_str().unwrap().to_owned(),
        created_b["apiKey"]["key"].as_str().unwrap().to_owned(),
    );
    let r = app
        .client
        .post(format!("{}/admin/projects/{a}/integrations", app.base))
        .bearer_auth(&key_a)
        .json(&serde_json::json!({"type": "slack", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let integration = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // B's key on A's project, and A's integration id under B's project.
    let r = app
        .client
        .get(format!("{}/admin/projects/{a}/integrations", app.base))
        .bearer_auth(&key_b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let foreign = app
        .client
        .delete(format!("{}/admin/projects/{b}/integrations/{integration}", app.base))
        .bearer_auth(&key_b)
        .send()
        .await
        .unwrap();
    let missing = app
        .client
        .delete(format!("{}/admin/projects/{b}/integrations/7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c13", app.base))
        .bearer_auth(&key_b)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    assert_eq!(missing.status(), 404);
    let (foreign, missing): (Value, Value) = (foreign.json().await.unwrap(), missing.json().await.unwrap());
    assert_eq!(foreign["message"], missing["message"], "a foreign id must look like a missing one");
    // A's integration is untouched.
    let listed: Value = app
        .client
        .get(format!("{}/admin/projects/{a}/integrations", app.base))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    // Revoking a key takes effect on the next request.
    let keys: Value = app
        .client
        .get(format!("{}/admin/projects/{a}/api-keys", app.base))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key_id = keys[0]["id"].as_str().unwrap();
    assert!(keys.to_string().find(&key_a).is_none(), "listing never shows keys");
    // The database holds hashes only: no plaintext key in the file or its WAL.
    for file in ["weft.db", "weft.db-wal"] {
        let bytes = std::fs::read(app._dir.path().join(file)).unwrap_or_default();
        for key in [&key_a, &key_b] {
            assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "{file} holds a plaintext API key");
        }
    }
    let r = app
        .client
        .delete(format!("{}/admin/projects/{a}/api-keys/{key_id}", app.base))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(format!("{}/admin/projects/{a}", app.base)).bearer_auth(&key_a).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// The SDK shapes, field by field, with an active plugin integration and an
/// inactive custom one.
#[tokio::test]
async fn sdk_shapes_with_integrations_present() {
    use serde_json::json;
    let app = spawn_app(&["test_echo"]).await;
    let store = weft_store::open(&app._dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, token) = project_with_token(store.as_ref(), "Shapes").await;
    let admin = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    for body in [
        json!({"type": "test-echo", "active": true, "accentColor": "#112233", "portalTexts": {"overview": "hi"}}),
        json!({"type": "custom.acme", "active": false}),
    ] {
        let url = format!("{}/admin/projects/{project}/integrations", app.base);
        let r = app.client.post(url).bearer_auth(&admin).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{body}");
    }
    let get = |path: &str| {
        let req = app.client.get(format!("{}/projects/{project}/sdk/{path}", app.base)).bearer_auth(&token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let metadata = get("metadata").await;
    assert_eq!(metadata, json!([{"type": "test-echo", "name": "Test Echo", "brandColor": "#112233", "icon": null}]));
    let me = get("me").await;
    assert_eq!(me["integrations"], json!({"test-echo": {"enabled": false, "configuredWorkflows": {}}}));
    let list = get("integrations").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let custom = list.iter().find(|i| i["type"] == "custom.acme").unwrap();
    assert_eq!(custom["customIntegrationId"], "acme");
    assert_eq!(custom["isActive"], false);
    let echo = list.iter().find(|i| i["type"] == "test-echo").unwrap();
    let keys: Vec<&str> = echo.as_object().unwrap().keys().map(String::as_str).collect();
    for field in [
        "id",
        "dateCreated",
        "dateUpdated",
        "projectId",
        "customIntegrationId",
        "type",
        "isActive",
        "configs",
        "workflows",
    ] {
        assert!(keys.contains(&field), "{field} missing from {echo}");
    }
    assert_eq!(echo["projectId"], project.as_str());
    assert_eq!(echo["isActive"], true);
    assert!(echo["customIntegrationId"].is_null());
    assert_eq!(echo["configs"][0]["integrationId"], echo["id"]);
    assert_eq!(echo["configs"][0]["values"]["portal"], json!({"overview": "hi"}));
    assert!(echo["dateCreated"].as_str().unwrap().ends_with('Z'), "{}", echo["dateCreated"]);
}

/// `/openapi.json` documents every route of the route table, with its path
/// parameters and the credential it takes.
#[tokio::test]
async fn openapi_covers_every_route() {
    let app = spawn_app(&[]).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let table = weft_api::route_table();
    assert!(table.iter().any(|r| r.path == "/openapi.json"), "the document covers itself");
    for route in &table {
        let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing from /openapi.json", route.method, route.path);
        assert_eq!(op["summary"], route.summary);
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        for name in route.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))) {
            assert!(params.contains(&name), "{} {}: parameter {name} undocumented", route.method, route.path);
        }
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(secured, route.access != weft_api::Access::Public, "{} {}", route.method, route.path);
    }
    for scheme in ["userToken", "apiKey", "operatorKey"] {
        assert_eq!(doc["components"]["securitySchemes"][scheme]["scheme"], "bearer", "{scheme}");
    }
}

/// Signing keys through the admin API: a generated key's private half is
/// answered once and its tokens work; an uploaded public key works; removing
/// a key refuses its tokens on the next request; disabling a user refuses
/// them too.
#[tokio::test]
async fn signing_keys_and_users_through_the_admin_api() {
    use serde_json::json;
    let app = spawn_app(&[]).await;
    let created: Value = app
        .client
        .post(format!("{}/admin/projects", app.base))
        .bearer_auth(&app.operator_key)
        .json(&json!({"name": "Keys"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project = created["project"]["id"].as_str().unwrap().to_owned();
    let admin = created["apiKey"]["key"].as_str().unwrap().to_owned();
    let keys_url = format!("{}/admin/projects/{project}/signing-keys", app.base);
    let add = |body: Value| app.client.post(&keys_url).bearer_auth(&admin).json(&body).send();

    let generated: Value = add(json!({"generate": true, "kid": "gen"})).await.unwrap().json().await.unwrap();
    let private = generated["privateKeyPem"].as_str().expect("private key answered once").to_owned();
    let listed: Value = app.client.get(&keys_url).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert!(!listed.to_string().contains("PRIVATE KEY"), "listing never shows private keys");
    let (other_private, other_public) = weft_auth::generate_signing_key().unwrap();
    let r = add(json!({"publicKeyPem": other_public, "kid": "up"})).await.unwrap();
    assert_eq!(r.status(), 201);
    for bad in [
        json!({"publicKeyPem": "nope"}),
        json!({"jwksUrl": "ftp://x"}),
        json!({"generate": true, "jwksUrl": "https://x.test/jwks"}),
        json!({}),
    ] {
        assert_eq!(add(bad.clone()).await.unwrap().status(), 400, "{bad}");
    }

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = weft_auth::mint_user_token(&private, Some("gen"), "u1", now, 600).unwrap();
    let uploaded_token = weft_auth::mint_user_token(&other_private, Some("up"), "u2", now, 600).unwrap();
    let me = format!("{}/projects/{project}/sdk/me", app.base);
    let status = |t: String| {
        let req = app.client.get(&me).bearer_auth(t);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(token.clone()).await, 200);
    assert_eq!(status(uploaded_token.clone()).await, 200);

    let user_url = format!("{}/admin/projects/{project}/users/u1", app.base);
    let disable = |d: bool| app.client.patch(&user_url).bearer_auth(&admin).json(&json!({"disabled": d})).send();
    assert_eq!(disable(true).await.unwrap().status(), 200);
    assert_eq!(status(token.clone()).await, 403, "a disabled user is refused");
    assert_eq!(disable(false).await.unwrap().status(), 200);
    assert_eq!(status(token.clone()).await, 200);

    let id = generated["id"].as_str().unwrap();
    let r = app.client.delete(format!("{keys_url}/{id}")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(token).await, 401, "a removed key's tokens are refused on the next request");
    assert_eq!(status(uploaded_token).await, 200);
}

/// Secret names and app events through the admin API, with the member role's
/// limits: members manage app events but not secrets.
#[tokio::test]
async fn secret_names_and_app_events_through_the_admin_api() {
    use serde_json::json;
    let app = spawn_app(&[]).await;
    let store = weft_store::open(&app._dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, _) = project_with_token(store.as_ref(), "Config").await;
    let admin = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    let member = api_key(store.as_ref(), &project, weft_store::Role::Member).await;
    let base = format!("{}/admin/projects/{project}", app.base);
    let c = &app.client;
    let r = c
        .post(format!("{base}/secrets"))
        .bearer_auth(&admin)
        .json(&json!({"name": "SLACK_CHANNEL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(format!("{base}/secrets"))
        .bearer_auth(&admin)
        .json(&json!({"name": "SLACK_CHANNEL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "duplicate secret name");
    let r = c.post(format!("{base}/secrets")).bearer_auth(&member).json(&json!({"name": "X"})).send().await.unwrap();
    assert_eq!(r.status(), 403, "members may not manage secrets");
    let listed: Value =
        c.get(format!("{base}/secrets")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["name"], "SLACK_CHANNEL");

    let event = json!({"name": "Contact Created", "examplePayload": {"email": "a@b.c"}});
    let r = c.put(format!("{base}/app-events")).bearer_auth(&member).json(&event).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let replaced = json!({"name": "Contact Created", "examplePayload": {"email": "x@y.z", "id": 1}});
    c.put(format!("{base}/app-events")).bearer_auth(&member).json(&replaced).send().await.unwrap();
    let listed: Value =
        c.get(format!("{base}/app-events")).bearer_auth(&member).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["examplePayload"], json!({"email": "x@y.z", "id": 1}));
    let r = c.delete(format!("{base}/app-events/Contact%20Created")).bearer_auth(&member).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let listed: Value =
        c.get(format!("{base}/app-events")).bearer_auth(&member).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed, json!([]));
}

/// C1.21: one address guessing keys gets 429 after the configured number of
/// failures, before any key is checked; another address is unaffected.
#[tokio::test]
async fn brute_force_from_one_address_is_throttled() {
    let app = spawn_app_with(&[], |s| s.auth.max_failures_per_minute = 20).await;
    let attacker =
        reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().ok()).build().unwrap();
    let mut statuses = Vec::new();
    for i in 0..100 {
        let r = attacker
            .get(format!("{}/admin/projects", app.base))
            .bearer_auth(format!("weft_key_guess{i}"))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // The valid key from that address is refused too while throttled...
    let r = attacker.get(format!("{}/admin/projects", app.base)).bearer_auth(&app.operator_key).send().await.unwrap();
    assert_eq!(r.status(), 429);
    // ...while another address authenticates normally.
    let r = app.client.get(format!("{}/admin/projects", app.base)).bearer_auth(&app.operator_key).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A fresh PostgreSQL database on the local server, dropped on drop.
struct PgDatabase {
    name: String,
}

impl PgDatabase {
    fn create() -> Self {
        let name = format!("weft_e2e_{}", uuid_simple());
        let ok = std::process::Command::new("psql")
            .args(["-h", "/var/run/postgresql", "-U", "postgres", "-q", "-c", &format!("CREATE DATABASE {name}")])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "PostgreSQL must be running locally for this test (.ci/run starts it)");
        Self { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@localhost/{}?host=/var/run/postgresql", self.name)
    }

    fn dump(&self) -> Vec<u8> {
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
        let _ = std::process::Command::new("psql")
            .args(["-h", "/var/run/postgresql", "-U", "postgres", "-q", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .status();
    }
}

fn uuid_simple() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}{:x}", t, std::process::id())
}

/// The server on PostgreSQL (`database.url`): admin API, signing key, user
/// token, `/sdk/me`; and `pg_dump` holds neither API keys nor private keys.
#[tokio::test]
async fn runs_on_postgresql_and_the_dump_holds_no_secrets() {
    use serde_json::json;
    let db = PgDatabase::create();
    let url = db.url();
    let app = spawn_app_with(&[], |s| s.database.url = Some(url)).await;
    assert!(!app._dir.path().join("weft.db").exists(), "no SQLite file when PostgreSQL is configured");
    let created: Value = app
        .client
        .post(format!("{}/admin/projects", app.base))
        .bearer_auth(&app.operator_key)
        .json(&json!({"name": "On Postgres", "environment": "staging", "releaseGroupId": "0b8f6f8e-3e58-4f5f-9d0f-5d2f1f0e7a11"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["project"]["environment"], "staging");
    assert_eq!(created["project"]["releaseGroupId"], "0b8f6f8e-3e58-4f5f-9d0f-5d2f1f0e7a11");
    let project = created["project"]["id"].as_str().unwrap().to_owned();
    let admin = created["apiKey"]["key"].as_str().unwrap().to_owned();
    let base = format!("{}/admin/projects/{project}", app.base);
    let key: Value = app
        .client
        .post(format!("{base}/signing-keys"))
        .bearer_auth(&admin)
        .json(&json!({"generate": true, "kid": "pg"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let private = key["privateKeyPem"].as_str().unwrap().to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = weft_auth::mint_user_token(&private, Some("pg"), "pg-user", now, 600).unwrap();
    let me = format!("{}/projects/{project}/sdk/me", app.base);
    let r = app.client.patch(&me).bearer_auth(&token).json(&json!({"meta": {"Name": "P"}})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = app.client.get(&me).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!((body["userId"].as_str(), &body["meta"]), (Some("pg-user"), &json!({"Name": "P"})));
    // Integration get and patch (absent fields kept, null clears).
    let created: Value = app
        .client
        .post(format!("{base}/integrations"))
        .bearer_auth(&admin)
        .json(&json!({"type": "slack", "clientId": "abc", "scopes": ["chat:write"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let integration = format!("{base}/integrations/{}", created["id"].as_str().unwrap());
    let patched: Value = app
        .client
        .patch(&integration)
        .bearer_auth(&admin)
        .json(&json!({"active": true, "clientId": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((patched["active"].as_bool(), patched["clientId"].is_null()), (Some(true), true));
    let got: Value = app.client.get(&integration).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["scopes"], json!(["chat:write"]), "absent fields are kept");

    let dump = db.dump();
    let text = String::from_utf8_lossy(&dump);
    assert!(text.contains("pg-user"), "the dump is real and holds the user");
    for secret in [admin.as_str(), app.operator_key.as_str(), "PRIVATE KEY"] {
        assert!(!text.contains(secret), "pg_dump holds {secret:.20}");
    }
}

/// Random bytes in the Authorization header: always a clean 4xx, never a
/// crash, and the server keeps answering its health probe.
#[tokio::test]
async fn random_authorization_headers_never_break_the_server() {
    let app = spawn_app(&[]).await;
    let me = format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base);
    let mut seed = 0x2545f4914f6cdd1du64;
    for i in 0..300 {
        let len = (seed % 300) as usize;
        let value: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(
                    b" !#$%&'*+-.0123456789ABCXYZabcxyz^_`|~=/{}\"".get((seed % 45) as usize).copied().unwrap_or(b'.'),
                )
            })
            .collect();
        let header = if i % 2 == 0 { format!("Bearer {value}") } else { value };
        let Ok(r) = app.client.get(&me).header("authorization", header.trim()).send().await else { continue };
        assert!((400..500).contains(&r.status().as_u16()), "{header:?}: {}", r.status());
        let admin = app.client.get(format!("{}/admin/projects", app.base)).header("authorization", header.trim());
        if let Ok(r) = admin.send().await {
            assert!((400..500).contains(&r.status().as_u16()), "{header:?}: {}", r.status());
        }
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// C1.13 through HTTP: a project whose JWKS cannot be fetched (nothing
/// cached) answers 503 quickly, not a hang and not a 401 blaming the token.
#[tokio::test]
async fn unreachable_jwks_with_an_empty_cache_is_503() {
    use serde_json::json;
    let app = spawn_app(&[]).await;
    let store = weft_store::open(&app._dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, _) = project_with_token(store.as_ref(), "Jwks").await;
    let admin = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = app
        .client
        .post(format!("{}/admin/projects/{project}/signing-keys", app.base))
        .bearer_auth(&admin)
        .json(&json!({"jwksUrl": format!("http://127.0.0.1:{port}/jwks")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (private, _) = weft_auth::generate_signing_key().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = weft_auth::mint_user_token(&private, Some("from-idp"), "u", now, 600).unwrap();
    let started = Instant::now();
    let r = app.client.get(format!("{}/projects/{project}/sdk/me", app.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "KEYS_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
