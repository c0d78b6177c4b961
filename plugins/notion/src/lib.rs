//! `notion`: the Notion integration. A public integration (OAuth 2.0 with
//! HTTP Basic client authentication and JSON token requests), pages,
//! databases and blocks as actions, and polling triggers on databases.

mod actions;
mod api;
mod polling;

use serde_json::{Value, json};
use weft_sdk::{
    Action, Auth, ClientAuth, ConnectionInfo, Ctx, Integration, Metadata, PollRequest, PollResponse, RateLimit, Result,
    Trigger,
};

struct Notion;

impl Integration for Notion {
    fn metadata() -> Metadata {
        Metadata::new("notion", "Notion", env!("CARGO_PKG_VERSION"))
            .description("Pages, databases and blocks in Notion")
            .icon_url("https://www.notion.so/images/favicon.ico")
            .base_url("https://api.notion.com/v1")
            .allowed_hosts(["api.notion.com"])
            .auth(
                // Notion has no scopes: a user picks the pages to share while
                // authorizing. `owner=user` is required by its authorize page.
                Auth::oauth2(
                    "https://api.notion.com/v1/oauth/authorize",
                    "https://api.notion.com/v1/oauth/token",
                    Vec::<String>::new(),
                )
                .client_auth(ClientAuth::Basic)
                .extra_authorize_param("owner", "user"),
            )
            // "An average of three requests per second" per integration,
            // with bursts allowed: the same average over a minute.
            .rate_limit(RateLimit::per_connection(180, 60))
            .extra(json!({
                "categories": ["knowledge_base", "productivity"],
                // The token endpoint documents a JSON body; its answer adds
                // `bot_id`, `workspace_id`, `workspace_name` and `owner`.
                "tokenResponse": { "requestFormat": "json" },
            }))
    }

    fn actions() -> Vec<Action> {
        actions::all()
    }

    fn triggers() -> Vec<Trigger> {
        polling::all()
    }

    fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
        polling::poll(cx, req)
    }

    /// The integration's bot user: its id names the connection (one per
    /// workspace the user authorized), its workspace the account.
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let me = api::get(cx, "/users/me")?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let workspace = text(&me["bot"]["workspace_name"]);
        let name = if workspace.is_empty() { text(&me["name"]) } else { workspace };
        let profile = json!({ "botId": me["id"], "name": me["name"], "workspaceName": me["bot"]["workspace_name"] });
        Ok(ConnectionInfo::new(text(&me["id"]), name).profile(profile))
    }
}

weft_sdk::export_integration!(Notion);
