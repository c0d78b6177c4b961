//! Start-up wiring of the `weft` binary: configuration, telemetry, and the
//! [`Application`] that binds the listener, installs plugins and serves the
//! API until asked to stop. Tests build the same `Application` on port 0.

pub mod cli;
pub mod config;
mod conn;
pub mod demo;
mod linger;
mod listener;
mod startup;
pub mod telemetry;
pub mod vault;
mod wiring;

pub use startup::{Application, open_store, shutdown_signal};
