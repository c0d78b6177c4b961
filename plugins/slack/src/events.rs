//! Slack's Events API on one app-level URL: request signing (v0) with a
//! five-minute timestamp window, the `url_verification` handshake, and
//! `event_callback` deliveries turned into events routed by team id and
//! de-duplicated by Slack's `event_id` (a retry, `X-Slack-Retry-Num`,
//! carries the same one).

use schemars::JsonSchema;
use serde_json::Value;
use weft_sdk::webhook::{Reply, verify_slack_v0};
use weft_sdk::{Empty, Event, Result, Trigger, WebhookRequest, WebhookResponse};

/// The project secret holding the app's signing secret.
pub const SIGNING_SECRET: &str = "SLACK_SIGNING_SECRET";
/// Slack's replay window.
const MAX_AGE_SECS: u64 = 5 * 60;

pub const CHANNEL_MESSAGE_SENT: &str = "SLACK_CHANNEL_MESSAGE_SENT";
pub const DIRECT_MESSAGE_SENT: &str = "SLACK_DIRECT_MESSAGE_SENT";
pub const APP_MENTIONED: &str = "SLACK_APP_MENTIONED";
pub const CHANNEL_CREATED: &str = "SLACK_CHANNEL_CREATED";
pub const REACTION_ADDED: &str = "SLACK_REACTION_ADDED";

/// An `event_callback` envelope as workflows receive it: Slack's own
/// fields, without the deprecated verification `token`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Envelope {
    /// The workspace the event happened in.
    team_id: String,
    /// The app the event was delivered to.
    api_app_id: String,
    /// Slack's unique id of this event (retries repeat it).
    event_id: String,
    /// When the event happened, in Unix seconds.
    event_time: u64,
    /// The event itself (`type`, `user`, `channel`, `text`, `ts`, ...).
    event: Value,
}

/// Every trigger: all arrive on the app's one Events API request URL.
pub fn all() -> Vec<Trigger> {
    let t = |key: &'static str, name: &'static str, description: &'static str| {
        Trigger::app_webhook::<Empty>(key, name).description(description).output::<Envelope>()
    };
    vec![
        t(CHANNEL_MESSAGE_SENT, "Channel message sent", "A message was posted in a channel the app is in"),
        t(DIRECT_MESSAGE_SENT, "Direct message sent", "A direct message was sent to the app"),
        t(APP_MENTIONED, "App mentioned", "Someone mentioned the app in a message"),
        t(CHANNEL_CREATED, "Channel created", "A channel was created in the workspace"),
        t(REACTION_ADDED, "New message reaction", "Someone added an emoji reaction to a message"),
    ]
}

/// Verifies and reads one delivery.
pub fn handle(req: WebhookRequest) -> Result<WebhookResponse> {
    let (Some(timestamp), Some(signature)) = (req.header("x-slack-request-timestamp"), req.header("x-slack-signature"))
    else {
        return Ok(WebhookResponse::rejected("missing X-Slack-Request-Timestamp or X-Slack-Signature"));
    };
    // The signature first: a stale but authentic delivery is told apart
    // from a forged one (the published example is years old).
    if !verify_slack_v0(SIGNING_SECRET, timestamp, &req.body, signature) {
        return Ok(WebhookResponse::rejected("the signature does not match"));
    }
    let fresh = timestamp.trim().parse::<u64>().is_ok_and(|t| (req.received_at_ms / 1000).abs_diff(t) <= MAX_AGE_SECS);
    if !fresh {
        return Ok(WebhookResponse::rejected("the timestamp is more than five minutes away"));
    }
    // Slash commands and interactivity post forms; only the Events API is
    // read here, the rest is acknowledged.
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&req.body) else {
        return Ok(WebhookResponse::verified());
    };
    match body.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = body.get("challenge").and_then(Value::as_str).unwrap_or_default();
            Ok(WebhookResponse::verified().reply(Reply::text(challenge)))
        }
        Some("event_callback") => {
            body.remove("token");
            Ok(WebhookResponse::verified().events(event_of(Value::Object(body))))
        }
        _ => Ok(WebhookResponse::verified()),
    }
}

/// The trigger an `event_callback` fires, if any.
fn trigger_of(event: &Value) -> Option<&'static str> {
    let kind = event.get("type").and_then(Value::as_str)?;
    match kind {
        // Plain messages only: edits, deletions and joins have a subtype.
        "message" if event.get("subtype").is_none_or(|s| s == "thread_broadcast" || s == "file_share") => {
            match event.get("channel_type").and_then(Value::as_str) {
                Some("im") => Some(DIRECT_MESSAGE_SENT),
                Some("channel" | "group" | "mpim") => Some(CHANNEL_MESSAGE_SENT),
                _ => None,
            }
        }
        "app_mention" => Some(APP_MENTIONED),
        "channel_created" => Some(CHANNEL_CREATED),
        "reaction_added" => Some(REACTION_ADDED),
        _ => None,
    }
}

fn event_of(envelope: Value) -> Option<Event> {
    let trigger = trigger_of(envelope.get("event")?)?;
    let mut event = Event::new(trigger, envelope.clone());
    if let Some(team) = envelope.get("team_id").and_then(Value::as_str) {
        event = event.routing_key(team);
    }
    if let Some(id) = envelope.get("event_id").and_then(Value::as_str) {
        event = event.dedupe_key(id);
    }
    if let Some(at) = envelope.get("event_time").and_then(Value::as_u64) {
        event = event.occurred_at_ms(at.saturating_mul(1000));
    }
    Some(event)
}
