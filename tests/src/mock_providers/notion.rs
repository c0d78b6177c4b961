//! A strict Notion API on loopback (`/v1/...`): a bearer token and a
//! `Notion-Version` header on every request, JSON bodies, `start_cursor` /
//! `page_size` pagination (at most 100), timestamp filters and sorts on
//! database queries, and Notion's error object (`{"object": "error",
//! "status", "code", "message"}`). Timestamps are to the minute, as
//! Notion's are. Also Notion's documented token answer.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::recorder::{Calls, Incoming, Tokens, serve};
use crate::mock_auth::TokenDialect;

/// The workspace the mock's bot lives in.
pub const WORKSPACE: &str = "Ada's Notion Workspace";
/// A database that exists from the start.
pub const DATABASE: &str = "d9824bdc-8445-4327-be8b-5b47500af6ce";
/// A page that exists from the start (not in the database).
pub const HOME_PAGE: &str = "b55c9c91-384d-452b-81db-d1ef79372b75";

/// Notion's token answer (developers.notion.com, "Create a token"): the bot
/// id (the mock's account), the workspace and the owner; requests must be
/// JSON with HTTP Basic client authentication.
pub fn token_dialect() -> TokenDialect {
    TokenDialect::answering(|standard, bot| {
        let mut answer = json!({
            "access_token": standard["access_token"],
            "token_type": "bearer",
            "bot_id": bot,
            "duplicated_template_id": null,
            "owner": { "type": "user", "user": { "object": "user", "id": "c2f20311-9e54-4d11-8c79-7398424ae41e" } },
            "workspace_icon": "https://website.domain/images/image.png",
            "workspace_id": "8f0d2f6a-7c1e-4f5e-9a55-3d6c1e2b7a90",
            "workspace_name": WORKSPACE,
        });
        if let Some(r) = standard.get("refresh_token") {
            answer["refresh_token"] = r.clone();
        }
        answer
    })
    .json_requests()
}

struct Store {
    pages: Vec<Value>,
    blocks: Vec<Value>,
    now: String,
    counter: u64,
}

/// A running Notion mock.
pub struct NotionMock {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Every call received.
    pub calls: Calls,
    state: Arc<Mutex<Store>>,
}

#[derive(Clone)]
struct Shared {
    tokens: Tokens,
    calls: Calls,
    state: Arc<Mutex<Store>>,
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({ "object": "error", "status": status, "code": code, "message": message }))
}

impl NotionMock {
    /// Starts the mock with [`DATABASE`], [`HOME_PAGE`] and one paragraph
    /// block, at `2024-05-01T10:00:00.000Z`.
    pub async fn start(tokens: Tokens) -> Self {
        let now = "2024-05-01T10:00:00.000Z".to_owned();
        let home = json!({
            "object": "page", "id": HOME_PAGE, "created_time": now, "last_edited_time": now, "archived": false,
            "parent": { "type": "workspace", "workspace": true },
            "properties": { "title": { "id": "title", "type": "title", "title": [{ "plain_text": "Home" }] } },
        });
        let block = json!({
            "object": "block", "id": "0c4d7a3e-2f0e-4b8a-9d3c-5e6f7a8b9c0d", "type": "paragraph", "archived": false,
            "parent": { "type": "page_id", "page_id": HOME_PAGE }, "paragraph": { "rich_text": [] },
        });
        let store = Store { pages: vec![home], blocks: vec![block], now, counter: 0 };
        let state = Arc::new(Mutex::new(store));
        let calls = Calls::default();
        let shared = Shared { tokens, calls: calls.clone(), state: state.clone() };
        let base = serve(Router::new().fallback(handle).with_state(shared)).await;
        Self { base, calls, state }
    }

