//! The statements of a master-key rotation, which address every column
//! that holds sealed values, and the owner each value is bound to.
//!
//! Every such column holds a weft-vault envelope whose bytes 2 to 5 are the
//! master key version it is wrapped under: `substr(x, 2, 4)` on both
//! backends (BLOB / `bytea`).

use crate::credentials::{SealedColumn, SealedValue};
use crate::{Error, Result};
use uuid::Uuid;

/// Whether any sealed value but the canary is stored.
pub(super) const HOLDS_SEALED_VALUES: &str = "SELECT EXISTS (SELECT 1 FROM credentials) \
     OR EXISTS (SELECT 1 FROM integrations WHERE client_secret IS NOT NULL) \
     OR EXISTS (SELECT 1 FROM environment_secrets WHERE value IS NOT NULL) \
     OR EXISTS (SELECT 1 FROM connect_states) \
     OR EXISTS (SELECT 1 FROM trigger_subscriptions WHERE persisted IS NOT NULL) \
     OR EXISTS (SELECT 1 FROM event_destinations WHERE sealed_headers IS NOT NULL)";

/// A sealed row found for a rotation: (project, UUID owner, text owner, bytes).
pub(super) type SealedRow = (Option<Uuid>, Option<Uuid>, Option<String>, Vec<u8>);

/// Up to `$2` sealed values of `column` whose key version bytes are not `$1`,
/// as [`SealedRow`]s.
pub(super) fn not_under(column: SealedColumn) -> &'static str {
    match column {
        SealedColumn::CredentialSecrets => {
            "SELECT project_id, id, NULL, secrets FROM credentials WHERE substr(secrets, 2, 4) <> $1 LIMIT $2"
        }
        SealedColumn::IntegrationClientSecret => {
            "SELECT project_id, id, NULL, client_secret FROM integrations \
             WHERE client_secret IS NOT NULL AND substr(client_secret, 2, 4) <> $1 LIMIT $2"
        }
        SealedColumn::EnvironmentSecretValue => {
            "SELECT project_id, NULL, name, value FROM environment_secrets \
             WHERE value IS NOT NULL AND substr(value, 2, 4) <> $1 LIMIT $2"
        }
        SealedColumn::ConnectState => {
            "SELECT project_id, NULL, state_hash, sealed FROM connect_states WHERE substr(sealed, 2, 4) <> $1 LIMIT $2"
        }
        SealedColumn::SubscriptionPersisted => {
            "SELECT project_id, id, NULL, persisted FROM trigger_subscriptions \
             WHERE persisted IS NOT NULL AND substr(persisted, 2, 4) <> $1 LIMIT $2"
        }
        SealedColumn::DestinationHeaders => {
            "SELECT project_id, id, NULL, sealed_headers FROM event_destinations \
             WHERE sealed_headers IS NOT NULL AND substr(sealed_headers, 2, 4) <> $1 LIMIT $2"
        }
        SealedColumn::VaultCanary => {
            "SELECT NULL, NULL, NULL, sealed FROM vault_canary WHERE substr(sealed, 2, 4) <> $1 LIMIT $2"
        }
    }
}

/// Turns a fetched [`SealedRow`] into a [`SealedValue`].
pub(super) fn value(column: SealedColumn, row: SealedRow) -> SealedValue {
    let (project, uuid_owner, text_owner, bytes) = row;
    let owner_id = uuid_owner.map(|u| u.to_string()).or(text_owner).unwrap_or_default();
    SealedValue { column, project_id: project.map(Into::into), owner_id, bytes }
}

/// Replaces the sealed value (`$1` new, `$2` old) if it still holds the
/// old bytes; `$3` is the project and `$4` the owner, both bound only when
/// the column has them (see [`Owner`]).
pub(super) fn replace(column: SealedColumn) -> &'static str {
    match column {
        SealedColumn::CredentialSecrets => {
            "UPDATE credentials SET secrets = $1 WHERE project_id = $3 AND id = $4 AND secrets = $2"
        }
        SealedColumn::IntegrationClientSecret => {
            "UPDATE integrations SET client_secret = $1 WHERE project_id = $3 AND id = $4 AND client_secret = $2"
        }
        SealedColumn::EnvironmentSecretValue => {
            "UPDATE environment_secrets SET value = $1 WHERE project_id = $3 AND name = $4 AND value = $2"
        }
        SealedColumn::ConnectState => {
            "UPDATE connect_states SET sealed = $1 WHERE project_id = $3 AND state_hash = $4 AND sealed = $2"
        }
        SealedColumn::SubscriptionPersisted => {
            "UPDATE trigger_subscriptions SET persisted = $1 WHERE project_id = $3 AND id = $4 AND persisted = $2"
        }
        SealedColumn::DestinationHeaders => {
            "UPDATE event_destinations SET sealed_headers = $1 \
             WHERE project_id = $3 AND id = $4 AND sealed_headers = $2"
        }
        SealedColumn::VaultCanary => "UPDATE vault_canary SET sealed = $1 WHERE singleton = 1 AND sealed = $2",
    }
}

/// The owner key of a sealed value's row, as its column stores it.
pub(super) enum Owner<'a> {
    /// The canary: a singleton, no project and no owner.
    None,
    /// A credential, integration or subscription id.
    Uuid(Uuid),
    /// A secret name or state hash.
    Text(&'a str),
}

impl<'a> Owner<'a> {
    /// The owner of `value`'s row.
    pub(super) fn of(value: &'a SealedValue) -> Result<Self> {
        Ok(match value.column {
            SealedColumn::VaultCanary => Owner::None,
            SealedColumn::CredentialSecrets
            | SealedColumn::IntegrationClientSecret
            | SealedColumn::SubscriptionPersisted
            | SealedColumn::DestinationHeaders => {
                Owner::Uuid(value.owner_id.parse().map_err(|_| Error::invalid("owner id is not a UUID"))?)
            }
            SealedColumn::EnvironmentSecretValue | SealedColumn::ConnectState => Owner::Text(&value.owner_id),
        })
    }
}
