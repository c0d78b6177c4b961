//! A custom integration's app-level webhook set up by API requests (issue
//! 19, ISSUE-NOTES corrections 8 and additions 15): one hook for the whole
//! integration, registered when the first user turns on a workflow on the
//! trigger (as that user's account) and removed when the last one turns
//! theirs off; each delivery names its account in a header, matched against
//! the accounts' `providerId`, and one that names no account starts nothing.
//! On SQLite and on PostgreSQL, against the strict `task_hooks` provider.

use crate::support::*;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use weft_store::Role;
use weft_tests::mock_providers::task_hooks;

const APP_SIGNING: &str = "tasks-app-signing-secret-4b1f";

fn definition(base: &str) -> Value {
    json!({
        "id": "custom.tasks", "name": "Tasks", "baseUrl": base,
        "auth": {"type": "api-key", "location": "header", "name": "X-Tasks-Key"},
        "connectionTest": {"path": "/me", "accountId": "/id", "accountName": "/name"},
        "webhooks": [{
            "key": "accountChanged", "name": "Account Changed", "level": "app",
            "routing": {"header": "X-Tasks-Account"},
            "verification": {"header": "X-Tasks-App-Signature", "encoding": "base64",
                             "secret": {"environment": "TASKS_APP_SIGNING"}},
            "setup": {"type": "api",
                "subscribe": {"url": "/hooks", "body": {"url": "{{settings.webhookURL}}", "events": ["account.changed"]}},
                "unsubscribe": {"method": "DELETE", "url": "/hooks/{{response.id}}"}},
        }],
    })
}

