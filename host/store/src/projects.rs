//! Projects: the tenants. Every other row belongs to one.

mod sql;

use crate::ids::{ProjectId, ReleaseGroupId};
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// Longest project name accepted, in characters.
pub const MAX_PROJECT_NAME_LEN: usize = 200;

/// The release environment a project stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Where integrations are built and tried.
    Development,
    /// Pre-production.
    Staging,
    /// Live users.
    Production,
}

impl Environment {
    /// The stored (and serialized) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "development" => Ok(Environment::Development),
            "staging" => Ok(Environment::Staging),
            "production" => Ok(Environment::Production),
            other => Err(Error::invalid(format!(
                "unknown environment {other:?}: expected development, staging or production"
            ))),
        }
    }
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Its id (UUID v4), the `projectId` of the API paths.
    pub id: ProjectId,
    /// Display name.
    pub name: String,
    /// Which release environment it is.
    pub environment: Environment,
    /// The release group it belongs to, if any.
    pub release_group_id: Option<ReleaseGroupId>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Where users may be sent back after connecting an account: exact URLs.
    #[serde(default)]
    pub connect_return_urls: Vec<String>,
    /// At most this many of its steps run at once, across every process
    /// (the reference's concurrency SLA); `None`: no limit.
    #[serde(default)]
    pub concurrency_limit: Option<u32>,
}

/// What a new project needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewProject {
    /// Display name; trimmed, non-empty.
    pub name: String,
    /// Its release environment.
    pub environment: Environment,
    /// A release group to join; each group holds one project per
    /// environment. Pass a fresh [`ReleaseGroupId`] to start a group.
    #[serde(default)]
    pub release_group_id: Option<ReleaseGroupId>,
}

impl NewProject {
    /// A project outside any release group.
    pub fn new(name: impl Into<String>, environment: Environment) -> Self {
        Self { name: name.into(), environment, release_group_id: None }
    }
}

/// Checks and normalizes a project name.
pub(crate) fn project_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("project name must not be empty"));
    }
    if name.chars().count() > MAX_PROJECT_NAME_LEN {
        return Err(Error::invalid(format!("project name must be at most {MAX_PROJECT_NAME_LEN} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid("project name must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// Projects: created by the operator, everything else hangs off them.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// Creates a project. `Conflict` if its release group already has a
    /// project of this environment.
    async fn create_project(&self, new: NewProject) -> Result<Project>;

    /// One project, or `NotFound`.
    async fn get_project(&self, id: ProjectId) -> Result<Project>;

    /// All projects, oldest first. (An operator view: not tenant-scoped.)
    async fn list_projects(&self) -> Result<Vec<Project>>;

    /// Renames a project and returns it.
    async fn rename_project(&self, id: ProjectId, name: &str) -> Result<Project>;

    /// Deletes a project and everything that belongs to it.
    async fn delete_project(&self, id: ProjectId) -> Result<()>;

    /// Replaces the URLs users may return to after connecting (each an
    /// absolute http(s) URL without fragment).
    async fn set_connect_return_urls(&self, id: ProjectId, urls: Vec<String>) -> Result<Project>;

    /// Sets (or, with `None`, lifts) the project's concurrency limit: from
    /// the next claim on, at most `limit` of its steps run at once; the
    /// others wait in the queue. A limit of 0 is refused.
    async fn set_concurrency_limit(&self, id: ProjectId, limit: Option<u32>) -> Result<Project>;
}

/// Checks return URLs: absolute http(s), no user info, no fragment.
pub(crate) fn check_return_urls(urls: &[String]) -> Result<()> {
    if urls.len() > 50 {
        return Err(Error::invalid("at most 50 return URLs"));
    }
    for u in urls {
        let ok = url::Url::parse(u).is_ok_and(|p| {
            matches!(p.scheme(), "https" | "http")
                && p.host().is_some()
                && p.username().is_empty()
                && p.password().is_none()
                && p.fragment().is_none()
        });
        if !ok || u.len() > 2048 {
            return Err(Error::invalid(format!(
                "return URL {u:?} must be an absolute http(s) URL without user info or fragment"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_round_trip_and_unknown_ones_are_invalid() {
        for env in [Environment::Development, Environment::Staging, Environment::Production] {
            assert_eq!(env.as_str().parse::<Environment>().ok(), Some(env));
            assert_eq!(serde_json::to_value(env).ok(), Some(serde_json::json!(env.as_str())));
        }
        let err = "Production".parse::<Environment>().err();
        assert!(matches!(err, Some(Error::Invalid(m)) if m.contains("\"Production\"")));
        assert!(matches!("".parse::<Environment>(), Err(Error::Invalid(_))));
    }

    #[test]
    fn project_names_are_trimmed_and_checked() {
        assert_eq!(project_name("  Acme ").ok().as_deref(), Some("Acme"));
        assert!(matches!(project_name("   "), Err(Error::Invalid(_))));
        assert!(matches!(project_name("a\nb"), Err(Error::Invalid(_))));
        assert!(project_name(&"x".repeat(MAX_PROJECT_NAME_LEN)).is_ok());
        assert!(matches!(project_name(&"x".repeat(MAX_PROJECT_NAME_LEN + 1)), Err(Error::Invalid(_))));
    }
}
