//! Write Weft plugins in Rust.
//!
//! A Weft plugin is a WebAssembly component built for `wasm32-wasip2`
//! against the `weft:plugin@0.1.0` WIT package. This crate owns the guest
//! side of that contract: one trait with defaults ([`Integration`]), typed
//! actions registered explicitly ([`Action`]), a host-mediated HTTP client
//! ([`http`]), and helpers for logging, state, secrets, webhooks and function
//! steps. It hides wit-bindgen: plugins depend on this crate, `serde` and
//! `schemars`, never on wit-bindgen. It does not run anything itself: the
//! host instantiates the component per call, enforces the sandbox and owns
//! every credential.
//!
//! # Write your first plugin
//!
//! 1. Create a library crate and make it a component:
//!
//!    ```toml
//!    [lib]
//!    crate-type = ["cdylib"]
//!
//!    [dependencies]
//!    weft-sdk = { path = "../../sdk-guest" }
//!    serde = { version = "1", features = ["derive"] }
//!    serde_json = "1"
//!    schemars = "1"
//!    ```
//!
//! 2. Describe the plugin, write typed action handlers, register them, and
//!    export the type:
//!
//! ```no_run
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use weft_sdk::{Action, Auth, Ctx, Effect, Integration, Metadata, Paged, Result};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct ListIssues {
//!     owner: String,
//!     repo: String,
//! }
//!
//! #[derive(Serialize, Deserialize, JsonSchema)]
//! struct Issue {
//!     number: u64,
//!     title: String,
//! }
//!
//! /// One page of open issues; the cursor is the next page number.
//! fn list_issues(cx: &Ctx, input: ListIssues, page: Option<String>) -> Result<Paged<Vec<Issue>>> {
//!     let n: u32 = weft_sdk::cursor::decode(page.as_deref())?.unwrap_or(1);
//!     let issues: Vec<Issue> = cx
//!         .http() // the host injects auth and enforces the allowed hosts
//!         .get(format!("/repos/{}/{}/issues", input.owner, input.repo))
//!         .query("state", "open")
//!         .query("page", n)
//!         .send()? // 404 → not-found, 429 → rate-limited, …
//!         .json()?;
//!     weft_sdk::info!("listed issues"; count = issues.len(), page = n);
//!     if issues.is_empty() {
//!         Ok(Paged::last(issues))
//!     } else {
//!         Paged::next(issues, &(n + 1))
//!     }
//! }
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct CreateIssue {
//!     owner: String,
//!     repo: String,
//!     title: String,
//! }
//!
//! fn create_issue(cx: &Ctx, input: CreateIssue) -> Result<Issue> {
//!     cx.http()
//!         .post(format!("/repos/{}/{}/issues", input.owner, input.repo))
//!         .json(&serde_json::json!({ "title": input.title }))
//!         .send()?
//!         .json()
//! }
//!
//! struct GitHub;
//!
//! impl Integration for GitHub {
//!     fn metadata() -> Metadata {
//!         Metadata::new("github", "GitHub", env!("CARGO_PKG_VERSION"))
//!             .description("Issues and repositories")
//!             .base_url("https://api.github.com")
//!             .allowed_hosts(["api.github.com"])
//!             .auth(Auth::oauth2(
//!                 "https://github.com/login/oauth/authorize",
//!                 "https://github.com/login/oauth/access_token",
//!                 ["repo"],
//!             ))
//!     }
//!
//!     fn actions() -> Vec<Action> {
//!         vec![
//!             Action::paginated("GITHUB_LIST_ISSUES", "List issues", list_issues)
//!                 .description("List the open issues of a repository"),
//!             Action::new("GITHUB_CREATE_ISSUE", "Create issue", create_issue)
//!                 .effect(Effect::Write)
//!                 .scopes(["repo"]),
//!         ]
//!     }
//! }
//!
//! weft_sdk::export_integration!(GitHub);
//! ```
//!
//! 3. Build it: `cargo build --release --target wasm32-wasip2`. The component
//!    is `target/wasm32-wasip2/release/<crate_name>.wasm`.
//!
//! # What else there is
//!
//! - Triggers: declare them with [`Trigger`] and implement
//!   [`Integration::subscribe`], [`Integration::handle_webhook`] (see
//!   [`webhook`]) or [`Integration::poll`].
//! - Auth hooks: [`Integration::test_connection`] and
//!   [`Integration::refresh`].
//! - Per-account input fields (a CRM org's custom fields): mark the action
//!   with [`Action::dynamic_fields`], answer [`Integration::fields`] with
//!   [`Fields`], and export with `export_integration!(YourType, fields)`.
//! - Logging: [`info!`], [`debug!`], … with `; key = value` fields.
//! - Durable key-value [`state`], and [`secrets`] for custom auth.
//! - Polling cursors over timestamps: [`watermark`].
//! - Function steps: [`export_function_step!`] and the [`step`] module.
//!
//! Errors are [`Error`], which mirrors the WIT `plugin-error`: the host
//! decides on retries and re-authentication from its case, so return the
//! most specific one.

#![warn(missing_docs)]

// Lets the generated bindings name `::weft_sdk::…` from inside this crate
// too, the same path they use when the export macros expand in a plugin.
extern crate self as weft_sdk;

mod action;
mod adapter;
#[allow(missing_docs)]
#[doc(hidden)]
pub mod bindings;
mod ctx;
pub mod cursor;
mod error;
mod export;
mod fields;
pub mod http;
mod integration;
pub mod log;
mod metadata;
mod schema;
pub mod secrets;
pub mod state;
pub mod step;
pub mod time;
mod trigger;
pub mod watermark;
pub mod webhook;

pub use action::{Action, Effect, Empty, Paged};
pub use ctx::Ctx;
pub use error::{Error, MAX_ERROR_BODY, Result};
pub use export::API_VERSION;
pub use fields::Fields;
pub use integration::{ConnectionInfo, Integration, RefreshedCredentials};
pub use metadata::{ApiKey, Auth, ClientAuth, ClientCredentials, Metadata, OAuth2, RateLimit};
pub use trigger::{Event, PollRequest, PollResponse, Subscription, Trigger, Unsubscription};
pub use webhook::{WebhookRequest, WebhookResponse};

// Re-exported so plugins can name the exact versions the SDK was built with.
#[doc(no_inline)]
pub use schemars;
#[doc(no_inline)]
pub use serde;
#[doc(no_inline)]
pub use serde_json;

// Used by the code that the export macros generate in plugin crates.
#[doc(hidden)]
pub use adapter::Adapter as __IntegrationAdapter;

#[doc(hidden)]
pub use export::version_bytes as __version_bytes;
#[doc(hidden)]
pub use wit_bindgen::rt as __rt;
