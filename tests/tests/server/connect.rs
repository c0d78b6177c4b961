//! Connecting accounts end to end: the real server, the real test plugins
//! and the strict mock authorization server on loopback.

mod fixture;
mod flows;
mod processes;
mod refresh;
mod token_answers;
mod vault;

pub(crate) use fixture::Fixture;
