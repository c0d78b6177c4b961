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
    weft_tests::logs::install();
    let dir = data_dir_with(plugins);
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.data_dir = dir.path().to_owned();
    let app = Application::build(settings).await.expect("build app");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        _dir: dir,
        stop: Some(stop),
    }
}

impl TestApp {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
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
    assert_eq!(
        ids,
        ["example-step", "test-echo"],
        "the filesystem plugin must be refused"
    );
    let echo = &plugins[1];
    assert_eq!(echo["world"], "integration");
    assert_eq!(echo["metadata"]["name"], "Test Echo");
    let action = echo["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "ECHO")
        .unwrap();
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
    let r = app
        .client
        .get(format!("{}/plugins/x", app.base))
        .header("x-request-id", "req-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["meta"]["requestId"], "req-abc");
}

#[tokio::test]
async fn sdk_routes_answer_cors_preflights_with_the_sdk_headers() {
    let app = spawn_app(&[]).await;
    let r = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/projects/00000000-0000-4000-8000-000000000000/sdk/me", app.base),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-paragon-credential",
        )
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
        .get(format!(
            "{}/projects/00000000-0000-4000-8000-000000000000/sdk/me",
            app.base
        ))
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
    let path = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join(format!("weft{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} missing: run the tests with `cargo xtask test`",
        path.display()
    );
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
    assert!(
        out.status.success(),
        "weft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        printed.iter().any(|l| l.trim_start().starts_with("weft_op_")),
        "{printed:?}"
    );
    let body: Value = reqwest::get(format!("{base}/plugins"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["plugins"][0]["id"], "test-echo");
    let pid = child.id().unwrap() as i32;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops within 10 s")
        .unwrap();
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
    let token = weft_cli(
        dir.path(),
        &["token", "mint", "--project", &project, "--user", "user-42"],
    )
    .trim()
    .to_owned();
    let other = weft_cli(dir.path(), &["project", "create", "--name", "Other"]);
    let other = other.split_whitespace().nth(2).unwrap().to_owned();
    let other_token = weft_cli(dir.path(), &["token", "mint", "--project", &other, "--user", "user-42"])
        .trim()
        .to_owned();
    let (_child, _, base) = start_binary(dir.path()).await;
    let client = reqwest::Client::new();
    let me = format!("{base}/projects/{project}/sdk/me");

    let r = client.get(&me).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"authenticated": true, "userId": "user-42", "integrations": {}, "meta": {}})
    );

    let r = client
        .patch(&me)
        .bearer_auth(&token)
        .json(&serde_json::json!({"meta": {"Email": "a@b.c"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = client
        .get(&me)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"], serde_json::json!({"Email": "a@b.c"}));
    // The reference also accepts the token without the Bearer scheme.
    let r = client.get(&me).header("authorization", &token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    for (auth, why) in [
        (None, "no token"),
        (Some("garbage"), "garbage"),
        (Some(other_token.as_str()), "other project's token"),
    ] {
        let mut req = client.get(&me);
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{why}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHORIZED", "{why}");
        assert!(
            body["meta"]["requestId"].as_str().is_some_and(|id| !id.is_empty()),
            "{why}"
        );
    }
    let r = client
        .patch(&me)
        .bearer_auth(&token)
        .json(&serde_json::json!({"meta": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    for path in ["sdk/metadata", "sdk/integrations"] {
        let r = client
            .get(format!("{base}/projects/{project}/{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
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
    let key = first
        .take_first_operator_key()
        .expect("first start creates the operator key");
    let key = secrecy::ExposeSecret::expose_secret(&key).to_owned();
    assert!(key.starts_with("weft_op_"), "{key}");
    assert!(first.take_first_operator_key().is_none(), "shown once");
    drop(first);
    assert!(dir.path().join("weft.db").is_file());
    let mut second = Application::build(settings()).await.unwrap();
    assert!(
        second.take_first_operator_key().is_none(),
        "a restart keeps the existing key"
    );
    // Only the hash is stored.
    let db = std::fs::read(dir.path().join("weft.db")).unwrap();
    let wal = std::fs::read(dir.path().join("weft.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "plaintext operator key on disk"
        );
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

/// Every route of the route table × every kind of caller. Expectations come
/// from each route's declared access, so a new route is covered the moment
/// it is registered, and a new kind of access does not compile here until
/// the matrix says what it expects.
#[tokio::test]
async fn authorization_matrix_over_the_route_table() {
    use weft_api::Access;
    let app = spawn_app(&["test_echo"]).await;
    let store = weft_store::open(&app._dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, token) = project_with_token(store.as_ref(), "A").await;
    let (_, other_token) = project_with_token(store.as_ref(), "B").await;
    let principals: [(&str, Option<String>); 4] = [
        ("same-project user", Some(format!("Bearer {token}"))),
        ("other-project user", Some(format!("Bearer {other_token}"))),
        ("none", None),
        ("malformed", Some("Bearer not.a.jwt".into())),
    ];
    let table = weft_api::route_table();
    assert!(table.len() >= 8, "{table:?}");
    let mut checked = 0;
    for route in &table {
        let path = route.path.replace("{projectId}", &project).replace("{id}", "test-echo");
        for (who, auth) in &principals {
            let mut req = app.client.request(route.method.clone(), format!("{}{path}", app.base));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            if route.method != reqwest::Method::GET {
                req = req.json(&serde_json::json!({}));
            }
            let status = req.send().await.unwrap().status().as_u16();
            let ok = match (route.access, *who) {
                (Access::Public, _) => status < 400,
                (Access::User, "same-project user") => (200..300).contains(&status) || status == 400,
                (Access::User, _) => status == 401,
            };
            assert!(ok, "{} {} as {who}: {status} (access {:?})", route.method, route.path, route.access);
            checked += 1;
        }
    }
    assert_eq!(checked, table.len() * principals.len());
}
