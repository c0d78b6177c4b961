//! Sealing and opening: round trips, owner binding, wrong keys, nonces.

use std::collections::HashSet;
use std::sync::Arc;

use secrecy::ExposeSecret;
use weft_vault::{Error, KeyId, Keyring, LocalMasterKey, Owner, OwnerKind, Result, Sealed, Vault};

fn vault(id: u32) -> Result<Vault> {
    Ok(Vault::new(Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(id))?))))
}

fn owner() -> Owner {
    Owner::new("project-a", OwnerKind::Credential, "cred-1")
}

#[test]
fn round_trips_through_the_stored_bytes() -> Result<()> {
    let vault = vault(1)?;
    for plaintext in [&b""[..], b"x", b"cnry-a-u-token-1234", &[0xff; 4096]] {
        let blob = vault.seal(&owner(), "access_token", plaintext)?.to_bytes();
        let opened = vault.open(&owner(), "access_token", &Sealed::from_bytes(&blob)?)?;
        assert_eq!(opened.expose_secret(), plaintext);
    }
    let sealed = vault.seal(&owner(), "api_key", "clé".as_bytes())?;
    assert_eq!(vault.open_string(&owner(), "api_key", &sealed)?.expose_secret(), "clé");
    let binary = vault.seal(&owner(), "api_key", &[0xff, 0xfe])?;
    assert!(matches!(vault.open_string(&owner(), "api_key", &binary), Err(Error::NotUtf8)));
    Ok(())
}

#[test]
fn every_owner_part_and_the_field_are_bound() -> Result<()> {
    let vault = vault(1)?;
    let sealed = vault.seal(&owner(), "access_token", b"secret-of-a")?;
    let others = [
        (Owner::new("project-b", OwnerKind::Credential, "cred-1"), "access_token"),
        (Owner::new("project-a", OwnerKind::IntegrationSecret, "cred-1"), "access_token"),
        (Owner::new("project-a", OwnerKind::EnvironmentSecret, "cred-1"), "access_token"),
        (Owner::new("project-a", OwnerKind::Credential, "cred-2"), "access_token"),
        (owner(), "refresh_token"),
    ];
    for (other, field) in &others {
        let result = vault.open(other, field, &sealed);
        assert!(matches!(result, Err(Error::Integrity)), "{other:?} {field}: {result:?}");
    }
    assert_eq!(vault.open(&owner(), "access_token", &sealed)?.expose_secret(), b"secret-of-a");
    Ok(())
}

/// TESTING C3-45: ciphertext columns copied from row A into row B.
#[test]
fn parts_copied_between_rows_fail_closed() -> Result<()> {
    let vault = vault(1)?;
    let row_b = Owner::new("project-a", OwnerKind::Credential, "cred-2");
    let a = vault.seal(&owner(), "access_token", b"secret-of-a")?.to_bytes();
    let b = vault.seal(&row_b, "access_token", b"secret-of-b")?.to_bytes();
    let split = 7 + 72; // header and wrapped key | value nonce and ciphertext
    let mixes = [
        a.clone(),                           // the whole blob
        [&b[..split], &a[split..]].concat(), // A's value under B's data key
        [&a[..split], &b[split..]].concat(), // A's data key, B's value
    ];
    for mixed in mixes {
        let result = vault.open(&row_b, "access_token", &Sealed::from_bytes(&mixed)?);
        assert!(matches!(result, Err(Error::Integrity)), "{result:?}");
    }
    Ok(())
}

#[test]
fn a_different_master_key_of_the_same_version_fails() -> Result<()> {
    let sealed = vault(1)?.seal(&owner(), "f", b"secret")?;
    assert!(matches!(vault(1)?.open(&owner(), "f", &sealed), Err(Error::Integrity)));
    assert!(matches!(vault(2)?.open(&owner(), "f", &sealed), Err(Error::UnknownKey(KeyId(1)))));
    Ok(())
}

/// TESTING C3-52: random nonces and data keys never repeat.
#[test]
fn sealing_one_plaintext_twice_never_repeats() -> Result<()> {
    let vault = vault(1)?;
    let mut nonces = HashSet::new();
    let mut ciphertexts = HashSet::new();
    for _ in 0..10_000 {
        let sealed = vault.seal(&owner(), "f", b"same plaintext")?;
        assert!(nonces.insert(*sealed.value_nonce()));
        assert!(ciphertexts.insert(sealed.value_ciphertext().to_vec()));
    }
    Ok(())
}
