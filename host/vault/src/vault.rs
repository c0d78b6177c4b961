//! Sealing, opening and re-wrapping values, and the start-up key check.

use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use secrecy::{SecretBox, SecretSlice, SecretString};

use crate::owner::{key_aad, value_aad};
use crate::{DataKey, Error, KeyId, Keyring, Owner, Result, Sealed, cipher};

/// The canary's field and plaintext. The plaintext is public: the canary
/// proves the key, not a secret.
const CANARY_FIELD: &str = "master-key-check";
const CANARY_PLAINTEXT: &[u8] = b"weft-vault canary v1";

/// Reads the keyring again (new key files after a rotation).
pub type KeyReloader = Box<dyn Fn() -> Result<Keyring> + Send + Sync>;

/// Seals and opens values under a [`Keyring`]. Cheap to share behind an
/// `Arc`; holds no per-value state.
///
/// The keyring can be replaced while the vault is in use (a rotation run by
/// another process added a key): [`Vault::with_reloader`] lets the vault
/// read it again when it meets a key version it lacks, at most once a
/// second, and [`Vault::reload`] does it on demand.
pub struct Vault {
    keyring: RwLock<Keyring>,
    reloader: Option<KeyReloader>,
    last_reload: Mutex<Option<Instant>>,
}

/// The outcome of [`Vault::verify_master_key`].
#[derive(Debug)]
pub enum MasterKeyCheck {
    /// The stored canary opened: the configured key is the right one.
    Verified {
        /// The canary is wrapped under an older key; re-wrap it with
        /// [`Vault::rewrap_canary`] during a rotation.
        stale: bool,
    },
    /// There was no canary (first start): store this one.
    Created(Sealed),
}

impl Vault {
    /// A vault over `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Vault { keyring: RwLock::new(keyring), reloader: None, last_reload: Mutex::new(None) }
    }

    /// A vault that can read its keyring again with `reloader`.
    pub fn with_reloader(keyring: Keyring, reloader: KeyReloader) -> Self {
        Vault { reloader: Some(reloader), ..Self::new(keyring) }
    }

    /// The keys this vault uses now.
    pub fn keyring(&self) -> Keyring {
        self.keyring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the keyring again; true when the current key changed.
    pub fn reload(&self) -> Result<bool> {
        let Some(reloader) = &self.reloader else { return Ok(false) };
        *self.last_reload.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let fresh = reloader()?;
        let mut ring = self.keyring.write().unwrap_or_else(|p| p.into_inner());
        let changed = ring.current().id() != fresh.current().id();
        *ring = fresh;
        Ok(changed)
    }

    /// Seals `plaintext` as field `field` of `owner` with a fresh data key
    /// wrapped under the current master key.
    pub fn seal(&self, owner: &Owner, field: &str, plaintext: &[u8]) -> Result<Sealed> {
        let data_key = DataKey::generate()?;
        let nonce = cipher::random_nonce()?;
        let ciphertext = cipher::seal(data_key.as_bytes(), &nonce, plaintext, &value_aad(owner, field))?;
        let ring = self.keyring();
        let current = ring.current();
        let wrapped_key = current.wrap(&data_key, &key_aad(owner, field, current.id()))?;
        Ok(Sealed { key_id: current.id(), wrapped_key, nonce, ciphertext })
    }

    /// Opens field `field` of `owner`. A blob of another owner or field,
    /// altered or under a different key fails closed, see [`Error::is_corrupt`].
    pub fn open(&self, owner: &Owner, field: &str, sealed: &Sealed) -> Result<SecretSlice<u8>> {
        let data_key = self.unwrap_key(owner, field, sealed)?;
        let plain = cipher::open(data_key.as_bytes(), &sealed.nonce, &sealed.ciphertext, &value_aad(owner, field))?;
        // Copied into an exact-size box: shrinking the Vec in place could
        // reallocate and leave an unwiped copy behind. `plain` wipes itself.
        Ok(SecretBox::new(plain.as_slice().into()))
    }

    /// [`Vault::open`] for text values.
    pub fn open_string(&self, owner: &Owner, field: &str, sealed: &Sealed) -> Result<SecretString> {
        let data_key = self.unwrap_key(owner, field, sealed)?;
        let plain = cipher::open(data_key.as_bytes(), &sealed.nonce, &sealed.ciphertext, &value_aad(owner, field))?;
        let text = std::str::from_utf8(&plain).map_err(|_| Error::NotUtf8)?;
        Ok(SecretString::from(text))
    }

    /// Re-wraps only the data key under the current master key; the value
    /// ciphertext is kept as is. This is what a rotation calls per row.
    pub fn rewrap(&self, owner: &Owner, field: &str, sealed: &Sealed) -> Result<Sealed> {
        let data_key = self.unwrap_key(owner, field, sealed)?;
        let ring = self.keyring();
        let current = ring.current();
        let wrapped_key = current.wrap(&data_key, &key_aad(owner, field, current.id()))?;
        Ok(Sealed { key_id: current.id(), wrapped_key, ..sealed.clone() })
    }

    /// Whether `sealed` is wrapped under an older key than the current one.
    pub fn needs_rewrap(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.current_key_id()
    }

    /// The start-up check. With the canary stored at first start, it must
    /// open ([`Error::WrongMasterKey`] otherwise: refuse to start). Without
    /// one, a new canary is returned for the caller to store.
    pub fn verify_master_key(&self, canary: Option<&Sealed>) -> Result<MasterKeyCheck> {
        let Some(canary) = canary else {
            return self.seal(&Owner::canary(), CANARY_FIELD, CANARY_PLAINTEXT).map(MasterKeyCheck::Created);
        };
        let wrong = |_| Error::WrongMasterKey(canary.key_id);
        let data_key = self.unwrap_key(&Owner::canary(), CANARY_FIELD, canary).map_err(wrong)?;
        let aad = value_aad(&Owner::canary(), CANARY_FIELD);
        let plain = cipher::open(data_key.as_bytes(), &canary.nonce, &canary.ciphertext, &aad).map_err(wrong)?;
        if plain.as_slice() != CANARY_PLAINTEXT {
            return Err(Error::WrongMasterKey(canary.key_id));
        }
        Ok(MasterKeyCheck::Verified { stale: self.needs_rewrap(canary) })
    }

    /// Re-wraps the canary under the current key, as [`Vault::rewrap`]
    /// does for every other row during a rotation.
    pub fn rewrap_canary(&self, canary: &Sealed) -> Result<Sealed> {
        self.rewrap(&Owner::canary(), CANARY_FIELD, canary)
    }

    fn unwrap_key(&self, owner: &Owner, field: &str, sealed: &Sealed) -> Result<DataKey> {
        let mut ring = self.keyring();
        if ring.get(sealed.key_id).is_none() && self.may_reload() {
            // A newer key a rotation elsewhere added; an older one stays unknown.
            self.reload()?;
            ring = self.keyring();
        }
        let key = ring.get(sealed.key_id).ok_or(Error::UnknownKey(sealed.key_id))?;
        key.unwrap(&sealed.wrapped_key, &key_aad(owner, field, sealed.key_id))
    }

    /// Whether a reload on an unknown key is allowed now (at most once a
    /// second, so unreadable data cannot make the vault re-read files in a loop).
    fn may_reload(&self) -> bool {
        let last = *self.last_reload.lock().unwrap_or_else(|p| p.into_inner());
        self.reloader.is_some() && last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
    }

    /// The version new values are sealed under.
    pub fn current_key_id(&self) -> KeyId {
        self.keyring().current().id()
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("keyring", &self.keyring()).finish()
    }
}
