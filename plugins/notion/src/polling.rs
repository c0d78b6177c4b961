//! Polling triggers over a database: Notion offers no webhook a
//! multi-tenant app can register per user, so new and changed rows are
//! found by querying on their timestamps, from a persisted
//! [`Watermark`] (Notion stamps pages to the minute, so the query starts
//! at the watermark inclusive and the boundary's ids are remembered).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::http::Method;
use weft_sdk::watermark::Watermark;
use weft_sdk::{Ctx, Error, Event, PollRequest, PollResponse, Result, Trigger};

use crate::actions::id;
use crate::api::{self, MAX_PAGE};

pub const PAGE_CREATED: &str = "NOTION_PAGE_CREATED";
pub const PAGE_UPDATED: &str = "NOTION_PAGE_UPDATED";
/// Pages of results one poll reads at most; the rest waits for the next.
const MAX_PAGES_PER_POLL: usize = 10;
/// Where a watermark starts when the database has no page yet.
const EPOCH: &str = "1970-01-01T00:00:00.000Z";

#[derive(Deserialize, JsonSchema)]
struct DatabaseConfig {
    /// ID of the database whose pages are watched.
    database_id: String,
}

/// Every trigger.
pub fn all() -> Vec<Trigger> {
    vec![
        Trigger::polling::<DatabaseConfig>(PAGE_CREATED, "Page created", 60, 60)
            .description("A page (row) was added to a database"),
        Trigger::polling::<DatabaseConfig>(PAGE_UPDATED, "Page updated", 60, 60)
            .description("A page (row) of a database was created or changed"),
    ]
}

/// The page timestamp a trigger watches.
fn stamp_of(trigger: &str) -> Result<&'static str> {
    match trigger {
        PAGE_CREATED => Ok("created_time"),
        PAGE_UPDATED => Ok("last_edited_time"),
        other => Err(Error::unsupported(format!("no polling trigger {other}"))),
    }
}

fn query(cx: &Ctx, database: &str, body: &Value) -> Result<Value> {
    api::send(cx, Method::Post, &format!("/databases/{database}/query"), body)
}

fn text<'a>(page: &'a Value, key: &str) -> &'a str {
    page.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// New (or changed) pages since the cursor; the first poll only sets the
/// watermark at the newest page, so history is not replayed.
pub fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
    let stamp = stamp_of(&req.trigger)?;
    let config: DatabaseConfig = req.config()?;
    let database = id("database_id", &config.database_id)?;
    let Some(mut mark) = Watermark::decode(req.cursor.as_deref())? else {
        let body = json!({ "sorts": [{ "timestamp": stamp, "direction": "descending" }], "page_size": 1 });
        let newest = query(cx, database, &body)?;
        let mark = match newest.pointer("/results/0") {
            Some(page) => Watermark::after(text(page, stamp), [text(page, "id")]),
            None => Watermark::starting_at(EPOCH),
        };
        return Ok(PollResponse::empty(Some(mark.encode()?)));
    };
    let since = mark.since().to_owned();
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES_PER_POLL {
        let mut body = json!({
            "filter": { "timestamp": stamp, stamp: { "on_or_after": since } },
            "sorts": [{ "timestamp": stamp, "direction": "ascending" }],
            "page_size": MAX_PAGE,
        });
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let answer = query(cx, database, &body)?;
        for page in answer["results"].as_array().into_iter().flatten() {
            let (page_id, at) = (text(page, "id"), text(page, stamp));
            if mark.admit(page_id, at) {
                events.push(Event::new(req.trigger.clone(), page.clone()).dedupe_key(format!("{page_id}@{at}")));
            }
        }
        cursor = api::next_cursor(&answer);
        if cursor.is_none() {
            break;
        }
    }
    Ok(PollResponse::new(events, Some(mark.encode()?)))
}
