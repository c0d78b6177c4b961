//! The vault end to end: no plaintext at rest or in telemetry or answers,
//! owner binding, tampering, rotation under load, failing closed at boot,
//! no decryption on listing, crypto-shredding; the password grant's hygiene.

use super::Fixture;
use super::fixture::canary;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use weft_tests::mock_auth::MockAuthServer;

/// Every form a leaked secret could take in a dump.
fn forms(secret: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let hex = hex::encode(secret);
    let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    [secret.to_owned(), b64, hex, url].into_iter().map(String::into_bytes).collect()
}

fn assert_absent(haystack: &[u8], secrets: &[String], what: &str) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(!haystack.windows(form.len()).any(|w| w == form.as_slice()), "{what} holds a secret ({secret})");
        }
    }
}

/// The tokens the mock issued (seen at its API or its token endpoint).
fn issued_tokens(mock: &MockAuthServer) -> Vec<String> {
    let mut out = Vec::new();
    for r in mock.log() {
        if let Some(t) = r.header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
            out.push(t.to_owned());
        }
        if let Some(t) = r.form_value("refresh_token") {
            out.push(t.to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// C3-44/49/50, acceptance 3 (and C2-31): after OAuth, API-key and
/// password-grant connects (and a refresh), no secret is in the SQLite file
/// or its WAL, the TRACE logs, or any API answer; the password is not kept.
async fn no_secret_at_rest_in_logs_or_answers(postgres: bool) {
    let oauth = Fixture::new("test_oauth", json!({"passwordGrant": true}), |_| {}, postgres).await;
    let mut answers = Vec::new();
    let c = oauth.connect("u1", "acct-1", json!({})).await;
    answers.push(c.to_string());
    oauth.advance(3600);
    oauth.whoami(c["id"].as_str().unwrap()).await.unwrap();
    // Password grant: enabled by the integration, the password not kept.
    let password = canary("password");
    oauth.mock.add_user("ropc-user", &password, "acct-p");
    let body = json!({"fields": {"username": "ropc-user", "password": password}, "allowMultipleCredentials": true});
    let (status, created) = oauth.sdk(Method::POST, "connect/test-oauth/credentials", "u2", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["providerId"], "acct-p");
    answers.push(created.to_string());
    for path in ["me", "credentials"] {
        for user in ["u1", "u2"] {
            answers.push(oauth.sdk(Method::GET, path, user, None).await.1.to_string());
        }
    }
    let admin = format!("/admin/projects/{}/integrations", oauth.project);
    answers.push(oauth.app.call(Method::GET, &admin, Some(&oauth.admin_key), None).await.1.to_string());

    let keyed = Fixture::new("test_apikey", json!({}), |_| {}, postgres).await;
    let api_key = canary("apikey");
    keyed.mock.add_api_key(&api_key, "acct-k");
    let body = json!({"fields": {"api_key": api_key}});
    let (status, created) = keyed.sdk(Method::POST, "connect/test-apikey/credentials", "u1", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    answers.push(created.to_string());

    let mut secrets = vec![password, api_key, oauth.client_secret.clone(), keyed.client_secret.clone()];
    let tokens = issued_tokens(&oauth.mock);
    assert!(tokens.len() >= 3, "access and refresh tokens were seen: {tokens:?}");
    secrets.extend(tokens);

    for fixture in [&oauth, &keyed] {
        if postgres {
            assert_absent(&fixture.dump(), &secrets, "pg_dump");
        } else {
            for file in ["weft.db", "weft.db-wal"] {
                let bytes = std::fs::read(fixture.app._dir.path().join(file)).unwrap_or_default();
                assert_absent(&bytes, &secrets, file);
            }
        }
    }
    assert_absent(answers.join("\n").as_bytes(), &secrets, "API answers");
    assert_absent(weft_tests::logs::all().as_bytes(), &secrets, "the TRACE logs");
}

#[tokio::test]
async fn no_secret_at_rest_in_logs_or_answers_on_sqlite() {
    no_secret_at_rest_in_logs_or_answers(false).await;
}

#[tokio::test]
async fn no_secret_at_rest_in_logs_or_answers_on_postgresql() {
    no_secret_at_rest_in_logs_or_answers(true).await;
}

/// C2-31: the password grant is refused unless the integration enables it;
/// with `keepPassword` the password is kept, sealed.
#[tokio::test]
async fn the_password_grant_needs_the_integrations_consent() {
    let off = Fixture::oauth().await;
    off.mock.add_user("ropc-user", "pw", "acct-p");
    let body = json!({"fields": {"username": "ropc-user", "password": "pw"}});
    let (status, refused) = off.sdk(Method::POST, "connect/test-oauth/credentials", "u1", Some(body.clone())).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("password grant"), "{refused}");
    assert_eq!(off.mock.token_requests(), 0);

    let kept = Fixture::new("test_oauth", json!({"passwordGrant": true, "keepPassword": true}), |_| {}, false).await;
    let password = canary("keptpassword");
    kept.mock.add_user("ropc-user", &password, "acct-p");
    let body = json!({"fields": {"username": "ropc-user", "password": password}});
    let (status, created) = kept.sdk(Method::POST, "connect/test-oauth/credentials", "u1", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let stored = kept.stored(created["id"].as_str().unwrap()).await;
    // Kept, but only inside the sealed secrets.
    assert_absent(&stored.secrets, std::slice::from_ref(&password), "the sealed row");
    let usable = kept.app.credentials.usable(stored.project_id, stored.id).await.unwrap();
    assert_eq!(usable.secrets.password.as_deref(), Some(password.as_str()));
}

/// C3-45/46: a sealed value copied to another credential (same project or
/// another) or altered in one bit fails closed (CREDENTIAL_CORRUPT), never
/// yields the other account's token, never panics.
#[tokio::test]
async fn moved_or_altered_ciphertext_fails_closed() {
    let f = Fixture::oauth().await;
    let a = f.connect("u1", "acct-a", json!({})).await["id"].as_str().unwrap().to_owned();
    let b = f.connect("u2", "acct-b", json!({})).await["id"].as_str().unwrap().to_owned();
    let db = f.app._dir.path().join("weft.db");
    // Edits the file behind the server's back, as an attacker with database
    // access would.
    let sqlite = |sql: String| {
        let db = db.clone();
        async move {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
            sqlx::query(&sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    };
    let blob = |id: &str| format!("x'{}'", uuid::Uuid::parse_str(id).unwrap().simple());
    // Copy A's sealed secrets into B's row.
    sqlite(format!(
        "UPDATE credentials SET secrets = (SELECT secrets FROM credentials WHERE id = {}) WHERE id = {}",
        blob(&a),
        blob(&b)
    ))
    .await;
    let before = f.mock.log().len();
    let err = f.whoami(&b).await.unwrap_err();
    assert!(err.to_string().contains("could not be used"), "{err}");
    let to_api = f.mock.log()[before..].iter().filter(|r| r.path.starts_with("/api")).count();
    assert_eq!(to_api, 0, "B's call never reached the provider with A's token");
    assert_eq!(f.whoami(&a).await.unwrap()["id"], "acct-a", "A is untouched");
    // Flip bits at several positions of A's blob: every one fails closed.
    let original = f.stored(&a).await.secrets;
    for position in [0usize, 3, 10, 40, 90, original.len() - 1] {
        let mut tampered = original.clone();
        tampered[position] ^= 0x01;
        sqlite(format!("UPDATE credentials SET secrets = x'{}' WHERE id = {}", hex::encode(&tampered), blob(&a))).await;
        assert!(f.whoami(&a).await.is_err(), "bit flip at {position} must fail closed");
    }
    sqlite(format!("UPDATE credentials SET secrets = x'{}' WHERE id = {}", hex::encode(&original), blob(&a))).await;
    assert_eq!(f.whoami(&a).await.unwrap()["id"], "acct-a");
}

/// C3-47, acceptance 4: a rotation under a bounded load of calls loses no
/// request; afterwards nothing references the old key, and a restart
/// without the old key file still opens everything.
#[tokio::test]
async fn master_key_rotation_under_load_loses_no_request() {
    let f = Fixture::oauth().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = f.connect(&format!("u{i}"), &format!("acct-{i}"), json!({})).await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let ids = ids.clone();
        let stop = stop.clone();
        let f = &f;
        async move {
            let (mut ok, mut failed, mut rounds) = (0u32, 0u32, 0u32);
            while !stop.load(Ordering::Relaxed) && rounds < 400 {
                rounds += 1;
                for r in join_all(ids.iter().map(|id| f.whoami(id))).await {
                    if r.is_ok() { ok += 1 } else { failed += 1 }
                }
                // Refreshes during the rotation write new sealed values too.
                if rounds % 5 == 0 {
                    f.advance(3600);
                }
            }
            (ok, failed)
        }
    };
    let rotate = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let dir = f.app._dir.path().join("vault");
        weft_vault::LocalMasterKey::create_file(&dir.join("master-v2.key"), weft_vault::KeyId(2)).unwrap();
        let vault = f.app.credentials.vault().clone();
        assert!(vault.reload().unwrap(), "v2 is the current key now");
        let report = weft_credentials::rotate(f.app.store.as_ref(), &vault).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        report
    };
    let ((ok, failed), report) = tokio::join!(load, rotate);
    assert_eq!(failed, 0, "no request failed during the rotation ({ok} succeeded)");
    assert!(ok > 0);
    // Rows a refresh re-sealed during the pass count as raced: they are
    // under v2 already, which the scan below confirms.
    assert!(report.rewrapped + report.raced >= 6, "{report:?}");
    assert!(report.rewrapped >= 1, "{report:?}");
    for column in weft_store::SealedColumn::ALL {
        let left = f.app.store.sealed_not_under(column, 2, 10).await.unwrap();
        assert!(left.is_empty(), "{column:?} still references v1: {left:?}");
    }
    // Retire v1 and start again on the same data: everything opens.
    let dir = f.app._dir.path().join("vault");
    std::fs::rename(dir.join("master-v1.key"), dir.join("master-v1.key.retired")).unwrap();
    let settings = {
        let mut s = weft_server::config::Settings::default();
        s.server.port = 0;
        s.egress.allow_loopback = true;
        s.data_dir = f.app._dir.path().to_owned();
        s
    };
    let again = weft_server::Application::build(settings).await.expect("starts without v1");
    let project = f.project.parse().unwrap();
    for id in &ids {
        again.credentials().usable(project, id.parse().unwrap()).await.expect("opens under v2");
    }
}

/// C3-48: a wrong or missing master key stops the server at start-up; it
/// never creates a fresh key for a database that holds sealed data.
#[tokio::test]
async fn a_wrong_or_missing_master_key_refuses_to_start() {
    let f = Fixture::oauth().await;
    f.connect("u1", "acct-1", json!({})).await;
    let data = f.app._dir.path().to_owned();
    let settings = || {
        let mut s = weft_server::config::Settings::default();
        s.server.port = 0;
        s.egress.allow_loopback = true;
        s.data_dir = data.clone();
        s
    };
    let key = data.join("vault").join("master-v1.key");
    let saved = std::fs::read(&key).unwrap();
    // Wrong: another key of the same version.
    std::fs::remove_file(&key).unwrap();
    weft_vault::LocalMasterKey::create_file(&key, weft_vault::KeyId(1)).unwrap();
    let err = weft_server::Application::build(settings()).await.err().expect("a wrong key refuses to start");
    assert!(format!("{err:#}").contains("wrong or missing master key"), "{err:#}");
    // Missing: no key file at all.
    std::fs::remove_file(&key).unwrap();
    let err = weft_server::Application::build(settings()).await.err().expect("a missing key refuses to start");
    assert!(format!("{err:#}").contains("no master key found"), "{err:#}");
    assert!(!key.exists(), "no fresh key was generated");
    // The right key again: it starts.
    std::fs::write(&key, saved).unwrap();
    weft_server::Application::build(settings()).await.expect("the right key starts");
}

/// C3-51: listing many credentials opens none of them.
#[tokio::test]
async fn listing_credentials_decrypts_nothing() {
    let f = Fixture::oauth().await;
    let c = f.connect("u1", "acct-1", json!({})).await;
    let stored = f.stored(c["id"].as_str().unwrap()).await;
    for _ in 0..1000 {
        let mut new = weft_store::NewCredential {
            id: weft_store::CredentialId::new(),
            integration_id: stored.integration_id,
            user_id: "u1".into(),
            provider_id: Some("bulk".into()),
            provider_data: json!({}),
            connection_config: Default::default(),
            secrets: stored.secrets.clone(),
            expires_at: stored.expires_at,
        };
        new.provider_id = Some(format!("bulk-{}", new.id));
        f.app.store.insert_credential(stored.project_id, new).await.unwrap();
    }
    let before = f.app.credentials.counters.decrypts.load(Ordering::Relaxed);
    let (status, list) = f.sdk(Method::GET, "credentials", "u1", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1001);
    let (_, me) = f.sdk(Method::GET, "me", "u1", None).await;
    assert_eq!(me["integrations"]["test-oauth"]["allCredentials"].as_array().unwrap().len(), 1001);
    assert_eq!(f.app.credentials.counters.decrypts.load(Ordering::Relaxed), before, "listing opened a secret");
}

/// C3-53: uninstalling revokes at the provider and deletes the sealed row;
/// the old ciphertext restored under another credential does not open.
#[tokio::test]
async fn uninstall_shreds_the_credential() {
    let f = Fixture::oauth().await;
    let c = f.connect("u1", "acct-1", json!({})).await;
    let old = f.stored(c["id"].as_str().unwrap()).await;
    let path = format!("/projects/{}/sdk/integrations/{}", f.project, f.integration);
    assert_eq!(f.app.call(Method::DELETE, &path, Some(&f.token("u1")), None).await.0, 200);
    let revoked = f.mock.revocations();
    assert_eq!(revoked.len(), 1);
    assert!(f.mock.is_family_revoked(&revoked[0]));
    let (_, list) = f.sdk(Method::GET, "credentials", "u1", None).await;
    assert_eq!(list, Value::Array(vec![]));
    // "Restore" the old ciphertext as a new row: it is bound to the old id.
    let restored = weft_store::NewCredential {
        id: weft_store::CredentialId::new(),
        integration_id: old.integration_id,
        user_id: "u1".into(),
        provider_id: None,
        provider_data: json!({}),
        connection_config: Default::default(),
        secrets: old.secrets.clone(),
        expires_at: old.expires_at,
    };
    let row = f.app.store.insert_credential(old.project_id, restored).await.unwrap();
    let err = f.app.credentials.usable(row.project_id, row.id).await.err().expect("does not open");
    assert!(matches!(err, weft_credentials::Error::Corrupt), "{err:?}");
}

/// Environment secret values are write-only and sealed: set through the
/// admin API, readable only through the vault, absent from the file.
#[tokio::test]
async fn environment_secret_values_are_sealed() {
    let f = Fixture::oauth().await;
    let path = format!("/admin/projects/{}/secrets", f.project);
    let (status, _) = f.app.call(Method::POST, &path, Some(&f.admin_key), Some(json!({"name": "SLACK_TOKEN"}))).await;
    assert_eq!(status, 201);
    let value = canary("envsecret");
    let put = |name: &str| format!("{path}/{name}");
    let (status, _) =
        f.app.call(Method::PUT, &put("SLACK_TOKEN"), Some(&f.admin_key), Some(json!({"value": value}))).await;
    assert_eq!(status, 204);
    let (status, _) = f.app.call(Method::PUT, &put("UNKNOWN"), Some(&f.admin_key), Some(json!({"value": "x"}))).await;
    assert_eq!(status, 404);
    let (_, listed) = f.app.call(Method::GET, &path, Some(&f.admin_key), None).await;
    assert!(!listed.to_string().contains(&value));
    let read = f.app.credentials.environment_secret(f.project.parse().unwrap(), "SLACK_TOKEN").await.unwrap();
    assert_eq!(read.as_ref().map(secrecy::ExposeSecret::expose_secret), Some(value.as_str()));
    let bytes = std::fs::read(f.app._dir.path().join("weft.db")).unwrap_or_default();
    let wal = std::fs::read(f.app._dir.path().join("weft.db-wal")).unwrap_or_default();
    assert_absent(&[bytes, wal].concat(), std::slice::from_ref(&value), "the database");
}
