//! User-token cases of TESTING.md C1 at the verifier: real RS256 keys, a
//! JWKS provider on loopback reached through the real egress client, and an
//! injected clock.

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use weft_auth::{
    AuthError, ClaimRules, Clock, JwksCache, JwksConfig, ProjectKeys, StaticKey, TokenPolicy, UserTokenVerifier,
};
use weft_egress::{EgressClient, EgressConfig};

const NOW: i64 = 1_800_000_000;

struct FixedClock(i64);
impl Clock for FixedClock {
    fn now_unix(&self) -> i64 {
        self.0
    }
}

/// Three 2048-bit key pairs, generated once per test process.
fn keypair(i: usize) -> &'static (String, String) {
    static KEYS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    &KEYS.get_or_init(|| (0..3).map(|_| weft_auth::generate_signing_key().unwrap()).collect())[i]
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iat": NOW - 60, "exp": NOW + 3600})
}

fn mint_with(header: Header, private_pem: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap()).unwrap()
}

fn mint(key: usize, kid: Option<&str>, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = kid.map(str::to_owned);
    mint_with(h, &keypair(key).0, claims)
}

fn static_keys(indices: &[usize]) -> ProjectKeys {
    ProjectKeys::with_static(
        indices.iter().map(|i| StaticKey::from_pem(Some(format!("k{i}")), &keypair(*i).1).unwrap()).collect(),
    )
}

fn verifier() -> UserTokenVerifier {
    UserTokenVerifier::with_clock(TokenPolicy::default(), Arc::new(FixedClock(NOW)))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn jwk(i: usize, kid: &str) -> Value {
    let public = rsa::RsaPublicKey::from_public_key_pem(&keypair(i).1).unwrap();
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
}

/// A JWKS endpoint whose document and status tests can change, counting fetches.
struct MockJwks {
    url: String,
    doc: Arc<Mutex<(u16, Value)>>,
    hits: Arc<AtomicUsize>,
}

impl MockJwks {
    async fn start(keys: Vec<Value>) -> Self {
        let doc = Arc::new(Mutex::new((200u16, json!({ "keys": keys }))));
        let hits = Arc::new(AtomicUsize::new(0));
        let (d, h) = (doc.clone(), hits.clone());
        let app = Router::new().route(
            "/jwks",
            get(move || {
                let (d, h) = (d.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = d.lock().unwrap().clone();
                    if status == 0 {
                        tokio::time::sleep(Duration::from_secs(30)).await; // black hole
                    }
                    (axum::http::StatusCode::from_u16(status.max(200)).unwrap(), axum::Json(body))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, doc, hits }
    }

    fn set(&self, status: u16, keys: Vec<Value>) {
        *self.doc.lock().unwrap() = (status, json!({ "keys": keys }));
    }

    fn keys(&self, config: JwksConfig) -> ProjectKeys {
        // The JWKS mock is on loopback, which the egress policy refuses by default.
        let policy = weft_egress::EgressPolicy { allow_loopback: true, ..Default::default() };
        let egress = Arc::new(EgressClient::new(EgressConfig { policy, ..Default::default() }).unwrap());
        ProjectKeys::default().with_jwks(Arc::new(JwksCache::new(self.url.parse().unwrap(), egress, config)))
    }
}

#[tokio::test]
async fn valid_token_gives_the_user() {
    let user = verifier().verify("p1", &static_keys(&[0]), &mint(0, Some("k0"), &claims("user-7"))).await.unwrap();
    assert_eq!((user.sub.as_str(), user.exp), ("user-7", NOW + 3600));
}

#[tokio::test]
async fn alg_none_and_hs256_confusion_are_refused() {
    let v = verifier();
    let keys = static_keys(&[0]);
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims("u").to_string().as_bytes()));
    assert!(v.verify("p1", &keys, &none).await.is_err());
    // HS256 "signed" with the project's public key bytes as the secret.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("u"),
        &EncodingKey::from_secret(keypair(0).1.as_bytes()),
    )
    .unwrap();
    assert!(matches!(v.verify("p1", &keys, &hs).await, Err(AuthError::Invalid(_))));
}

#[tokio::test]
async fn wrong_key_and_tampered_payload_are_refused() {
    let v = verifier();
    let keys = static_keys(&[0]);
    assert!(matches!(v.verify("p1", &keys, &mint(1, Some("k0"), &claims("u"))).await, Err(AuthError::Invalid(_))));
    let good = mint(0, Some("k0"), &claims("alice"));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], b64(claims("mallory").to_string().as_bytes()), parts[2]);
    assert!(matches!(v.verify("p1", &keys, &forged).await, Err(AuthError::Invalid(_))));
}

