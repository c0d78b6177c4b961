//! The Proxy API end to end: a user's call through Weft to a mock provider
//! on loopback, with the credential injected by the host. TESTING.md C4
//! (54–68), the raw stream, provider faults and the rate-limit governor.

mod definitions;
mod faults;
pub(crate) mod fixture;
mod flows;
mod governor;
mod netns;
mod query_key;
mod request_ids;
mod ssrf;
mod stream;
