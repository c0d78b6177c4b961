//! Event and calendar actions: create, update, get, list (paged with
//! `pageToken`) and delete events, and list the user's calendars.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_sdk::http::path::segment;
use weft_sdk::{Ctx, Error, Paged, Result};

use crate::api::{self, CalendarRef};

/// Who is told about a change.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) enum SendUpdates {
    /// Email every guest.
    All,
    /// Email guests outside Google Calendar only.
    ExternalOnly,
    /// Email no one (the default).
    None,
}

impl SendUpdates {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::ExternalOnly => "externalOnly",
            Self::None => "none",
        }
    }
}

/// What an event says; create needs `summary`, `start` and `end`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventFields {
    /// The title of the event.
    summary: Option<String>,
    /// A description of the event; may contain HTML.
    description: Option<String>,
    /// Where the event takes place, as free-form text.
    location: Option<String>,
    /// When it starts: an RFC 3339 date-time (`2024-05-01T10:00:00-07:00`), or a date (`2024-05-01`) for an all-day event.
    start: Option<String>,
    /// When it ends (exclusive): an RFC 3339 date-time, or a date for an all-day event (the day after its last day).
    end: Option<String>,
    /// An IANA time zone for `start` and `end`, e.g. `Europe/Zurich`; needed for date-times without an offset and for recurring events.
    time_zone: Option<String>,
    /// Email addresses of the guests to invite.
    attendees: Option<Vec<String>>,
}

impl EventFields {
    fn into_json(self) -> Result<Map<String, Value>> {
        let mut body = Map::new();
        for (k, v) in [("summary", self.summary), ("description", self.description), ("location", self.location)] {
            if let Some(v) = v {
                body.insert(k.into(), v.into());
            }
        }
        for (k, v) in [("start", self.start), ("end", self.end)] {
            if let Some(v) = v {
                body.insert(k.into(), when(k, &v, self.time_zone.as_deref())?);
            }
        }
        if let Some(attendees) = self.attendees {
            body.insert("attendees".into(), attendees.into_iter().map(|email| json!({ "email": email })).collect());
        }
        Ok(body)
    }
}

