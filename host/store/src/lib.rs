//! Weft's storage: every row Weft keeps, behind one trait with a SQLite and a
//! PostgreSQL implementation.
//!
//! This crate owns the schema, the migrations and every SQL statement in
//! Weft; no other crate holds a query or a pool. It does not own meaning:
//! it stores hashes it is given (API keys, the operator key) and public keys
//! only, never decrypts anything, and checks only what keeps its own rows
//! consistent (known enum values, non-empty names, JSON objects where objects
//! belong) and bounded (sizes of JSON documents and plugin state, the key
//! quota of a plugin state scope).
//!
//! [`Store`] is the trait the server holds as `Arc<dyn Store>`; its methods
//! are grouped by concern into supertraits ([`ProjectStore`], [`KeyStore`],
//! [`UserStore`], [`IntegrationStore`], [`ConfigStore`],
//! [`CredentialStore`], [`TaskStore`], [`PluginStateStore`],
//! [`QueueStore`], [`ReplayStore`], [`LeaderStore`], [`RateBudgetStore`], [`WorkflowStore`], [`TriggerStore`],
//! [`ActionLogStore`], [`EventDestinationStore`]), and a new
//! concern arrives as a new supertrait. On
//! `dyn Store` every method is callable without imports; on a concrete
//! [`SqliteStore`] or [`PgStore`], import [`prelude`].
//!
//! Every method that reads or writes project data takes the project id and
//! filters on it: an id of project A used with project B is [`Error::NotFound`].
//!
//! # How a concern is stored
//!
//! Every concern is stored the same way, in two files and two migrations:
//!
//! 1. `src/<concern>.rs`, the contract: the public types, the
//!    `<Concern>Store` trait (a supertrait of [`Store`], re-exported here and
//!    listed in [`prelude`]) and the checks of its input, unit-tested there.
//!    No SQL.
//! 2. `src/<concern>/sql.rs`, the storage, top to bottom:
//!    - the row structs (private `sqlx::FromRow`), each followed by a
//!      `columns!` macro naming the columns it decodes and by its conversion
//!      into the public type (`TryFrom` when a stored value may be
//!      unreadable). This is the only place a row is mapped; every
//!      statement returning one uses its `columns!`.
//!    - one implementation of the trait for both backends, written inside
//!      `backends::for_both_backends!`, which stamps it out for
//!      [`SqliteStore`] and [`PgStore`]. Its SQL is written inline, once:
//!      both backends take `$n` placeholders and the values bound encode on
//!      both (UUIDs, `rows::Ts` for times, `Json`, booleans bound rather than
//!      written as literals). Helpers that run inside a transaction sit in
//!      the same block and take `conn: &mut Conn`.
//!    - where the backends really differ, one name with two definitions side
//!      by side below the block, which the shared code calls: an associated
//!      `const` of SQL text on each store when only the text differs (the
//!      `FOR UPDATE` of `integrations`), an inherent method on each store
//!      when the steps differ (the user metadata merge, the task record
//!      batch insert, the plugin state scope lock). A step too large for
//!      that gets a file under `<concern>/sql/`: the SQLite C-API insert of
//!      task records (`tasks/sql/sqlite_insert.rs`, a measured hot path and
//!      the crate's only `unsafe`) and the rotation statements of sealed
//!      values (`credentials/sql/sealed.rs`).
//! 3. `migrations/sqlite/NNNN_<concern>.sql` and
//!    `migrations/postgres/NNNN_<concern>.sql`: same number, same tables and
//!    columns, each backend's native types (mapping in `rows.rs`).
//!
//! plus a group in the conformance suite (`tests/conformance/<concern>.rs`),
//! whose cases all run on both backends and include one on tenancy.
//!
//! Inside the shared implementation, both stores offer the same three
//! entry points. `self.read()` is the pool reads run on. `self.write_one()`
//! runs exactly one write statement, finished by `.commit()`: SQLite's
//! single writer in `BEGIN IMMEDIATE`, PostgreSQL in autocommit.
//! `self.begin_write()` is a transaction for several statements: on SQLite
//! `BEGIN IMMEDIATE`, which makes every write transaction serial; on
//! PostgreSQL read committed, plus the locks the concern takes (`FOR
//! UPDATE`, or a transaction-scoped advisory lock when the row to lock may
//! not exist yet). Ids and times a write generates are taken after it has
//! started, so on SQLite they follow commit order. A unique or foreign-key
//! violation becomes `Conflict` or `NotFound` through `error::WriteContext`,
//! a single-row change that touched nothing becomes `NotFound` through
//! `error::found`.
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

