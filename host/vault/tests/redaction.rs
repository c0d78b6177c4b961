//! `Debug` output never shows key bytes or plaintext (TESTING C3-49).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use weft_vault::{KeyId, Keyring, LocalMasterKey, Owner, OwnerKind, Result, Vault};

const CANARY: &str = "cnry-debug-9f3a";

#[test]
fn debug_output_holds_no_key_or_plaintext() -> Result<()> {
    let key = LocalMasterKey::generate(KeyId(1))?;
    let encoded = key.encode();
    let key_b64 = encoded.split(' ').nth(2).unwrap_or_default().to_owned();
    let key_bytes = STANDARD.decode(&key_b64).unwrap_or_default();
    assert_eq!(key_bytes.len(), 32);
    let key_debug = format!("{key:?}");

    let vault = Vault::new(Keyring::new(Arc::new(key)));
    let owner = Owner::new("p", OwnerKind::EnvironmentSecret, "env-1");
    let sealed = vault.seal(&owner, "value", CANARY.as_bytes())?;
    let opened = vault.open(&owner, "value", &sealed)?;
    let opened_text = vault.open_string(&owner, "value", &sealed)?;

    let outputs = [
        key_debug,
        format!("{vault:?}"),
        format!("{:?}", vault.keyring()),
        format!("{sealed:?}"),
        format!("{opened:?}"),
        format!("{opened_text:?}"),
        format!("{:#?}", (&vault, &opened, &opened_text)),
    ];
    let key_hex: String = key_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key_list = format!("{:?}", key_bytes);
    let canary_bytes = format!("{:?}", CANARY.as_bytes());
    for out in &outputs {
        for needle in [CANARY, &key_b64, &key_hex, &key_list, &canary_bytes] {
            assert!(!out.contains(needle), "{out} leaks {needle}");
        }
    }
    Ok(())
}
