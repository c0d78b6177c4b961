//! Master-key rotation: re-wraps the data key of every sealed value that is
//! not under the vault's current master key. Values stay as they are; each
//! row is replaced with a compare-and-swap, so a concurrent refresh or
//! reconnect is never overwritten (its row is simply visited again).

use weft_store::{SealedColumn, SealedValue, Store};
use weft_vault::{Sealed, Vault};

use crate::{Error, Result};

/// What a rotation pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Values re-wrapped.
    pub rewrapped: u64,
    /// Values that changed under the pass and were re-read.
    pub raced: u64,
    /// Values that do not open (reported, left alone).
    pub unreadable: u64,
}

/// Batch size of one query.
const BATCH: u32 = 200;

/// Re-wraps everything not under `vault`'s current key, until nothing is
/// left (values that do not open are skipped and counted).
pub async fn rotate(store: &dyn Store, vault: &Vault) -> Result<RotationReport> {
    let current = vault.current_key_id().0;
    let mut report = RotationReport::default();
    for column in SealedColumn::ALL {
        let mut skipped: Vec<Vec<u8>> = Vec::new();
        loop {
            let batch = store.sealed_not_under(column, current, BATCH + skipped.len() as u32).await?;
            let todo: Vec<SealedValue> = batch.into_iter().filter(|v| !skipped.contains(&v.bytes)).collect();
            if todo.is_empty() {
                break;
            }
            for value in todo {
                let sealed = Sealed::from_bytes(&value.bytes).map_err(|_| Error::Corrupt);
                let rewrapped = sealed.and_then(|s| match crate::owners::of_stored(&value) {
                    Some((owner, field)) => vault.rewrap(&owner, field, &s).map_err(Error::from),
                    None => vault.rewrap_canary(&s).map_err(Error::from),
                });
                match rewrapped {
                    Ok(new) => {
                        if store.replace_sealed(&value, new.to_bytes()).await? {
                            report.rewrapped += 1;
                        } else {
                            report.raced += 1;
                        }
                    }
                    Err(Error::Corrupt) => {
                        tracing::error!(column = ?value.column, owner = %value.owner_id, "sealed value does not open; left as is");
                        report.unreadable += 1;
                        skipped.push(value.bytes);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(report)
}
