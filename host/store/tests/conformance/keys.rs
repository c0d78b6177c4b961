//! Signing keys, API keys, the operator key.

use crate::harness::{Db, project, random_hash};
use weft_store::{ApiKeyId, Error, NewApiKey, NewSigningKey, Role, SigningKeyId, SigningKeyMaterial};

const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----\n";

fn pem_key(kid: &str) -> NewSigningKey {
    NewSigningKey::new(Some(kid.into()), SigningKeyMaterial::Generated { public_key_pem: PEM.into() })
}

fn api_key(name: &str, role: Role, hash: &str) -> NewApiKey {
    NewApiKey { name: name.into(), role, key_prefix: "wk_abc12".into(), key_hash: hash.into() }
}

pub async fn signing_keys(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let generated = s.add_signing_key(p.id, pem_key("k1")).await.expect("generated");
    let uploaded = s
        .add_signing_key(p.id, NewSigningKey::new(None, SigningKeyMaterial::Uploaded { public_key_pem: PEM.into() }))
        .await
        .expect("uploaded");
    let jwks = SigningKeyMaterial::Jwks { url: "https://idp.test/.well-known/jwks.json".into() };
    let mut jwks = NewSigningKey::new(None, jwks);
    jwks.issuer = Some("https://idp.test".into());
    jwks.audience = Some("weft-app".into());
    let jwks = s.add_signing_key(p.id, jwks).await.expect("jwks");
    assert_eq!(jwks.issuer.as_deref(), Some("https://idp.test"));
    assert_eq!(jwks.audience.as_deref(), Some("weft-app"));
    assert_eq!((uploaded.issuer.as_deref(), uploaded.audience.as_deref()), (None, None));
    assert_eq!(generated.kid.as_deref(), Some("k1"));
    assert_eq!(generated.project_id, p.id);
    assert_eq!(s.list_signing_keys(p.id).await.expect("list"), vec![generated.clone(), uploaded, jwks.clone()]);

    s.delete_signing_key(p.id, generated.id).await.expect("delete");
    assert!(matches!(s.delete_signing_key(p.id, generated.id).await, Err(Error::NotFound(_))));
    let left = s.list_signing_keys(p.id).await.expect("list");
    assert_eq!(left.len(), 2);
    assert_eq!(left[1], jwks);

    // Private keys and malformed inputs never get in.
    let private = NewSigningKey::new(
        None,
        SigningKeyMaterial::Uploaded {
            public_key_pem: "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----".into(),
        },
    );
    assert!(matches!(s.add_signing_key(p.id, private).await, Err(Error::Invalid(_))));
    let bad_url = NewSigningKey::new(None, SigningKeyMaterial::Jwks { url: "not a url".into() });
    assert!(matches!(s.add_signing_key(p.id, bad_url).await, Err(Error::Invalid(_))));
    assert_eq!(s.list_signing_keys(p.id).await.expect("list").len(), 2);
}

pub async fn signing_key_kid_conflict_and_tenancy(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let key = s.add_signing_key(a.id, pem_key("k1")).await.expect("add");
    assert!(matches!(s.add_signing_key(a.id, pem_key("k1")).await, Err(Error::Conflict(_))));
    // The same kid in another project is fine.
    s.add_signing_key(b.id, pem_key("k1")).await.expect("other project");

    assert!(matches!(s.delete_signing_key(b.id, key.id).await, Err(Error::NotFound(_))));
    assert!(s.list_signing_keys(a.id).await.expect("list").contains(&key));
    assert!(!s.list_signing_keys(b.id).await.expect("list").contains(&key));
    assert!(matches!(s.delete_signing_key(a.id, SigningKeyId::new()).await, Err(Error::NotFound(_))));
}