mod action_logs;
mod backends;
mod check;
mod config;
mod credentials;
mod destinations;
mod error;
mod ids;
mod integrations;
mod keys;
mod leaders;
mod open;
mod plugin_state;
mod postgres;
mod projects;
mod queue;
mod rate_budgets;
mod replay;
mod rows;
mod sqlite;
mod tasks;
mod triggers;
mod users;
mod workflows;

pub use action_logs::{
    ActionCallKind, ActionCallSource, ActionLog, ActionLogQuery, ActionLogStatus, ActionLogStore,
    MAX_ACTION_LOG_ID_LEN, MAX_ACTION_LOG_MESSAGE_LEN, MAX_ACTION_LOGS_PAGE,
};
pub use config::{AppEvent, ConfigStore, EnvironmentSecret};
pub use credentials::{
    ConnectState, Credential, CredentialStatus, CredentialStore, FailureRecorded, NewCredential, ProjectEvent,
    RefreshFailure, SealedColumn, SealedValue, SecretsUpdate, day_number,
};
pub use destinations::{
    AttemptOutcome, AttemptRecorded, ClaimedDelivery, Delivery, DeliveryId, DeliveryState, Destination,
    DestinationConfig, DestinationId, EventDestinationStore, MAX_DESTINATION_HEADERS, MAX_DESTINATION_URL_LEN,
    MAX_DESTINATIONS_PAGE,
};
pub use error::{Error, Result};
pub use ids::{ApiKeyId, CredentialId, IntegrationId, ProjectId, ReleaseGroupId, SigningKeyId};
pub use integrations::{
    Integration, IntegrationPatch, IntegrationStore, MAX_PROVIDER_DEFINITION_BYTES, NewIntegration,
};
pub use keys::{ApiKey, KeyStore, NewApiKey, NewSigningKey, Role, SigningKey, SigningKeyMaterial};
pub use leaders::{Lead, LeaderStore};
pub use open::{Backend, DEFAULT_SQLITE_FILE, open};
pub use plugin_state::{MAX_PLUGIN_STATE_KEY_BYTES, MAX_PLUGIN_STATE_VALUE_BYTES, PluginStateScope, PluginStateStore};
pub use postgres::PgStore;
pub use projects::{Environment, NewProject, Project, ProjectStore};
pub use queue::{
    ClaimedStep, Completed, Completion, Execution, ExecutionId, ExecutionPage, ExecutionQuery, ExecutionStatus, Follow,
    Join, Lease, MAX_EXECUTIONS_PAGE, MAX_STEP_ID_LEN, NewExecution, NewStep, Outcome, QueueStore, Reaped, StepRun,
    StepRunId, StepState, WorkflowId,
};
pub use rate_budgets::{BudgetAsk, BudgetGrant, MAX_BUDGET_KEY_LEN, RateBudgetStore};
pub use replay::ReplayStore;
pub use sqlite::{SqlitePragmas, SqliteStore};
pub use tasks::{TaskRecord, TaskStore, TaskUsage};
pub use triggers::{
    MAX_CURSOR_BYTES, MAX_EVENT_KEY_LEN, MAX_EVENT_PAYLOAD_BYTES, MAX_TRIGGER_KEY_LEN, NewSubscription,
    NewTriggerEvent, PollClaim, Subscription, SubscriptionId, SubscriptionKind, SubscriptionScope, SubscriptionStatus,
    SubscriptionUpdate, TriggerEvent, TriggerEventId, TriggerStore,
};
pub use users::{APP_USER, ConnectedUser, MAX_PAGE_SIZE, UserCursor, UserPage, UserStore};
pub use workflows::{
    Enablement, MAX_DEFINITION_BYTES, MAX_WORKFLOW_NAME_LEN, NewWorkflow, TriggerKey, VersionKind, Workflow,
    WorkflowStore, WorkflowVersion,
};

use async_trait::async_trait;

/// The whole store: every concern's methods plus the lifecycle.
///
/// Held as `Arc<dyn Store>`; [`open`] picks the implementation.
#[async_trait]
pub trait Store:
    ProjectStore
    + KeyStore
    + UserStore
    + IntegrationStore
    + ConfigStore
    + CredentialStore
    + TaskStore
    + PluginStateStore
    + QueueStore
    + ReplayStore
    + LeaderStore
    + RateBudgetStore
    + WorkflowStore
    + TriggerStore
    + ActionLogStore
    + EventDestinationStore
    + Send
    + Sync
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
        ActionLogStore, ConfigStore, CredentialStore, EventDestinationStore, IntegrationStore, KeyStore, LeaderStore,
        PluginStateStore, ProjectStore, QueueStore, RateBudgetStore, ReplayStore, Store, TaskStore, TriggerStore,
        UserStore, WorkflowStore,
    };
}
