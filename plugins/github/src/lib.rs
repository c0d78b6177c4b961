//! `github`: the GitHub integration. Issues and releases as actions
//! (`GITHUB_CREATE_ISSUE`, ...), issue and pull request events as webhook
//! triggers with one repository webhook per subscription, and the
//! connected account from `GET /user`.
//!
//! Auth is a GitHub OAuth App's authorization code flow; the host keeps
//! the token and adds it to each request. The webhook secret is the
//! project secret `GITHUB_WEBHOOK_SECRET`.

mod api;
mod hooks;
mod issues;
mod releases;

use serde_json::json;
use weft_sdk::{
    Action, Auth, ClientAuth, ConnectionInfo, Ctx, Effect, Integration, Metadata, RateLimit, Result, Subscription,
    Trigger, Unsubscription, WebhookRequest, WebhookResponse,
};

struct GitHub;

impl Integration for GitHub {
    fn metadata() -> Metadata {
        Metadata::new("github", "GitHub", env!("CARGO_PKG_VERSION"))
            .description("Issues, pull requests and releases of GitHub repositories")
            .icon_url("https://github.githubassets.com/favicons/favicon.svg")
            .base_url("https://api.github.com")
            .allowed_hosts(["api.github.com"])
            .auth(
                Auth::oauth2(
                    "https://github.com/login/oauth/authorize",
                    "https://github.com/login/oauth/access_token",
                    // `repo` for issues and releases, `admin:repo_hook` for
                    // the webhooks that triggers create.
                    ["repo", "admin:repo_hook", "read:user"],
                )
                .client_auth(ClientAuth::Post),
            )
            .secrets([hooks::SECRET])
            // 5,000 requests an hour for a user's OAuth token.
            .rate_limit(RateLimit::per_connection(5000, 3600))
            .extra(json!({
                "categories": ["developer_tools"],
                "apiVersion": api::API_VERSION,
                // GitHub refuses a code exchange or refresh with status 200
                // and its own error codes; the host reads them as the OAuth
                // errors they mean (the catalog definition says the same).
                "tokenResponse": {
                    "grantErrors": ["bad_verification_code", "bad_refresh_token"],
                    "clientErrors": ["incorrect_client_credentials"],
                },
            }))
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::new("GITHUB_CREATE_ISSUE", "Create Issue", issues::create_issue)
                .description("Open a new issue in a repository")
                .effect(Effect::Write)
                .scopes(["repo"]),
            Action::new("GITHUB_UPDATE_ISSUE", "Update Issue", issues::update_issue)
                .description("Change an issue's title, body, state, assignees, labels or milestone")
                .effect(Effect::Write)
                .scopes(["repo"]),
            Action::new("GITHUB_GET_ISSUE_BY_NUMBER", "Get Issue by Number", issues::get_issue)
                .description("Read one issue of a repository by its number")
                .scopes(["repo"]),
            Action::new("GITHUB_LOCK_ISSUE", "Lock an Issue", issues::lock_issue)
                .description("Lock an issue's conversation so only collaborators can comment")
                .effect(Effect::Write)
                .scopes(["repo"]),
            Action::paginated("GITHUB_SEARCH_ISSUES", "Search Issues", issues::search_issues)
                .description("Search issues and pull requests with GitHub's search syntax, page by page")
                .scopes(["repo"]),
            Action::new("GITHUB_CREATE_RELEASE", "Create Release", releases::create_release)
                .description("Create a release (and its tag when missing) in a repository")
                .effect(Effect::Write)
                .scopes(["repo"]),
            Action::new("GITHUB_UPDATE_RELEASE", "Update Release", releases::update_release)
                .description("Change a release's tag, name, notes, draft or pre-release flag")
                .effect(Effect::Write)
                .scopes(["repo"]),
            Action::new("GITHUB_GET_RELEASE_BY_ID", "Get Release by ID", releases::get_release)
                .description("Read one release of a repository by its id")
                .scopes(["repo"]),
            Action::new("GITHUB_GET_RELEASE_BY_TAG_NAME", "Get Release by Tag Name", releases::get_release_by_tag)
                .description("Read the release of a repository that points at a tag")
                .scopes(["repo"]),
            Action::new("GITHUB_DELETE_RELEASE", "Delete Release", releases::delete_release)
                .description("Delete a release (its tag stays)")
                .effect(Effect::Destructive)
                .scopes(["repo"]),
        ]
    }

    fn triggers() -> Vec<Trigger> {
        hooks::triggers()
    }

    fn subscribe(cx: &Ctx, req: Subscription) -> Result<serde_json::Value> {
        hooks::subscribe(cx, req)
    }

    fn unsubscribe(cx: &Ctx, req: Unsubscription) -> Result<()> {
        hooks::unsubscribe(cx, req)
    }

    fn handle_webhook(req: WebhookRequest) -> Result<WebhookResponse> {
        hooks::handle(req)
    }

    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let me: serde_json::Value = api::send("get the authenticated user", cx.http().get("/user"))?.json()?;
        let id = me["id"].as_u64().map(|id| id.to_string()).unwrap_or_default();
        let login = me["login"].as_str().unwrap_or_default().to_owned();
        if id.is_empty() || login.is_empty() {
            return Err(weft_sdk::Error::internal("GitHub's /user answer has no id or login"));
        }
        let profile = json!({ "login": login, "name": me["name"], "htmlUrl": me["html_url"], "type": me["type"] });
        Ok(ConnectionInfo::new(id, login).profile(profile))
    }
}

weft_sdk::export_integration!(GitHub);