fn app_signature(body: &Value) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SIGNING.as_bytes()).unwrap();
    mac.update(body.to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn app_level_programmatic(postgres: bool) {
    let (app, _db) = spawn_app_on(postgres).await;
    let provider = task_hooks::start().await;
    provider.with(|p| {
        p.accept("ada-key", "acct-ada");
        p.accept("bob-key", "acct-bob");
    });
    let (project, pem) = project_with_key(app.store.as_ref(), "App hooks").await;
    let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let admin_call = |method: Method, path: String, body: Option<Value>| {
        let (app, admin, project) = (&app, &admin, &project);
        async move { app.call(method, &format!("/admin/projects/{project}{path}"), Some(admin), body).await }
    };
    let sdk = |user: &str, method: Method, path: String, body: Option<Value>| {
        let token = weft_auth::mint_user_token(&pem, Some("k"), user, now_unix(), 3600).unwrap();
        let (app, project) = (&app, &project);
        async move { app.call(method, &format!("/projects/{project}/sdk/{path}"), Some(&token), body).await }
    };
    let body = json!({"type": "custom.tasks", "active": true, "definition": definition(&provider.base)});
    let (status, created) = admin_call(Method::POST, "/integrations".into(), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    set_secret(&app, &project, &admin, "TASKS_APP_SIGNING", APP_SIGNING).await;
    for (user, key) in [("ada", "ada-key"), ("bob", "bob-key")] {
        let fields = json!({"fields": {"api_key": key}});
        let (status, body) = sdk(user, Method::POST, "connect/custom.tasks/credentials".into(), Some(fields)).await;
        assert_eq!(status, 201, "{body}");
    }
    let workflow = json!({
        "name": "On account changes", "integration": "custom.tasks",
        "trigger": {"type": "integration", "event": "accountChanged"},
        "steps": [{"id": "me", "type": "integrationRequest", "method": "GET", "url": "/me"}],
    });
    let (status, created) = admin_call(Method::POST, "/workflows".into(), Some(workflow)).await;
    assert_eq!(status, 201, "{created}");
    let workflow = created["id"].as_str().unwrap().to_owned();
    let (status, body) = admin_call(Method::POST, format!("/workflows/{workflow}/deploy"), None).await;
    assert_eq!(status, 200, "{body}");

    // The first user to turn it on sets the one hook up, as their account;
    // the second changes nothing at the provider.
    let turn = |user: &'static str, on: bool| {
        let method = if on { Method::POST } else { Method::DELETE };
        let path = format!("workflows/{workflow}");
        let call = sdk(user, method, path, None);
        async move {
            let (status, body) = call.await;
            assert_eq!(status, 200, "{body}");
        }
    };
    turn("ada", true).await;
    turn("bob", true).await;
    let registrations = || provider.calls().into_iter().filter(|c| c.method == "POST" && c.path == "/hooks").count();
    assert_eq!(registrations(), 1);
    let hooks = provider.with(|p| p.hooks.clone());
    assert_eq!((hooks.len(), hooks[0].account.as_str()), (1, "acct-ada"), "{hooks:?}");
    assert_eq!(hooks[0].events, ["account.changed"]);
    let prefix = format!("{}/webhooks/{project}/custom.tasks/", app.base);
    assert!(hooks[0].url.starts_with(&prefix), "{hooks:?}");

    // Each delivery goes to the account its header names.
    let deliver = |account: Option<&str>, body: Value, signature: String| {
        let mut req = app.client.post(&hooks[0].url).header("content-type", "application/json");
        if let Some(a) = account {
            req = req.header("x-tasks-account", a);
        }
        let req = req.header("x-tasks-app-signature", signature).body(body.to_string());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let for_bob = json!({"change": "renamed"});
    assert_eq!(deliver(Some("acct-bob"), for_bob.clone(), app_signature(&json!({"other": 1}))).await, 401);
    assert_eq!(deliver(Some("acct-bob"), for_bob.clone(), app_signature(&for_bob)).await, 200);
    let runs = settled_executions(&app, &project, &admin, &workflow, 1).await;
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("bob"), Some("SUCCEEDED")), "{runs:?}");
    // Unmatched deliveries are accepted and start nothing.
    let stray = json!({"change": "stray"});
    assert_eq!(deliver(Some("acct-nobody"), stray.clone(), app_signature(&stray)).await, 200);
    let unnamed = json!({"change": "unnamed"});
    assert_eq!(deliver(None, unnamed.clone(), app_signature(&unnamed)).await, 200);
    let for_ada = json!({"change": "closed"});
    assert_eq!(deliver(Some("acct-ada"), for_ada.clone(), app_signature(&for_ada)).await, 200);
    let runs = settled_executions(&app, &project, &admin, &workflow, 2).await;
    assert_eq!(runs.iter().map(|r| r["userId"].as_str().unwrap()).collect::<Vec<_>>(), ["bob", "ada"]);

    // Ada (whose account set it up) turns hers off: the hook stays for Bob.
    turn("ada", false).await;
    assert_eq!(provider.with(|p| (p.hooks.len(), p.removed.len())), (1, 0));
    let again = json!({"change": "again"});
    assert_eq!(deliver(Some("acct-ada"), again.clone(), app_signature(&again)).await, 200);
    assert_eq!(deliver(Some("acct-bob"), again.clone(), app_signature(&again)).await, 200);
    let runs = settled_executions(&app, &project, &admin, &workflow, 3).await;
    assert_eq!(runs[2]["userId"], "bob", "{runs:?}");
    // The last one off removes it, as the account that set it up.
    turn("bob", false).await;
    assert_eq!(provider.with(|p| (p.hooks.len(), p.removed.clone())), (0, vec![hooks[0].id.clone()]));
    let removal = provider.calls().into_iter().rfind(|c| c.method == "DELETE").unwrap();
    assert_eq!((removal.status, removal.header("x-tasks-key")), (204, Some("ada-key")));
    assert_eq!(registrations(), 1);
    // Exactly the matched deliveries ran.
    assert_eq!(workflow_executions(&app, &project, &admin, &workflow).await.len(), 3);
}

#[tokio::test]
async fn an_app_level_hook_is_set_up_once_and_routes_by_header_on_sqlite() {
    app_level_programmatic(false).await;
}

#[tokio::test]
async fn an_app_level_hook_is_set_up_once_and_routes_by_header_on_postgresql() {
    app_level_programmatic(true).await;
}
