//! Strict mock providers: loopback HTTP servers that answer like the real
//! APIs the integration plugins call (GitHub, HubSpot, Google Calendar),
//! holding a little state (issues, CRM records, calendar events) so a
//! write can be read back.
//!
//! "Strict" means each mock checks what the provider documents about a
//! request (method, path, the auth header's form, required fields and
//! their types, pagination parameters and their bounds) and refuses a
//! wrong one with the provider's own status and error body, so a plugin
//! that sends a malformed request fails its test as it would fail in
//! production. Every request is recorded with the status it got.
//!
//! The HTTP side and the recording are shared ([`MockServer`]); each
//! provider is a [`Provider`] implementation holding its state.

pub mod github;
pub mod google_calendar;
pub mod hubspot;
mod server;

pub use server::{Call, MockServer, Provider, Reply, Request, Tokens, rfc3339};
