//! The API Resource trigger (issue 19, ISSUE-NOTES correction 7): a
//! resource's `triggers` are custom-webhook triggers on the resource's
//! connection. A user's hook is registered at the API, as their resource
//! connection, once they have both connected the resource and enabled a
//! workflow on the trigger; signed deliveries start their workflows, forged
//! ones are refused; turning the workflow off removes the hook. On SQLite
//! and on PostgreSQL, against the strict mock API (`resource_api`).

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use weft_store::Role;
use weft_tests::mock_providers::resource_api::{self, ClientAuth};
use weft_tests::mock_providers::task_hooks;

const SIGNING: &str = "ledger-signing-secret-5d2a";

async fn resource_trigger(postgres: bool) {
    let (app, _db) = spawn_app_on(postgres).await;
    let api = resource_api::start("eu").await;
    api.with(|api| {
        api.client("ledger-app", "ledger-secret", ClientAuth::Basic);
        api.issue("acct-ada", "at-ada", "rt-ada");
        api.issue("acct-bob", "at-bob", "rt-bob");
    });
    let (project, pem) = project_with_key(app.store.as_ref(), "Resource triggers").await;
    let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let token = |user: &str| weft_auth::mint_user_token(&pem, Some("k"), user, now_unix(), 3600).unwrap();
    let admin_call = |method: Method, path: String, body: Option<Value>| {
        let (app, admin, project) = (&app, &admin, &project);
        async move { app.call(method, &format!("/admin/projects/{project}{path}"), Some(admin), body).await }
    };
    let sdk = |user: &'static str, method: Method, path: String, body: Option<Value>| {
        let (app, project, token) = (&app, &project, token(user));
        async move { app.call(method, &format!("/projects/{project}/sdk/{path}"), Some(&token), body).await }
    };
    set_secret(&app, &project, &admin, "LEDGER_SIGNING", SIGNING).await;

    let resource = json!({
        "name": "Ledgerly",
        "auth": {"type": "oauth2-refresh-token", "accessTokenUrl": format!("{}/oauth/token", api.base),
                 "clientId": "ledger-app"},
        "clientSecret": "ledger-secret",
        "inputs": ["region"],
        "baseUrl": format!("{}/{{{{region}}}}", api.base),
        "userProfile": {"path": "/me", "id": "/id"},
        "triggers": [{
            "key": "entryPosted", "name": "Entry Posted",
            "verification": {"header": "X-Ledger-Signature", "prefix": "sha256=",
                             "secret": {"environment": "LEDGER_SIGNING"}},
            "setup": {"type": "api", "subscribe": {"url": "/hooks", "body": {"url": "{{settings.webhookURL}}"}},
                      "unsubscribe": {"method": "DELETE", "url": "/hooks/{{response.id}}"}},
        }],
    });
    // A trigger's setup request may only go where the resource's requests go.
    let mut bad = resource.clone();
    bad["triggers"][0]["setup"]["subscribe"]["url"] = json!("https://elsewhere.example/hooks");
    let (status, refused) = admin_call(Method::POST, "/resources".into(), Some(bad)).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["meta"]["problems"][0]["path"], "/triggers/0/setup/subscribe/url", "{refused}");
    let (status, created) = admin_call(Method::POST, "/resources".into(), Some(resource)).await;
    assert_eq!(status, 201, "{created}");
    let (id, integration) =
        (created["id"].as_str().unwrap().to_owned(), created["integrationType"].as_str().unwrap().to_owned());

    let workflow = json!({
        "name": "On entries", "integration": integration,
        "trigger": {"type": "integration", "event": "entryPosted"},
        "steps": [{"id": "call", "type": "resourceRequest", "resource": id, "method": "GET", "url": "/me"}],
    });
    let (status, created) = admin_call(Method::POST, "/workflows".into(), Some(workflow)).await;
    assert_eq!(status, 201, "{created}");
    let workflow = created["id"].as_str().unwrap().to_owned();
    let (status, deployed) = admin_call(Method::POST, format!("/workflows/{workflow}/deploy"), None).await;
    assert_eq!(status, 200, "{deployed}");

    // Ada connects, then enables: her hook is registered as her connection.
    let connect = json!({"access_token": "at-ada", "refresh_token": "rt-ada", "region": "eu"});
    let (status, body) = sdk("ada", Method::POST, format!("resources/{id}/connect"), Some(connect)).await;
    assert_eq!(status, 201, "{body}");
    assert!(api.with(|a| a.hooks.is_empty()), "no hook before a workflow is on");
    let (status, body) = sdk("ada", Method::POST, format!("workflows/{workflow}"), None).await;
    assert_eq!(status, 200, "{body}");
    let hooks = api.with(|a| a.hooks.clone());
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].account, "acct-ada");
    let prefix = format!("{}/webhooks/{project}/{integration}/", app.base);
    assert!(hooks[0].url.starts_with(&prefix), "{hooks:?}");
    let registered = api.calls().into_iter().find(|c| c.path == "/eu/hooks").unwrap();
    assert_eq!(registered.header("authorization"), Some("Bearer at-ada"));

    // Bob enables first: nothing until he connects, then his own hook.
    let (status, body) = sdk("bob", Method::POST, format!("workflows/{workflow}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.with(|a| a.hooks.len()), 1);
    let connect = json!({"access_token": "at-bob", "refresh_token": "rt-bob", "region": "eu"});
    let (status, body) = sdk("bob", Method::POST, format!("resources/{id}/connect"), Some(connect)).await;
    assert_eq!(status, 201, "{body}");
    let hooks = api.with(|a| a.hooks.clone());
    assert_eq!(hooks.iter().map(|h| h.account.as_str()).collect::<Vec<_>>(), ["acct-ada", "acct-bob"]);

    // Deliveries: forged and unsigned ones are refused; a signed one starts
    // the hook's user's workflow, whose step calls the API as that user.
    let deliver = |url: String, signature: Option<String>, body: Value| {
        let client = app.client.clone();
        async move {
            let mut req = client.post(url).header("content-type", "application/json").body(body.to_string());
            if let Some(s) = signature {
                req = req.header("x-ledger-signature", s);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    let event = json!({"entry": {"id": "E-1", "amount": 12}});
    let forged = task_hooks::sign("not-the-secret", event.to_string().as_bytes());
    assert_eq!(deliver(hooks[1].url.clone(), Some(forged), event.clone()).await, 401);
    assert_eq!(deliver(hooks[1].url.clone(), None, event.clone()).await, 401);
    let signed = task_hooks::sign(SIGNING, event.to_string().as_bytes());
    assert_eq!(deliver(hooks[1].url.clone(), Some(signed), event.clone()).await, 200);
    let runs = settled_executions(&app, &project, &admin, &workflow, 1).await;
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("bob"), Some("SUCCEEDED")), "{runs:?}");
    let me = api.calls().into_iter().rfind(|c| c.path == "/eu/me").unwrap();
    assert_eq!(me.header("authorization"), Some("Bearer at-bob"));

    // Ada turns the workflow off: her hook is removed, as her connection.
    let (status, body) = sdk("ada", Method::DELETE, format!("workflows/{workflow}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.with(|a| (a.hooks.len(), a.removed.clone())), (1, vec![hooks[0].id.clone()]));
    let removal = api.calls().into_iter().rfind(|c| c.method == "DELETE").unwrap();
    assert_eq!((removal.status, removal.header("authorization")), (204, Some("Bearer at-ada")));
    assert_eq!(
        workflow_executions(&app, &project, &admin, &workflow).await.len(),
        1,
        "refused deliveries started nothing"
    );
}

#[tokio::test]
async fn a_resource_trigger_subscribes_once_connected_and_enabled_on_sqlite() {
    resource_trigger(false).await;
}

#[tokio::test]
async fn a_resource_trigger_subscribes_once_connected_and_enabled_on_postgresql() {
    resource_trigger(true).await;
}

/// One subscription per user and trigger type, and a handshake's persisted
/// secret: Ada's two workflows on one resource trigger share one hook,
/// registered once; the API's handshake hands over the hook's signing
/// secret, which verifies its deliveries and goes with the removal; each
/// delivery runs both workflows; turning one off keeps the hook, turning
/// both off removes it. A handshake replayed after the hook is live is
/// answered but keeps nothing.
async fn shared_resource_trigger(postgres: bool) {
    let (app, _db) = spawn_app_on(postgres).await;
    let api = resource_api::start("eu").await;
    api.with(|api| {
        api.client("ledger-app", "ledger-secret", ClientAuth::Basic);
        api.issue("acct-ada", "at-ada", "rt-ada");
        api.handshakes(true);
    });
    let (project, pem) = project_with_key(app.store.as_ref(), "Shared resource triggers").await;
    let admin = api_key(app.store.as_ref(), &project, Role::Admin).await;
    let token = weft_auth::mint_user_token(&pem, Some("k"), "ada", now_unix(), 3600).unwrap();
    let admin_call = |method: Method, path: String, body: Option<Value>| {
        let (app, admin, project) = (&app, &admin, &project);
        async move { app.call(method, &format!("/admin/projects/{project}{path}"), Some(admin), body).await }
    };
    let sdk = |method: Method, path: String, body: Option<Value>| {
        let (app, project, token) = (&app, &project, &token);
        async move { app.call(method, &format!("/projects/{project}/sdk/{path}"), Some(token), body).await }
    };
    let mut resource = json!({
        "name": "Ledgerly",
        "auth": {"type": "oauth2-refresh-token", "accessTokenUrl": format!("{}/oauth/token", api.base),
                 "clientId": "ledger-app"},
        "clientSecret": "ledger-secret",
        "inputs": ["region"],
        "baseUrl": format!("{}/{{{{region}}}}", api.base),
        "userProfile": {"path": "/me", "id": "/id"},
        "triggers": [{
            "key": "entryPosted", "name": "Entry Posted",
            "verification": {"header": "X-Ledger-Signature", "prefix": "sha256=", "secret": {"persisted": "secret"}},
            "handshake": {"when": {"header": "X-Hook-Secret"},
                          "response": {"headers": {"X-Hook-Secret": "{{request.headers.x-hook-secret}}"},
                                       "persist": {"secret": "{{request.headers.x-hook-secret}}"}}},
            "setup": {"type": "api", "subscribe": {"url": "/hooks", "body": {"url": "{{settings.webhookURL}}"}},
                      "unsubscribe": {"method": "DELETE", "url": "/hooks/{{response.id}}",
                                      "headers": {"X-Hook-Secret": "{{persisted.secret}}"}}},
        }],
    });
    // A persisted value must be one the handshake keeps.
    let mut bad = resource.clone();
    bad["triggers"][0]["verification"]["secret"] = json!({"persisted": "token"});
    let (status, refused) = admin_call(Method::POST, "/resources".into(), Some(bad)).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["meta"]["problems"][0]["path"], "/triggers/0/verification/secret/persisted", "{refused}");
    let (status, created) = admin_call(Method::POST, "/resources".into(), Some(resource.take())).await;
    assert_eq!(status, 201, "{created}");
    let (id, integration) =
        (created["id"].as_str().unwrap().to_owned(), created["integrationType"].as_str().unwrap().to_owned());
    let mut workflows = Vec::new();
    for name in ["Book", "Notify"] {
        let workflow = json!({
            "name": name, "integration": integration,
            "trigger": {"type": "integration", "event": "entryPosted"},
            "steps": [{"id": "call", "type": "resourceRequest", "resource": id, "method": "GET", "url": "/me"}],
        });
        let (status, created) = admin_call(Method::POST, "/workflows".into(), Some(workflow)).await;
        assert_eq!(status, 201, "{created}");
        let workflow = created["id"].as_str().unwrap().to_owned();
        let (status, deployed) = admin_call(Method::POST, format!("/workflows/{workflow}/deploy"), None).await;
        assert_eq!(status, 200, "{deployed}");
        workflows.push(workflow);
    }
    let connect = json!({"access_token": "at-ada", "refresh_token": "rt-ada", "region": "eu"});
    let (status, body) = sdk(Method::POST, format!("resources/{id}/connect"), Some(connect)).await;
    assert_eq!(status, 201, "{body}");
    for w in &workflows {
        let (status, body) = sdk(Method::POST, format!("workflows/{w}"), None).await;
        assert_eq!(status, 200, "{body}");
    }
    let registrations = || api.calls().into_iter().filter(|c| c.method == "POST" && c.path == "/eu/hooks").count();
    assert_eq!(registrations(), 1, "one subscription for the user and trigger type");
    let hooks = api.with(|a| a.hooks.clone());
    assert_eq!((hooks.len(), hooks[0].secret.as_deref()), (1, Some("hs-1")), "{hooks:?}");

    let deliver = |signature: String, body: Value| {
        let (client, url) = (app.client.clone(), hooks[0].url.clone());
        async move {
            let req =
                client.post(url).header("content-type", "application/json").header("x-ledger-signature", signature);
            req.body(body.to_string()).send().await.unwrap().status().as_u16()
        }
    };
    let first = json!({"entry": {"id": "E-1"}});
    let sign = |secret: &str, body: &Value| task_hooks::sign(secret, body.to_string().as_bytes());
    assert_eq!(deliver(sign("not-the-secret", &first), first.clone()).await, 401);
    assert_eq!(deliver(sign("hs-1", &first), first.clone()).await, 200);
    for w in &workflows {
        let runs = settled_executions(&app, &project, &admin, w, 1).await;
        assert_eq!((runs.len(), runs[0]["status"].as_str()), (1, Some("SUCCEEDED")), "{runs:?}");
    }
    // A handshake replayed on the live hook's URL is answered but keeps
    // nothing: its secret does not sign deliveries.
    let replay = app.client.post(&hooks[0].url).header("x-hook-secret", "forged-secret").send().await.unwrap();
    assert_eq!(replay.status().as_u16(), 200);
    let second = json!({"entry": {"id": "E-2"}});
    assert_eq!(deliver(sign("forged-secret", &second), second.clone()).await, 401);

    // One workflow off: the hook stays, and only the other one runs.
    let (status, body) = sdk(Method::DELETE, format!("workflows/{}", workflows[0]), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.with(|a| (a.hooks.len(), a.removed.len())), (1, 0));
    assert_eq!(deliver(sign("hs-1", &second), second.clone()).await, 200);
    let runs = settled_executions(&app, &project, &admin, &workflows[1], 2).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    // Both off: removed, with the secret the handshake handed over.
    let (status, body) = sdk(Method::DELETE, format!("workflows/{}", workflows[1]), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.with(|a| (a.hooks.len(), a.removed.clone())), (0, vec![hooks[0].id.clone()]));
    let removal = api.calls().into_iter().rfind(|c| c.method == "DELETE").unwrap();
    assert_eq!((removal.status, removal.header("x-hook-secret")), (204, Some("hs-1")));
    assert_eq!(registrations(), 1);
    assert_eq!(workflow_executions(&app, &project, &admin, &workflows[0]).await.len(), 1, "off before E-2");
}

#[tokio::test]
async fn a_users_workflows_share_one_resource_subscription_with_a_persisted_secret_on_sqlite() {
    shared_resource_trigger(false).await;
}

#[tokio::test]
async fn a_users_workflows_share_one_resource_subscription_with_a_persisted_secret_on_postgresql() {
    shared_resource_trigger(true).await;
}
