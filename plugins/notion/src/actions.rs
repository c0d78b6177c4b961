//! Notion actions: pages, database rows, search and blocks.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_sdk::http::Method;
use weft_sdk::{Action, Ctx, Effect, Error, Paged, Result};

use crate::api::{self, MAX_PAGE};

/// A Notion id (UUID, with or without dashes), checked before it goes
/// into a path.
pub fn id<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    let ok = (32..=36).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if ok { Ok(value) } else { Err(Error::invalid_input(format!("{what} is not a Notion id: {value:?}"))) }
}

fn title_value(title: &str) -> Value {
    json!({ "title": [{ "type": "text", "text": { "content": title } }] })
}

#[derive(Deserialize, JsonSchema)]
struct CreatePage {
    /// ID of the page to create the new page under. Give this or `parent_database_id`.
    #[serde(default)]
    parent_page_id: Option<String>,
    /// ID of the database to add the page to, as a new row. Give this or `parent_page_id`.
    #[serde(default)]
    parent_database_id: Option<String>,
    /// Title of the new page.
    #[serde(default)]
    title: Option<String>,
    /// In a database: the name of its title property (default `Name`).
    #[serde(default)]
    title_property: Option<String>,
    /// Further property values, in Notion's property value format, keyed by property name.
    #[serde(default)]
    properties: Option<Map<String, Value>>,
    /// Page content: a list of blocks in Notion's block format.
    #[serde(default)]
    children: Option<Vec<Value>>,
}

fn create_page(cx: &Ctx, input: CreatePage) -> Result<Value> {
    let (parent, title_key) = match (&input.parent_page_id, &input.parent_database_id) {
        (Some(page), None) => (json!({ "page_id": id("parent_page_id", page)? }), "title".to_owned()),
        (None, Some(db)) => (
            json!({ "database_id": id("parent_database_id", db)? }),
            input.title_property.clone().unwrap_or_else(|| "Name".into()),
        ),
        _ => return Err(Error::invalid_input("give exactly one of parent_page_id and parent_database_id")),
    };
    let mut properties = input.properties.unwrap_or_default();
    if let Some(title) = &input.title {
        properties.insert(title_key, title_value(title));
    }
    let mut body = json!({ "parent": parent, "properties": properties });
    if let Some(children) = input.children {
        body["children"] = Value::Array(children);
    }
    api::send(cx, Method::Post, "/pages", &body)
}

#[derive(Deserialize, JsonSchema)]
struct UpdatePage {
    /// ID of the page to change.
    page_id: String,
    /// Property values to set, in Notion's property value format, keyed by property name.
    properties: Map<String, Value>,
}

fn update_page(cx: &Ctx, input: UpdatePage) -> Result<Value> {
    let path = format!("/pages/{}", id("page_id", &input.page_id)?);
    api::send(cx, Method::Patch, &path, &json!({ "properties": input.properties }))
}

#[derive(Deserialize, JsonSchema)]
struct PageRef {
    /// ID of the page.
    page_id: String,
}

fn get_page(cx: &Ctx, input: PageRef) -> Result<Value> {
    api::get(cx, &format!("/pages/{}", id("page_id", &input.page_id)?))
}

fn archive_page(cx: &Ctx, input: PageRef) -> Result<Value> {
    let path = format!("/pages/{}", id("page_id", &input.page_id)?);
    api::send(cx, Method::Patch, &path, &json!({ "archived": true }))
}

#[derive(Deserialize, JsonSchema)]
struct SearchPages {
    /// Text to look for in page titles; every page shared with the integration when empty.
    #[serde(default)]
    query: Option<String>,
    /// Pages per page of results, at most 100 (default 100).
    #[serde(default)]
    page_size: Option<u32>,
}

