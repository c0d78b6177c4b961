//! Custom webhooks (issue 19): a custom integration's definition describes
//! webhook triggers, and their events start workflows like a plugin's, on
//! SQLite and on PostgreSQL. Against a strict mock provider with a webhook
//! API (`task_hooks`):
//! - a programmatic hook is registered when a user turns a workflow on
//!   (as that user's account, at the subscription's URL) and removed when
//!   they turn it off;
//! - a manual hook is the trigger's shared URL plus `?id=<credentialId>`;
//! - an app-level hook routes each event by a payload field to the account
//!   with that `providerId`;
//! - a forged or unsigned delivery is answered 401 and starts nothing;
//! - the provider's handshake is answered as the definition says.

use crate::support::*;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use weft_store::Role;
use weft_tests::mock_providers::MockServer;
use weft_tests::mock_providers::task_hooks::{self, TaskHooks};

const SIGNING: &str = "tasks-signing-secret-3c9e";
const APP_SIGNING: &str = "tasks-app-signing-secret-81d0";

struct Ctx {
    app: TestApp,
    _db: Option<PgDatabase>,
    provider: MockServer<TaskHooks>,
    project: String,
    admin: String,
    private_pem: String,
}

impl Ctx {
    async fn start(postgres: bool) -> Self {
        let (app, db) = spawn_app_on(postgres).await;
        let provider = task_hooks::start().await;
        provider.with(|p| {
            p.accept("ada-key", "acct-ada");
            p.accept("bob-key", "acct-bob");
        });
        let (project, private_pem) = project_with_key(app.store.as_ref(), "Hooks").await;
        let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
        Self { app, _db: db, provider, project, admin, private_pem }
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

    /// Connects `user`'s account with `key`: its credential id.
    async fn connect(&self, user: &str, key: &str) -> String {
        let fields = json!({"fields": {"api_key": key}});
        let (status, credential) = self.sdk(user, Method::POST, "connect/custom.tasks/credentials", Some(fields)).await;
        assert_eq!(status, 201, "{credential}");
        credential["id"].as_str().unwrap().to_owned()
    }

    /// Creates and deploys a workflow on `trigger`: its id.
    async fn deploy(&self, trigger: &str) -> String {
        let definition = json!({
            "name": format!("On {trigger}"), "integration": "custom.tasks",
            "trigger": {"type": "integration", "event": trigger},
            "steps": [{"id": "me", "type": "integrationRequest", "method": "GET", "url": "/me"}],
        });
        let (status, created) = self.admin(Method::POST, "/workflows", Some(definition)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, body) = self.admin(Method::POST, &format!("/workflows/{id}/deploy"), None).await;
        assert_eq!(status, 200, "{body}");
        id
    }

    async fn turn(&self, user: &str, workflow: &str, on: bool) {
        let method = if on { Method::POST } else { Method::DELETE };
        let (status, body) = self.sdk(user, method, &format!("workflows/{workflow}"), None).await;
        assert_eq!(status, 200, "{body}");
    }

    /// Posts `body` to `url` with the signature header `header`, if any.
    async fn deliver(&self, url: &str, header: Option<(&str, String)>, body: &Value) -> u16 {
        let mut req = self.app.client.post(url).header("content-type", "application/json").body(body.to_string());
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        req.send().await.unwrap().status().as_u16()
    }

    async fn executions(&self, workflow: &str) -> Vec<Value> {
        workflow_executions(&self.app, &self.project, &self.admin, workflow).await
    }

    async fn settled(&self, workflow: &str, n: usize) -> Vec<Value> {
        settled_executions(&self.app, &self.project, &self.admin, workflow, n).await
    }

    fn shared_url(&self, trigger: &str) -> String {
        format!("{}/webhooks/{}/custom.tasks/{trigger}", self.app.base, self.project)
    }
}

fn definition(base: &str) -> Value {
    let signed =
        json!({"header": "X-Tasks-Signature", "prefix": "sha256=", "secret": {"environment": "TASKS_SIGNING"}});
    json!({
        "id": "custom.tasks", "name": "Tasks", "baseUrl": base,
        "auth": {"type": "api-key", "location": "header", "name": "X-Tasks-Key"},
        "connectionTest": {"path": "/me", "accountId": "/id", "accountName": "/name"},
        "webhooks": [
            {"key": "taskCreated", "name": "Task Created", "eventId": "/eventId", "verification": signed,
             "handshake": {"when": {"query": "validationToken"},
                           "response": {"body": "{{request.query.validationToken}}"}}},
            {"key": "taskDone", "name": "Task Done", "verification": signed,
             "setup": {"type": "api",
                "subscribe": {"url": "/hooks", "body": {"url": "{{settings.webhookURL}}", "events": ["task.done"]}},
                "unsubscribe": {"method": "DELETE", "url": "/hooks/{{response.id}}"}}},
            {"key": "accountEvent", "name": "Account Event", "level": "app", "routing": {"field": "/account"},
             "verification": {"header": "X-Tasks-App-Signature", "encoding": "base64",
                              "secret": {"environment": "TASKS_APP_SIGNING"}}},
        ],
    })
}

/// The app-level signature: HMAC-SHA256 of the body, base64.
fn app_signature(body: &Value) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SIGNING.as_bytes()).unwrap();
    mac.update(body.to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn signed(body: &Value) -> Option<(&'static str, String)> {
    Some(("x-tasks-signature", task_hooks::sign(SIGNING, body.to_string().as_bytes())))
}

async fn custom_webhooks(postgres: bool) {
    let cx = Ctx::start(postgres).await;
    // Mistakes in a webhook trigger are refused with their path.
    let mistakes = [
        ("/webhooks/2/verification/algorithm", json!("md5")),
        ("/webhooks/1/setup/subscribe/url", json!("https://169.254.169.254/hooks")),
    ];
    for (path, value) in mistakes {
        let mut bad = definition(&cx.provider.base);
        let (parent, field) = path.rsplit_once('/').unwrap();
        bad.pointer_mut(parent).unwrap()[field] = value;
        let body = json!({"type": "custom.tasks", "active": true, "definition": bad});
        let (status, refused) = cx.admin(Method::POST, "/integrations", Some(body)).await;
        assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_DEFINITION")), "{refused}");
        let problems = refused["meta"]["problems"].as_array().unwrap();
        assert!(problems.iter().any(|p| p["path"] == path), "{path}: {refused}");
    }
    let (status, created) = cx
        .admin(
            Method::POST,
            "/integrations",
            Some(json!({
                "type": "custom.tasks", "active": true, "definition": definition(&cx.provider.base),
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    set_secret(&cx.app, &cx.project, &cx.admin, "TASKS_SIGNING", SIGNING).await;
    set_secret(&cx.app, &cx.project, &cx.admin, "TASKS_APP_SIGNING", APP_SIGNING).await;
    let ada = cx.connect("ada", "ada-key").await;
    let bob = cx.connect("bob", "bob-key").await;

    // A workflow on a trigger the definition does not have is refused.
    let wrong = json!({"name": "x", "integration": "custom.tasks", "trigger": {"type": "integration", "event": "nope"},
                       "steps": [{"id": "me", "type": "integrationRequest", "method": "GET", "url": "/me"}]});
    let (status, created) = cx.admin(Method::POST, "/workflows", Some(wrong)).await;
    assert_eq!(status, 201, "a draft may name anything: {created}");
    let id = created["id"].as_str().unwrap();
    let (status, refused) = cx.admin(Method::POST, &format!("/workflows/{id}/deploy"), None).await;
    assert_eq!((status, refused["meta"]["problems"][0]["path"].as_str()), (400, Some("/trigger/event")), "{refused}");

    // Programmatic: turning the workflow on registers a hook as the user's
    // account, at the subscription's own URL.
    let done = cx.deploy("taskDone").await;
    cx.turn("ada", &done, true).await;
    let hooks = cx.provider.with(|p| p.hooks.clone());
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(
        (hooks[0].account.as_str(), hooks[0].events.as_slice()),
        ("acct-ada", ["task.done".to_owned()].as_slice())
    );
    let prefix = format!("{}/webhooks/{}/custom.tasks/", cx.app.base, cx.project);
    assert!(hooks[0].url.starts_with(&prefix), "{hooks:?}");
    let event = json!({"type": "task.done", "task": {"id": "T-1"}});
    // Forged and unsigned deliveries are refused and start nothing.
    let forged = Some(("x-tasks-signature", task_hooks::sign("not-the-secret", event.to_string().as_bytes())));
    assert_eq!(cx.deliver(&hooks[0].url, forged, &event).await, 401);
    assert_eq!(cx.deliver(&hooks[0].url, None, &event).await, 401);
    let tampered = json!({"type": "task.done", "task": {"id": "T-2"}});
    assert_eq!(cx.deliver(&hooks[0].url, signed(&event), &tampered).await, 401);
    assert_eq!(cx.deliver(&hooks[0].url, signed(&event), &event).await, 200);
    let runs = cx.settled(&done, 1).await;
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("ada"), Some("SUCCEEDED")), "{runs:?}");
    // Turning it off removes the hook, as the user's account.
    cx.turn("ada", &done, false).await;
    assert_eq!(cx.provider.with(|p| (p.hooks.len(), p.removed.clone())), (0, vec![hooks[0].id.clone()]));
    let removal = cx.provider.calls().into_iter().rfind(|c| c.method == "DELETE").unwrap();
    assert_eq!((removal.status, removal.header("x-tasks-key")), (204, Some("ada-key")));

    // Manual, user-level: the shared URL plus the account's id.
    let created_wf = cx.deploy("taskCreated").await;
    cx.turn("ada", &created_wf, true).await;
    cx.turn("bob", &created_wf, true).await;
    let bobs_url = format!("{}?id={bob}", cx.shared_url("taskCreated"));
    // The provider's handshake (unsigned) is answered as the definition
    // says, and starts nothing.
    let check = cx.app.client.post(format!("{bobs_url}&validationToken=vt-77")).send().await.unwrap();
    assert_eq!(check.status().as_u16(), 200);
    assert_eq!(check.headers()["content-type"], "text/plain");
    assert_eq!(check.headers()["content-security-policy"], "sandbox", "an echo never runs as a page");
    assert_eq!(check.text().await.unwrap(), "vt-77");
    let event = json!({"eventId": "E-1", "task": {"id": "T-3"}});
    assert_eq!(cx.deliver(&bobs_url, None, &event).await, 401);
    assert_eq!(cx.deliver(&bobs_url, signed(&event), &event).await, 200);
    let runs = cx.settled(&created_wf, 1).await;
    assert_eq!(runs[0]["userId"], "bob", "{runs:?}");
    // The same event again starts nothing more; another starts Ada's.
    assert_eq!(cx.deliver(&bobs_url, signed(&event), &event).await, 200);
    let adas = json!({"eventId": "E-2", "task": {"id": "T-4"}});
    let adas_url = format!("{}?id={ada}", cx.shared_url("taskCreated"));
    assert_eq!(cx.deliver(&adas_url, signed(&adas), &adas).await, 200);
    let runs = cx.settled(&created_wf, 2).await;
    let users: Vec<&str> = runs.iter().filter_map(|r| r["userId"].as_str()).collect();
    assert_eq!(users, ["bob", "ada"]);
    // An id that is no account of this integration in this project.
    let nobody = format!("{}?id=00000000-0000-4000-8000-000000000001", cx.shared_url("taskCreated"));
    assert_eq!(cx.deliver(&nobody, signed(&adas), &adas).await, 404);
    // Without the id a user-level URL names no account.
    assert_eq!(cx.deliver(&cx.shared_url("taskCreated"), signed(&adas), &adas).await, 400);

    // App-level: the payload's `account` is the account's providerId.
    let account_wf = cx.deploy("accountEvent").await;
    cx.turn("ada", &account_wf, true).await;
    cx.turn("bob", &account_wf, true).await;
    let for_bob = json!({"account": "acct-bob", "change": "renamed"});
    let url = cx.shared_url("accountEvent");
    let wrong_key = Some(("x-tasks-app-signature", task_hooks::sign(SIGNING, for_bob.to_string().as_bytes())));
    assert_eq!(cx.deliver(&url, wrong_key, &for_bob).await, 401);
    assert_eq!(cx.deliver(&url, Some(("x-tasks-app-signature", app_signature(&for_bob))), &for_bob).await, 200);
    let runs = cx.settled(&account_wf, 1).await;
    assert_eq!(runs[0]["userId"], "bob", "{runs:?}");
    let for_ada = json!({"account": "acct-ada", "change": "closed"});
    assert_eq!(cx.deliver(&url, Some(("x-tasks-app-signature", app_signature(&for_ada))), &for_ada).await, 200);
    let runs = cx.settled(&account_wf, 2).await;
    assert_eq!(runs[1]["userId"], "ada", "{runs:?}");

    // Every refused delivery started nothing: the counts are exactly the
    // accepted ones.
    assert_eq!(cx.executions(&done).await.len(), 1);
    assert_eq!(cx.executions(&created_wf).await.len(), 2);
    assert_eq!(cx.executions(&account_wf).await.len(), 2);
}

#[tokio::test]
async fn custom_webhooks_subscribe_verify_and_route_on_sqlite() {
    custom_webhooks(false).await;
}

#[tokio::test]
async fn custom_webhooks_subscribe_verify_and_route_on_postgresql() {
    custom_webhooks(true).await;
}
