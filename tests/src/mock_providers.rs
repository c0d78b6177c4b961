//! Strict mock providers on loopback, one module per provider: each checks
//! the documented request shapes (method, path, required fields, auth
//! header, pagination parameters), answers as the provider documents,
//! refuses a wrong request with the provider's own error body, and records
//! every call.

pub mod notion;
pub mod recorder;
pub mod salesforce;
pub mod slack;
