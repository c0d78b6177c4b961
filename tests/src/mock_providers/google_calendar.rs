//! A strict Google Calendar API v3: the user's calendar list, and events
//! of their calendars (insert, get, patch, delete, list with `pageToken`
//! paging, `syncToken` incremental sync and `updatedMin`).
//!
//! Checked as Google documents it: `Authorization: Bearer <token>` (401
//! `authError`), `start` and `end` with a `date` or a `dateTime` (a
//! date-time without an offset needs a `timeZone`), a non-empty time
//! range, `sendUpdates` from its enum, `maxResults` within its bounds,
//! `orderBy=startTime` only with `singleEvents=true`, a `syncToken` only
//! without other restrictions (and 410 `fullSyncRequired` once it
//! [`GoogleCalendar::expire_sync_tokens`]), page tokens only with the
//! request that produced them. Errors carry Google's `{"error": {code,
//! message, errors: [{domain, reason, message}], status}}`.
//!
//! Time is a logical clock: each change is one second after the last,
//! from 2024-05-01T12:00:00Z, so `created`/`updated` order every change.

use super::server::{MockServer, Provider, Reply, Request, Tokens, rfc3339};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The epoch second the mock's clock starts at.
const EPOCH: i64 = 1_714_564_800;

/// One calendar and its events (cancelled ones kept, for sync).
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Its id.
    pub id: String,
    /// Its title.
    pub summary: String,
    /// Hidden from the list unless `showHidden`.
    pub hidden: bool,
    /// Events in creation order, each with the sequence number of its last change.
    pub events: Vec<(Value, u64)>,
}

/// The mock's state.
#[derive(Debug, Default)]
pub struct GoogleCalendar {
    /// Accepted tokens and the email of the account each acts as.
    pub tokens: Tokens,
    /// The user's calendars; the first is the primary one (id = email).
    pub calendars: Vec<Calendar>,
    clock: i64,
    seq: u64,
    next_id: u64,
    sync_tokens: HashMap<String, u64>,
    page_tokens: HashMap<String, (usize, String)>,
}

/// Starts a mock Google Calendar API whose primary calendar is `email`'s.
pub async fn start(email: &str) -> MockServer<GoogleCalendar> {
    let mut state = GoogleCalendar::default();
    state.calendars.push(Calendar { id: email.into(), summary: email.into(), hidden: false, events: Vec::new() });
    MockServer::start(state).await
}

fn error(code: u16, reason: &str, message: &str) -> Reply {
    let status = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "FAILED_PRECONDITION",
    };
    Reply::json(
        code,
        json!({ "error": { "code": code, "message": message,
            "errors": [{ "domain": "global", "reason": reason, "message": message }], "status": status } }),
    )
}

fn bad(message: &str) -> Reply {
    error(400, "invalid", message)
}

fn not_found() -> Reply {
    error(404, "notFound", "Not Found")
}

/// Epoch milliseconds of an RFC 3339 date-time.
fn millis(text: &str) -> Option<i128> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(|t| t.unix_timestamp_nanos() / 1_000_000)
}

/// Epoch milliseconds of an event time (`{date}` counts from midnight UTC).
fn when_ms(v: &Value) -> Option<i128> {
    match (v["dateTime"].as_str(), v["date"].as_str()) {
        (Some(dt), _) => millis(dt).or_else(|| millis(&format!("{dt}Z"))),
        (None, Some(d)) => millis(&format!("{d}T00:00:00Z")),
        _ => None,
    }
}

impl GoogleCalendar {
    fn tick(&mut self) -> (String, u64) {
        self.clock += 1;
        self.seq += 1;
        (rfc3339(EPOCH + self.clock), self.seq)
    }

    /// Makes every sync token issued so far answer 410 `fullSyncRequired`.
    pub fn expire_sync_tokens(&mut self) {
        self.sync_tokens.clear();
    }

    /// Adds a calendar to the user's list.
    pub fn add_calendar(&mut self, id: &str, summary: &str, hidden: bool) {
        self.calendars.push(Calendar { id: id.into(), summary: summary.into(), hidden, events: Vec::new() });
    }

    fn calendar(&mut self, id: &str) -> Option<&mut Calendar> {
        let id = if id == "primary" { self.calendars.first()?.id.clone() } else { id.to_owned() };
        self.calendars.iter_mut().find(|c| c.id == id)
    }

