//! Host implementations of the WIT imports, one file per interface.
//!
//! Each keeps *trap* (a host bug) apart from a *typed error* the plugin
//! handles: a denied host, a missing secret or a full state scope are typed
//! errors; only a broken host invariant traps.

pub(crate) mod http;
mod logging;
mod secrets;
mod state;
mod webhook_crypto;

impl crate::bindings::types::Host for crate::call_state::CallState {}
