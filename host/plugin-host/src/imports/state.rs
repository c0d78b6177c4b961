//! `weft:plugin/state`: key-value state scoped to (project, plugin,
//! connection) by the host, so keys cannot name another scope.

use crate::bindings::state::{self, Error};
use crate::call_state::{CallState, Phase};
use crate::services::StateError;
use std::time::Duration;

impl CallState {
    fn check_key(&self, key: &str) -> Result<(), Error> {
        let max = self.config.max_state_key_bytes;
        if key.len() > max { Err(Error::TooLarge(max as u64)) } else { Ok(()) }
    }
}

fn typed(e: StateError) -> Error {
    match e {
        StateError::TooLarge(n) => Error::TooLarge(n),
        StateError::QuotaExceeded => Error::QuotaExceeded,
        StateError::Unavailable(m) => Error::Unavailable(m),
    }
}

impl state::Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        if let Err(e) = self.check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.services.state.get(&self.scope, &key).await.map_err(typed))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<(), Error>> {
        if self.phase != Phase::Normal {
            return Ok(Err(Error::Unavailable("state is read-only in this phase".into())));
        }
        if let Err(e) = self.check_key(&key) {
            return Ok(Err(e));
        }
        let max = self.config.max_state_value_bytes;
        if value.len() > max {
            return Ok(Err(Error::TooLarge(max as u64)));
        }
        let ttl = ttl_seconds.map(|s| Duration::from_secs(s.into()));
        Ok(self.services.state.set(&self.scope, &key, value, ttl).await.map_err(typed))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), Error>> {
        if self.phase != Phase::Normal {
            return Ok(Err(Error::Unavailable("state is read-only in this phase".into())));
        }
        if let Err(e) = self.check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self.services.state.delete(&self.scope, &key).await.map_err(typed))
    }
}
