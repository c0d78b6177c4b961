//! Calling the Slack Web API: every method answers HTTP 200 with `"ok":
//! false` and an error code when it fails, so the code decides the plugin
//! error the host acts on (refresh, retry, give up).

use serde::Serialize;
use serde_json::Value;
use weft_sdk::{Ctx, Error, Result};

/// `POST /<method>` with a JSON body (Slack's write methods accept JSON
/// with a bearer token).
pub fn post<B: Serialize + ?Sized>(cx: &Ctx, method: &str, body: &B) -> Result<Value> {
    // Serialized here rather than with `json`, which sets the bare media
    // type: Slack asks for the charset.
    let answer = cx
        .http()
        .post(format!("/{method}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(body)?)
        .connection_auth()
        .send()?;
    read(method, answer.json()?)
}

/// `GET /<method>?<query>` (read methods take form or query arguments).
pub fn get(cx: &Ctx, method: &str, query: &[(&str, String)]) -> Result<Value> {
    let mut request = cx.http().get(format!("/{method}")).connection_auth();
    for (name, value) in query {
        request = request.query(*name, value);
    }
    read(method, request.send()?.json()?)
}

/// The answer when `ok`, else the plugin error its code means.
pub fn read(method: &str, answer: Value) -> Result<Value> {
    if answer.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(answer);
    }
    let code = answer.get("error").and_then(Value::as_str).unwrap_or("unknown_error").to_owned();
    let message = format!("{method}: Slack answered {code}");
    Err(match code.as_str() {
        "not_authed" | "invalid_auth" | "token_revoked" | "token_expired" | "account_inactive" => {
            Error::unauthorized(message)
        }
        "missing_scope" | "not_allowed_token_type" | "no_permission" | "restricted_action" | "not_in_channel" => {
            Error::forbidden(message)
        }
        "channel_not_found" | "user_not_found" | "users_not_found" | "message_not_found" | "thread_not_found" => {
            Error::not_found(message)
        }
        "ratelimited" | "rate_limited" => Error::rate_limited(None, message),
        _ => Error::upstream(400, message, Some(answer.to_string())),
    })
}

/// The cursor of the next page, when Slack has one.
pub fn next_cursor(answer: &Value) -> Option<String> {
    answer
        .pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}