#[tokio::test]
async fn required_claims_and_their_types() {
    let v = verifier();
    let keys = static_keys(&[0]);
    let cases = [
        json!({"sub": "u", "iat": NOW}),
        json!({"sub": "u", "iat": NOW, "exp": (NOW + 60).to_string()}),
        json!({"iat": NOW, "exp": NOW + 60}),
        json!({"sub": "u", "exp": NOW + 60}),
        json!({"sub": "", "iat": NOW, "exp": NOW + 60}),
        json!({"sub": 42, "iat": NOW, "exp": NOW + 60}),
    ];
    for c in cases {
        let r = v.verify("p1", &keys, &mint(0, Some("k0"), &c)).await;
        assert!(matches!(r, Err(AuthError::Invalid(_))), "{c} gave {r:?}");
    }
}

#[tokio::test]
async fn lifetime_cap_future_iat_leeway_and_nbf() {
    let v = verifier();
    let keys = static_keys(&[0]);
    let leeway = TokenPolicy::default().leeway.as_secs() as i64;
    let check = |c: Value| {
        let token = mint(0, Some("k0"), &c);
        let (v, keys) = (&v, &keys);
        async move { v.verify("p1", keys, &token).await }
    };
    assert!(check(json!({"sub": "u", "iat": NOW, "exp": NOW + 25 * 3600})).await.is_err(), "over 24 h");
    assert!(check(json!({"sub": "u", "iat": NOW + leeway + 60, "exp": NOW + 3600})).await.is_err(), "iat ahead");
    assert_eq!(check(json!({"sub": "u", "iat": NOW - 600, "exp": NOW - (leeway + 5)})).await, Err(AuthError::Expired));
    assert!(check(json!({"sub": "u", "iat": NOW - 600, "exp": NOW - (leeway - 5)})).await.is_ok(), "within leeway");
    let nbf = json!({"sub": "u", "iat": NOW, "exp": NOW + 600, "nbf": NOW + leeway + 60});
    assert_eq!(check(nbf).await, Err(AuthError::Expired));
    assert!(check(json!({"sub": "u", "iat": NOW, "exp": NOW + 600, "aud": "p2"})).await.is_err(), "other audience");
    assert!(check(json!({"sub": "u", "iat": NOW, "exp": NOW + 600, "aud": ["p1"]})).await.is_ok());
}

/// Extreme `iat`, `exp` and `nbf` never overflow the checks (a debug build
/// would panic, a release build would wrap past the lifetime cap).
#[tokio::test]
async fn extreme_times_are_refused_without_overflow() {
    let v = verifier();
    let keys = static_keys(&[0]);
    for c in [
        json!({"sub": "u", "iat": i64::MIN, "exp": NOW + 600}),
        json!({"sub": "u", "iat": i64::MIN, "exp": i64::MAX}),
        json!({"sub": "u", "iat": NOW, "exp": i64::MAX}),
        json!({"sub": "u", "iat": i64::MAX, "exp": i64::MIN}),
        json!({"sub": "u", "iat": NOW, "exp": NOW - 60}),
        json!({"sub": "u", "iat": i64::MAX, "exp": i64::MAX}),
    ] {
        let r = v.verify("p1", &keys, &mint(0, Some("k0"), &c)).await;
        assert!(r.is_err(), "{c} gave {r:?}");
    }
    let nbf = json!({"sub": "u", "iat": NOW, "exp": NOW + 600, "nbf": i64::MAX});
    assert_eq!(v.verify("p1", &keys, &mint(0, Some("k0"), &nbf)).await, Err(AuthError::Expired));
}

