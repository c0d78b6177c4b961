//! Integrations configured in a project: which plugin (or custom
//! integration), the app's OAuth client, scopes and overrides, and how the
//! Connect Portal shows it.
//!
//! The OAuth client secret is not here: it belongs to the vault.

mod sql;

use crate::ids::{IntegrationId, ProjectId};
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Longest integration type accepted (`custom.` included).
pub const MAX_INTEGRATION_TYPE_LEN: usize = 64;

/// An integration of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Its id.
    pub id: IntegrationId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// A plugin id (`slack`) or `custom.<name>`; unique in the project.
    #[serde(rename = "type")]
    pub integration_type: String,
    /// Whether users may connect it.
    pub active: bool,
    /// The app's OAuth client id.
    pub client_id: Option<String>,
    /// OAuth scopes requested.
    pub scopes: Vec<String>,
    /// Replaces the plugin's base URL (e.g. a sandbox).
    pub base_url: Option<String>,
    /// Per-endpoint overrides, as the plugin understands them.
    pub endpoint_overrides: Map<String, Value>,
    /// Connect Portal texts.
    pub portal_texts: Map<String, Value>,
    /// Connect Portal accent colour, `#rgb` or `#rrggbb`.
    pub accent_color: Option<String>,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether the app's OAuth client secret is set (the value is the vault's).
    #[serde(default)]
    pub has_client_secret: bool,
    /// Why the provider refused the app's client, until an operator fixes it.
    #[serde(default)]
    pub misconfigured: Option<String>,
    /// A `custom.<name>` integration's own provider definition (the
    /// catalog's format), which only this project sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Map<String, Value>>,
}

/// An integration to add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewIntegration {
    /// A plugin id or `custom.<name>`.
    #[serde(rename = "type")]
    pub integration_type: String,
    /// Whether users may connect it.
    #[serde(default)]
    pub active: bool,
    /// The app's OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// OAuth scopes requested.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Base URL override.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Endpoint overrides.
    #[serde(default)]
    pub endpoint_overrides: Map<String, Value>,
    /// Connect Portal configuration (`portal` in the admin API; checked by
    /// the caller).
    #[serde(default, alias = "portal")]
    pub portal_texts: Map<String, Value>,
    /// Accent colour.
    #[serde(default)]
    pub accent_color: Option<String>,
    /// A custom integration's provider definition (checked by the caller).
    #[serde(default)]
    pub definition: Option<Map<String, Value>>,
}

/// Changes to an integration: `None` keeps a field. For the optional
/// fields `Some(None)` clears them (JSON: a present `null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntegrationPatch {
    /// New active flag.
    pub active: Option<bool>,
    /// New client id, or `Some(None)` to clear it.
    #[serde(deserialize_with = "present")]
    pub client_id: Option<Option<String>>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New base URL override, or `Some(None)` to clear it.
    #[serde(deserialize_with = "present")]
    pub base_url: Option<Option<String>>,
    /// New endpoint overrides (replacing the old ones).
    pub endpoint_overrides: Option<Map<String, Value>>,
    /// New Connect Portal configuration (replacing the old one; `portal`
    /// in the admin API).
    #[serde(alias = "portal")]
    pub portal_texts: Option<Map<String, Value>>,
    /// New accent colour, or `Some(None)` to clear it.
    #[serde(deserialize_with = "present")]
    pub accent_color: Option<Option<String>>,
    /// New provider definition (checked by the caller), or `Some(None)` to
    /// remove it.
    #[serde(deserialize_with = "present")]
    pub definition: Option<Option<Map<String, Value>>>,
}

/// A field that is present is `Some`, even when it is `null`; serde's
/// `default` makes an absent one `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Integrations.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Adds an integration. `Conflict` if the project has one of this type.
    async fn create_integration(&self, project: ProjectId, new: NewIntegration) -> Result<Integration>;

    /// One integration by id, or `NotFound`.
    async fn get_integration(&self, project: ProjectId, id: IntegrationId) -> Result<Integration>;

    /// One integration by type, or `NotFound`.
    async fn get_integration_by_type(&self, project: ProjectId, integration_type: &str) -> Result<Integration>;

    /// The project's integrations, ordered by type.
    async fn list_integrations(&self, project: ProjectId) -> Result<Vec<Integration>>;

    /// Applies `patch` atomically and returns the result.
    async fn update_integration(
        &self,
        project: ProjectId,
        id: IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<Integration>;

    /// Removes an integration.
    async fn delete_integration(&self, project: ProjectId, id: IntegrationId) -> Result<()>;
}

/// Checks an integration type: one of the reference's integration types
/// (`slack`, `googleCalendar`, `monday.com`: ASCII letters, digits, `-`,
/// `_` and `.`, with no dot first, last or twice in a row), or `custom.`
/// followed by a lowercase name (letters, digits, `-`, `_`).
pub(crate) fn integration_type(value: &str) -> Result<&str> {
    let custom = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    let reference = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && !s.ends_with('.')
            && !s.contains("..")
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let ok = match value.strip_prefix("custom.") {
        Some(name) => custom(name),
        None => reference(value),
    };
    if value.len() <= MAX_INTEGRATION_TYPE_LEN && ok {
        Ok(value)
    } else {
        Err(Error::invalid(format!(
            "integration type {value:?} must be a provider id (letters, digits, '-', '_', '.') \
             or custom.<name> (lowercase letters, digits, '-', '_'), at most {MAX_INTEGRATION_TYPE_LEN} characters"
        )))
    }
}

