//! Who may call what: the authorization matrix, tenancy, throttling, hostile headers.

use crate::support::*;
use serde_json::Value;
#[allow(unused_imports)]
use std::time::{Duration, Instant};

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
            .replace("{integrationType}", "test-echo")
            .replace("{credentialId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15")
            .replace("{keyId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c11")
            .replace("{integrationId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c12")
            .replace("{userId}", "nobody")
            .replace("{signingKeyId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c14")
            .replace("{name}", "nothing")
            .replace("{destinationId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c1a")
            .replace("{resourceId}", "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c1b");
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
                // Public routes never ask for a credential; a callback without
                // a valid state is still the caller's mistake (400).
                (Access::Public, _) => status < 500 && status != 401 && status != 403,
                (Access::User, "same-project user") => allowed,
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
    use reqwest::Method;
    use serde_json::json;
    let app = spawn_app(&[]).await;
    let (a, key_a) = app.create_project(json!({"name": "A"})).await;
    let (b, key_b) = app.create_project(json!({"name": "B", "environment": "production"})).await;
    let body = json!({"type": "slack", "active": true});
    let (status, created) =
        app.call(Method::POST, &format!("/admin/projects/{a}/integrations"), Some(&key_a), Some(body)).await;
    assert_eq!(status, 201);
    let integration = created["id"].as_str().unwrap().to_owned();
    // B's key on A's project, and A's integration id under B's project.
    let (status, _) = app.call(Method::GET, &format!("/admin/projects/{a}/integrations"), Some(&key_b), None).await;
    assert_eq!(status, 404);
    let foreign_path = format!("/admin/projects/{b}/integrations/{integration}");
    let (foreign_status, foreign) = app.call(Method::DELETE, &foreign_path, Some(&key_b), None).await;
    let missing_path = format!("/admin/projects/{b}/integrations/7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c13");
    let (missing_status, missing) = app.call(Method::DELETE, &missing_path, Some(&key_b), None).await;
    assert_eq!(foreign_status, 404);
    assert_eq!(missing_status, 404);
    assert_eq!(foreign["message"], missing["message"], "a foreign id must look like a missing one");
    // A's integration is untouched.
    let (_, listed) = app.call(Method::GET, &format!("/admin/projects/{a}/integrations"), Some(&key_a), None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    // Revoking a key takes effect on the next request.
    let (_, keys) = app.call(Method::GET, &format!("/admin/projects/{a}/api-keys"), Some(&key_a), None).await;
    let key_id = keys[0]["id"].as_str().unwrap();
    assert!(keys.to_string().find(&key_a).is_none(), "listing never shows keys");
    // The database holds hashes only: no plaintext key in the file or its WAL.
    for file in ["weft.db", "weft.db-wal"] {
        let bytes = std::fs::read(app._dir.path().join(file)).unwrap_or_default();
        for key in [&key_a, &key_b] {
            assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "{file} holds a plaintext API key");
        }
    }
    let (status, _) =
        app.call(Method::DELETE, &format!("/admin/projects/{a}/api-keys/{key_id}"), Some(&key_a), None).await;
    assert_eq!(status, 200);
    let (status, _) = app.call(Method::GET, &format!("/admin/projects/{a}"), Some(&key_a), None).await;
    assert_eq!(status, 401);
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
    let now = now_unix();
    let token = weft_auth::mint_user_token(&private, Some("from-idp"), "u", now, 600).unwrap();
    let started = Instant::now();
    let r = app.client.get(format!("{}/projects/{project}/sdk/me", app.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "KEYS_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
