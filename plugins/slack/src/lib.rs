//! `slack`: the Slack integration. A Slack app with a bot token (OAuth v2),
//! the Web API for actions, and the Events API (one app-level request URL,
//! signed with the app's signing secret) for triggers routed by team id.

mod actions;
mod api;
mod events;

use serde_json::{Value, json};
use weft_sdk::{
    Action, Auth, ClientAuth, ConnectionInfo, Ctx, Integration, Metadata, RateLimit, Result, Trigger, WebhookRequest,
    WebhookResponse,
};

struct Slack;

impl Integration for Slack {
    fn metadata() -> Metadata {
        Metadata::new("slack", "Slack", env!("CARGO_PKG_VERSION"))
            .description("Channels, messages, users and reactions in Slack")
            .icon_url("https://a.slack-edge.com/80588/marketing/img/meta/favicon-32.png")
            .base_url("https://slack.com/api")
            .allowed_hosts(["slack.com", "files.slack.com"])
            .auth(
                Auth::oauth2(
                    "https://slack.com/oauth/v2/authorize",
                    "https://slack.com/api/oauth.v2.access",
                    [
                        "chat:write",
                        "channels:read",
                        "channels:history",
                        "groups:read",
                        "im:write",
                        "users:read",
                        "users:read.email",
                        "reactions:write",
                        "app_mentions:read",
                    ],
                )
                .scope_separator(",")
                .client_auth(ClientAuth::Post),
            )
            .secrets([events::SIGNING_SECRET])
            // Slack limits each method per workspace by tier (Tier 3: 50+
            // a minute, Tier 4: 100+); one budget of 100 a minute keeps
            // every mix of methods within them.
            .rate_limit(RateLimit::per_connection(100, 60))
            .extra(json!({
                "categories": ["communication"],
                // oauth.v2.access answers `"token_type": "bot"`, refuses with
                // 200 and `"ok": false`, and keeps a user token under
                // `authed_user` (the only token of user-scope installs).
                "tokenResponse": {
                    "tokenTypes": ["bot", "user"],
                    "accessTokenAt": "/authed_user/access_token",
                    "grantErrors": ["invalid_code", "code_already_used", "invalid_refresh_token", "invalid_grant_type"],
                    "clientErrors": ["invalid_client_id", "bad_client_secret"],
                },
            }))
    }

    fn actions() -> Vec<Action> {
        actions::all()
    }

    fn triggers() -> Vec<Trigger> {
        events::all()
    }

    fn handle_webhook(req: WebhookRequest) -> Result<WebhookResponse> {
        events::handle(req)
    }

    /// `auth.test` names the workspace: its team id is the account and the
    /// routing key of the app-level events.
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let me = api::post(cx, "auth.test", &json!({}))?;
        let text = |key: &str| me.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let team_id = text("team_id");
        let profile = json!({
            "team": me["team"], "teamId": me["team_id"], "url": me["url"], "user": me["user"],
            "userId": me["user_id"], "botId": me["bot_id"],
        });
        Ok(ConnectionInfo::new(team_id.clone(), text("team")).routing_key(team_id).profile(profile))
    }
}

weft_sdk::export_integration!(Slack);
