//! Connected accounts: how a user's third-party account gets connected,
//! kept, refreshed and used, without a token ever leaving the host.
//!
//! This crate owns the connect flows (OAuth 2.0 authorization code with
//! PKCE and a one-time state per integration callback, the password grant
//! where an integration enables it, client credentials, API keys, basic
//! auth, custom fields), sealing credentials in the vault, the single-flight
//! refresh (per process and across processes, see `refresh.rs`), the
//! proactive refresh sweep, the one authorised-request path every call made
//! as a connected account takes ([`Credentials::send_as`]; the proxy calls
//! it, plugins reach it through a [`Credentials::grant`]), the generic path
//! of declarative providers (their connection test, and their webhook
//! triggers' signing keys and setup requests), and master-key rotation over
//! the stored values.
//! The OAuth wire protocol is `weft-auth`'s; storage is `weft-store`'s;
//! encryption is `weft-vault`'s; what a provider is, `weft-catalog`'s.
//!
//! It does not own HTTP answers (the API maps [`Error`]) nor plugins: their
//! connection tests and custom refreshes arrive as [`ProviderHooks`], given
//! at construction.
//!
//! ```no_run
//! # async fn demo(credentials: std::sync::Arc<weft_credentials::Credentials>,
//! #     project: weft_store::ProjectId, id: weft_store::CredentialId) -> weft_credentials::Result<()> {
//! // Fresh secrets for a call: refreshed first if the token is about to expire.
//! let usable = credentials.usable(project, id).await?;
//! assert_eq!(usable.credential.id, id);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod connect;
mod declarative;
mod destination_headers;
mod environment;
mod error;
mod grant;
mod hooks;
mod owners;
mod refresh;
mod request;
mod resources;
mod rotate;
mod scheme;
mod secrets;
mod service;
mod session;
mod sweeper;
mod token_answer;
mod webhooks;

pub use connect::{CallbackParams, Connected, StartOutcome, StartRequest};
pub use destination_headers::DestinationHeaders;
pub use environment::EnvironmentSecrets;
pub use error::{Error, Result};
pub use hooks::{AccountInfo, HookCall, HookError, NoHooks, ProviderHooks, RefreshedTokens};
pub use refresh::Usable;
pub use request::{Call, Report, SendError};
pub use resources::APP_USER;
pub use rotate::{RotationReport, rotate};
pub use scheme::{Scheme, overrides};
pub use secrets::{CredentialSecrets, REDACTED};
pub use service::{CredentialDeps, CredentialSettings, Credentials};
pub use session::{IntegrationRef, Session};
/// Why a custom integration's definition was refused (the catalog's type).
pub use weft_catalog::DefinitionError;
