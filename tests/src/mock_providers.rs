//! Strict mock providers on loopback, one module per provider: loopback
//! HTTP servers that answer like the real APIs the integration plugins call,
//! holding a little state (messages, issues, CRM records, calendar events,
//! pages) so a write can be read back.
//!
//! "Strict" means each mock checks what the provider documents about a
//! request (method, path, the auth header's form, required fields and
//! their types, pagination parameters and their bounds) and refuses a
//! wrong one with the provider's own status and error body, so a plugin
//! that sends a malformed request fails its test as it would fail in
//! production. Every request is recorded with the status it got.
//!
//! Two shared pieces: [`MockServer`] (the HTTP side and the recording, each
//! provider a [`Provider`] holding its state: GitHub, HubSpot, Google
//! Calendar, Hello, TaskHooks, ResourceApi) and [`recorder`] (Slack, Notion, Salesforce).

pub mod github;
pub mod google_calendar;
pub mod hello;
pub mod hubspot;
pub mod notion;
pub mod recorder;
pub mod resource_api;
pub mod salesforce;
mod server;
pub mod slack;
pub mod task_hooks;

pub use server::{Call, MockServer, Provider, Reply, Request, Tokens, rfc3339};