fn search_pages(cx: &Ctx, input: SearchPages, page: Option<String>) -> Result<Paged<Value>> {
    let mut body = json!({
        "filter": { "property": "object", "value": "page" },
        "page_size": input.page_size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE),
    });
    if let Some(q) = input.query.filter(|q| !q.is_empty()) {
        body["query"] = json!(q);
    }
    if let Some(cursor) = page {
        body["start_cursor"] = json!(cursor);
    }
    let answer = api::send(cx, Method::Post, "/search", &body)?;
    let next = api::next_cursor(&answer);
    Ok(Paged::new(json!({ "results": answer["results"] }), next))
}

#[derive(Deserialize, JsonSchema)]
struct QueryDatabase {
    /// ID of the database.
    database_id: String,
    /// A filter in Notion's database query filter format.
    #[serde(default)]
    filter: Option<Value>,
    /// Sort orders in Notion's format, e.g. `[{"property": "Name", "direction": "ascending"}]`.
    #[serde(default)]
    sorts: Option<Vec<Value>>,
    /// Rows per page, at most 100 (default 100).
    #[serde(default)]
    page_size: Option<u32>,
}

fn query_database(cx: &Ctx, input: QueryDatabase, page: Option<String>) -> Result<Paged<Value>> {
    let path = format!("/databases/{}/query", id("database_id", &input.database_id)?);
    let mut body = json!({ "page_size": input.page_size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE) });
    if let Some(filter) = input.filter {
        body["filter"] = filter;
    }
    if let Some(sorts) = input.sorts {
        body["sorts"] = Value::Array(sorts);
    }
    if let Some(cursor) = page {
        body["start_cursor"] = json!(cursor);
    }
    let answer = api::send(cx, Method::Post, &path, &body)?;
    let next = api::next_cursor(&answer);
    Ok(Paged::new(json!({ "results": answer["results"] }), next))
}

#[derive(Deserialize, JsonSchema)]
struct BlockRef {
    /// ID of the block (a page is a block too).
    block_id: String,
}

fn get_block(cx: &Ctx, input: BlockRef) -> Result<Value> {
    api::get(cx, &format!("/blocks/{}", id("block_id", &input.block_id)?))
}

fn delete_block(cx: &Ctx, input: BlockRef) -> Result<Value> {
    api::delete(cx, &format!("/blocks/{}", id("block_id", &input.block_id)?))
}

#[derive(Deserialize, JsonSchema)]
struct UpdateBlock {
    /// ID of the block to change.
    block_id: String,
    /// The block's new content, keyed by its type, e.g. `{"paragraph": {"rich_text": [...]}}`.
    block: Map<String, Value>,
}

fn update_block(cx: &Ctx, input: UpdateBlock) -> Result<Value> {
    let path = format!("/blocks/{}", id("block_id", &input.block_id)?);
    api::send(cx, Method::Patch, &path, &input.block)
}

/// Every action, in the order users see them.
pub fn all() -> Vec<Action> {
    vec![
        Action::new("NOTION_CREATE_PAGE", "Create page", create_page)
            .description("Create a page under a page, or a row in a database")
            .effect(Effect::Write),
        Action::new("NOTION_UPDATE_PAGE", "Update page", update_page)
            .description("Set property values of a page or database row")
            .effect(Effect::Write),
        Action::new("NOTION_GET_PAGE", "Get page", get_page).description("Get a page and its property values"),
        Action::new("NOTION_ARCHIVE_PAGE", "Archive page", archive_page)
            .description("Archive (move to trash) a page")
            .effect(Effect::Destructive),
        Action::paginated("NOTION_SEARCH_PAGES", "Search pages", search_pages)
            .description("Search the pages shared with the integration by title, a page of results at a time"),
        Action::paginated("NOTION_QUERY_DATABASE", "Query database", query_database)
            .description("List a database's rows matching a filter, a page at a time"),
        Action::new("NOTION_GET_BLOCK", "Get block", get_block).description("Get one block"),
        Action::new("NOTION_UPDATE_BLOCK", "Update block", update_block)
            .description("Change the content of a block")
            .effect(Effect::Write),
        Action::new("NOTION_DELETE_BLOCK", "Delete block", delete_block)
            .description("Delete (archive) a block")
            .effect(Effect::Destructive),
    ]
}
