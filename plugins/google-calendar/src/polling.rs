//! Polling triggers. Google Calendar's push channels need a verified
//! domain per app, so changes are polled, each trigger with the cursor
//! Google designs for it:
//!
//! - `GOOGLE_CALENDAR_NEW_EVENT` and `GOOGLE_CALENDAR_EVENT_CANCELLED`
//!   use incremental sync: the first poll lists the calendar (no events)
//!   to get a `nextSyncToken`; later polls ask for what changed since it.
//!   A changed event is new when it was created after the newest change
//!   the previous poll saw; a `cancelled` one was cancelled. A sync token
//!   Google expired (410 Gone) is replaced by listing the calendar again,
//!   still reporting the events created since (cancellations in that gap
//!   are lost: a full listing does not show deleted events).
//! - `GOOGLE_CALENDAR_EVENT_UPDATED` lists events with `updatedMin` set to
//!   the newest modification seen, and fires for events that already
//!   existed then (new ones are `NEW_EVENT`'s).
//!
//! The cursor (JSON) is what the host persists between polls. A poll reads
//! at most [`MAX_PAGES`] pages and keeps Google's `pageToken` in the cursor
//! to finish the rest next time.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_sdk::time::parse_rfc3339_ms;
use weft_sdk::{Ctx, Error, Event, PollRequest, PollResponse, Result, Trigger, cursor};

use crate::api::{self, CalendarRef};

pub(crate) const NEW_EVENT: &str = "GOOGLE_CALENDAR_NEW_EVENT";
pub(crate) const EVENT_UPDATED: &str = "GOOGLE_CALENDAR_EVENT_UPDATED";
pub(crate) const EVENT_CANCELLED: &str = "GOOGLE_CALENDAR_EVENT_CANCELLED";

/// Pages one poll reads before it leaves the rest for the next one.
pub(crate) const MAX_PAGES: usize = 10;
/// Events per page.
const PAGE_SIZE: u32 = 250;

pub(crate) fn triggers() -> Vec<Trigger> {
    vec![
        Trigger::polling::<CalendarRef>(NEW_EVENT, "New Event", 60, 60)
            .description("An event was created in the calendar (checked every minute)"),
        Trigger::polling::<CalendarRef>(EVENT_UPDATED, "Event Updated", 60, 60)
            .description("An existing event of the calendar was changed (checked every minute)"),
        Trigger::polling::<CalendarRef>(EVENT_CANCELLED, "Event Cancelled", 60, 60)
            .description("An event of the calendar was cancelled or deleted (checked every minute)"),
    ]
}

pub(crate) fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
    let calendar: CalendarRef = req.config()?;
    match req.trigger.as_str() {
        NEW_EVENT | EVENT_CANCELLED => sync(cx, &req, &calendar),
        EVENT_UPDATED => updated(cx, &req, &calendar),
        other => Err(Error::unsupported(format!("no polling trigger `{other}`"))),
    }
}

/// Where incremental sync stands.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncCursor {
    /// The token of the last complete sync; none while the baseline runs.
    sync_token: Option<String>,
    /// The next page of an unfinished listing.
    page_token: Option<String>,
    /// Events created after this (epoch ms) are new.
    since_ms: u64,
    /// The newest modification seen so far in this round.
    newest_ms: u64,
    /// A full listing that replaces an expired sync token: events created
    /// after `since_ms` found in it are new.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    resync: bool,
}

/// One page of `events.list`.
struct Page {
    items: Vec<Value>,
    next_page: Option<String>,
    next_sync: Option<String>,
    /// The calendar's last modification (RFC 3339).
    updated: Option<String>,
}

fn list(cx: &Ctx, calendar: &CalendarRef, size: u32, params: &[(&str, String)]) -> Result<Page> {
    let mut req = cx.http().get(calendar.events()?).query("maxResults", size);
    for (name, value) in params {
        req = req.query(*name, value);
    }
    let answer: Value = api::send("list events", req)?.json()?;
    let text = |k: &str| answer[k].as_str().map(str::to_owned);
    Ok(Page {
        next_page: text("nextPageToken"),
        next_sync: text("nextSyncToken"),
        updated: text("updated"),
        items: answer["items"].as_array().cloned().unwrap_or_default(),
    })
}

fn ms(event: &Value, field: &str) -> Option<u64> {
    event[field].as_str().and_then(parse_rfc3339_ms)
}