    /// The API base URL (`{base}/v1`).
    pub fn api_base(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// The block that exists from the start.
    pub fn block_id(&self) -> String {
        self.lock().blocks[0]["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Moves the mock's clock (Notion stamps to the minute: `…T10:01:00.000Z`).
    pub fn set_now(&self, now: &str) {
        self.lock().now = now.into();
    }

    /// Adds a row titled `title` to [`DATABASE`] at the current time; its id.
    pub fn add_row(&self, title: &str) -> String {
        let mut st = self.lock();
        let parent = json!({ "type": "database_id", "database_id": DATABASE });
        let properties = json!({ "Name": { "title": [{ "text": { "content": title } }] } });
        st.insert_page(parent, properties.as_object().cloned().unwrap_or_default())
    }

    /// Edits a page at the current time.
    pub fn touch(&self, page: &str) {
        let mut st = self.lock();
        let now = st.now.clone();
        if let Some(p) = st.pages.iter_mut().find(|p| p["id"] == page) {
            p["last_edited_time"] = json!(now);
        }
    }

    /// A page as the mock holds it.
    pub fn page(&self, id: &str) -> Option<Value> {
        self.lock().pages.iter().find(|p| p["id"] == id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store {
    fn insert_page(&mut self, parent: Value, properties: Map<String, Value>) -> String {
        self.counter += 1;
        let id = format!("5e9d2c1a-0000-4000-8000-{:012x}", self.counter);
        let page = json!({
            "object": "page", "id": id, "created_time": self.now, "last_edited_time": self.now, "archived": false,
            "parent": parent, "properties": properties, "url": format!("https://www.notion.so/{}", id.replace('-', "")),
        });
        self.pages.push(page);
        id
    }
}

async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let req = Incoming::read(req).await;
    let (status, body) = answer(&shared, &req);
    shared.calls.push(req.call(status));
    (axum::http::StatusCode::from_u16(status).unwrap_or_default(), axum::Json(body)).into_response()
}

fn answer(shared: &Shared, req: &Incoming) -> (u16, Value) {
    if shared.tokens.account_of(&req.headers).is_none() {
        return error(401, "unauthorized", "API token is invalid.");
    }
    if req.header("notion-version") != Some("2022-06-28") {
        return error(400, "missing_version", "Notion-Version header failed validation: should be 2022-06-28.");
    }
    let body = if req.body.is_empty() {
        Value::Object(Map::new())
    } else {
        match (req.media_type().as_str(), req.json()) {
            ("application/json", Some(b @ Value::Object(_))) => b,
            _ => return error(400, "invalid_json", "Error parsing JSON body."),
        }
    };
    let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let segments: Vec<&str> = req.path.trim_start_matches("/v1/").split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["users", "me"]) => {
            let bot = shared.tokens.account_of(&req.headers).unwrap_or_default();
            (
                200,
                json!({ "object": "user", "id": bot, "name": "Weft", "type": "bot", "bot": { "owner": { "type": "workspace", "workspace": true }, "workspace_name": WORKSPACE } }),
            )
        }
        ("POST", ["pages"]) => create_page(&mut st, &body),
        ("GET", ["pages", id]) => match st.pages.iter().find(|p| p["id"] == *id) {
            Some(p) => (200, p.clone()),
            None => not_found(id),
        },
        ("PATCH", ["pages", id]) => {
            let now = st.now.clone();
            let Some(page) = st.pages.iter_mut().find(|p| p["id"] == *id) else { return not_found(id) };
            if let Some(props) = body.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    page["properties"][k] = v.clone();
                }
            }
            if let Some(archived) = body.get("archived") {
                page["archived"] = archived.clone();
            }
            page["last_edited_time"] = json!(now);
            (200, page.clone())
        }
        ("POST", ["search"]) => {
            if body.get("filter").is_some_and(|f| {
                f != &json!({ "property": "object", "value": "page" })
                    && f != &json!({ "property": "object", "value": "database" })
            }) {
                return error(400, "validation_error", "body.filter.value should be `page` or `database`.");
            }
            let query = body.get("query").and_then(Value::as_str).unwrap_or_default().to_lowercase();
            let hits: Vec<Value> = st
                .pages
                .iter()
                .filter(|p| p["archived"] == false && p.to_string().to_lowercase().contains(&query))
                .cloned()
                .collect();
            list(&hits, &body)
        }
        ("POST", ["databases", id, "query"]) if *id == DATABASE => query_database(&st, &body),
        ("POST", ["databases", id, "query"]) => not_found(id),
        ("GET", ["blocks", id]) => match st.blocks.iter().find(|b| b["id"] == *id) {
            Some(b) => (200, b.clone()),
            None => not_found(id),
        },
        ("PATCH", ["blocks", id]) => {
            let Some(block) = st.blocks.iter_mut().find(|b| b["id"] == *id) else { return not_found(id) };
            let kind = block["type"].as_str().unwrap_or_default().to_owned();
            match body.get(&kind) {
                Some(content) => block[&kind] = content.clone(),
                None => {
                    return error(
                        400,
                        "validation_error",
                        &format!("body.{kind} should be defined, instead was `undefined`."),
                    );
                }
            }
            (200, block.clone())
        }
        ("DELETE", ["blocks", id]) => match st.blocks.iter_mut().find(|b| b["id"] == *id) {
            Some(b) => {
                b["archived"] = json!(true);
                (200, b.clone())
            }
            None => not_found(id),
        },
        _ => error(400, "invalid_request_url", "Invalid request URL."),
    }
}

fn not_found(id: &str) -> (u16, Value) {
    let message = format!(
        "Could not find page with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
    );
    error(404, "object_not_found", &message)
}

fn create_page(st: &mut Store, body: &Value) -> (u16, Value) {
    let parent = match (
        body.pointer("/parent/page_id").and_then(Value::as_str),
        body.pointer("/parent/database_id").and_then(Value::as_str),
    ) {
        (Some(page), None) if st.pages.iter().any(|p| p["id"] == page) => json!({ "type": "page_id", "page_id": page }),
        (None, Some(DATABASE)) => json!({ "type": "database_id", "database_id": DATABASE }),
        (Some(id), None) | (None, Some(id)) => return not_found(id),
        _ => return error(400, "validation_error", "body.parent should be an object with page_id or database_id."),
    };
    let Some(properties) = body.get("properties").and_then(Value::as_object) else {
        return error(400, "validation_error", "body.properties should be defined, instead was `undefined`.");
    };
    let id = st.insert_page(parent, properties.clone());
    let page = st.pages.iter().find(|p| p["id"] == id.as_str()).cloned().unwrap_or_default();
    (200, page)
}

/// Rows of [`DATABASE`]: an optional timestamp filter (`on_or_after`,
/// `after`), timestamp sorts, pagination.
fn query_database(st: &Store, body: &Value) -> (u16, Value) {
    let mut rows: Vec<Value> = st
        .pages
        .iter()
        .filter(|p| p.pointer("/parent/database_id") == Some(&json!(DATABASE)) && p["archived"] == false)
        .cloned()
        .collect();
    if let Some(filter) = body.get("filter") {
        let stamp = filter
            .get("timestamp")
            .and_then(Value::as_str)
            .filter(|t| ["created_time", "last_edited_time"].contains(t));
        let Some(stamp) = stamp else {
            return error(400, "validation_error", "the mock supports timestamp filters only");
        };
        let condition = &filter[stamp];
        let (op, at) = match (condition.get("on_or_after"), condition.get("after")) {
            (Some(Value::String(at)), None) => ("on_or_after", at.clone()),
            (None, Some(Value::String(at))) => ("after", at.clone()),
            _ => {
                return error(
                    400,
                    "validation_error",
                    &format!("body.filter.{stamp} should be an object with on_or_after or after."),
                );
            }
        };
        rows.retain(|p| {
            let t = p[stamp].as_str().unwrap_or_default();
            if op == "after" { t > at.as_str() } else { t >= at.as_str() }
        });
    }
    for sort in body.get("sorts").and_then(Value::as_array).into_iter().flatten().rev() {
        let Some(stamp) = sort.get("timestamp").and_then(Value::as_str) else {
            return error(400, "validation_error", "the mock sorts by timestamp only");
        };
        let descending = sort.get("direction") == Some(&json!("descending"));
        rows.sort_by(|a, b| {
            let order = a[stamp].as_str().cmp(&b[stamp].as_str());
            if descending { order.reverse() } else { order }
        });
    }
    list(&rows, body)
}

/// One page of `items` as Notion pages a list: `page_size` (1 to 100) and
/// `start_cursor` (an id `next_cursor` gave).
fn list(items: &[Value], body: &Value) -> (u16, Value) {
    let size = match body.get("page_size") {
        None => 100,
        Some(n) => match n.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => return error(400, "validation_error", "body.page_size should be a number between 1 and 100."),
        },
    };
    let start = match body.get("start_cursor").and_then(Value::as_str) {
        None => 0,
        Some(cursor) => match items.iter().position(|i| i["id"] == cursor) {
            Some(at) => at,
            None => return error(400, "validation_error", "start_cursor should be a valid cursor."),
        },
    };
    let end = (start + size).min(items.len());
    let next = items.get(end).map(|i| i["id"].clone()).unwrap_or(Value::Null);
    (
        200,
        json!({ "object": "list", "results": items[start..end], "next_cursor": next, "has_more": end < items.len(), "type": "page_or_database", "page_or_database": {} }),
    )
}
