//! Master key rotation: seal under v1, make v2 current, re-wrap, retire v1.

use std::sync::Arc;

use secrecy::ExposeSecret;
use weft_vault::{Error, KeyId, Keyring, LocalMasterKey, MasterKey, Owner, OwnerKind, Result, Vault};

fn owner() -> Owner {
    Owner::new("project-a", OwnerKind::IntegrationSecret, "integration-9")
}

#[test]
fn rewrap_moves_the_data_key_to_the_current_key_only() -> Result<()> {
    let v1: Arc<dyn MasterKey> = Arc::new(LocalMasterKey::generate(KeyId(1))?);
    let v2: Arc<dyn MasterKey> = Arc::new(LocalMasterKey::generate(KeyId(2))?);
    let old = Vault::new(Keyring::new(v1.clone()));
    let sealed = old.seal(&owner(), "client_secret", b"cnry-rotate")?;
    assert_eq!(sealed.key_id(), KeyId(1));

    // During the rotation both keys are held; old blobs still open.
    let rotating = Vault::new(Keyring::new(v2.clone()).with_older(v1)?);
    assert!(rotating.needs_rewrap(&sealed));
    assert_eq!(rotating.open(&owner(), "client_secret", &sealed)?.expose_secret(), b"cnry-rotate");
    let fresh = rotating.seal(&owner(), "client_secret", b"new")?;
    assert_eq!(fresh.key_id(), KeyId(2));

    let rewrapped = rotating.rewrap(&owner(), "client_secret", &sealed)?;
    assert_eq!(rewrapped.key_id(), KeyId(2));
    assert!(!rotating.needs_rewrap(&rewrapped));
    assert_eq!(rewrapped.value_nonce(), sealed.value_nonce());
    assert_eq!(rewrapped.value_ciphertext(), sealed.value_ciphertext());
    assert_ne!(rewrapped.to_bytes(), sealed.to_bytes());

    // v1 retired: the re-wrapped blob opens, the old one names a missing key.
    let retired = Vault::new(Keyring::new(v2));
    assert_eq!(retired.open(&owner(), "client_secret", &rewrapped)?.expose_secret(), b"cnry-rotate");
    assert!(matches!(retired.open(&owner(), "client_secret", &sealed), Err(Error::UnknownKey(KeyId(1)))));
    Ok(())
}

#[test]
fn rewrap_is_bound_to_the_owner_like_open() -> Result<()> {
    let v1: Arc<dyn MasterKey> = Arc::new(LocalMasterKey::generate(KeyId(1))?);
    let vault = Vault::new(Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(2))?)).with_older(v1.clone())?);
    let sealed = Vault::new(Keyring::new(v1)).seal(&owner(), "client_secret", b"x")?;
    let other = Owner::new("project-b", OwnerKind::IntegrationSecret, "integration-9");
    assert!(matches!(vault.rewrap(&other, "client_secret", &sealed), Err(Error::Integrity)));
    assert!(matches!(vault.rewrap(&owner(), "signing_secret", &sealed), Err(Error::Integrity)));
    Ok(())
}
