//! `weft:plugin/secrets`: declared names only, every read audited.

use crate::bindings::secrets::{self, Error};
use crate::call_state::{CallState, Phase};

impl secrets::Host for CallState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        let declared = self.metadata.as_ref().is_some_and(|m| m.secrets.contains(&name));
        if !declared {
            tracing::warn!(target: "audit", plugin = %self.scope.plugin_id, invocation = %self.invocation_id, secret = %name, "undeclared secret refused");
            return Ok(Err(Error::Denied(format!("secret {name:?} is not declared in the plugin's metadata"))));
        }
        if self.phase == Phase::Describe {
            return Ok(Err(Error::Denied("secrets cannot be read while describing the plugin".into())));
        }
        let value = self.services.secrets.get(&self.scope, &name).await;
        tracing::info!(
            target: "audit",
            plugin = %self.scope.plugin_id,
            project = %self.scope.project_id,
            invocation = %self.invocation_id,
            secret = %name,
            found = value.is_some(),
            "secret read"
        );
        Ok(value.ok_or(Error::NotFound))
    }
}
