//! What the credential service needs from a provider's plugin: checking a
//! new account (`test-connection`) and refreshing tokens the provider does
//! not refresh by RFC 6749 (a custom refresh). The plugin host implements
//! it (wired by the server); this crate never depends on the plugin host.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Map, Value};
use weft_catalog::ConnectionHttp;
use weft_store::ProjectId;

/// One hook call: who it acts for and what the plugin may use.
#[derive(Clone)]
pub struct HookCall {
    /// The project.
    pub project: ProjectId,
    /// The connection (credential) id, saved or about to be.
    pub connection_id: String,
    /// The connection's non-secret settings.
    pub config: Map<String, Value>,
    /// The integration's base URL override.
    pub base_url: Option<String>,
    /// Sends the plugin's requests with the connection's credentials; none
    /// during a refresh (the credentials are the thing being replaced).
    pub http: Option<Arc<dyn ConnectionHttp>>,
}

/// The account a connection test found.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    /// The provider's id of the account (`providerId`).
    pub account_id: String,
    /// The account's profile (`providerData`).
    pub profile: Value,
    /// What the provider's app-wide webhook events name the account by (a
    /// Slack team id, a HubSpot portal id); empty when none.
    pub routing_keys: Vec<String>,
}

/// New tokens from a custom refresh.
#[derive(Debug, Clone)]
pub struct RefreshedTokens {
    /// The new access token.
    pub access_token: SecretString,
    /// A rotated refresh token, if any.
    pub refresh_token: Option<SecretString>,
    /// Lifetime of the access token in seconds.
    pub expires_in_seconds: Option<u64>,
    /// Extra fields to keep.
    pub extra: Map<String, Value>,
}

/// Why a hook gave no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HookError {
    /// The provider refused the credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The user's input is wrong.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The plugin does not implement the hook.
    #[error("not supported by the plugin")]
    Unsupported,
    /// Anything else (the plugin failed, trapped or timed out); for logs.
    #[error("{0}")]
    Failed(String),
}

/// The provider hooks of installed plugins.
#[async_trait::async_trait]
pub trait ProviderHooks: Send + Sync {
    /// Runs `provider`'s `test-connection`.
    async fn test_connection(&self, provider: &str, call: HookCall) -> Result<AccountInfo, HookError>;

    /// Runs `provider`'s custom refresh.
    async fn refresh(&self, provider: &str, call: HookCall) -> Result<RefreshedTokens, HookError>;
}

/// No plugins: every hook is unsupported (tools and tests that connect only
/// declarative providers).
pub struct NoHooks;

#[async_trait::async_trait]
impl ProviderHooks for NoHooks {
    async fn test_connection(&self, _: &str, _: HookCall) -> Result<AccountInfo, HookError> {
        Err(HookError::Unsupported)
    }

    async fn refresh(&self, _: &str, _: HookCall) -> Result<RefreshedTokens, HookError> {
        Err(HookError::Unsupported)
    }
}
