//! Slack actions, named as the reference's ActionKit names them.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::{Action, Ctx, Effect, Paged, Result};

use crate::api;

/// Largest page Slack serves for list methods.
const MAX_PAGE: u32 = 200;

#[derive(Deserialize, JsonSchema)]
pub struct SendMessage {
    /// Channel to post in: its ID (`C024BE91L`) or name (`#general`).
    channel: String,
    /// Message text (Slack mrkdwn).
    message: String,
    /// Timestamp (`ts`) of a parent message, to reply in its thread.
    #[serde(default)]
    thread_ts: Option<String>,
    /// Bot name shown instead of the app's (needs `chat:write.customize`).
    #[serde(default)]
    username: Option<String>,
    /// Image URL shown as the bot's icon (needs `chat:write.customize`).
    #[serde(default)]
    icon_url: Option<String>,
}

fn send_message(cx: &Ctx, input: SendMessage) -> Result<Value> {
    let mut body = json!({ "channel": input.channel, "text": input.message });
    for (key, value) in [("thread_ts", input.thread_ts), ("username", input.username), ("icon_url", input.icon_url)] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    api::post(cx, "chat.postMessage", &body)
}

#[derive(Deserialize, JsonSchema)]
pub struct SendDirectMessage {
    /// ID of the user to message (`U0G9QF9C6`); find it with SLACK_GET_USER_BY_EMAIL.
    user: String,
    /// Message text (Slack mrkdwn).
    message: String,
}

/// Opens (or finds) the direct conversation, then posts in it.
fn send_direct_message(cx: &Ctx, input: SendDirectMessage) -> Result<Value> {
    let opened = api::post(cx, "conversations.open", &json!({ "users": input.user }))?;
    let channel = opened.pointer("/channel/id").and_then(Value::as_str).unwrap_or_default().to_owned();
    api::post(cx, "chat.postMessage", &json!({ "channel": channel, "text": input.message }))
}

#[derive(Deserialize, JsonSchema)]
pub struct ListChannels {
    /// Kinds of channel, comma-separated: `public_channel`, `private_channel`, `mpim`, `im`.
    #[serde(default)]
    types: Option<String>,
    /// Leave archived channels out (default true).
    #[serde(default)]
    exclude_archived: Option<bool>,
    /// Channels per page, at most 200 (default 100).
    #[serde(default)]
    limit: Option<u32>,
}

fn list_channels(cx: &Ctx, input: ListChannels, page: Option<String>) -> Result<Paged<Value>> {
    let mut query = vec![
        ("types", input.types.unwrap_or_else(|| "public_channel".into())),
        ("exclude_archived", input.exclude_archived.unwrap_or(true).to_string()),
        ("limit", input.limit.unwrap_or(100).clamp(1, MAX_PAGE).to_string()),
    ];
    query.extend(page.map(|c| ("cursor", c)));
    let answer = api::get(cx, "conversations.list", &query)?;
    let next = api::next_cursor(&answer);
    Ok(Paged::new(json!({ "channels": answer["channels"] }), next))
}

#[derive(Deserialize, JsonSchema)]
pub struct ListMembers {
    /// Users per page, at most 200 (default 100).
    #[serde(default)]
    limit: Option<u32>,
}

fn list_members(cx: &Ctx, input: ListMembers, page: Option<String>) -> Result<Paged<Value>> {
    let mut query = vec![("limit", input.limit.unwrap_or(100).clamp(1, MAX_PAGE).to_string())];
    query.extend(page.map(|c| ("cursor", c)));
    let answer = api::get(cx, "users.list", &query)?;
    let next = api::next_cursor(&answer);
    Ok(Paged::new(json!({ "members": answer["members"] }), next))
}

#[derive(Deserialize, JsonSchema)]
pub struct GetUserByEmail {
    /// Email address of a member of the workspace.
    email: String,
}

fn get_user_by_email(cx: &Ctx, input: GetUserByEmail) -> Result<Value> {
    let answer = api::get(cx, "users.lookupByEmail", &[("email", input.email)])?;
    Ok(answer["user"].clone())
}

#[derive(Deserialize, JsonSchema)]
pub struct AddReaction {
    /// Channel ID of the message.
    channel: String,
    /// Timestamp (`ts`) of the message.
    timestamp: String,
    /// Emoji name without colons, e.g. `thumbsup`.
    name: String,
}

fn add_reaction(cx: &Ctx, input: AddReaction) -> Result<Value> {
    let body = json!({ "channel": input.channel, "timestamp": input.timestamp, "name": input.name });
    api::post(cx, "reactions.add", &body)
}

#[derive(Deserialize, JsonSchema)]
pub struct UpdateMessage {
    /// Channel ID of the message.
    channel: String,
    /// Timestamp (`ts`) of the message to change.
    ts: String,
    /// The new message text.
    message: String,
}

fn update_message(cx: &Ctx, input: UpdateMessage) -> Result<Value> {
    api::post(cx, "chat.update", &json!({ "channel": input.channel, "ts": input.ts, "text": input.message }))
}

#[derive(Deserialize, JsonSchema)]
pub struct DeleteMessage {
    /// Channel ID of the message.
    channel: String,
    /// Timestamp (`ts`) of the message to delete.
    ts: String,
}

fn delete_message(cx: &Ctx, input: DeleteMessage) -> Result<Value> {
    api::post(cx, "chat.delete", &json!({ "channel": input.channel, "ts": input.ts }))
}

/// Every action, in the order users see them.
pub fn all() -> Vec<Action> {
    vec![
        Action::new("SLACK_SEND_MESSAGE", "Send message in channel", send_message)
            .description("Post a message in a Slack channel, or in a thread of it")
            .effect(Effect::Write)
            .scopes(["chat:write"]),
        Action::new("SLACK_SEND_DIRECT_MESSAGE", "Send direct message", send_direct_message)
            .description("Send a direct message to one Slack user")
            .effect(Effect::Write)
            .scopes(["chat:write", "im:write"]),
        Action::paginated("SLACK_LIST_CHANNELS", "List channels", list_channels)
            .description("List the workspace's channels, a page at a time")
            .scopes(["channels:read"]),
        Action::paginated("SLACK_LIST_MEMBERS", "List members", list_members)
            .description("List the workspace's members, a page at a time")
            .scopes(["users:read"]),
        Action::new("SLACK_GET_USER_BY_EMAIL", "Get user by email", get_user_by_email)
            .description("Find a Slack user by their email address")
            .scopes(["users:read.email"]),
        Action::new("SLACK_ADD_REACTION", "Add reaction", add_reaction)
            .description("Add an emoji reaction to a message")
            .effect(Effect::Write)
            .scopes(["reactions:write"]),
        Action::new("SLACK_UPDATE_MESSAGE", "Update message", update_message)
            .description("Change the text of a message the app posted")
            .effect(Effect::Write)
            .scopes(["chat:write"]),
        Action::new("SLACK_DELETE_MESSAGE", "Delete message", delete_message)
            .description("Delete a message the app posted; it cannot be restored")
            .effect(Effect::Destructive)
            .scopes(["chat:write"]),
    ]
}
