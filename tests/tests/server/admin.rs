//! The admin API and the SDK shapes it configures, on SQLite and PostgreSQL.

use crate::support::*;
use serde_json::Value;
#[allow(unused_imports)]
use std::time::{Duration, Instant};

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
    assert_eq!(
        me["integrations"],
        json!({"test-echo": {"enabled": false, "configuredWorkflows": {}, "allCredentials": []}})
    );
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
        "name",
        "brandColor",
    ] {
        assert!(keys.contains(&field), "{field} missing from {echo}");
    }
    assert_eq!(echo["projectId"], project.as_str());
    assert_eq!(echo["isActive"], true);
    // What the SDK's getIntegrationMetadata shows: the provider's name and
    // the integration's colour.
    assert_eq!((&echo["name"], &echo["brandColor"]), (&json!("Test Echo"), &json!("#112233")));
    assert!(echo["customIntegrationId"].is_null());
    assert_eq!(echo["configs"][0]["integrationId"], echo["id"]);
    assert_eq!(echo["configs"][0]["values"]["portal"], json!({"overview": "hi"}));
    assert!(echo["dateCreated"].as_str().unwrap().ends_with('Z'), "{}", echo["dateCreated"]);
}

/// Signing keys through the admin API: a generated key's private half is
/// answered once and its tokens work; an uploaded public key works; removing
/// a key refuses its tokens on the next request; disabling a user refuses
/// them too.
#[tokio::test]
async fn signing_keys_and_users_through_the_admin_api() {
    use serde_json::json;
    let app = spawn_app(&[]).await;
    let (project, admin) = app.create_project(json!({"name": "Keys"})).await;
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

    let now = now_unix();
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
    use reqwest::Method;
    use serde_json::json;
    let app = spawn_app(&[]).await;
    let store = weft_store::open(&app._dir.path().join("weft.db").display().to_string()).await.unwrap();
    let (project, _) = project_with_token(store.as_ref(), "Config").await;
    let admin = api_key(store.as_ref(), &project, weft_store::Role::Admin).await;
    let member = api_key(store.as_ref(), &project, weft_store::Role::Member).await;
    let (secrets, events) =
        (format!("/admin/projects/{project}/secrets"), format!("/admin/projects/{project}/app-events"));
    let (status, _) = app.call(Method::POST, &secrets, Some(&admin), Some(json!({"name": "SLACK_CHANNEL"}))).await;
    assert_eq!(status, 201);
    let (status, _) = app.call(Method::POST, &secrets, Some(&admin), Some(json!({"name": "SLACK_CHANNEL"}))).await;
    assert_eq!(status, 409, "duplicate secret name");
    let (status, _) = app.call(Method::POST, &secrets, Some(&member), Some(json!({"name": "X"}))).await;
    assert_eq!(status, 403, "members may not manage secrets");
    let (_, listed) = app.call(Method::GET, &secrets, Some(&admin), None).await;
    assert_eq!(listed[0]["name"], "SLACK_CHANNEL");

    let event = json!({"name": "Contact Created", "examplePayload": {"email": "a@b.c"}});
    let (status, _) = app.call(Method::PUT, &events, Some(&member), Some(event)).await;
    assert_eq!(status, 200);
    let replaced = json!({"name": "Contact Created", "examplePayload": {"email": "x@y.z", "id": 1}});
    app.call(Method::PUT, &events, Some(&member), Some(replaced)).await;
    let (_, listed) = app.call(Method::GET, &events, Some(&member), None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["examplePayload"], json!({"email": "x@y.z", "id": 1}));
    let (status, _) = app.call(Method::DELETE, &format!("{events}/Contact%20Created"), Some(&member), None).await;
    assert_eq!(status, 204);
    let (_, listed) = app.call(Method::GET, &events, Some(&member), None).await;
    assert_eq!(listed, json!([]));
}

/// The server on PostgreSQL (`database.url`): admin API, signing key, user
/// token, `/sdk/me`; and `pg_dump` holds neither API keys nor private keys.
#[tokio::test]
async fn runs_on_postgresql_and_the_dump_holds_no_secrets() {
    use reqwest::Method;
    use serde_json::json;
    let db = PgDatabase::create();
    let url = db.url();
    let app = spawn_app_with(&[], |s| s.database.url = Some(url)).await;
    assert!(!app._dir.path().join("weft.db").exists(), "no SQLite file when PostgreSQL is configured");
    let group = "0b8f6f8e-3e58-4f5f-9d0f-5d2f1f0e7a11";
    let body = json!({"name": "On Postgres", "environment": "staging", "releaseGroupId": group});
    let (status, created) = app.call(Method::POST, "/admin/projects", Some(&app.operator_key), Some(body)).await;
    assert_eq!(status, 201);
    assert_eq!(created["project"]["environment"], "staging");
    assert_eq!(created["project"]["releaseGroupId"], group);
    let project = created["project"]["id"].as_str().unwrap().to_owned();
    let admin = created["apiKey"]["key"].as_str().unwrap().to_owned();
    let base = format!("/admin/projects/{project}");
    let generate = json!({"generate": true, "kid": "pg"});
    let (_, key) = app.call(Method::POST, &format!("{base}/signing-keys"), Some(&admin), Some(generate)).await;
    let private = key["privateKeyPem"].as_str().unwrap().to_owned();
    let now = now_unix();
    let token = weft_auth::mint_user_token(&private, Some("pg"), "pg-user", now, 600).unwrap();
    let me = format!("/projects/{project}/sdk/me");
    let (status, _) = app.call(Method::PATCH, &me, Some(&token), Some(json!({"meta": {"Name": "P"}}))).await;
    assert_eq!(status, 200);
    let (_, body) = app.call(Method::GET, &me, Some(&token), None).await;
    assert_eq!((body["userId"].as_str(), &body["meta"]), (Some("pg-user"), &json!({"Name": "P"})));
    // Integration get and patch (absent fields kept, null clears).
    let slack = json!({"type": "slack", "clientId": "abc", "scopes": ["chat:write"]});
    let (_, created) = app.call(Method::POST, &format!("{base}/integrations"), Some(&admin), Some(slack)).await;
    let integration = format!("{base}/integrations/{}", created["id"].as_str().unwrap());
    let change = json!({"active": true, "clientId": null});
    let (_, patched) = app.call(Method::PATCH, &integration, Some(&admin), Some(change)).await;
    assert_eq!((patched["active"].as_bool(), patched["clientId"].is_null()), (Some(true), true));
    let (_, got) = app.call(Method::GET, &integration, Some(&admin), None).await;
    assert_eq!(got["scopes"], json!(["chat:write"]), "absent fields are kept");

    let dump = db.dump();
    let text = String::from_utf8_lossy(&dump);
    assert!(text.contains("pg-user"), "the dump is real and holds the user");
    for secret in [admin.as_str(), app.operator_key.as_str(), "PRIVATE KEY"] {
        assert!(!text.contains(secret), "pg_dump holds {secret:.20}");
    }
}