/// A key configured with an issuer and an audience requires both; a key
/// without them ignores `iss` and accepts only the project as `aud`.
#[tokio::test]
async fn a_keys_issuer_and_audience_are_required() {
    let v = verifier();
    let rules = ClaimRules { issuer: Some("https://idp.test".into()), audience: Some("app".into()) };
    let ruled = ProjectKeys::with_static(vec![
        StaticKey::from_pem(Some("k0".into()), &keypair(0).1).unwrap().with_rules(rules),
        StaticKey::from_pem(Some("k1".into()), &keypair(1).1).unwrap(),
    ]);
    let check = |key: usize, extra: Value| {
        let mut c = json!({"sub": "u", "iat": NOW, "exp": NOW + 600});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let token = mint(key, Some(&format!("k{key}")), &c);
        let (v, keys) = (&v, &ruled);
        async move { v.verify("p1", keys, &token).await }
    };
    for refused in [
        json!({}),
        json!({"iss": "https://idp.test"}),
        json!({"aud": "app"}),
        json!({"iss": "https://other.test", "aud": "app"}),
        json!({"iss": "https://idp.test", "aud": "p1"}),
        json!({"iss": ["https://idp.test"], "aud": "app"}),
    ] {
        assert!(matches!(check(0, refused.clone()).await, Err(AuthError::Invalid(_))), "{refused}");
    }
    assert!(check(0, json!({"iss": "https://idp.test", "aud": "app"})).await.is_ok());
    assert!(check(0, json!({"iss": "https://idp.test", "aud": ["x", "app"]})).await.is_ok());
    // The other key has no rules: any `iss`, and `aud` only the project.
    assert!(check(1, json!({"iss": "anyone"})).await.is_ok());
    assert!(check(1, json!({"aud": "p1"})).await.is_ok());
    assert!(check(1, json!({"aud": "app"})).await.is_err());
}

#[tokio::test]
async fn keys_come_from_the_route_project_not_the_token() {
    let v = verifier();
    let (a, b) = (static_keys(&[0]), static_keys(&[1]));
    let token_a = mint(0, Some("k0"), &claims("u"));
    assert!(v.verify("A", &a, &token_a).await.is_ok());
    assert!(v.verify("B", &b, &token_a).await.is_err(), "A's token on B's route");
    // A token naming B's kid but signed by A's key still fails on B.
    assert!(v.verify("B", &b, &mint(0, Some("k1"), &claims("u"))).await.is_err());
}

#[tokio::test]
async fn static_key_rotation_with_overlap_and_removal() {
    let v = verifier();
    let old = mint(0, Some("k0"), &claims("u"));
    let new = mint(1, Some("k1"), &claims("u"));
    let both = static_keys(&[0, 1]);
    assert!(v.verify("p1", &both, &old).await.is_ok());
    assert!(v.verify("p1", &both, &new).await.is_ok());
    let only_new = static_keys(&[1]);
    assert!(v.verify("p1", &only_new, &old).await.is_err(), "no stale cache after removing a key");
    assert!(v.verify("p1", &only_new, &new).await.is_ok());
}

#[tokio::test]
async fn header_key_hints_are_never_fetched() {
    let attacker = MockJwks::start(vec![jwk(2, "evil")]).await;
    let v = verifier();
    let keys = static_keys(&[0]);
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("evil".into());
    h.jku = Some(attacker.url.clone());
    h.x5u = Some(attacker.url.clone());
    assert!(v.verify("p1", &keys, &mint_with(h.clone(), &keypair(2).0, &claims("u"))).await.is_err());
    h.kid = Some("k0".into());
    assert!(v.verify("p1", &keys, &mint_with(h, &keypair(0).0, &claims("u"))).await.is_ok());
    assert_eq!(attacker.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_input_is_refused_without_panic() {
    let v = verifier();
    let keys = static_keys(&[0]);
    let huge = format!("{}.{}.{}", "a".repeat(600_000), "b".repeat(600_000), "c");
    for t in ["", "a.b", "a.b.c.d", "!!!.???.***", "eyJhbGciOiJSUzI1NiJ9.e30", huge.as_str()] {
        assert!(v.verify("p1", &keys, t).await.is_err(), "{t:.40}");
    }
    // Random bytes: always an error, never a panic.
    let mut seed = 0x9e3779b97f4a7c15u64;
    for _ in 0..500 {
        let len = (seed % 200) as usize;
        let s: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b"abcXYZ019-_.=+/{}\"".get((seed % 18) as usize).copied().unwrap_or(b'.'))
            })
            .collect();
        assert!(v.verify("p1", &keys, &s).await.is_err());
    }
}

