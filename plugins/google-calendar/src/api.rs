//! Requests to the Google Calendar API v3 and how its refusals map onto
//! plugin errors.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_sdk::http::path::segment;
use weft_sdk::http::{RequestBuilder, Response};
use weft_sdk::{Error, Result};

/// A calendar, as every calendar-scoped input names it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CalendarRef {
    /// The calendar's id (an email address for most calendars), or `primary` for the user's main calendar.
    #[serde(default = "primary")]
    pub(crate) calendar_id: String,
}

pub(crate) fn primary() -> String {
    "primary".to_owned()
}

impl CalendarRef {
    /// `/calendars/{calendarId}/events`, the id one encoded path segment.
    pub(crate) fn events(&self) -> Result<String> {
        if self.calendar_id.trim().is_empty() {
            return Err(Error::invalid_input("`calendarId` must not be empty"));
        }
        Ok(format!("/calendars/{}/events", segment(&self.calendar_id)))
    }
}

/// Sends a request: Google's per-user and per-project quota refusals (403
/// `rateLimitExceeded`, `userRateLimitExceeded`, or 429) are
/// `rate-limited`, other failures carry Google's `error.message`.
pub(crate) fn send(what: &str, req: RequestBuilder) -> Result<Response> {
    let answer = req.send_raw()?;
    if answer.status < 400 {
        return Ok(answer);
    }
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let reason = body["error"]["errors"][0]["reason"].as_str().unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let text = format!("{what}: Google Calendar answered {}: {message}", answer.status);
    if answer.status == 429
        || (answer.status == 403 && reason.ends_with("RateLimitExceeded"))
        || reason == "rateLimitExceeded"
    {
        return Err(Error::rate_limited(answer.retry_after_ms(), text));
    }
    Err(match answer.status {
        401 => Error::unauthorized(text),
        403 => Error::forbidden(text),
        404 => Error::not_found(text),
        status => Error::upstream(status, text, Some(answer.text().into_owned())),
    })
}