/// Google's `{date}` or `{dateTime, timeZone}` for a user's time text.
fn when(field: &str, text: &str, time_zone: Option<&str>) -> Result<Value> {
    let text = text.trim();
    let is_date = text.len() == 10 && weft_sdk::time::parse_rfc3339_ms(&format!("{text}T00:00:00Z")).is_some();
    let mut out = if is_date {
        json!({ "date": text })
    } else if weft_sdk::time::parse_rfc3339_ms(text).is_some()
        || (time_zone.is_some() && weft_sdk::time::parse_rfc3339_ms(&format!("{text}Z")).is_some())
    {
        json!({ "dateTime": text })
    } else {
        return Err(Error::invalid_input(format!(
            "`{field}` must be an RFC 3339 date-time (with an offset, or with `timeZone` set) or a date (YYYY-MM-DD)"
        )));
    };
    if let Some(tz) = time_zone {
        out["timeZone"] = tz.into();
    }
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateEvent {
    #[serde(flatten)]
    calendar: CalendarRef,
    #[serde(flatten)]
    fields: EventFields,
    /// Who is emailed about the new event.
    send_updates: Option<SendUpdates>,
}

pub(crate) fn create_event(cx: &Ctx, input: CreateEvent) -> Result<Value> {
    let missing: Vec<&str> =
        [("summary", &input.fields.summary), ("start", &input.fields.start), ("end", &input.fields.end)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
    if !missing.is_empty() {
        return Err(Error::invalid_input(format!("a new event needs {}", missing.join(", "))));
    }
    let path = input.calendar.events()?;
    let mut req = cx.http().post(path).json(&input.fields.into_json()?);
    if let Some(send) = input.send_updates {
        req = req.query("sendUpdates", send.as_str());
    }
    api::send("create event", req)?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventRef {
    #[serde(flatten)]
    calendar: CalendarRef,
    /// The event's id.
    event_id: String,
}

impl EventRef {
    fn path(&self) -> Result<String> {
        if self.event_id.trim().is_empty() {
            return Err(Error::invalid_input("`eventId` must not be empty"));
        }
        Ok(format!("{}/{}", self.calendar.events()?, segment(&self.event_id)))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateEvent {
    #[serde(flatten)]
    event: EventRef,
    #[serde(flatten)]
    fields: EventFields,
    /// Who is emailed about the change.
    send_updates: Option<SendUpdates>,
}

pub(crate) fn update_event(cx: &Ctx, input: UpdateEvent) -> Result<Value> {
    let body = input.fields.into_json()?;
    if body.is_empty() {
        return Err(Error::invalid_input("nothing to update: set at least one field"));
    }
    // PATCH changes only the fields sent (PUT would clear the others).
    let mut req = cx.http().patch(input.event.path()?).json(&body);
    if let Some(send) = input.send_updates {
        req = req.query("sendUpdates", send.as_str());
    }
    api::send("update event", req)?.json()
}

pub(crate) fn get_event(cx: &Ctx, input: EventRef) -> Result<Value> {
    api::send("get event", cx.http().get(input.path()?))?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteEvent {
    #[serde(flatten)]
    event: EventRef,
    /// Who is emailed about the cancellation.
    send_updates: Option<SendUpdates>,
}

pub(crate) fn delete_event(cx: &Ctx, input: DeleteEvent) -> Result<Value> {
    let mut req = cx.http().delete(input.event.path()?);
    if let Some(send) = input.send_updates {
        req = req.query("sendUpdates", send.as_str());
    }
    // Google answers 204 No Content.
    api::send("delete event", req)?;
    Ok(json!({ "deleted": true, "eventId": input.event.event_id }))
}

/// How listed events are sorted.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) enum OrderBy {
    /// By start time, ascending; needs `singleEvents`.
    StartTime,
    /// By last modification time, ascending.
    Updated,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListEvents {
    #[serde(flatten)]
    calendar: CalendarRef,
    /// Only events ending after this RFC 3339 date-time, e.g. `2024-05-01T00:00:00Z`.
    time_min: Option<String>,
    /// Only events starting before this RFC 3339 date-time.
    time_max: Option<String>,
    /// Free text matched against summary, description, location, attendees, ...
    query: Option<String>,
    /// `true` to expand recurring events into their instances.
    single_events: Option<bool>,
    /// The order of the events; `startTime` needs `singleEvents`.
    order_by: Option<OrderBy>,
    /// Events per page, 1 to 2500 (Google's default is 250).
    max_results: Option<u16>,
}

/// One page of events; the cursor is Google's `nextPageToken`.
pub(crate) fn list_events(cx: &Ctx, input: ListEvents, page: Option<String>) -> Result<Paged<Value>> {
    let max = input.max_results.unwrap_or(250);
    if !(1..=2500).contains(&max) {
        return Err(Error::invalid_input("`maxResults` must be between 1 and 2500"));
    }
    if matches!(input.order_by, Some(OrderBy::StartTime)) && input.single_events != Some(true) {
        return Err(Error::invalid_input("`orderBy: startTime` needs `singleEvents: true`"));
    }
    let mut req = cx.http().get(input.calendar.events()?).query("maxResults", max);
    let params = [("timeMin", input.time_min), ("timeMax", input.time_max), ("q", input.query)];
    for (name, value) in params {
        if let Some(v) = value {
            req = req.query(name, v);
        }
    }
    if let Some(single) = input.single_events {
        req = req.query("singleEvents", single);
    }
    if let Some(order) = input.order_by {
        req = req.query("orderBy", if matches!(order, OrderBy::StartTime) { "startTime" } else { "updated" });
    }
    if let Some(token) = page {
        req = req.query("pageToken", token);
    }
    let answer: Value = api::send("list events", req)?.json()?;
    let next = answer["nextPageToken"].as_str().map(str::to_owned);
    Ok(Paged::new(answer, next))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListCalendars {
    /// `true` to include calendars the user hid from the list.
    show_hidden: Option<bool>,
    /// Calendars per page, 1 to 250 (Google's default is 100).
    max_results: Option<u16>,
}

/// One page of the user's calendar list; the cursor is `nextPageToken`.
pub(crate) fn list_calendars(cx: &Ctx, input: ListCalendars, page: Option<String>) -> Result<Paged<Value>> {
    let max = input.max_results.unwrap_or(100);
    if !(1..=250).contains(&max) {
        return Err(Error::invalid_input("`maxResults` must be between 1 and 250"));
    }
    let mut req = cx.http().get("/users/me/calendarList").query("maxResults", max);
    if let Some(hidden) = input.show_hidden {
        req = req.query("showHidden", hidden);
    }
    if let Some(token) = page {
        req = req.query("pageToken", token);
    }
    let answer: Value = api::send("list calendars", req)?.json()?;
    let next = answer["nextPageToken"].as_str().map(str::to_owned);
    Ok(Paged::new(answer, next))
}
