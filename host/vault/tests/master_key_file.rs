//! Key files on disk and the start-up canary check.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use weft_vault::{Error, KeyId, Keyring, LocalMasterKey, MasterKey, MasterKeyCheck, Result, Vault};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

#[test]
fn created_once_with_mode_0600_then_loaded() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("master.key");
    let (key, created) = LocalMasterKey::create_file_if_missing(&path)?;
    assert!(created);
    assert_eq!(key.id(), KeyId(1));
    assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
    let written = std::fs::read(&path)?;

    let (again, created) = LocalMasterKey::create_file_if_missing(&path)?;
    assert!(!created);
    assert_eq!(std::fs::read(&path)?, written, "an existing key file is never rewritten");
    // Same key: what one sealed, the other opens.
    let owner = weft_vault::Owner::new("p", weft_vault::OwnerKind::Credential, "c");
    let sealed = Vault::new(Keyring::new(Arc::new(key))).seal(&owner, "f", b"x")?;
    Vault::new(Keyring::new(Arc::new(again))).open(&owner, "f", &sealed)?;
    Ok(())
}

#[test]
fn create_file_never_overwrites_and_load_never_creates() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("master.v2.key");
    let missing = LocalMasterKey::load_file(&path);
    assert!(matches!(missing, Err(Error::KeyFile { .. })), "{missing:?}");
    assert!(!path.exists());
    assert_eq!(LocalMasterKey::create_file(&path, KeyId(2))?.id(), KeyId(2));
    assert!(matches!(LocalMasterKey::create_file(&path, KeyId(2)), Err(Error::KeyFile { .. })));
    assert_eq!(LocalMasterKey::load_file(&path)?.id(), KeyId(2));
    Ok(())
}

#[test]
fn malformed_key_files_are_refused_clearly() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("master.key");
    let bad: [&[u8]; 5] = [b"", b"weft-master-key v1 AAAA\n", b"0123456789abcdef", &[0xff, 0xfe, 0], &[b'a'; 5000]];
    for content in bad {
        std::fs::write(&path, content)?;
        let err = LocalMasterKey::load_file(&path).err().ok_or("malformed file accepted")?;
        assert!(matches!(err, Error::MalformedKey { .. }), "{err:?}");
        assert!(err.to_string().contains("master.key"), "names the file: {err}");
        // Never re-created over a malformed file either.
        assert!(LocalMasterKey::create_file_if_missing(&path).is_err());
        assert_eq!(std::fs::read(&path)?, content);
    }
    Ok(())
}

#[test]
fn canary_detects_a_wrong_or_missing_master_key() -> Result<()> {
    let v1: Arc<dyn MasterKey> = Arc::new(LocalMasterKey::generate(KeyId(1))?);
    let vault = Vault::new(Keyring::new(v1.clone()));
    let MasterKeyCheck::Created(canary) = vault.verify_master_key(None)? else {
        panic!("first start must create a canary");
    };
    assert!(matches!(vault.verify_master_key(Some(&canary))?, MasterKeyCheck::Verified { stale: false }));

    let wrong = Vault::new(Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(1))?)));
    assert!(matches!(wrong.verify_master_key(Some(&canary)), Err(Error::WrongMasterKey(KeyId(1)))));
    let v1_missing = Vault::new(Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(2))?)));
    assert!(matches!(v1_missing.verify_master_key(Some(&canary)), Err(Error::WrongMasterKey(KeyId(1)))));

    let rotating = Vault::new(Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(2))?)).with_older(v1)?);
    assert!(matches!(rotating.verify_master_key(Some(&canary))?, MasterKeyCheck::Verified { stale: true }));
    let rewrapped = rotating.rewrap_canary(&canary)?;
    assert!(matches!(rotating.verify_master_key(Some(&rewrapped))?, MasterKeyCheck::Verified { stale: false }));
    Ok(())
}
