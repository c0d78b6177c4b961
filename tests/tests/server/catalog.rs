//! The generated catalog test (issue 19, acceptance 3): every definition Weft
//! ships is added as an integration of one project with its URLs overridden
//! to mocks on loopback (the strict authorization server for the OAuth
//! endpoints, a stand-in API for the base URL). A user connects each one,
//! through the authorization code flow or by submitting the fields its
//! scheme asks for; the definition's connection test names the account;
//! and one call is proxied with the credential where the definition puts it.

use crate::support::*;
use base64::Engine as _;
use futures::StreamExt as _;
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_catalog::{ApiKeyLocation, AuthScheme, ClientAuth, Provider};
use weft_tests::mock_auth::{MockAuthServer, TokenDialect, browser, url_param};
use weft_tests::mock_catalog::{CatalogApi, Expect, Stand, profile_document};

const USER: &str = "catalog-user";

struct Ctx {
    app: TestApp,
    auth: Arc<MockAuthServer>,
    api: CatalogApi,
    project: String,
    admin_key: String,
    token: String,
}

#[tokio::test]
async fn every_catalog_provider_connects_and_proxies_one_call() {
    let (catalog, refused) = weft_catalog::Catalog::bundled();
    assert!(refused.is_empty(), "{refused:?}");
    let providers: Vec<Arc<Provider>> = catalog.iter().cloned().collect();
    assert!(providers.len() >= 150, "{} providers", providers.len());

    let auth = Arc::new(MockAuthServer::start().await);
    let api = CatalogApi::start(auth.clone()).await;
    // No plugins: every integration below runs on its definition alone.
    let app = spawn_app_with(&[], |s| s.auth.max_failures_per_minute = 100_000).await;
    let (project, private_pem) = project_with_key(app.store.as_ref(), "Catalog").await;
    let admin_key = api_key(app.store.as_ref(), &project, weft_store::Role::Admin).await;
    let token = weft_auth::mint_user_token(&private_pem, Some("k"), USER, now_unix(), 3600).unwrap();
    let cx = Ctx { app, auth, api, project, admin_key, token };

    let started = Instant::now();
    let outcomes: Vec<(String, Result<(), String>)> = futures::stream::iter(providers)
        .map(|p| {
            let cx = &cx;
            async move { (p.id.clone(), connect_and_proxy(cx, &p).await) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let failed: Vec<String> =
        outcomes.iter().filter_map(|(id, r)| r.as_ref().err().map(|e| format!("{id}: {e}"))).collect();
    assert!(failed.is_empty(), "{} of {} providers failed:\n{}", failed.len(), outcomes.len(), failed.join("\n"));
    eprintln!("{} catalog providers connected and proxied in {:?}", outcomes.len(), started.elapsed());
}

/// One provider, end to end; the first thing that differs from what its
/// definition says, as an error.
async fn connect_and_proxy(cx: &Ctx, p: &Provider) -> Result<(), String> {
    let account = format!("acct-{}", p.id);
    let test_path = p.connection_test.as_ref().map(|t| t.path.split('?').next().unwrap_or_default().to_owned());
    let (id_at, name_at) = match &p.connection_test {
        Some(t) => (t.account_id.as_deref(), t.account_name.as_deref()),
        None => (None, None),
    };
    let secret = weft_tests::sweep::canary(&format!("catalog-{}", p.id.replace('.', "-")));
    let expect = expectation(&p.auth, &secret);
    let profile = profile_document(id_at, &account, name_at, &format!("Account of {}", p.id));
    cx.api.stand(&p.id, Stand { expect, profile_path: test_path.clone(), profile });

    let integration = add_integration(cx, p, &secret).await?;
    let credential = match &p.auth {
        AuthScheme::Oauth2 { .. } => connect_oauth(cx, p, &integration, &secret).await?,
        AuthScheme::Oauth2ClientCredentials { .. } => {
            let client = format!("cc-{}", p.id);
            cx.auth.register_client(&client, &secret, "https://unused.test/callback");
            submit(cx, p, json!({ "client_id": client, "client_secret": secret })).await?
        }
        // Into the input the definition names, if it names one.
        AuthScheme::ApiKey { field, .. } => {
            submit(cx, p, json!({ field.as_deref().unwrap_or("api_key"): secret })).await?
        }
        AuthScheme::Basic => submit(cx, p, json!({ "username": "catalog-user", "password": secret })).await?,
        AuthScheme::Bearer { field } => submit(cx, p, json!({ field.as_deref().unwrap_or("token"): secret })).await?,
        other => return Err(format!("a catalog provider with {other:?}")),
    };

    // The app's client authenticated at the token endpoint as the definition says.
    let client_auth = match &p.auth {
        AuthScheme::Oauth2 { client_auth, .. } => Some((format!("client-{}", p.id), *client_auth)),
        AuthScheme::Oauth2ClientCredentials { client_auth, .. } => Some((format!("cc-{}", p.id), *client_auth)),
        _ => None,
    };
    if let Some((client, expected)) = client_auth {
        let used = client_auth_used(&cx.auth, &client);
        if used != [expected] {
            return Err(format!("the token requests authenticated as {used:?}, not {expected:?}"));
        }
    }

    // The connection test ran with the credential, and named the account.
    let hits = cx.api.hits_of(&p.id);
    if let Some(path) = &test_path
        && !hits.iter().any(|h| &h.path == path && h.authorized)
    {
        return Err(format!("the connection test never reached {path} with the credential: {hits:?}"));
    }
    let expected_id = id_at.map(|_| account.clone());
    if credential["providerId"].as_str() != expected_id.as_deref() {
        return Err(format!("providerId {} instead of {expected_id:?}", credential["providerId"]));
    }

    // One proxied call carries the credential where the definition says.
    let (status, answer) = proxy_get(cx, &p.id).await;
    if status != 200 || answer["output"]["path"] != "/weft-probe" || answer["output"]["provider"] != p.id.as_str() {
        return Err(format!("the proxied call answered {status} {answer}"));
    }
    let probe = cx.api.hits_of(&p.id).into_iter().filter(|h| h.path == "/weft-probe").collect::<Vec<_>>();
    if probe.len() != 1 || !probe[0].authorized {
        return Err(format!("the provider saw {probe:?}"));
    }
    Ok(())
}

/// How each `/token` request of `client` authenticated it: HTTP basic, or
/// `client_id` and `client_secret` in the form.
fn client_auth_used(auth: &MockAuthServer, client: &str) -> Vec<ClientAuth> {
    let basic = |r: &weft_tests::mock_auth::AuthRecord| {
        let encoded = r.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()?;
        decoded.split_once(':').map(|(id, _)| id == client)
    };
    auth.log()
        .iter()
        .filter(|r| r.path == "/token")
        .filter_map(|r| match (basic(r), r.form_value("client_id"), r.form_value("client_secret")) {
            (Some(true), _, None) => Some(ClientAuth::Basic),
            (None, Some(id), Some(_)) if id == client => Some(ClientAuth::Post),
            _ => None,
        })
        .collect()
}

/// Where the scheme puts the secret the user submits (or, for OAuth, the
/// token the mock authorization server issues).
fn expectation(scheme: &AuthScheme, secret: &str) -> Expect {
    match scheme {
        AuthScheme::ApiKey { location: ApiKeyLocation::Header, name, prefix, .. } => Expect::Header {
            name: name.to_ascii_lowercase(),
            value: format!("{}{secret}", prefix.as_deref().unwrap_or("")),
        },
        AuthScheme::ApiKey { location: ApiKeyLocation::Query, name, prefix, .. } => {
            Expect::Query { name: name.clone(), value: format!("{}{secret}", prefix.as_deref().unwrap_or("")) }
        }
        AuthScheme::Basic => {
            let pair = base64::engine::general_purpose::STANDARD.encode(format!("catalog-user:{secret}"));
            Expect::Header { name: "authorization".into(), value: format!("Basic {pair}") }
        }
        AuthScheme::Bearer { .. } => Expect::Header { name: "authorization".into(), value: format!("Bearer {secret}") },
        _ => Expect::IssuedBearer,
    }
}

/// Adds the integration with the app's OAuth client and every provider URL
/// pointed at the mocks; returns its id.
async fn add_integration(cx: &Ctx, p: &Provider, secret: &str) -> Result<String, String> {
    let body = json!({
        "type": p.id, "active": true, "clientId": format!("client-{}", p.id), "clientSecret": secret,
        "baseUrl": cx.api.base_of(&p.id),
        "endpointOverrides": {
            "authorizeUrl": cx.auth.authorize_url(), "tokenUrl": cx.auth.token_url(), "revokeUrl": cx.auth.revoke_url(),
        },
    });
    let path = format!("/admin/projects/{}/integrations", cx.project);
    let (status, created) = cx.app.call(Method::POST, &path, Some(&cx.admin_key), Some(body)).await;
    if status != 201 {
        return Err(format!("adding the integration answered {status} {created}"));
    }
    Ok(created["id"].as_str().unwrap_or_default().to_owned())
}

/// A sample value for every connection setting the definition declares.
fn inputs(p: &Provider) -> Value {
    let declared = p.connection_config_schema.as_ref().and_then(|s| s.get("properties")).and_then(Value::as_object);
    let sample: Map<String, Value> =
        declared.into_iter().flatten().map(|(k, _)| (k.clone(), Value::from("sample"))).collect();
    Value::Object(sample)
}

/// The authorization code flow through the strict mock (PKCE, exact
/// redirect URI, the app's client); returns the new credential.
async fn connect_oauth(cx: &Ctx, p: &Provider, integration: &str, client_secret: &str) -> Result<Value, String> {
    let AuthScheme::Oauth2 { scopes, scope_separator, extra_authorize_params, .. } = &p.auth else {
        return Err("not OAuth".into());
    };
    let redirect = format!("{}/projects/{}/connect/{integration}/oauth/callback", cx.app.base, cx.project);
    cx.auth.register_client(&format!("client-{}", p.id), client_secret, &redirect);
    // A provider whose token endpoint takes JSON (Notion) gets its requests checked as JSON.
    let reading = weft_auth::oauth::TokenReading::from_extra(&p.extra).map_err(|e| e.to_string())?;
    if reading.request_format == weft_auth::oauth::RequestFormat::Json {
        cx.auth.set_client_dialect(&format!("client-{}", p.id), TokenDialect::default().json_requests());
    }
    let path = format!("/projects/{}/sdk/connect/{}", cx.project, p.id);
    let (status, started) =
        cx.app.call(Method::POST, &path, Some(&cx.token), Some(json!({ "inputs": inputs(p) }))).await;
    let url = started["authorizationUrl"].as_str().unwrap_or_default().to_owned();
    if status != 200 || !url.starts_with(&cx.auth.authorize_url()) {
        return Err(format!("starting the connect answered {status} {started}"));
    }
    // The definition's scopes and extra parameters are asked for.
    let scope = url_param(&url, "scope");
    let wanted = (!scopes.is_empty()).then(|| scopes.join(scope_separator));
    if scope != wanted {
        return Err(format!("scope {scope:?} instead of {wanted:?}"));
    }
    for (name, value) in extra_authorize_params {
        if url_param(&url, name).as_deref() != Some(value.as_str()) {
            return Err(format!("the authorization URL lacks {name}={value}"));
        }
    }
    let location = cx.auth.try_approve(&url).await.map_err(|e| format!("the authorization was refused: {e:?}"))?;
    let resp = browser().get(&location).send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(format!("the callback answered {status}: {}", resp.text().await.unwrap_or_default()));
    }
    let (_, list) =
        cx.app.call(Method::GET, &format!("/projects/{}/sdk/credentials", cx.project), Some(&cx.token), None).await;
    list.as_array()
        .into_iter()
        .flatten()
        .find(|c| c["integrationId"] == integration)
        .cloned()
        .ok_or_else(|| format!("no credential after the callback: {list}"))
}

/// Submits the scheme's input fields; returns the new credential.
async fn submit(cx: &Ctx, p: &Provider, fields: Value) -> Result<Value, String> {
    let path = format!("/projects/{}/sdk/connect/{}/credentials", cx.project, p.id);
    let body = json!({ "inputs": inputs(p), "fields": fields });
    let (status, created) = cx.app.call(Method::POST, &path, Some(&cx.token), Some(body)).await;
    if status != 201 {
        return Err(format!("submitting the fields answered {status} {created}"));
    }
    Ok(created)
}

/// A GET through the Proxy API; a 429 of a declared limit is waited out once.
async fn proxy_get(cx: &Ctx, integration_type: &str) -> (u16, Value) {
    let url = format!("{}/projects/{}/sdk/proxy/{integration_type}/weft-probe", cx.app.base, cx.project);
    for _ in 0..2 {
        let resp = cx.app.client.get(&url).bearer_auth(&cx.token).send().await.expect("proxy call");
        let status = resp.status().as_u16();
        let wait = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let body = resp.json().await.unwrap_or(Value::Null);
        match (status, wait) {
            (429, Some(secs)) if secs <= 5 => tokio::time::sleep(Duration::from_secs(secs)).await,
            _ => return (status, body),
        }
    }
    (429, Value::Null)
}

const TASKLAB: &str = "# TaskLab: an API key.\nid: tasklab\nname: TaskLab\nbaseUrl: https://api.tasklab.test\n\
auth: { type: api-key, location: header, name: X-API-Key }\n";

/// `weft integrations list|show|validate`, on the real binary: the shipped
/// definitions and the data directory's, one in force per id, and a file's
/// problems named by their paths.
#[test]
fn the_cli_lists_shows_and_validates_definitions() {
    let dir = weft_tests::sweep::data_dir();
    let providers = dir.path().join("providers");
    std::fs::create_dir_all(&providers).unwrap();
    std::fs::write(providers.join("tasklab.yaml"), TASKLAB).unwrap();
    // An operator's file replaces the shipped definition of its id.
    let openai = TASKLAB.replace("id: tasklab", "id: openai").replace("name: TaskLab", "name: Our OpenAI");
    std::fs::write(providers.join("openai.yaml"), openai).unwrap();
    std::fs::write(providers.join("broken.json"), r#"{"id": "broken"}"#).unwrap();

    let listed = weft_cli(dir.path(), &["integrations", "list"]);
    let (catalog, _) = weft_catalog::Catalog::bundled();
    for p in catalog.iter() {
        assert!(listed.lines().any(|l| l.split_whitespace().next() == Some(p.id.as_str())), "{} missing", p.id);
    }
    let line = |id: &str| listed.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap_or_default().to_owned();
    assert!(line("tasklab").contains("api-key (header X-API-Key)") && line("tasklab").contains("(data directory)"));
    assert!(line("openai").contains("Our OpenAI"), "{listed}");
    assert!(line("googleCalendar").contains("oauth2"), "{listed}");
    assert!(!listed.contains("broken"), "{listed}");
    let total = catalog.iter().count() + 1;
    assert!(listed.contains(&format!("{total} definitions ({} shipped, 2 from", total - 2)), "{listed}");

    let shown: Value = serde_json::from_str(&weft_cli(dir.path(), &["integrations", "show", "monday.com"])).unwrap();
    assert_eq!((shown["id"].as_str(), shown["auth"]["type"].as_str()), (Some("monday.com"), Some("oauth2")));

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, TASKLAB).unwrap();
    let checked = weft_cli(dir.path(), &["integrations", "validate", good.to_str().unwrap()]);
    assert!(checked.contains("a valid provider definition, tasklab (TaskLab)"), "{checked}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, TASKLAB.replace("location: header", "location: body")).unwrap();
    let stderr = weft_cli_refused(dir.path(), &["integrations", "validate", bad.to_str().unwrap()]);
    assert!(stderr.contains("at /auth/location"), "{stderr}");

    // A custom integration's file meets the admin API's checks too: here
    // a base URL on loopback, which the server's egress policy refuses.
    let custom = TASKLAB.replace("id: tasklab", "id: custom.tasklab");
    let good = dir.path().join("custom.yaml");
    std::fs::write(&good, &custom).unwrap();
    let checked = weft_cli(dir.path(), &["integrations", "validate", good.to_str().unwrap()]);
    assert!(checked.contains("a valid custom integration definition, custom.tasklab"), "{checked}");
    let looped = dir.path().join("looped.yaml");
    std::fs::write(&looped, custom.replace("https://api.tasklab.test", "https://127.0.0.1:9000")).unwrap();
    let stderr = weft_cli_refused(dir.path(), &["integrations", "validate", looped.to_str().unwrap()]);
    assert!(stderr.contains("at /baseUrl"), "{stderr}");
}
