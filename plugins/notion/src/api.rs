//! Calling the Notion API: every request names the API version it speaks.

use serde::Serialize;
use serde_json::Value;
use weft_sdk::http::{Method, RequestBuilder};
use weft_sdk::{Ctx, Result};

/// The API version requests are written against.
pub const NOTION_VERSION: &str = "2022-06-28";
/// Largest page Notion serves.
pub const MAX_PAGE: u32 = 100;

fn request(cx: &Ctx, method: Method, path: &str) -> RequestBuilder {
    cx.http().request(method, path).header("Notion-Version", NOTION_VERSION).connection_auth()
}

/// `GET <path>`.
pub fn get(cx: &Ctx, path: &str) -> Result<Value> {
    request(cx, Method::Get, path).send()?.json()
}

/// `<method> <path>` with a JSON body.
pub fn send<B: Serialize + ?Sized>(cx: &Ctx, method: Method, path: &str, body: &B) -> Result<Value> {
    request(cx, method, path).json(body).send()?.json()
}

/// `DELETE <path>`.
pub fn delete(cx: &Ctx, path: &str) -> Result<Value> {
    request(cx, Method::Delete, path).send()?.json()
}

/// The cursor of the next page of a list answer, when it has one.
pub fn next_cursor(answer: &Value) -> Option<String> {
    if answer.get("has_more").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    answer.get("next_cursor").and_then(Value::as_str).map(str::to_owned)
}
