//! Where the master keys come from, and the start-up rule that protects
//! them: the server opens the vault only with the key the database was
//! sealed under (checked with the stored canary), creates a key only for a
//! database that holds nothing sealed yet, and refuses to start otherwise.
//!
//! Key files live in the key directory as `master-v<N>.key`; the highest
//! version seals, the others only open values until a rotation has
//! re-wrapped them. A key can also come from the settings (for example
//! `WEFT__VAULT__MASTER_KEY`), with older ones in `older_master_keys`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use weft_store::Store;
use weft_vault::{KeyId, Keyring, LocalMasterKey, MasterKeyCheck, Sealed, Vault};

use crate::config::Settings;

/// The key files of `dir`, by version, highest first.
fn key_files(dir: &Path) -> anyhow::Result<Vec<(u32, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e).with_context(|| format!("reading the key directory {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(Ok(v)) = name.strip_prefix("master-v").and_then(|r| r.strip_suffix(".key")).map(str::parse::<u32>) {
            found.push((v, path));
        }
    }
    found.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    Ok(found)
}

/// The path of key version `v` in `dir`.
pub fn key_file_path(dir: &Path, v: u32) -> PathBuf {
    dir.join(format!("master-v{v}.key"))
}

/// Reads the keyring the settings describe; `None` when there is no key at all.
pub fn load_keyring(settings: &Settings) -> anyhow::Result<Option<Keyring>> {
    if let Some(inline) = &settings.vault.master_key {
        let current = LocalMasterKey::from_encoded(inline.expose_secret()).context("vault.master_key")?;
        let mut ring = Keyring::new(Arc::new(current));
        for older in &settings.vault.older_master_keys {
            let key = LocalMasterKey::from_encoded(older.expose_secret()).context("vault.older_master_keys")?;
            ring = ring.with_older(Arc::new(key))?;
        }
        return Ok(Some(ring));
    }
    let dir = settings.vault_key_dir();
    let mut files = key_files(&dir)?.into_iter();
    let Some((_, current)) = files.next() else { return Ok(None) };
    let key = LocalMasterKey::load_file(&current)?;
    let mut ring = Keyring::new(Arc::new(key));
    for (_, path) in files {
        ring = ring.with_older(Arc::new(LocalMasterKey::load_file(&path)?))?;
    }
    Ok(Some(ring))
}

/// Opens the vault for serving: checks the keys against the canary, and on
/// a database with nothing sealed creates the first key (and the canary).
pub async fn open_vault(settings: &Settings, store: &dyn Store) -> anyhow::Result<Arc<Vault>> {
    let canary = match store.vault_canary().await? {
        Some(bytes) => Some(Sealed::from_bytes(&bytes).context("the stored vault canary is corrupt")?),
        None => None,
    };
    // Without a canary the database must hold nothing sealed: otherwise the
    // bookkeeping was lost, and a fresh canary would bless any key.
    if canary.is_none() && store.holds_sealed_values().await? {
        bail!("the database holds sealed values but no vault canary: refusing to start");
    }
    let keyring = match (load_keyring(settings)?, &canary) {
        (Some(ring), _) => ring,
        (None, Some(canary)) => bail!(
            "no master key found (looked in {}), but the database was sealed under master key {}: \
             restore the key file (or set vault.master_key); refusing to start without it",
            settings.vault_key_dir().display(),
            canary.key_id()
        ),
        (None, None) => {
            let dir = settings.vault_key_dir();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = key_file_path(&dir, 1);
            let key = LocalMasterKey::create_file(&path, KeyId(1))?;
            tracing::warn!(file = %path.display(), "created the vault master key: back it up; without it no stored credential can be read");
            eprintln!(
                "Created the vault master key {}: back it up, without it no stored credential can be read.",
                path.display()
            );
            Keyring::new(Arc::new(key))
        }
    };
    let vault = vault_with_reload(settings, keyring);
    match vault.verify_master_key(canary.as_ref())? {
        MasterKeyCheck::Created(new) => {
            store.insert_vault_canary(new.to_bytes()).await?;
        }
        MasterKeyCheck::Verified { stale } => {
            if stale {
                tracing::warn!("values are sealed under an older master key: run `weft vault rotate`");
            }
        }
    }
    tracing::info!(key = %vault.current_key_id(), "vault open");
    Ok(Arc::new(vault))
}

/// A vault that re-reads its keys when it meets a newer version (a rotation
/// run by another process).
fn vault_with_reload(settings: &Settings, keyring: Keyring) -> Vault {
    let settings = settings.clone();
    Vault::with_reloader(
        keyring,
        Box::new(move || match load_keyring(&settings) {
            Ok(Some(ring)) => Ok(ring),
            Ok(None) | Err(_) => Err(weft_vault::Error::UnknownKey(KeyId(0))),
        }),
    )
}

/// `weft vault rotate`: adds master key version N+1, re-wraps every sealed
/// value under it (online: a running server picks the new key up), and
/// with `retire` renames the older key files to `*.retired` afterwards.
pub async fn rotate(settings: &Settings, store: &dyn Store, retire: bool) -> anyhow::Result<()> {
    if settings.vault.master_key.is_some() {
        bail!(
            "the master key comes from the settings: put the new key in vault.master_key and the old one in \
             vault.older_master_keys, then run `weft vault rotate` to re-wrap"
        );
    }
    let vault = open_vault(settings, store).await?;
    let dir = settings.vault_key_dir();
    let next = vault.current_key_id().0 + 1;
    let path = key_file_path(&dir, next);
    LocalMasterKey::create_file(&path, KeyId(next))?;
    println!("created master key v{next} at {}: back it up", path.display());
    vault.reload()?;
    let report = weft_credentials::rotate(store, &vault).await?;
    println!(
        "re-wrapped {} sealed values under v{next} ({} changed meanwhile and were redone, {} unreadable)",
        report.rewrapped, report.raced, report.unreadable
    );
    if report.unreadable > 0 {
        bail!("{} sealed values could not be opened; older keys were kept", report.unreadable);
    }
    if retire {
        for (v, file) in key_files(&dir)?.into_iter().filter(|(v, _)| *v < next) {
            let retired = file.with_extension("key.retired");
            std::fs::rename(&file, &retired).with_context(|| format!("retiring {}", file.display()))?;
            println!("retired master key v{v} ({})", retired.display());
        }
    }
    Ok(())
}
