//! CRM record actions, one set per object type: create, update, get by
//! id, search (paged with HubSpot's `after` cursor) and delete, on the
//! CRM v3 objects API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_sdk::http::RequestBuilder;
use weft_sdk::http::path::segment;
use weft_sdk::{Action, Ctx, Effect, Error, Paged, Result};

use crate::objects::Object;

/// The five actions of object type `O`.
pub(crate) fn actions<O: Object>() -> Vec<Action> {
    let (key, one, many) = (O::KEY, O::ONE, O::TYPE);
    let scope = |access: &str| format!("crm.objects.{many}.{access}");
    vec![
        Action::new(format!("HUBSPOT_CREATE_RECORD_{key}"), format!("Create {one}"), create::<O>)
            .description(format!("Create a {} in HubSpot CRM", one.to_lowercase()))
            .effect(Effect::Write)
            .scopes([scope("write")]),
        Action::new(format!("HUBSPOT_UPDATE_RECORD_{key}"), format!("Update {one}"), update::<O>)
            .description(format!("Update the properties of a {} in HubSpot CRM", one.to_lowercase()))
            .effect(Effect::Write)
            .scopes([scope("write")]),
        Action::new(format!("HUBSPOT_GET_RECORD_BY_ID_{key}"), format!("Get {one} by ID"), get::<O>)
            .description(format!("Read one {} by its record id", one.to_lowercase()))
            .scopes([scope("read")]),
        Action::paginated(format!("HUBSPOT_SEARCH_RECORDS_{key}"), format!("Search {many}"), search::<O>)
            .description(format!("Search {many} by text and property filters, page by page"))
            .scopes([scope("read")]),
        Action::new(format!("HUBSPOT_DELETE_RECORD_{key}"), format!("Delete {one}"), delete::<O>)
            .description(format!("Archive a {} (HubSpot keeps it restorable for 90 days)", one.to_lowercase()))
            .effect(Effect::Destructive)
            .scopes([scope("write")]),
    ]
}

/// Sends a request and puts HubSpot's error `message` into failures.
pub(crate) fn send(what: &str, req: RequestBuilder) -> Result<weft_sdk::http::Response> {
    req.send_raw()?.error_for_status().map_err(|e| match e {
        Error::Upstream { status, body, .. } => {
            let message = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_default();
            Error::upstream(status, format!("{what}: HubSpot answered {status}: {message}"), body)
        }
        other => other,
    })
}

fn objects<O: Object>() -> String {
    format!("/crm/v3/objects/{}", O::TYPE)
}

fn create<O: Object>(cx: &Ctx, input: O) -> Result<Value> {
    let body = json!({ "properties": input.properties()? });
    send(&format!("create {}", O::ONE), cx.http().post(objects::<O>()).json(&body))?.json()
}

/// A record's id and the fields to change.
#[derive(Debug, Deserialize, JsonSchema)]
struct Update<O> {
    /// The id of the record to update (its `hs_object_id`).
    #[serde(rename = "recordId")]
    record_id: String,
    #[serde(flatten)]
    fields: O,
}

fn update<O: Object>(cx: &Ctx, input: Update<O>) -> Result<Value> {
    let properties = input.fields.properties()?;
    if properties.is_empty() {
        return Err(Error::invalid_input("nothing to update: set at least one field"));
    }
    let path = format!("{}/{}", objects::<O>(), segment(&input.record_id));
    send(&format!("update {}", O::ONE), cx.http().patch(path).json(&json!({ "properties": properties })))?.json()
}

#[derive(Debug, Deserialize, JsonSchema)]
struct RecordRef {
    /// The id of the record (its `hs_object_id`).
    #[serde(rename = "recordId")]
    record_id: String,
    /// Properties to return besides the default ones, e.g. `["phone", "city"]`.
    #[serde(default)]
    properties: Vec<String>,
}

fn get<O: Object>(cx: &Ctx, input: RecordRef) -> Result<Value> {
    let path = format!("{}/{}", objects::<O>(), segment(&input.record_id));
    let mut req = cx.http().get(path);
    if !input.properties.is_empty() {
        req = req.query("properties", input.properties.join(","));
    }
    send(&format!("get {}", O::ONE), req)?.json()
}

fn delete<O: Object>(cx: &Ctx, input: RecordRef) -> Result<Value> {
    let path = format!("{}/{}", objects::<O>(), segment(&input.record_id));
    // HubSpot answers 204 No Content.
    send(&format!("delete {}", O::ONE), cx.http().delete(path))?;
    Ok(json!({ "deleted": true, "recordId": input.record_id }))
}

/// How a filter compares a property with its value.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Operator {
    /// Equal to.
    Eq,
    /// Not equal to.
    Neq,
    /// Less than.
    Lt,
    /// Less than or equal to.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal to.
    Gte,
    /// Contains the word (`*` wildcards allowed).
    ContainsToken,
    /// Does not contain the word.
    NotContainsToken,
    /// Has any value.
    HasProperty,
    /// Has no value.
    NotHasProperty,
}

/// One condition on a property.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Filter {
    /// The property's internal name, e.g. `email` or `lifecyclestage`.
    property_name: String,
    /// How to compare.
    operator: Operator,
    /// The value to compare with (not for `HAS_PROPERTY` / `NOT_HAS_PROPERTY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Search {
    /// Text searched in the object's default searchable properties (e.g. a contact's name, email and phone).
    query: Option<String>,
    /// Conditions that all must hold.
    #[serde(default)]
    filters: Vec<Filter>,
    /// Properties to return for each record, e.g. `["email", "firstname"]`.
    #[serde(default)]
    properties: Vec<String>,
    /// Records per page, 1 to 200 (HubSpot's default is 10).
    limit: Option<u32>,
}

/// One page of search results; the cursor is HubSpot's `paging.next.after`.
fn search<O: Object>(cx: &Ctx, input: Search, page: Option<String>) -> Result<Paged<Value>> {
    let limit = input.limit.unwrap_or(10);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid_input("`limit` must be between 1 and 200"));
    }
    let mut body = Map::new();
    body.insert("limit".into(), limit.into());
    if let Some(query) = input.query.filter(|q| !q.trim().is_empty()) {
        body.insert("query".into(), query.into());
    }
    if !input.filters.is_empty() {
        body.insert("filterGroups".into(), json!([{ "filters": input.filters }]));
    }
    if !input.properties.is_empty() {
        body.insert("properties".into(), input.properties.into());
    }
    if let Some(after) = page {
        body.insert("after".into(), after.into());
    }
    let path = format!("{}/search", objects::<O>());
    let answer: Value = send(&format!("search {}", O::TYPE), cx.http().post(path).json(&body))?.json()?;
    let next = answer["paging"]["next"]["after"].as_str().map(str::to_owned);
    Ok(Paged::new(answer, next))
}