#[tokio::test]
async fn unknown_kid_flood_causes_at_most_one_fetch() {
    let jwks = MockJwks::start(vec![jwk(0, "k0")]).await;
    let keys = jwks.keys(JwksConfig::default());
    let v = Arc::new(verifier());
    let mut set = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (v, keys) = (v.clone(), keys.clone());
        let token = mint(1, Some(&format!("random-{i}")), &claims("u"));
        set.spawn(async move { v.verify("p1", &keys, &token).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().is_err());
    }
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 1, "one fetch, then the cooldown holds");
    assert!(v.verify("p1", &keys, &mint(0, Some("k0"), &claims("u"))).await.is_ok());
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 1);
}

/// Polls `f` until it returns true or 5 s pass.
async fn eventually<F: AsyncFnMut() -> bool>(mut f: F) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn jwks_rotation_without_restart() {
    let jwks = MockJwks::start(vec![jwk(0, "k0")]).await;
    let config = JwksConfig {
        max_age: Duration::from_millis(400),
        refetch_cooldown: Duration::from_millis(200),
        ..JwksConfig::default()
    };
    let keys = jwks.keys(config);
    let v = verifier();
    let t0 = mint(0, Some("k0"), &claims("u"));
    let t1 = mint(1, Some("k1"), &claims("u"));
    assert!(v.verify("p1", &keys, &t0).await.is_ok());
    jwks.set(200, vec![jwk(0, "k0"), jwk(1, "k1")]);
    assert!(eventually(async || v.verify("p1", &keys, &t1).await.is_ok()).await, "new key accepted");
    jwks.set(200, vec![jwk(1, "k1")]);
    assert!(eventually(async || v.verify("p1", &keys, &t0).await.is_err()).await, "removed key refused after max age");
}

#[tokio::test]
async fn jwks_outage_serves_stale_keys_then_fails_fast_without_them() {
    let jwks = MockJwks::start(vec![jwk(0, "k0")]).await;
    let config = JwksConfig {
        max_age: Duration::from_millis(100),
        fetch_timeout: Duration::from_millis(300),
        ..JwksConfig::default()
    };
    let keys = jwks.keys(config.clone());
    let v = UserTokenVerifier::with_clock(
        TokenPolicy { cache_entries: 0, ..TokenPolicy::default() },
        Arc::new(FixedClock(NOW)),
    );
    let t0 = mint(0, Some("k0"), &claims("u"));
    assert!(v.verify("p1", &keys, &t0).await.is_ok());
    jwks.set(500, vec![]);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(v.verify("p1", &keys, &t0).await.is_ok(), "stale-if-error");
    // A project whose JWKS never answered: a clear error within the timeout.
    jwks.set(0, vec![]);
    let cold = jwks.keys(config);
    let started = Instant::now();
    assert!(matches!(v.verify("p1", &cold, &t0).await, Err(AuthError::KeysUnavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn hostile_jwks_entries_are_ignored() {
    let weak = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
    let weak_pub = weak.to_public_key();
    let weak_jwk = json!({"kty": "RSA", "kid": "weak", "n": b64(&weak_pub.n().to_bytes_be()), "e": b64(&weak_pub.e().to_bytes_be())});
    let mut hs_alg = jwk(1, "hs");
    hs_alg["alg"] = json!("HS256");
    let oct = json!({"kty": "oct", "kid": "oct", "k": b64(b"shared-secret")});
    let jwks = MockJwks::start(vec![weak_jwk, hs_alg, oct, jwk(0, "k0")]).await;
    let keys = jwks.keys(JwksConfig::default());
    let v = verifier();
    assert!(v.verify("p1", &keys, &mint(1, Some("hs"), &claims("u"))).await.is_err());
    let oct_token = jsonwebtoken::encode(
        &Header { kid: Some("oct".into()), ..Header::new(Algorithm::HS256) },
        &claims("u"),
        &EncodingKey::from_secret(b"shared-secret"),
    )
    .unwrap();
    assert!(v.verify("p1", &keys, &oct_token).await.is_err());
    assert!(v.verify("p1", &keys, &mint(0, Some("k0"), &claims("u"))).await.is_ok());
    assert!(
        StaticKey::from_pem(
            None,
            &rsa::pkcs8::EncodePublicKey::to_public_key_pem(&weak_pub, Default::default()).unwrap()
        )
        .is_err()
    );
}

#[test]
fn crypto_self_test_passes() {
    weft_auth::self_test().unwrap();
}
