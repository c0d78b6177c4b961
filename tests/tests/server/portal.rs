//! The Connect Portal's server side: an integration's portal configuration
//! (checked by field), the portal's view of it for a user (texts, theme,
//! settings, the workflows the user may see), default-enabled workflows,
//! required settings, and the SDK and portal files the server serves.

use crate::proxy::fixture::ProxyFixture;
use crate::workflows_accounts::{executions_of, settled};
use crate::workflows_run::{deploy, fixture};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

async fn set_portal(f: &ProxyFixture, portal: Value) -> (u16, Value) {
    let path = format!("/admin/projects/{}/integrations/{}", f.project, f.integration);
    f.app.call(Method::PATCH, &path, Some(&f.admin_key), Some(json!({ "portal": portal }))).await
}

async fn portal_view(f: &ProxyFixture, user: &str, integration: &str) -> (u16, Value) {
    let path = format!("/projects/{}/sdk/portal/{integration}", f.project);
    f.app.call(Method::GET, &path, Some(&f.token(user)), None).await
}

fn names(view: &Value) -> Vec<&str> {
    view["workflows"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect()
}

/// A workflow of test-proxy with `extra` lines after its name.
fn workflow(name: &str, extra: &str) -> String {
    format!(
        "name: {name}\nintegration: test-proxy\n{extra}trigger: {{type: appEvent, event: E}}\nsteps:\n  \
         - {{id: d, type: delay, value: 1, unit: SECONDS}}\n"
    )
}

#[tokio::test]
async fn the_portal_shows_the_integrations_configuration_and_the_users_workflows_on_sqlite() {
    portal_shows(false).await;
}

#[tokio::test]
async fn the_portal_shows_the_integrations_configuration_and_the_users_workflows_on_postgresql() {
    portal_shows(true).await;
}

async fn portal_shows(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    // Refused configurations name the field, and change nothing.
    for (bad, says) in [
        (json!({"theme": "pink"}), "theme"),
        (json!({"settings": [{"id": "s", "title": "S", "type": "dropdown"}]}), "portal.settings/0/options"),
        (
            json!({"settings": [{"id": "s", "title": "S", "type": "text"}, {"id": "s", "title": "T", "type": "number"}]}),
            "names two settings",
        ),
        (json!({"overview": "x", "banner": "y"}), "banner"),
    ] {
        let (status, body) = set_portal(&f, bad).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{body} does not say {says}");
    }
    let settings = json!([
        {"id": "team", "title": "Team", "type": "text", "required": true, "tooltip": "Your team"},
        {"id": "stage", "title": "Stage", "type": "dropdown", "options": [{"label": "Open", "value": "open"}]},
    ]);
    let (status, body) = set_portal(
        &f,
        json!({"description": "Tasks, synced", "overview": "# Hello\n\n**bold** <script>alert(1)</script>", "theme": "dark", "settings": settings}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let listed = deploy(&f, &workflow("Listed", "description: Shown to everyone\n")).await;
    deploy(&f, &workflow("Hidden", "portal: {hidden: true}\n")).await;
    let pro = deploy(
        &f,
        &workflow(
            "Pro only",
            "permissions: {left: \"{{user.meta.plan}}\", operator: stringExactlyMatches, right: pro}\n",
        ),
    )
    .await;
    deploy(
        &f,
        "name: On connect\nintegration: test-proxy\ntrigger: {type: integrationEnabled}\nsteps:\n  \
         - {id: d, type: delay, value: 1, unit: SECONDS}\n",
    )
    .await;
    let with_settings = deploy(
        &f,
        &workflow("A settings one", "portal:\n  settings: [{id: list, title: List, type: text, required: true}]\n"),
    )
    .await;

    let (status, view) = portal_view(&f, "u1", "test-proxy").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["type"], "test-proxy");
    assert_eq!(view["id"], f.integration.as_str());
    assert_eq!((view["theme"].as_str(), view["description"].as_str()), (Some("dark"), Some("Tasks, synced")));
    assert_eq!(view["auth"], "inputs", "test-proxy connects with an API key");
    assert_eq!(view["settings"], settings);
    let html = view["overviewHtml"].as_str().unwrap();
    assert!(html.contains("<h1>Hello</h1>") && html.contains("<strong>bold</strong>"), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "raw HTML is shown as text: {html}");
    // Not listed: hidden, not permitted, Integration Enabled.
    assert_eq!(names(&view), ["A settings one", "Listed"]);
    let first = &view["workflows"][1];
    assert_eq!(first["id"], listed.as_str());
    assert_eq!(first["description"], "Shown to everyone");
    assert_eq!(first["defaultEnabled"], false);
    assert_eq!(view["workflows"][0]["id"], with_settings.as_str());
    assert_eq!(view["workflows"][0]["settings"][0]["id"], "list");

    // The user's metadata now meets the permission: listed for them.
    let me = format!("/projects/{}/sdk/me", f.project);
    let (status, _) =
        f.app.call(Method::PATCH, &me, Some(&f.token("u1")), Some(json!({"meta": {"plan": "pro"}}))).await;
    assert_eq!(status, 200);
    let (_, view) = portal_view(&f, "u1", "test-proxy").await;
    assert_eq!(names(&view), ["A settings one", "Listed", "Pro only"]);
    assert_eq!(view["workflows"][2]["id"], pro.as_str());
    let (_, other) = portal_view(&f, "u2", "test-proxy").await;
    assert_eq!(names(&other), ["A settings one", "Listed"], "another user's metadata is their own");

    // No such integration, or not active: 404 with what to do.
    let (status, body) = portal_view(&f, "u1", "nothing-here").await;
    assert_eq!(status, 404, "{body}");
    let path = format!("/admin/projects/{}/integrations/{}", f.project, f.integration);
    f.app.call(Method::PATCH, &path, Some(&f.admin_key), Some(json!({"active": false}))).await;
    let (status, body) = portal_view(&f, "u1", "test-proxy").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("activates"), "{body}");
}

/// The integration state `/sdk/me` shows for `user`.
async fn my_workflows(f: &ProxyFixture, user: &str) -> Value {
    let (status, me) =
        f.app.call(Method::GET, &format!("/projects/{}/sdk/me", f.project), Some(&f.token(user)), None).await;
    assert_eq!(status, 200, "{me}");
    me["integrations"]["test-proxy"]["workflowSettings"].clone()
}

#[tokio::test]
async fn default_enabled_workflows_turn_on_with_a_users_first_account_only_on_sqlite() {
    defaults(false).await;
}

#[tokio::test]
async fn default_enabled_workflows_turn_on_with_a_users_first_account_only_on_postgresql() {
    defaults(true).await;
}

async fn defaults(postgres: bool) {
    let (f, _pg) = fixture(postgres, |_| {}).await;
    // Connected before: not turned on for them later.
    f.connect("u0", "key-of-u0-defaults").await;
    let on = deploy(&f, &workflow("On by default", "portal: {defaultEnabled: true}\n")).await;
    let off = deploy(&f, &workflow("Off by default", "")).await;
    let pro = deploy(
        &f,
        &workflow(
            "Pro default",
            "portal: {defaultEnabled: true}\npermissions: {left: \"{{user.meta.plan}}\", operator: stringExactlyMatches, right: pro}\n",
        ),
    )
    .await;

    let account = f.connect("u1", "key-of-u1-defaults").await;
    let mine = my_workflows(&f, "u1").await;
    assert_eq!(mine[&on]["enabled"], true, "{mine}");
    assert!(mine.get(&off).is_none() && mine.get(&pro).is_none(), "only permitted defaults: {mine}");
    assert!(my_workflows(&f, "u0").await.get(&on).is_none(), "users connected before keep their state");

    // Turned off by the user, it stays off when they reconnect or add an account.
    let path = format!("/projects/{}/sdk/workflows/{on}", f.project);
    assert_eq!(f.app.call(Method::DELETE, &path, Some(&f.token("u1")), None).await.0, 200);
    let submit = format!("/projects/{}/sdk/connect/test-proxy/credentials", f.project);
    let again = json!({"fields": {"api_key": "key-of-u1-defaults"}, "selectedCredentialId": account});
    let (status, body) = f.app.call(Method::POST, &submit, Some(&f.token("u1")), Some(again)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], account.as_str(), "reconnected in place");
    f.connect_as("u1", "test-proxy", "key-of-u1-second", true).await;
    assert!(my_workflows(&f, "u1").await.get(&on).is_none(), "the user's choice stands");
}

