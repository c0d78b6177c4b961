//! Requests to the GitHub REST API: the headers GitHub asks every client
//! to send, repository paths built safely from user input, and GitHub's
//! rate-limit answers mapped onto the plugin errors the host acts on.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::http::{RequestBuilder, Response, link, path::segment};
use weft_sdk::{Error, Result};

/// The REST API version the plugin is written against.
pub(crate) const API_VERSION: &str = "2022-11-28";

/// A repository, as every repository-scoped input names it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub(crate) struct Repo {
    /// The account owner of the repository (a user or organization login), e.g. `octocat`.
    pub(crate) owner: String,
    /// The name of the repository without the `.git` extension, e.g. `hello-world`.
    pub(crate) repo: String,
}

impl Repo {
    /// `/repos/{owner}/{repo}`, each part one encoded path segment.
    pub(crate) fn path(&self) -> Result<String> {
        for (what, value) in [("owner", &self.owner), ("repo", &self.repo)] {
            if value.trim().is_empty() {
                return Err(Error::invalid_input(format!("`{what}` must not be empty")));
            }
        }
        Ok(format!("/repos/{}/{}", segment(&self.owner), segment(&self.repo)))
    }
}

/// Adds the headers GitHub documents for REST clients: its media type,
/// the API version, and a `User-Agent` (requests without one are refused).
pub(crate) fn github(req: RequestBuilder) -> RequestBuilder {
    req.header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", API_VERSION)
        .header("User-Agent", "weft-github-plugin")
}

/// Sends a request and maps GitHub's refusals: an exhausted rate limit
/// (403 or 429 with `x-ratelimit-remaining: 0`, or a secondary limit with
/// `retry-after`) is `rate-limited`, other statuses as the SDK maps them.
pub(crate) fn send(what: &str, req: RequestBuilder) -> Result<Response> {
    let answer = github(req).send_raw()?;
    let limited = matches!(answer.status, 403 | 429)
        && (answer.header("x-ratelimit-remaining") == Some("0") || answer.header("retry-after").is_some());
    if limited {
        return Err(Error::rate_limited(answer.retry_after_ms(), format!("{what}: GitHub rate limit reached")));
    }
    answer.error_for_status().map_err(|e| match e {
        Error::Upstream { status, body, .. } => {
            Error::upstream(status, format!("{what}: GitHub answered {status}: {}", message(body.as_deref())), body)
        }
        other => other,
    })
}

/// GitHub's `message` from an error body, or the body itself.
fn message(body: Option<&str>) -> String {
    let body = body.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// The next page's URL from a `Link` header, if there is one.
pub(crate) fn next_page(answer: &Response) -> Option<String> {
    answer.header("link").and_then(|h| link::find(h, "next"))
}
