//! What an integration's provider declares about its token answers: how to
//! read them (`weft-auth`'s [`TokenReading`], from the provider's
//! `extra.tokenResponse`) and which of their fields the account keeps as a
//! setting because its base URL is built from them (Salesforce's
//! `instance_url` in `{token.instance_url}/services/data/v62.0`).

use serde_json::{Map, Value};
use weft_auth::oauth::{TokenReading, TokenResponse};

use crate::service::IntegrationAuth;
use crate::{Error, Result};

impl IntegrationAuth {
    /// How the provider's token answers are read.
    pub(crate) fn token_reading(&self) -> Result<TokenReading> {
        TokenReading::from_extra(&self.provider.extra).map_err(|e| {
            Error::Misconfigured(format!("the {} provider's token reading is invalid: {e}", self.provider.id))
        })
    }

    /// Copies into `settings` each token-response field the base URL in
    /// force (the provider's or the integration's override) opens with; the
    /// Endpoint checks the value against the permitted hosts on every call.
    /// A field the answer lacks keeps the value the account had.
    pub(crate) fn keep_token_fields(&self, tokens: &TokenResponse, settings: &mut Map<String, Value>) {
        let templates = [Some(self.provider.base_url.as_str()), self.integration.base_url.as_deref()];
        for field in templates.into_iter().flatten().flat_map(weft_catalog::token_fields) {
            if let Some(Value::String(value)) = tokens.extra.get(&field) {
                settings.insert(weft_catalog::token_setting(&field), Value::String(value.clone()));
            }
        }
    }
}
