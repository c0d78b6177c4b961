//! Event destinations' header values (a receiver's token, say), sealed like
//! every other secret: the destinations service keeps and sends them
//! through this, and only the vault opens them.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::ExposeSecret;
use weft_store::{DestinationId, ProjectId};
use weft_vault::{Sealed, Vault};

use crate::owners;
use crate::{Error, Result};

/// Seals and opens destinations' header values.
pub struct DestinationHeaders {
    vault: Arc<Vault>,
}

impl DestinationHeaders {
    /// Over `vault`.
    pub fn new(vault: Arc<Vault>) -> Self {
        Self { vault }
    }

    /// `headers` (name to value) sealed for `destination` of `project`.
    pub fn seal(
        &self,
        project: ProjectId,
        destination: DestinationId,
        headers: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>> {
        let (owner, field) = owners::destination_headers(project, destination);
        let json = serde_json::to_vec(headers).map_err(|_| Error::Corrupt)?;
        Ok(self.vault.seal(&owner, field, &json)?.to_bytes())
    }

    /// What [`DestinationHeaders::seal`] sealed for that destination.
    pub fn open(
        &self,
        project: ProjectId,
        destination: DestinationId,
        sealed: &[u8],
    ) -> Result<BTreeMap<String, String>> {
        let (owner, field) = owners::destination_headers(project, destination);
        let sealed = Sealed::from_bytes(sealed).map_err(|_| Error::Corrupt)?;
        let json = self.vault.open(&owner, field, &sealed)?;
        serde_json::from_slice(json.expose_secret()).map_err(|_| Error::Corrupt)
    }
}
