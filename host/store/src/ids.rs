//! Typed ids, so a signing-key id can never be passed where a project id is
//! expected, and the store's clock.

use time::OffsetDateTime;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4())
            }

            /// The UUID inside.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

pub(crate) use id_type;

id_type!(
    /// A project: the tenant every other row belongs to.
    ProjectId
);
id_type!(
    /// Ties up to three projects (one per environment) into a release group.
    ReleaseGroupId
);
id_type!(
    /// A signing key of a project.
    SigningKeyId
);
id_type!(
    /// A project API key.
    ApiKeyId
);
id_type!(
    /// An integration configured in a project.
    IntegrationId
);
id_type!(
    /// A connected account (credential) of a user.
    CredentialId
);

/// Now, truncated to the microsecond: PostgreSQL keeps microseconds, so
/// both backends return exactly the instant they were given.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}
