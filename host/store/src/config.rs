//! Per-project configuration that workflows refer to by name: environment
//! secrets (names only here; the values go to the vault) and app events.

mod sql;

use crate::ids::ProjectId;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// Longest secret or app event name accepted.
pub const MAX_CONFIG_NAME_LEN: usize = 200;

/// An environment secret's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSecret {
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// Its name, unique in the project.
    pub name: String,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An app event: something the app reports, which can trigger workflows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppEvent {
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// Its name, unique in the project.
    pub name: String,
    /// An example payload, for building workflows against.
    pub example_payload: Value,
    /// When it was first defined.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Environment secret names and app events.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// Adds a secret name. `Conflict` if the project has it already.
    async fn add_secret_name(&self, project: ProjectId, name: &str) -> Result<EnvironmentSecret>;

    /// The project's secret names, sorted.
    async fn list_secret_names(&self, project: ProjectId) -> Result<Vec<EnvironmentSecret>>;

    /// Removes a secret name.
    async fn delete_secret_name(&self, project: ProjectId, name: &str) -> Result<()>;

    /// Defines an app event. `Conflict` if the name is taken.
    async fn create_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent>;

    /// Defines an app event or replaces its example payload.
    async fn upsert_app_event(&self, project: ProjectId, name: &str, example_payload: Value) -> Result<AppEvent>;

    /// One app event by name, or `NotFound`.
    async fn get_app_event(&self, project: ProjectId, name: &str) -> Result<AppEvent>;

    /// The project's app events, sorted by name.
    async fn list_app_events(&self, project: ProjectId) -> Result<Vec<AppEvent>>;

    /// Removes an app event.
    async fn delete_app_event(&self, project: ProjectId, name: &str) -> Result<()>;
}

/// Checks a secret name: workflows refer to it in templates, so it is an
/// identifier (letters, digits, `_`, `-`, `.`), not free text.
pub(crate) fn secret_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CONFIG_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(name)
    } else {
        Err(Error::invalid(format!(
            "secret name {name:?} must be 1 to {MAX_CONFIG_NAME_LEN} ASCII letters, digits, '_', '-' or '.'"
        )))
    }
}

/// Checks an app event before it is stored.
pub(crate) fn check_app_event(name: &str, example_payload: &Value) -> Result<()> {
    crate::check::label("app event name", name, MAX_CONFIG_NAME_LEN)?;
    crate::check::json_size("example payload", example_payload)
}

/// The conflict message when an app event's name is taken. Both the insert
/// and the upsert map a unique violation to it, so it is written once.
pub(crate) fn app_event_taken(name: &str) -> String {
    format!("the project already has an app event named {name:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_identifiers() {
        assert!(secret_name("API_TOKEN").is_ok());
        assert!(secret_name("stripe.key-2").is_ok());
        assert!(secret_name("").is_err());
        assert!(secret_name("has space").is_err());
        assert!(secret_name("{{x}}").is_err());
    }
}
