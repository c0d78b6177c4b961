//! Release actions: create, update, get (by id or tag) and delete.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_sdk::http::path::segment;
use weft_sdk::{Ctx, Error, Result};

use crate::api::{self, Repo};

/// What a release says besides its tag.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReleaseFields {
    /// The name of the release.
    name: Option<String>,
    /// Text describing the contents of the release, in Markdown.
    body: Option<String>,
    /// The branch or commit SHA the tag is created from when it does not exist yet (the default branch when absent).
    target_commitish: Option<String>,
    /// `true` to create a draft (unpublished) release.
    draft: Option<bool>,
    /// `true` to mark the release as a pre-release.
    prerelease: Option<bool>,
}

impl ReleaseFields {
    fn into_json(self, into: &mut Map<String, Value>) {
        let Self { name, body, target_commitish, draft, prerelease } = self;
        let pairs = [
            ("name", name.map(Value::from)),
            ("body", body.map(Value::from)),
            ("target_commitish", target_commitish.map(Value::from)),
            ("draft", draft.map(Value::from)),
            ("prerelease", prerelease.map(Value::from)),
        ];
        into.extend(pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))));
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateRelease {
    #[serde(flatten)]
    repo: Repo,
    /// The name of the tag the release points at, e.g. `v1.0.0`.
    tag_name: String,
    #[serde(flatten)]
    fields: ReleaseFields,
}

pub(crate) fn create_release(cx: &Ctx, input: CreateRelease) -> Result<Value> {
    if input.tag_name.trim().is_empty() {
        return Err(Error::invalid_input("`tagName` must not be empty"));
    }
    let mut body = Map::new();
    body.insert("tag_name".into(), input.tag_name.into());
    input.fields.into_json(&mut body);
    let path = format!("{}/releases", input.repo.path()?);
    api::send("create release", cx.http().post(path).json(&body))?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateRelease {
    #[serde(flatten)]
    repo: Repo,
    /// The unique identifier of the release.
    release_id: u64,
    /// A new tag name for the release.
    tag_name: Option<String>,
    #[serde(flatten)]
    fields: ReleaseFields,
}

pub(crate) fn update_release(cx: &Ctx, input: UpdateRelease) -> Result<Value> {
    let mut body = Map::new();
    if let Some(tag) = input.tag_name {
        body.insert("tag_name".into(), tag.into());
    }
    input.fields.into_json(&mut body);
    if body.is_empty() {
        return Err(Error::invalid_input("nothing to update: set at least one field"));
    }
    let path = format!("{}/releases/{}", input.repo.path()?, input.release_id);
    api::send("update release", cx.http().patch(path).json(&body))?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReleaseRef {
    #[serde(flatten)]
    repo: Repo,
    /// The unique identifier of the release.
    release_id: u64,
}

pub(crate) fn get_release(cx: &Ctx, input: ReleaseRef) -> Result<Value> {
    let path = format!("{}/releases/{}", input.repo.path()?, input.release_id);
    api::send("get release", cx.http().get(path))?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReleaseByTag {
    #[serde(flatten)]
    repo: Repo,
    /// The tag name of the release, e.g. `v1.0.0`.
    tag_name: String,
}

pub(crate) fn get_release_by_tag(cx: &Ctx, input: ReleaseByTag) -> Result<Value> {
    let path = format!("{}/releases/tags/{}", input.repo.path()?, segment(&input.tag_name));
    api::send("get release by tag", cx.http().get(path))?.json()
}

pub(crate) fn delete_release(cx: &Ctx, input: ReleaseRef) -> Result<Value> {
    let path = format!("{}/releases/{}", input.repo.path()?, input.release_id);
    // GitHub answers 204 No Content.
    api::send("delete release", cx.http().delete(path))?;
    Ok(json!({ "deleted": true, "releaseId": input.release_id }))
}
