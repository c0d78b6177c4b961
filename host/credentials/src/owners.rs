//! Who owns each sealed value, and under which field it is sealed: the
//! vault's associated data. Sealing, opening and rotation all take the
//! owner and field from here, so they cannot drift apart (a value sealed
//! under one field name and re-wrapped under another would stop opening).

use std::fmt::Display;

use weft_store::{SealedColumn, SealedValue};
use weft_vault::{Owner, OwnerKind};

/// An owner and the field its value is sealed under.
pub(crate) type Sealing = (Owner, &'static str);

/// A credential's secrets.
pub(crate) fn credential(project: impl Display, id: impl Display) -> Sealing {
    (Owner::new(project.to_string(), OwnerKind::Credential, id.to_string()), "secrets")
}

/// An integration's OAuth client secret.
pub(crate) fn client_secret(project: impl Display, integration: impl Display) -> Sealing {
    (Owner::new(project.to_string(), OwnerKind::IntegrationSecret, integration.to_string()), "client_secret")
}

/// An environment secret's value.
pub(crate) fn environment_secret(project: impl Display, name: impl Display) -> Sealing {
    (Owner::new(project.to_string(), OwnerKind::EnvironmentSecret, name.to_string()), "value")
}

/// A pending authorization's data, owned by its state hash.
pub(crate) fn connect_flow(project: impl Display, state_hash: impl Display) -> Sealing {
    (Owner::new(project.to_string(), OwnerKind::ConnectState, state_hash.to_string()), "flow")
}

/// What a webhook handshake kept for a trigger subscription.
pub(crate) fn subscription_persisted(project: impl Display, subscription: impl Display) -> Sealing {
    (Owner::new(project.to_string(), OwnerKind::TriggerSubscription, subscription.to_string()), "persisted")
}

/// An event destination's header values.
pub(crate) fn destination_headers(project: impl Display, destination: impl Display) -> Sealing {
    (Owner::new(project.to_string(), OwnerKind::EventDestination, destination.to_string()), "headers")
}

/// The owner of a stored sealed value; `None` for the vault's own canary.
pub(crate) fn of_stored(value: &SealedValue) -> Option<Sealing> {
    let project = value.project_id?;
    let id = &value.owner_id;
    Some(match value.column {
        SealedColumn::CredentialSecrets => credential(project, id),
        SealedColumn::IntegrationClientSecret => client_secret(project, id),
        SealedColumn::EnvironmentSecretValue => environment_secret(project, id),
        SealedColumn::ConnectState => connect_flow(project, id),
        SealedColumn::SubscriptionPersisted => subscription_persisted(project, id),
        SealedColumn::DestinationHeaders => destination_headers(project, id),
        SealedColumn::VaultCanary => return None,
    })
}