    /// Creates an event as the user would in Google Calendar; its id.
    pub fn insert_event(&mut self, calendar: &str, summary: &str) -> String {
        let body = json!({ "summary": summary, "start": { "dateTime": "2024-06-01T10:00:00Z" },
            "end": { "dateTime": "2024-06-01T11:00:00Z" } });
        let Value::Object(body) = body else { unreachable!() };
        self.create(calendar, body).expect("the calendar exists")["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Changes an event's summary as the user would.
    pub fn edit_event(&mut self, calendar: &str, id: &str, summary: &str) {
        let (now, seq) = self.tick();
        let cal = self.calendar(calendar).expect("the calendar exists");
        let (event, at) = cal.events.iter_mut().find(|(e, _)| e["id"] == id).expect("the event exists");
        event["summary"] = summary.into();
        event["updated"] = now.into();
        *at = seq;
    }

    /// Cancels (deletes) an event as the user would.
    pub fn cancel_event(&mut self, calendar: &str, id: &str) {
        let (now, seq) = self.tick();
        let cal = self.calendar(calendar).expect("the calendar exists");
        let (event, at) = cal.events.iter_mut().find(|(e, _)| e["id"] == id).expect("the event exists");
        event["status"] = "cancelled".into();
        event["updated"] = now.into();
        *at = seq;
    }

    fn create(&mut self, calendar: &str, body: Map<String, Value>) -> Result<Value, Reply> {
        check_times(&body, true)?;
        let (now, seq) = self.tick();
        self.next_id += 1;
        let id = format!("evt{:06}", self.next_id);
        let Some(cal) = self.calendar(calendar) else { return Err(not_found()) };
        let mut event = json!({
            "kind": "calendar#event", "etag": format!("\"{seq}\""), "id": id, "status": "confirmed",
            "htmlLink": format!("https://www.google.com/calendar/event?eid={id}"), "created": now, "updated": now,
            "creator": { "email": cal.id }, "organizer": { "email": cal.id, "self": true },
            "iCalUID": format!("{id}@google.com"), "sequence": 0,
        });
        for (k, v) in body {
            event[k.as_str()] = v;
        }
        cal.events.push((event.clone(), seq));
        Ok(event)
    }
}

/// Refuses missing or malformed `start`/`end` (all of them on insert).
fn check_times(body: &Map<String, Value>, insert: bool) -> Result<(), Reply> {
    for field in ["start", "end"] {
        let Some(t) = body.get(field) else {
            if insert {
                return Err(error(400, "required", &format!("Missing {field} time.")));
            }
            continue;
        };
        match (t["dateTime"].as_str(), t["date"].as_str()) {
            (Some(dt), None) => {
                if millis(dt).is_none() {
                    let local = millis(&format!("{dt}Z")).is_some();
                    if !local {
                        return Err(bad(&format!("Invalid {field} time.")));
                    }
                    if t["timeZone"].as_str().is_none() {
                        return Err(error(400, "required", &format!("Missing time zone definition for {field} time.")));
                    }
                }
            }
            (None, Some(d)) if millis(&format!("{d}T00:00:00Z")).is_some() => {}
            _ => return Err(bad(&format!("Invalid {field} time."))),
        }
    }
    if let (Some(s), Some(e)) = (body.get("start").and_then(when_ms), body.get("end").and_then(when_ms))
        && e <= s
    {
        return Err(error(400, "timeRangeEmpty", "The specified time range is empty."));
    }
    if let Some(attendees) = body.get("attendees")
        && !attendees.as_array().is_some_and(|a| a.iter().all(|x| x["email"].as_str().is_some_and(|e| e.contains('@'))))
    {
        return Err(bad("Invalid attendee email."));
    }
    Ok(())
}

fn check_send_updates(req: &Request) -> Result<(), Reply> {
    match req.query_value("sendUpdates") {
        None | Some("all" | "externalOnly" | "none") => Ok(()),
        Some(other) => Err(bad(&format!("Invalid value for: sendUpdates: {other}"))),
    }
}

impl Provider for GoogleCalendar {
    fn handle(&mut self, req: &Request, _base: &str) -> Reply {
        let Some(_email) = self.tokens.account(req) else {
            return error(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            );
        };
        let segments = req.segments();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let result = match (req.method.as_str(), s.as_slice()) {
            ("GET", ["users", "me", "calendarList"]) => self.calendar_list(req),
            ("GET", ["users", "me", "calendarList", id]) => {
                let primary = self.calendars.first().map(|c| c.id.clone()).unwrap_or_default();
                match self.calendar(id) {
                    Some(c) => Ok(Reply::json(200, entry(c, c.id == primary))),
                    None => Err(not_found()),
                }
            }
            ("POST", ["calendars", cal, "events"]) => check_send_updates(req).and_then(|()| match req.json() {
                Some(Value::Object(body)) => self.create(cal, body).map(|e| Reply::json(200, e)),
                _ => Err(bad("Parse Error")),
            }),
            ("GET", ["calendars", cal, "events"]) => self.list(cal, req),
            ("GET", ["calendars", cal, "events", id]) => self.get(cal, id),
            ("PATCH", ["calendars", cal, "events", id]) => self.patch(cal, id, req),
            ("DELETE", ["calendars", cal, "events", id]) => self.delete(cal, id, req),
            _ => Err(not_found()),
        };
        result.unwrap_or_else(|e| e)
    }
}

fn entry(c: &Calendar, primary: bool) -> Value {
    let mut e = json!({ "kind": "calendar#calendarListEntry", "id": c.id, "summary": c.summary,
        "timeZone": "Europe/Zurich", "accessRole": "owner", "hidden": c.hidden });
    if primary {
        e["primary"] = true.into();
    }
    e
}

impl GoogleCalendar {
    fn calendar_list(&mut self, req: &Request) -> Result<Reply, Reply> {
        let max = bounded(req, "maxResults", 100, 250)?;
        let show_hidden = req.query_value("showHidden") == Some("true");
        let primary = self.calendars.first().map(|c| c.id.clone()).unwrap_or_default();
        let all: Vec<Value> =
            self.calendars.iter().filter(|c| show_hidden || !c.hidden).map(|c| entry(c, c.id == primary)).collect();
        let (items, next) = self.page(req, all, max)?;
        let mut answer = json!({ "kind": "calendar#calendarList", "etag": "\"list\"", "items": items });
        match next {
            Some(token) => answer["nextPageToken"] = token.into(),
            None => answer["nextSyncToken"] = "cl-sync".into(),
        }
        Ok(Reply::json(200, answer))
    }

    /// One page of `all`: the request's `pageToken` must be one this mock
    /// issued for the same parameters.
    fn page(&mut self, req: &Request, all: Vec<Value>, max: usize) -> Result<(Vec<Value>, Option<String>), Reply> {
        let fingerprint: String = {
            let mut q: Vec<String> =
                req.query.iter().filter(|(n, _)| n != "pageToken").map(|(n, v)| format!("{n}={v}")).collect();
            q.sort();
            format!("{}?{}", req.path, q.join("&"))
        };
        let offset = match req.query_value("pageToken") {
            None => 0,
            Some(token) => match self.page_tokens.get(token) {
                Some((offset, f)) if *f == fingerprint => *offset,
                _ => return Err(bad("Invalid page token value.")),
            },
        };
        let items: Vec<Value> = all.iter().skip(offset).take(max).cloned().collect();
        if offset + max >= all.len() {
            return Ok((items, None));
        }
        let token = format!("pt{}", self.page_tokens.len() + 1);
        self.page_tokens.insert(token.clone(), (offset + max, fingerprint));
        Ok((items, Some(token)))
    }

    fn get(&mut self, cal: &str, id: &str) -> Result<Reply, Reply> {
        let calendar = self.calendar(cal).ok_or_else(not_found)?;
        let (event, _) = calendar.events.iter().find(|(e, _)| e["id"] == id).ok_or_else(not_found)?;
        Ok(Reply::json(200, event.clone()))
    }

    fn patch(&mut self, cal: &str, id: &str, req: &Request) -> Result<Reply, Reply> {
        check_send_updates(req)?;
        let Some(Value::Object(body)) = req.json() else { return Err(bad("Parse Error")) };
        check_times(&body, false)?;
        let (now, seq) = self.tick();
        let calendar = self.calendar(cal).ok_or_else(not_found)?;
        let (event, at) = calendar.events.iter_mut().find(|(e, _)| e["id"] == id).ok_or_else(not_found)?;
        if event["status"] == "cancelled" {
            return Err(error(410, "deleted", "Resource has been deleted"));
        }
        for (k, v) in body {
            event[k.as_str()] = v;
        }
        if let (Some(s), Some(e)) = (when_ms(&event["start"]), when_ms(&event["end"]))
            && e <= s
        {
            return Err(error(400, "timeRangeEmpty", "The specified time range is empty."));
        }
        event["updated"] = now.into();
        event["sequence"] = (event["sequence"].as_u64().unwrap_or(0) + 1).into();
        *at = seq;
        Ok(Reply::json(200, event.clone()))
    }

    fn delete(&mut self, cal: &str, id: &str, req: &Request) -> Result<Reply, Reply> {
        check_send_updates(req)?;
        let (now, seq) = self.tick();
        let calendar = self.calendar(cal).ok_or_else(not_found)?;
        let (event, at) = calendar.events.iter_mut().find(|(e, _)| e["id"] == id).ok_or_else(not_found)?;
        if event["status"] == "cancelled" {
            return Err(error(410, "deleted", "Resource has been deleted"));
        }
        event["status"] = "cancelled".into();
        event["updated"] = now.into();
        *at = seq;
        Ok(Reply::empty(204))
    }

    fn list(&mut self, cal: &str, req: &Request) -> Result<Reply, Reply> {
        let max = bounded(req, "maxResults", 250, 2500)?;
        let restricted = ["timeMin", "timeMax", "updatedMin", "q", "orderBy", "iCalUID"];
        let since_seq = match req.query_value("syncToken") {
            None => None,
            Some(_) if restricted.iter().any(|r| req.query_value(r).is_some()) => {
                return Err(bad("Sync token cannot be used with other request restrictions."));
            }
            Some(token) => match self.sync_tokens.get(token) {
                Some(seq) => Some(*seq),
                None => {
                    return Err(error(
                        410,
                        "fullSyncRequired",
                        "Sync token is no longer valid, a full sync is required.",
                    ));
                }
            },
        };
        let order = req.query_value("orderBy");
        if order == Some("startTime") && req.query_value("singleEvents") != Some("true") {
            return Err(bad("The requested ordering is not available for the particular query."));
        }
        if order.is_some_and(|o| !matches!(o, "startTime" | "updated")) {
            return Err(bad("Invalid value for: orderBy"));
        }
        let bound = |name: &str| -> Result<Option<i128>, Reply> {
            match req.query_value(name) {
                None => Ok(None),
                Some(t) => {
                    millis(t).map(Some).ok_or_else(|| bad(&format!("Bad Request: {name} is not an RFC 3339 date-time")))
                }
            }
        };
        let (updated_min, time_min, time_max) = (bound("updatedMin")?, bound("timeMin")?, bound("timeMax")?);
        let show_deleted =
            req.query_value("showDeleted") == Some("true") || updated_min.is_some() || since_seq.is_some();
        let q = req.query_value("q").map(str::to_lowercase);
        let calendar = self.calendar(cal).ok_or_else(not_found)?.clone();
        let mut events: Vec<&(Value, u64)> = calendar
            .events
            .iter()
            .filter(|(_, at)| since_seq.is_none_or(|s| *at > s))
            .filter(|(e, _)| show_deleted || e["status"] != "cancelled")
            .filter(|(e, _)| updated_min.is_none_or(|m| e["updated"].as_str().and_then(millis).is_some_and(|u| u >= m)))
            .filter(|(e, _)| time_min.is_none_or(|m| when_ms(&e["end"]).is_some_and(|end| end > m)))
            .filter(|(e, _)| time_max.is_none_or(|m| when_ms(&e["start"]).is_some_and(|start| start < m)))
            .filter(|(e, _)| {
                q.as_ref().is_none_or(|q| {
                    ["summary", "description", "location"]
                        .iter()
                        .any(|f| e[*f].as_str().is_some_and(|t| t.to_lowercase().contains(q)))
                })
            })
            .collect();
        match order {
            Some("updated") => events.sort_by_key(|(e, _)| e["updated"].as_str().and_then(millis)),
            Some(_) => events.sort_by_key(|(e, _)| when_ms(&e["start"])),
            None => {}
        }
        let all: Vec<Value> = events.into_iter().map(|(e, _)| e.clone()).collect();
        let last_change = calendar.events.iter().filter_map(|(e, _)| e["updated"].as_str()).max_by_key(|t| millis(t));
        let (items, next) = self.page(req, all, max)?;
        let mut answer = json!({ "kind": "calendar#events", "etag": format!("\"{}\"", self.seq), "summary": calendar.summary,
            "updated": last_change.map(str::to_owned).unwrap_or_else(|| rfc3339(EPOCH)), "timeZone": "Europe/Zurich",
            "accessRole": "owner", "defaultReminders": [], "items": items });
        match next {
            Some(token) => answer["nextPageToken"] = token.into(),
            // Only listings that sync could repeat get a sync token.
            None if !restricted.iter().any(|r| req.query_value(r).is_some()) => {
                let token = format!("st{}", self.sync_tokens.len() + 1);
                self.sync_tokens.insert(token.clone(), self.seq);
                answer["nextSyncToken"] = token.into();
            }
            None => {}
        }
        Ok(Reply::json(200, answer))
    }
}

/// A positive integer parameter, `default` when absent, refused above `max`.
fn bounded(req: &Request, name: &str, default: usize, max: usize) -> Result<usize, Reply> {
    match req.query_value(name).map(str::parse::<usize>) {
        None => Ok(default),
        Some(Ok(n)) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(bad(&format!("Invalid value for: {name}"))),
    }
}
