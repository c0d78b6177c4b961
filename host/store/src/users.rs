//! Connected users: the end users of a project's app, identified by the
//! `sub` of the user tokens the app signs.

mod sql;

use crate::ids::ProjectId;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// The internal user that holds a project's app-level credentials (an API
/// resource's one connection): stored like a user so its credentials have
/// an owner, but no connected user. The Users API neither lists nor shows
/// it, and user operations (metadata, disabling) refuse it as unknown.
pub const APP_USER: &str = "weft:app";

/// Longest user id (token `sub`) accepted, in characters.
pub const MAX_USER_ID_LEN: usize = 255;

/// Most users one page of [`UserStore::list_users`] returns.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A connected user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedUser {
    /// The project the user belongs to.
    pub project_id: ProjectId,
    /// The `sub` of the user's tokens, exactly as signed.
    pub user_id: String,
    /// Metadata the app attached (always a JSON object).
    pub metadata: Map<String, Value>,
    /// A disabled user's tokens authorize nothing.
    pub disabled: bool,
    /// First valid token seen.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last valid token seen (as recorded by [`UserStore::upsert_seen`]).
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
}

impl ConnectedUser {
    /// The cursor that continues a listing after this user.
    pub fn cursor(&self) -> UserCursor {
        UserCursor { created_at: self.created_at, user_id: self.user_id.clone() }
    }
}

/// A position in the listing of users, which is ordered by creation time
/// and then user id (so it is stable while users are added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCursor {
    /// Creation time of the last user seen.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Id of the last user seen.
    pub user_id: String,
}

/// One page of users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    /// Up to `limit` users.
    pub users: Vec<ConnectedUser>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<UserCursor>,
}

/// Connected users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Records a valid token of `user_id`: creates the user on the first
    /// one, otherwise moves `last_seen_at`; one statement, so concurrent
    /// first requests create exactly one user. Returns the user, whose
    /// `disabled` flag the caller must check. `NotFound` if the project
    /// does not exist.
    async fn upsert_seen(&self, project: ProjectId, user_id: &str) -> Result<ConnectedUser>;

    /// One user, or `NotFound` (also for [`APP_USER`], which is not one;
    /// its metadata is `{}` for whoever reads it).
    async fn get_user(&self, project: ProjectId, user_id: &str) -> Result<ConnectedUser>;

    /// Shallow-merges `patch` into the user's metadata atomically: its keys
    /// replace the stored ones (a `null` value is stored as `null`, not
    /// removed), other stored keys stay. Returns the user as merged.
    async fn merge_metadata(
        &self,
        project: ProjectId,
        user_id: &str,
        patch: Map<String, Value>,
    ) -> Result<ConnectedUser>;

    /// Disables or re-enables a user.
    async fn set_user_disabled(&self, project: ProjectId, user_id: &str, disabled: bool) -> Result<ConnectedUser>;

    /// Up to `limit` (1 to [`MAX_PAGE_SIZE`]) users after `after`, oldest
    /// first ([`APP_USER`] is none of them).
    async fn list_users(&self, project: ProjectId, after: Option<UserCursor>, limit: u32) -> Result<UserPage>;
}

/// Checks a user id.
pub(crate) fn user_id(user_id: &str) -> Result<&str> {
    crate::check::label("user id", user_id, MAX_USER_ID_LEN)
}

/// `NotFound("user")` for [`APP_USER`]: user operations do not reach it.
pub(crate) fn connected(user_id: &str) -> Result<&str> {
    if user_id == APP_USER { Err(Error::NotFound("user")) } else { Ok(user_id) }
}

/// Checks a page size.
pub(crate) fn page_size(limit: u32) -> Result<u32> {
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(format!("page size must be between 1 and {MAX_PAGE_SIZE}")))
    }
}

/// Turns rows fetched with `limit + 1` into a page: the extra row only
/// tells that there is a next page.
pub(crate) fn page(mut users: Vec<ConnectedUser>, limit: u32) -> UserPage {
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next = if more { users.last().map(ConnectedUser::cursor) } else { None };
    UserPage { users, next }
}

/// The merge [`UserStore::merge_metadata`] performs, for backends that do
/// it in Rust (inside their write transaction).
pub(crate) fn merge(mut stored: Map<String, Value>, patch: Map<String, Value>) -> Map<String, Value> {
    stored.extend(patch);
    stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn merge_is_shallow_and_keeps_nulls() {
        let stored = object(json!({"a": 1, "b": {"x": 1}, "c": "keep"}));
        let patch = object(json!({"a": 2, "b": {"y": 2}, "d": null}));
        let merged = merge(stored, patch);
        assert_eq!(Value::Object(merged), json!({"a": 2, "b": {"y": 2}, "c": "keep", "d": null}));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(page_size(0).is_err());
        assert!(page_size(1).is_ok());
        assert!(page_size(MAX_PAGE_SIZE).is_ok());
        assert!(page_size(MAX_PAGE_SIZE + 1).is_err());
    }
}
