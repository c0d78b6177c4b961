//! Issue actions: create, update, get, lock and search.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_sdk::{Ctx, Error, Paged, Result};

use crate::api::{self, Repo};

/// Fields of an issue that create and update both set.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueFields {
    /// The contents of the issue, in GitHub Flavored Markdown.
    body: Option<String>,
    /// Logins of the users to assign to the issue (replaces the current assignees on update).
    assignees: Option<Vec<String>>,
    /// Label names to set on the issue (replaces the current labels on update).
    labels: Option<Vec<String>>,
    /// The number of the milestone to associate the issue with.
    milestone: Option<u64>,
}

impl IssueFields {
    fn into_json(self, into: &mut Map<String, Value>) {
        let Self { body, assignees, labels, milestone } = self;
        let set = |into: &mut Map<String, Value>, k: &str, v: Option<Value>| {
            if let Some(v) = v {
                into.insert(k.to_owned(), v);
            }
        };
        set(into, "body", body.map(Value::from));
        set(into, "assignees", assignees.map(Value::from));
        set(into, "labels", labels.map(Value::from));
        set(into, "milestone", milestone.map(Value::from));
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateIssue {
    #[serde(flatten)]
    repo: Repo,
    /// The title of the new issue.
    title: String,
    #[serde(flatten)]
    fields: IssueFields,
}

pub(crate) fn create_issue(cx: &Ctx, input: CreateIssue) -> Result<Value> {
    if input.title.trim().is_empty() {
        return Err(Error::invalid_input("`title` must not be empty"));
    }
    let mut body = Map::new();
    body.insert("title".into(), input.title.into());
    input.fields.into_json(&mut body);
    let path = format!("{}/issues", input.repo.path()?);
    api::send("create issue", cx.http().post(path).json(&body))?.json()
}

/// Whether an issue is open or closed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum IssueState {
    /// Open.
    Open,
    /// Closed.
    Closed,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateIssue {
    #[serde(flatten)]
    repo: Repo,
    /// The number that identifies the issue in its repository.
    issue_number: u64,
    /// A new title.
    title: Option<String>,
    /// Open or close the issue.
    state: Option<IssueState>,
    /// Why the state changed: `completed`, `not_planned` or `reopened`.
    state_reason: Option<String>,
    #[serde(flatten)]
    fields: IssueFields,
}

pub(crate) fn update_issue(cx: &Ctx, input: UpdateIssue) -> Result<Value> {
    let mut body = Map::new();
    if let Some(title) = input.title {
        body.insert("title".into(), title.into());
    }
    if let Some(state) = input.state {
        body.insert("state".into(), serde_json::to_value(state)?);
    }
    if let Some(reason) = input.state_reason {
        body.insert("state_reason".into(), reason.into());
    }
    input.fields.into_json(&mut body);
    if body.is_empty() {
        return Err(Error::invalid_input("nothing to update: set at least one field"));
    }
    let path = format!("{}/issues/{}", input.repo.path()?, input.issue_number);
    api::send("update issue", cx.http().patch(path).json(&body))?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueRef {
    #[serde(flatten)]
    repo: Repo,
    /// The number that identifies the issue in its repository.
    issue_number: u64,
}

pub(crate) fn get_issue(cx: &Ctx, input: IssueRef) -> Result<Value> {
    let path = format!("{}/issues/{}", input.repo.path()?, input.issue_number);
    api::send("get issue", cx.http().get(path))?.json()
}

/// Why a conversation is locked.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub(crate) enum LockReason {
    /// Off topic.
    #[serde(rename = "off-topic")]
    OffTopic,
    /// Too heated.
    #[serde(rename = "too heated")]
    TooHeated,
    /// Resolved.
    #[serde(rename = "resolved")]
    Resolved,
    /// Spam.
    #[serde(rename = "spam")]
    Spam,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LockIssue {
    #[serde(flatten)]
    issue: IssueRef,
    /// Why the conversation is locked; shown on the issue's timeline.
    lock_reason: Option<LockReason>,
}

pub(crate) fn lock_issue(cx: &Ctx, input: LockIssue) -> Result<Value> {
    let path = format!("{}/issues/{}/lock", input.issue.repo.path()?, input.issue.issue_number);
    let body = match input.lock_reason {
        Some(reason) => json!({ "lock_reason": reason }),
        None => json!({}),
    };
    // GitHub answers 204 No Content.
    api::send("lock issue", cx.http().put(path).json(&body))?;
    Ok(json!({ "locked": true, "issueNumber": input.issue.issue_number, "lockReason": input.lock_reason }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchIssues {
    /// A GitHub search query, e.g. `repo:octocat/hello-world is:issue is:open label:bug`.
    query: String,
    /// Sort by `comments`, `reactions`, `created` or `updated` (best match when absent).
    sort: Option<String>,
    /// `asc` or `desc` (the default).
    order: Option<String>,
    /// Results per page, 1 to 100 (GitHub's default is 30).
    per_page: Option<u8>,
}

/// One page of search results; the next page follows GitHub's `Link` header.
pub(crate) fn search_issues(cx: &Ctx, input: SearchIssues, page: Option<String>) -> Result<Paged<Value>> {
    let request = match page {
        // The cursor is GitHub's own `rel="next"` URL: it carries the query.
        Some(next) => cx.http().get(next),
        None => {
            if input.query.trim().is_empty() {
                return Err(Error::invalid_input("`query` must not be empty"));
            }
            let per_page = input.per_page.unwrap_or(30);
            if !(1..=100).contains(&per_page) {
                return Err(Error::invalid_input("`perPage` must be between 1 and 100"));
            }
            let mut r = cx.http().get("/search/issues").query("q", &input.query).query("per_page", per_page);
            if let Some(sort) = &input.sort {
                r = r.query("sort", sort);
            }
            if let Some(order) = &input.order {
                r = r.query("order", order);
            }
            r
        }
    };
    let answer = api::send("search issues", request)?;
    let next = api::next_page(&answer);
    Ok(Paged::new(answer.json()?, next))
}
