//! The Weft plugin runtime: every integration and function step is a
//! WebAssembly component run here, sandboxed.
//!
//! This crate owns the wasmtime engine (pooling allocator, 10 ms epochs with
//! a per-call CPU budget, a wall-clock timeout, memory, stack and resource
//! handle caps), the compiled-artifact cache, install-time inspection (API
//! version, world, imports as a capability list, declared metadata), one
//! pre-instantiated component per plugin version with a fresh `Store` per
//! call, and the host side of the WIT imports (`http`, `logging`, `state`,
//! `secrets`, `webhook-crypto`). JavaScript Function steps run here too, on
//! the bundled `js-function` component ([`PluginHost::run_js`]).
//!
//! It does not own storage, secrets, credentials or the network: those come
//! in as the traits of [`HostServices`], so this crate never holds a database
//! pool or a decryption key, and plugins never see tokens.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use weft_plugin_host::{ActionCall, CallOptions, HostConfig, HostServices, PluginHost};
//! let egress = Arc::new(weft_egress::EgressClient::new(Default::default())?);
//! let host = PluginHost::new(HostConfig::default(), HostServices::in_memory(egress))?;
//! let info = host.install_file("plugins/test_echo.wasm".as_ref()).await?;
//! let out = host
//!     .run_action(&info.id, &CallOptions::new("project-1"), ActionCall {
//!         action: "ECHO".into(),
//!         input: serde_json::json!({"message": "hi"}),
//!         page: None,
//!     })
//!     .await?;
//! println!("{}", out.output);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod bindings;
mod cache;
mod call_state;
mod config;
mod engine;
mod error;
mod fields;
mod host;
mod imports;
mod inspect;
mod services;
mod smart_limits;
mod types;

pub use config::{EPOCH_TICK, HostConfig};
pub use error::{CallError, InstallError, Result};
pub use fields::{ActionFields, DYNAMIC_FIELDS_KEY};
pub use host::{
    ActionCall, ActionOutput, CallOptions, Event, JS_FUNCTION_PLUGIN, JsCall, JsError, JsErrorKind, JsLimits,
    JsLogLevel, JsLogLine, JsOutcome, PluginHost, PollOutcome, RefreshedCredentials, StepCall, WebhookDelivery,
    WebhookOutcome, WebhookReply,
};
pub use inspect::{API_VERSION_SECTION, HOST_API_VERSION};
pub use services::{CallScope, HostServices, MemoryStateStore, SecretSource, StateError, StateStore, StaticSecrets};
pub use smart_limits::SMART_RATE_LIMITS_KEY;
pub use types::{ActionDefinition, ConnectionInfo, PluginError, PluginInfo, PollingInterval, TriggerDefinition, World};
