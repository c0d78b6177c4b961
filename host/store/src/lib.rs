//! Weft's storage: every row Weft keeps, behind one trait with a SQLite and a
//! PostgreSQL implementation.
//!
//! This crate owns the schema, the migrations and every SQL statement in
//! Weft; no other crate holds a query or a pool. It does not own meaning:
//! it stores hashes it is given (API keys, the operator key) and public keys
//! only, never decrypts anything, and checks only what keeps its own rows
//! consistent (known enum values, non-empty names, JSON objects where objects
//! belong).
//!
//! [`Store`] is the trait the server holds as `Arc<dyn Store>`; its methods
//! are grouped by concern into supertraits ([`ProjectStore`], [`KeyStore`],
//! [`UserStore`], [`IntegrationStore`], [`ConfigStore`], [`CredentialStore`]) so each backend
//! implements one concern per file, and later concerns (the queue,
//! credentials) arrive as new supertraits. On `dyn Store` every method is
//! callable without imports; on a concrete [`SqliteStore`] or [`PgStore`],
//! import [`prelude`].
//!
//! Every method that reads or writes project data takes the project id and
//! filters on it: an id of project A used with project B is [`Error::NotFound`].
//!
//! ```no_run
//! # async fn demo() -> weft_store::Result<()> {
//! use weft_store::{Environment, NewProject};
//!
//! let store = weft_store::open("data/weft.db").await?; // or "postgres://..."
//! store.migrate().await?;
//! let project = store
//!     .create_project(NewProject::new("Acme", Environment::Development))
//!     .await?;
//! let user = store.upsert_seen(project.id, "user-1").await?;
//! assert!(!user.disabled);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backends;
mod check;
mod config;
mod credentials;
mod error;
mod ids;
mod integrations;
mod keys;
mod open;
mod postgres;
mod projects;
mod rows;
mod sqlite;
mod tasks;
mod users;

pub use config::{AppEvent, ConfigStore, EnvironmentSecret};
pub use credentials::{
    ConnectState, Credential, CredentialStatus, CredentialStore, FailureRecorded, NewCredential, ProjectEvent,
    RefreshFailure, SealedColumn, SealedValue, SecretsUpdate, day_number,
};
pub use error::{Error, Result};
pub use ids::{ApiKeyId, CredentialId, IntegrationId, ProjectId, ReleaseGroupId, SigningKeyId};
pub use integrations::{Integration, IntegrationPatch, IntegrationStore, NewIntegration};
pub use keys::{ApiKey, KeyStore, NewApiKey, NewSigningKey, Role, SigningKey, SigningKeyMaterial};
pub use open::{Backend, DEFAULT_SQLITE_FILE, open};
pub use postgres::PgStore;
pub use projects::{Environment, NewProject, Project, ProjectStore};
pub use sqlite::{SqlitePragmas, SqliteStore};
pub use tasks::{TaskRecord, TaskStore};
pub use users::{ConnectedUser, MAX_PAGE_SIZE, UserCursor, UserPage, UserStore};

use async_trait::async_trait;

/// The whole store: every concern's methods plus the lifecycle.
///
/// Held as `Arc<dyn Store>`; [`open`] picks the implementation.
#[async_trait]
pub trait Store:
    ProjectStore + KeyStore + UserStore + IntegrationStore + ConfigStore + CredentialStore + TaskStore + Send + Sync
{
    /// Which implementation this is.
    fn backend(&self) -> Backend;

    /// Applies the migrations this build embeds that the database lacks.
    /// Safe to run again, and (on PostgreSQL) from several processes at once.
    async fn migrate(&self) -> Result<()>;

    /// Closes the connections, waiting for those in use to come back. On
    /// SQLite this also lets the last connection checkpoint the WAL.
    async fn close(&self);
}

/// The traits to import to call the store's methods on `dyn Store`.
pub mod prelude {
    pub use crate::{
        ConfigStore, CredentialStore, IntegrationStore, KeyStore, ProjectStore, Store, TaskStore, UserStore,
    };
}