fn sync(cx: &Ctx, req: &PollRequest, calendar: &CalendarRef) -> Result<PollResponse> {
    let mut state: SyncCursor = cursor::decode(req.cursor.as_deref())?.unwrap_or_default();
    let mut events = Vec::new();
    for _ in 0..MAX_PAGES {
        let mut params = Vec::new();
        if let Some(token) = &state.sync_token {
            params.push(("syncToken", token.clone()));
        }
        if let Some(page) = &state.page_token {
            params.push(("pageToken", page.clone()));
        }
        let page = match list(cx, calendar, PAGE_SIZE, &params) {
            Ok(page) => page,
            // The sync token expired: list everything again, quietly.
            Err(Error::Upstream { status: 410, .. }) if state.sync_token.is_some() => {
                weft_sdk::info!("sync token expired; listing the calendar again"; trigger = req.trigger);
                let (since_ms, newest_ms) = (state.since_ms, state.newest_ms);
                state = SyncCursor { since_ms, newest_ms, resync: true, ..SyncCursor::default() };
                continue;
            }
            Err(e) => return Err(e),
        };
        // The first listing only sets the baseline; a listing after an
        // expired token still reports what was created since.
        let report = state.sync_token.is_some() || state.resync;
        for item in page.items {
            state.newest_ms = state.newest_ms.max(ms(&item, "updated").unwrap_or(0));
            if report && let Some(e) = classify(&req.trigger, item, state.since_ms) {
                events.push(e);
            }
        }
        state.newest_ms = state.newest_ms.max(page.updated.as_deref().and_then(parse_rfc3339_ms).unwrap_or(0));
        match (page.next_page, page.next_sync) {
            (Some(next), _) => state.page_token = Some(next),
            (None, Some(sync)) => {
                let newest = state.newest_ms;
                state =
                    SyncCursor { sync_token: Some(sync), since_ms: newest, newest_ms: newest, ..SyncCursor::default() };
                return Ok(PollResponse::new(events, Some(cursor::encode(&state)?)));
            }
            (None, None) => return Err(Error::internal("Google answered the last page without a nextSyncToken")),
        }
    }
    Ok(PollResponse::new(events, Some(cursor::encode(&state)?)))
}

/// The event `trigger` makes of a changed item, if any.
fn classify(trigger: &str, item: Value, since_ms: u64) -> Option<Event> {
    let id = item["id"].as_str()?.to_owned();
    let cancelled = item["status"].as_str() == Some("cancelled");
    let updated = ms(&item, "updated");
    let (fires, key) = match trigger {
        NEW_EVENT => (!cancelled && ms(&item, "created").is_some_and(|c| c > since_ms), id),
        _ => (cancelled, format!("{id}:cancelled")),
    };
    if !fires {
        return None;
    }
    let mut e = Event::new(trigger, item).dedupe_key(key);
    if let Some(at) = updated {
        e = e.occurred_at_ms(at);
    }
    Some(e)
}

/// Where the `updatedMin` listing stands.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatedCursor {
    /// RFC 3339: events modified at or after this are listed.
    updated_min: String,
    /// The next page of an unfinished listing.
    page_token: Option<String>,
    /// The newest modification seen so far in this round (RFC 3339).
    newest: String,
}

fn updated(cx: &Ctx, req: &PollRequest, calendar: &CalendarRef) -> Result<PollResponse> {
    let Some(mut state) = cursor::decode::<UpdatedCursor>(req.cursor.as_deref())? else {
        // Baseline: changes from the calendar's last modification on.
        let page = list(cx, calendar, 1, &[])?;
        let newest = page.items.iter().filter_map(|i| i["updated"].as_str().map(str::to_owned)).chain(page.updated);
        let newest = newest.filter(|t| parse_rfc3339_ms(t).is_some()).max_by_key(|t| parse_rfc3339_ms(t));
        let cursor = match newest {
            Some(t) => Some(cursor::encode(&UpdatedCursor { updated_min: t.clone(), page_token: None, newest: t })?),
            None => None,
        };
        return Ok(PollResponse::empty(cursor));
    };
    let since = parse_rfc3339_ms(&state.updated_min)
        .ok_or_else(|| Error::invalid_input("page cursor: `updatedMin` is not an RFC 3339 date-time"))?;
    let mut newest_ms = parse_rfc3339_ms(&state.newest).unwrap_or(since);
    let mut events = Vec::new();
    for _ in 0..MAX_PAGES {
        let mut params = vec![("updatedMin", state.updated_min.clone())];
        if let Some(page) = &state.page_token {
            params.push(("pageToken", page.clone()));
        }
        let page = list(cx, calendar, PAGE_SIZE, &params)?;
        for item in page.items {
            let Some(updated) = ms(&item, "updated") else { continue };
            if updated > newest_ms {
                newest_ms = updated;
                state.newest = item["updated"].as_str().unwrap_or_default().to_owned();
            }
            let existed = ms(&item, "created").is_some_and(|c| c <= since);
            let live = item["status"].as_str() != Some("cancelled");
            // `updatedMin` is inclusive: what changed exactly at `since` was seen.
            if existed
                && live
                && updated > since
                && let Some(id) = item["id"].as_str()
            {
                let key = format!("{id}@{}", item["updated"].as_str().unwrap_or_default());
                events.push(Event::new(EVENT_UPDATED, item.clone()).dedupe_key(key).occurred_at_ms(updated));
            }
        }
        match page.next_page {
            Some(next) => state.page_token = Some(next),
            None => {
                state = UpdatedCursor { updated_min: state.newest.clone(), page_token: None, newest: state.newest };
                return Ok(PollResponse::new(events, Some(cursor::encode(&state)?)));
            }
        }
    }
    Ok(PollResponse::new(events, Some(cursor::encode(&state)?)))
}