#[tokio::test]
async fn a_required_integration_setting_holds_back_integration_enabled_workflows_until_saved() {
    let (f, _pg) = fixture(false, |_| {}).await;
    let (status, body) =
        set_portal(&f, json!({"settings": [{"id": "team", "title": "Team", "type": "text", "required": true}]})).await;
    assert_eq!(status, 200, "{body}");
    let workflow = deploy(
        &f,
        "name: On connect\nintegration: test-proxy\ntrigger: {type: integrationEnabled}\nsteps:\n  \
         - {id: d, type: delay, value: 1, unit: SECONDS}\n",
    )
    .await;
    let account = f.connect("u1", "key-of-u1-required").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(executions_of(&f, &workflow).await.is_empty(), "not usable without its team");
    let patch = format!("/projects/{}/sdk/credentials/{account}", f.project);
    let blank = json!({"config": {"sharedSettings": {"team": "  "}}});
    assert_eq!(f.app.call(Method::PATCH, &patch, Some(&f.token("u1")), Some(blank)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(executions_of(&f, &workflow).await.is_empty(), "a blank value is no value");
    let saved = json!({"config": {"sharedSettings": {"team": "blue"}}});
    assert_eq!(f.app.call(Method::PATCH, &patch, Some(&f.token("u1")), Some(saved)).await.0, 200);
    assert_eq!(settled(&f, &workflow, 1).await.len(), 1);
}

#[tokio::test]
async fn the_sdk_and_the_portal_are_served_from_the_binary() {
    let f = ProxyFixture::new().await;
    let get = |path: &'static str| f.app.get(path);
    for (path, kind) in [("/sdk/connect.js", "text/javascript"), ("/sdk/connect.mjs", "text/javascript")] {
        let resp = get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*", "any app loads the SDK, as a module too");
        assert!(!resp.text().await.unwrap().is_empty());
    }
    let page = get("/portal/").await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors *"), "{policy}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.text().await.unwrap().contains("<html"));
    for missing in ["/portal/nothing.js", "/sdk/..%2Fportal%2Findex.html", "/portal/.hidden"] {
        let resp = get(missing).await;
        assert_eq!(resp.status(), 404, "{missing}");
        assert_eq!(resp.json::<Value>().await.unwrap()["code"], "NOT_FOUND", "{missing}");
    }
    // Without --demo there is no demo page and no mock CRM.
    for off in ["/demo/", "/demo/crm/me"] {
        let resp = get(off).await;
        assert_eq!(resp.status(), 404, "{off}");
        assert!(resp.text().await.unwrap().contains("--demo"), "{off}");
    }
}

/// `weft serve --demo`, as `cargo xtask run` starts it: the demo's
/// project, integration and workflow are there, its integration reaches
/// the server's own mock CRM through the egress client (loopback otherwise
/// refused), and a second start finds the same project.
#[tokio::test]
async fn weft_serve_demo_prepares_a_demo_that_connects_and_runs_offline() {
    let dir = crate::support::data_dir_with(&[]);
    let strict = [("WEFT__EGRESS__ALLOW_LOOPBACK", "false".to_owned())];
    let (mut child, printed, base) = crate::support::start_binary_args(dir.path(), &["serve", "--demo"], &strict).await;
    let (project, token) = demo_address(&printed);
    let client = reqwest::Client::new();
    // A GET as the demo user, its answer as JSON.
    let get = |url: String| {
        let request = client.get(url).bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let page = client.get(format!("{base}/demo/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/sdk/connect.js"));
    let sdk = format!("{base}/projects/{project}/sdk");
    let view = get(format!("{sdk}/portal/custom.demo-crm")).await;
    assert_eq!(view["name"], "Demo CRM", "{view}");
    assert_eq!(names(&view), ["Add new contacts to Demo CRM"]);
    assert_eq!(view["workflows"][0]["defaultEnabled"], true);

    let submit = format!("{sdk}/connect/custom.demo-crm/credentials");
    let wrong =
        client.post(&submit).bearer_auth(&token).json(&json!({"fields": {"apiKey": "not-it"}})).send().await.unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.json::<Value>().await.unwrap()["code"], "CONNECTION_TEST_FAILED");
    let right =
        client.post(&submit).bearer_auth(&token).json(&json!({"fields": {"apiKey": "demo-key"}})).send().await.unwrap();
    assert_eq!(right.status(), 201);
    let account: Value = right.json().await.unwrap();
    let patch = format!("{sdk}/credentials/{}", account["id"].as_str().unwrap());
    let owner = json!({"config": {"sharedSettings": {"owner": "Grace"}}});
    assert_eq!(client.patch(&patch).bearer_auth(&token).json(&owner).send().await.unwrap().status(), 200);
    // The workflow is on by default: an event adds the contact to the CRM.
    let event = json!({"name": "Contact Created", "payload": {"name": "Ada", "email": "ada@example.com"}});
    let sent = client.post(format!("{sdk}/events/trigger")).bearer_auth(&token).json(&event).send().await.unwrap();
    assert_eq!(sent.status(), 201);
    let mut history = Value::Null;
    for _ in 0..200 {
        history = get(format!("{sdk}/demo/task-history")).await;
        if history["executions"][0]["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(history["executions"][0]["status"], "SUCCEEDED", "{history}");
    assert_eq!(history["executions"][0]["workflowName"], "Add new contacts to Demo CRM");
    let integration = view["id"].as_str().unwrap();
    let contacts = get(format!("{sdk}/proxy/custom/{integration}/contacts")).await;
    let found = contacts["output"]["data"].as_array().or(contacts["data"].as_array()).cloned().unwrap_or_default();
    assert!(found.iter().any(|c| c["name"] == "Ada" && c["owner"] == "Grace"), "{contacts}");
    child.kill().await.unwrap();

    let (_again, printed, _) = crate::support::start_binary_args(dir.path(), &["serve", "--demo"], &strict).await;
    assert_eq!(demo_address(&printed).0, project, "the demo project is made once");
}

/// The project and token in the demo address `weft serve --demo` printed.
fn demo_address(printed: &[String]) -> (String, String) {
    let url = printed.iter().find_map(|l| l.trim().strip_prefix("http://").filter(|u| u.contains("/demo/?project=")));
    let url = url.unwrap_or_else(|| panic!("no demo address in {printed:?}"));
    let (query, token) = url.split_once("#token=").expect("a token in the fragment");
    (query.split("project=").nth(1).unwrap().to_owned(), token.to_owned())
}