pub async fn api_keys(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let hash = random_hash();
    let key = s.create_api_key(p.id, api_key("ci", Role::Member, &hash)).await.expect("create");
    assert_eq!((key.project_id, key.role, key.name.as_str()), (p.id, Role::Member, "ci"));
    assert_eq!(key.key_prefix, "wk_abc12");
    assert_eq!((key.last_used_at, key.revoked_at), (None, None));
    let support = s.create_api_key(p.id, api_key("help", Role::Support, &random_hash())).await.expect("create");
    assert_eq!(s.list_api_keys(p.id).await.expect("list"), vec![key.clone(), support]);

    assert_eq!(s.find_api_key_by_hash(&hash).await.expect("find"), Some(key.clone()));
    assert_eq!(s.find_api_key_by_hash(&random_hash()).await.expect("find"), None);
    // A plaintext key passed by mistake is refused, not looked up.
    assert!(matches!(s.find_api_key_by_hash("wk_abc12secret").await, Err(Error::Invalid(_))));
    assert!(matches!(s.create_api_key(p.id, api_key("x", Role::Admin, "wk_plaintext")).await, Err(Error::Invalid(_))));

    s.touch_api_key(p.id, key.id).await.expect("touch");
    let used = s.find_api_key_by_hash(&hash).await.expect("find").expect("still valid");
    assert!(used.last_used_at.is_some_and(|t| t >= key.created_at));
}

pub async fn api_key_hash_conflict(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let hash = random_hash();
    s.create_api_key(a.id, api_key("one", Role::Admin, &hash)).await.expect("create");
    for p in [a.id, b.id] {
        let res = s.create_api_key(p, api_key("two", Role::Admin, &hash)).await;
        assert!(matches!(res, Err(Error::Conflict(_))), "{res:?}");
    }
    assert_eq!(s.list_api_keys(b.id).await.expect("list"), vec![]);
}

pub async fn api_key_revocation_is_immediate(db: Db) {
    let s = db.store;
    let p = project(&*s, "P").await;
    let hash = random_hash();
    let key = s.create_api_key(p.id, api_key("ci", Role::Admin, &hash)).await.expect("create");
    assert!(s.find_api_key_by_hash(&hash).await.expect("find").is_some());

    let revoked = s.revoke_api_key(p.id, key.id).await.expect("revoke");
    let at = revoked.revoked_at.expect("revocation time");
    assert_eq!(s.find_api_key_by_hash(&hash).await.expect("find"), None, "revoked keys authorize nothing");
    // Idempotent, keeping the first revocation time; still listed.
    let again = s.revoke_api_key(p.id, key.id).await.expect("revoke again");
    assert_eq!(again.revoked_at, Some(at));
    assert_eq!(s.list_api_keys(p.id).await.expect("list"), vec![revoked]);
    assert!(matches!(s.revoke_api_key(p.id, ApiKeyId::new()).await, Err(Error::NotFound(_))));
}

pub async fn api_key_tenancy(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let hash = random_hash();
    let key = s.create_api_key(a.id, api_key("ci", Role::Admin, &hash)).await.expect("create");
    assert!(s.list_api_keys(b.id).await.expect("list").is_empty());
    assert!(matches!(s.revoke_api_key(b.id, key.id).await, Err(Error::NotFound(_))));
    assert!(matches!(s.touch_api_key(b.id, key.id).await, Err(Error::NotFound(_))));
    // The failed cross-project revoke changed nothing.
    let found = s.find_api_key_by_hash(&hash).await.expect("find").expect("still valid");
    assert_eq!((found.project_id, found.revoked_at), (a.id, None));
}

pub async fn operator_key(db: Db) {
    let s = db.store;
    let (first, second) = (random_hash(), random_hash());
    assert!(!s.verify_operator_key_hash(&first).await.expect("verify"));
    assert!(s.set_operator_key_hash(&first).await.expect("set"), "first set stores it");
    assert!(!s.set_operator_key_hash(&second).await.expect("set"), "later sets change nothing");
    assert!(s.verify_operator_key_hash(&first).await.expect("verify"));
    assert!(!s.verify_operator_key_hash(&second).await.expect("verify"));
    assert!(matches!(s.set_operator_key_hash("operator-plaintext").await, Err(Error::Invalid(_))));
}