/// Checks the configurable fields, as they will be stored.
pub(crate) fn check_fields(
    client_id: Option<&str>,
    scopes: &[String],
    base_url: Option<&str>,
    accent_color: Option<&str>,
) -> Result<()> {
    if let Some(client_id) = client_id {
        crate::check::label("client id", client_id, 1024)?;
    }
    if scopes.iter().any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control())) {
        return Err(Error::invalid("each scope must be non-empty and contain no whitespace"));
    }
    if let Some(base_url) = base_url {
        match url::Url::parse(base_url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {}
            _ => return Err(Error::invalid("the base URL must be an absolute http(s) URL")),
        }
    }
    if let Some(colour) = accent_color {
        let hex = colour.strip_prefix('#').unwrap_or("");
        if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid("the accent colour must be #rgb or #rrggbb"));
        }
    }
    Ok(())
}

/// Largest provider definition stored, in bytes of JSON (the catalog
/// loader's own limit).
pub const MAX_PROVIDER_DEFINITION_BYTES: usize = 256 * 1024;

/// A definition belongs to a custom integration only, and is bounded.
fn check_definition(integration_type: &str, definition: Option<&Map<String, Value>>) -> Result<()> {
    let Some(definition) = definition else { return Ok(()) };
    if !integration_type.starts_with("custom.") {
        return Err(Error::invalid("only a custom.<name> integration has its own provider definition"));
    }
    let size = serde_json::to_vec(definition).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_PROVIDER_DEFINITION_BYTES {
        return Err(Error::invalid(format!(
            "the provider definition is {size} bytes of JSON; at most {MAX_PROVIDER_DEFINITION_BYTES} are accepted"
        )));
    }
    Ok(())
}

/// Checks a whole new integration.
pub(crate) fn check_new(new: &NewIntegration) -> Result<()> {
    integration_type(&new.integration_type)?;
    check_fields(new.client_id.as_deref(), &new.scopes, new.base_url.as_deref(), new.accent_color.as_deref())?;
    check_definition(&new.integration_type, new.definition.as_ref())?;
    crate::check::json_size("endpoint overrides", &new.endpoint_overrides)?;
    crate::check::json_size("portal texts", &new.portal_texts)
}

impl IntegrationPatch {
    /// Applies the patch to a stored integration (the caller holds the row
    /// for the length of its transaction) and checks the result.
    pub(crate) fn apply(self, mut to: Integration) -> Result<Integration> {
        if let Some(active) = self.active {
            to.active = active;
        }
        if let Some(client_id) = self.client_id {
            to.client_id = client_id;
        }
        if let Some(scopes) = self.scopes {
            to.scopes = scopes;
        }
        if let Some(base_url) = self.base_url {
            to.base_url = base_url;
        }
        if let Some(overrides) = self.endpoint_overrides {
            crate::check::json_size("endpoint overrides", &overrides)?;
            to.endpoint_overrides = overrides;
        }
        if let Some(texts) = self.portal_texts {
            crate::check::json_size("portal texts", &texts)?;
            to.portal_texts = texts;
        }
        if let Some(colour) = self.accent_color {
            to.accent_color = colour;
        }
        if let Some(definition) = self.definition {
            to.definition = definition;
        }
        check_definition(&to.integration_type, to.definition.as_ref())?;
        check_fields(to.client_id.as_deref(), &to.scopes, to.base_url.as_deref(), to.accent_color.as_deref())?;
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integration_types() {
        let reference = ["googleCalendar", "monday.com", "wordpress.com", "facebookAds", "googleanalyticsGA4"];
        for ok in ["slack", "google-drive", "ms_teams", "custom.acme", "custom.a1"].into_iter().chain(reference) {
            assert!(integration_type(ok).is_ok(), "{ok}");
        }
        for bad in ["", "custom.", "custom.Acme", "custom.custom.x", "x y", ".x", "x.", "a..b", "a/b", "é"] {
            assert!(integration_type(bad).is_err(), "{bad}");
        }
        assert!(integration_type(&"a".repeat(MAX_INTEGRATION_TYPE_LEN + 1)).is_err());
    }

    #[test]
    fn patch_json_tells_absent_from_null() {
        let patch: IntegrationPatch =
            serde_json::from_value(json!({"clientId": null, "baseUrl": "https://x.test"})).expect("parses");
        assert_eq!(patch.client_id, Some(None));
        assert_eq!(patch.base_url, Some(Some("https://x.test".into())));
        assert_eq!(patch.accent_color, None);
        assert_eq!(patch.active, None);
        assert_eq!(patch.definition, None);
        let patch: IntegrationPatch = serde_json::from_value(json!({"definition": null})).expect("parses");
        assert_eq!(patch.definition, Some(None));
    }

    #[test]
    fn only_custom_integrations_have_a_definition() {
        let definition = json!({"id": "custom.acme"}).as_object().cloned();
        assert!(check_definition("custom.acme", definition.as_ref()).is_ok());
        assert!(check_definition("slack", None).is_ok());
        assert!(matches!(check_definition("slack", definition.as_ref()), Err(Error::Invalid(_))));
        let big = json!({"id": "x".repeat(MAX_PROVIDER_DEFINITION_BYTES)}).as_object().cloned();
        assert!(matches!(check_definition("custom.acme", big.as_ref()), Err(Error::Invalid(_))));
    }

    #[test]
    fn fields_are_checked() {
        assert!(check_fields(None, &["a.b".into()], Some("https://api.test/v1"), Some("#0af")).is_ok());
        assert!(check_fields(None, &["a b".into()], None, None).is_err());
        assert!(check_fields(None, &[], Some("ftp://x"), None).is_err());
        assert!(check_fields(None, &[], None, Some("0af")).is_err());
        assert!(check_fields(None, &[], None, Some("#12345")).is_err());
    }
}
