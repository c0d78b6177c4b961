//! Environment secrets: the values of a project's declared secret names
//! (API tokens, signing secrets), each sealed in the vault on its own and
//! bound to its project and name. Workflows read them at run time and
//! plugins through their `secrets` import (only the names they declare).

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use weft_store::{ProjectId, Store};
use weft_vault::{Sealed, Vault};

use crate::owners;
use crate::{Error, Result};

/// Largest value accepted.
const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Sealed environment secrets; needs only the store and the vault, so the
/// plugin host can be given it before the credential service exists.
pub struct EnvironmentSecrets {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
}

impl EnvironmentSecrets {
    /// Secrets kept in `store`, sealed by `vault`.
    pub fn new(store: Arc<dyn Store>, vault: Arc<Vault>) -> Self {
        Self { store, vault }
    }

    /// Seals and stores the value of a declared secret.
    pub async fn set(&self, project: ProjectId, name: &str, value: &SecretString) -> Result<()> {
        let bytes = value.expose_secret().as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_VALUE_BYTES {
            return Err(Error::BadRequest("a secret value must be 1 byte to 64 KiB".into()));
        }
        let (owner, field) = owners::environment_secret(project, name);
        let sealed = self.vault.seal(&owner, field, bytes)?;
        self.store.set_secret_value(project, name, sealed.to_bytes()).await?;
        tracing::info!(project = %project, secret = name, "environment secret value set");
        Ok(())
    }

    /// The value of a secret, if it has one.
    pub async fn get(&self, project: ProjectId, name: &str) -> Result<Option<SecretString>> {
        let Some(bytes) = self.store.secret_value(project, name).await? else { return Ok(None) };
        let sealed = Sealed::from_bytes(&bytes).map_err(|_| Error::Corrupt)?;
        let (owner, field) = owners::environment_secret(project, name);
        Ok(Some(self.vault.open_string(&owner, field, &sealed)?))
    }
}
