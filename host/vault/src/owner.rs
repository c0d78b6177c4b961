//! Who a sealed value belongs to, and the associated data that binds it.
//!
//! The layout is documented on [`Owner`].

use crate::KeyId;

/// The kinds of things that own sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    /// A user's connected account (tokens, API keys, passwords).
    Credential,
    /// An integration's own secrets (OAuth client secret, signing secrets).
    IntegrationSecret,
    /// A project environment's secrets.
    EnvironmentSecret,
    /// The data of a pending OAuth authorization (the PKCE verifier).
    ConnectState,
    /// What a webhook handshake kept for a trigger subscription.
    TriggerSubscription,
    /// The header values an event destination sends (credentials for the
    /// receiver).
    EventDestination,
}

impl OwnerKind {
    /// The stable name that goes into the associated data. Never change
    /// one: every value sealed under it would stop opening.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Credential => "credential",
            OwnerKind::IntegrationSecret => "integration-secret",
            OwnerKind::EnvironmentSecret => "environment-secret",
            OwnerKind::ConnectState => "connect-state",
            OwnerKind::TriggerSubscription => "trigger-subscription",
            OwnerKind::EventDestination => "event-destination",
        }
    }
}

/// The owner of a sealed value: the row it is stored in. Ids are not
/// secret, so `Debug` shows them.
///
/// AAD layout, version 1 (all integers big-endian; `lp(s)` is a `u32` byte
/// length followed by the UTF-8 bytes, so no field can be shifted into its
/// neighbour: `("ab", "c")` and `("a", "bc")` differ):
///
/// ```text
/// u8  AAD version (1)
/// u8  purpose: b'V' for the value, b'K' for the wrapped data key
/// lp  project id
/// lp  owner kind ("credential", "integration-secret", ...)
/// lp  owner id
/// lp  field name
/// u32 master key version            (purpose b'K' only)
/// ```
///
/// The master key version is bound to the wrapped data key only: a
/// rotation re-wraps the data key and leaves the value ciphertext as it is,
/// so the value cannot name a key version. It stays bound to its owner, and
/// its data key comes only out of a wrap bound to owner, field and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    project_id: String,
    kind: &'static str,
    owner_id: String,
}

impl Owner {
    /// The owner `owner_id` of kind `kind` in project `project_id`.
    pub fn new(project_id: impl Into<String>, kind: OwnerKind, owner_id: impl Into<String>) -> Self {
        Owner { project_id: project_id.into(), kind: kind.as_str(), owner_id: owner_id.into() }
    }

    /// The vault's own start-up canary. Its kind is no [`OwnerKind`], so
    /// no caller-built owner can collide with it.
    pub(crate) fn canary() -> Self {
        Owner { project_id: String::new(), kind: "vault-canary", owner_id: String::new() }
    }
}

const AAD_VERSION: u8 = 1;

/// Associated data of the value ciphertext.
pub(crate) fn value_aad(owner: &Owner, field: &str) -> Vec<u8> {
    base(b'V', owner, field)
}

/// Associated data of the data key wrapped by master key `key`.
pub(crate) fn key_aad(owner: &Owner, field: &str, key: KeyId) -> Vec<u8> {
    let mut aad = base(b'K', owner, field);
    aad.extend_from_slice(&key.0.to_be_bytes());
    aad
}

fn base(purpose: u8, owner: &Owner, field: &str) -> Vec<u8> {
    let parts = [owner.project_id.as_str(), owner.kind, owner.owner_id.as_str(), field];
    let mut aad = Vec::with_capacity(2 + parts.iter().map(|p| 4 + p.len()).sum::<usize>() + 4);
    aad.push(AAD_VERSION);
    aad.push(purpose);
    for part in parts {
        // Lengths past u32::MAX are saturated; such ids cannot be stored.
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_starts_with_version_and_purpose() {
        let owner = Owner::new("p", OwnerKind::Credential, "o");
        let aad = value_aad(&owner, "f");
        assert_eq!(&aad[..2], &[1, b'V']);
        assert_eq!(&aad[2..7], &[0, 0, 0, 1, b'p']);
        assert_eq!(aad.len(), 2 + 5 + (4 + 10) + 5 + 5);
        let wrapped = key_aad(&owner, "f", KeyId(7));
        assert_eq!(wrapped[1], b'K');
        assert_eq!(&wrapped[wrapped.len() - 4..], &[0, 0, 0, 7]);
    }

    #[test]
    fn fields_cannot_shift_into_each_other() {
        let a = Owner::new("ab", OwnerKind::Credential, "c");
        let b = Owner::new("a", OwnerKind::Credential, "bc");
        assert_ne!(value_aad(&a, "f"), value_aad(&b, "f"));
        let c = Owner::new("p", OwnerKind::Credential, "idfield");
        let d = Owner::new("p", OwnerKind::Credential, "id");
        assert_ne!(value_aad(&c, ""), value_aad(&d, "field"));
    }

    #[test]
    fn every_part_and_the_key_version_change_the_aad() {
        let base = Owner::new("p", OwnerKind::Credential, "o");
        let others = [
            Owner::new("q", OwnerKind::Credential, "o"),
            Owner::new("p", OwnerKind::IntegrationSecret, "o"),
            Owner::new("p", OwnerKind::EnvironmentSecret, "o"),
            Owner::new("p", OwnerKind::ConnectState, "o"),
            Owner::new("p", OwnerKind::Credential, "x"),
            Owner::canary(),
        ];
        for other in &others {
            assert_ne!(key_aad(&base, "f", KeyId(1)), key_aad(other, "f", KeyId(1)));
        }
        assert_ne!(key_aad(&base, "f", KeyId(1)), key_aad(&base, "g", KeyId(1)));
        assert_ne!(key_aad(&base, "f", KeyId(1)), key_aad(&base, "f", KeyId(2)));
    }
}
