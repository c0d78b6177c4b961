//! Asking a plugin for an action's per-connection fields, through its
//! `fields` export (world `integration-fields`).

use super::{CallOptions, PluginHost};
use crate::call_state::Phase;
use crate::error::CallError;
use crate::fields::ActionFields;
use crate::types::PluginError;

impl PluginHost {
    /// The extra input fields of `action` for the connection `opts` acts
    /// for. The call runs like an action's (same phase, limits and
    /// connection grant), so the plugin may ask the provider as the
    /// account. [`CallError::Plugin`] with `unsupported` when the plugin
    /// does not declare fields for `action`.
    #[tracing::instrument(name = "weft_plugin_host.action_fields", skip_all, fields(plugin = plugin_id, action, invocation = %opts.invocation_id))]
    pub async fn action_fields(
        &self,
        plugin_id: &str,
        opts: &CallOptions,
        action: &str,
    ) -> Result<ActionFields, CallError> {
        let installed = self.installed(plugin_id).ok_or_else(|| CallError::UnknownPlugin(plugin_id.to_owned()))?;
        let unsupported = |why: &str| {
            CallError::Plugin(PluginError::Unsupported { message: format!("{plugin_id}: {why} ({action})") })
        };
        if !installed.info.dynamic_fields.iter().any(|k| k == action) {
            return Err(unsupported("the action declares no per-connection fields"));
        }
        let Some(pre) = &installed.fields else {
            return Err(unsupported("the plugin does not export weft:plugin/fields"));
        };
        let _permit = self.permits.acquire().await.map_err(|_| CallError::Trap("host is shutting down".into()))?;
        let mut store = self.new_store(plugin_id, installed.metadata.clone(), opts, Phase::Normal);
        let cx = opts.context(self.config.call_deadline_ms());
        let run = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.weft_plugin_fields().call_action_fields(&mut store, action, &cx).await
        };
        let outcome = tokio::time::timeout(self.config.wall_timeout, run).await;
        let text = self.finish(plugin_id, outcome, &store, self.config.wall_timeout)?.map_err(PluginError::from)?;
        if text.len() > self.config.max_output_bytes {
            return Err(CallError::OutputTooLarge { size: text.len(), limit: self.config.max_output_bytes });
        }
        ActionFields::parse(&text).map_err(CallError::InvalidOutput)
    }
}
