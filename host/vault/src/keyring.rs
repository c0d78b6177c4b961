//! The master keys a vault knows: the current one, which seals, and older
//! versions kept only to open values until a rotation has re-wrapped them.

use std::fmt;
use std::sync::Arc;

use crate::{Error, KeyId, MasterKey, Result};

/// The current master key plus older versions for opening.
#[derive(Clone)]
pub struct Keyring {
    current: Arc<dyn MasterKey>,
    older: Vec<Arc<dyn MasterKey>>,
}

impl Keyring {
    /// A keyring that seals (and opens) with `current` only.
    pub fn new(current: Arc<dyn MasterKey>) -> Self {
        Keyring { current, older: Vec::new() }
    }

    /// Adds an older key used only to open values sealed under it.
    pub fn with_older(mut self, key: Arc<dyn MasterKey>) -> Result<Self> {
        if self.get(key.id()).is_some() {
            return Err(Error::DuplicateKey(key.id()));
        }
        self.older.push(key);
        Ok(self)
    }

    /// The key new values are sealed (and data keys re-wrapped) under.
    pub fn current(&self) -> &dyn MasterKey {
        self.current.as_ref()
    }

    /// The key of version `id`, current or older.
    pub fn get(&self, id: KeyId) -> Option<&dyn MasterKey> {
        std::iter::once(&self.current).chain(&self.older).find(|k| k.id() == id).map(|k| k.as_ref())
    }

    /// Every version held, current first.
    pub fn ids(&self) -> Vec<KeyId> {
        std::iter::once(&self.current).chain(&self.older).map(|k| k.id()).collect()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<KeyId> = self.older.iter().map(|k| k.id()).collect();
        f.debug_struct("Keyring").field("current", &self.current.id()).field("older", &older).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalMasterKey;

    #[test]
    fn finds_every_version_and_refuses_duplicates() -> Result<()> {
        let ring = Keyring::new(Arc::new(LocalMasterKey::generate(KeyId(2))?))
            .with_older(Arc::new(LocalMasterKey::generate(KeyId(1))?))?;
        assert_eq!(ring.current().id(), KeyId(2));
        assert_eq!(ring.get(KeyId(1)).map(|k| k.id()), Some(KeyId(1)));
        assert!(ring.get(KeyId(3)).is_none());
        assert_eq!(ring.ids(), vec![KeyId(2), KeyId(1)]);
        let dup = ring.with_older(Arc::new(LocalMasterKey::generate(KeyId(2))?));
        assert!(matches!(dup, Err(Error::DuplicateKey(KeyId(2)))));
        Ok(())
    }
}
