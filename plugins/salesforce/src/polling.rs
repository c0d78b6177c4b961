//! Polling triggers: new and changed records of one object, found with
//! SOQL on `CreatedDate` or `SystemModstamp` from a persisted
//! [`Watermark`] (stamps are to the second, so each poll queries from the
//! watermark inclusive and remembers the boundary's ids).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_sdk::watermark::Watermark;
use weft_sdk::{Ctx, Error, Event, PollRequest, PollResponse, Result, Trigger};

use crate::api::{self, object, soql_datetime};

pub const NEW_RECORD: &str = "SALESFORCE_NEW_RECORD";
pub const RECORD_UPDATED: &str = "SALESFORCE_RECORD_UPDATED";
/// Records one poll reads at most; the rest waits for the next poll.
const PER_POLL: u32 = 200;
/// Where a watermark starts when the object has no record yet.
const EPOCH: &str = "1970-01-01T00:00:00.000+0000";

#[derive(Deserialize, JsonSchema)]
struct ObjectConfig {
    /// API name of the object to watch, e.g. `Contact` or `Invoice__c`.
    record_type: String,
}

/// Every trigger.
pub fn all() -> Vec<Trigger> {
    vec![
        Trigger::polling::<ObjectConfig>(NEW_RECORD, "New record", 60, 60)
            .description("A record of the object was created"),
        Trigger::polling::<ObjectConfig>(RECORD_UPDATED, "Record updated", 60, 60)
            .description("A record of the object was created or changed"),
    ]
}

fn stamp_of(trigger: &str) -> Result<&'static str> {
    match trigger {
        NEW_RECORD => Ok("CreatedDate"),
        RECORD_UPDATED => Ok("SystemModstamp"),
        other => Err(Error::unsupported(format!("no polling trigger {other}"))),
    }
}

fn text<'a>(record: &'a Value, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Records created (or changed) since the cursor; the first poll only
/// sets the watermark at the newest record, so history is not replayed.
pub fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
    let stamp = stamp_of(&req.trigger)?;
    let config: ObjectConfig = req.config()?;
    let sobject = object(&config.record_type)?;
    let Some(mut mark) = Watermark::decode(req.cursor.as_deref())? else {
        let soql = format!("SELECT Id, {stamp} FROM {sobject} ORDER BY {stamp} DESC LIMIT 1");
        let newest = api::query_page(cx, &soql, None)?;
        let mark = match newest.pointer("/records/0") {
            Some(r) => Watermark::after(text(r, stamp), [text(r, "Id")]),
            None => Watermark::starting_at(EPOCH),
        };
        return Ok(PollResponse::empty(Some(mark.encode()?)));
    };
    let soql = format!(
        "SELECT FIELDS(STANDARD) FROM {sobject} WHERE {stamp} >= {} ORDER BY {stamp} ASC, Id ASC LIMIT {PER_POLL}",
        soql_datetime(mark.since())?
    );
    let answer = api::query_page(cx, &soql, None)?;
    let mut events = Vec::new();
    for record in answer["records"].as_array().into_iter().flatten() {
        let (id, at) = (text(record, "Id"), text(record, stamp));
        if mark.admit(id, at) {
            events.push(Event::new(req.trigger.clone(), record.clone()).dedupe_key(format!("{id}@{at}")));
        }
    }
    Ok(PollResponse::new(events, Some(mark.encode()?)))
}
