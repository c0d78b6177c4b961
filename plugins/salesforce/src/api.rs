//! Calling the Salesforce REST API under the org's instance (the base URL
//! the host fills from the token answer's `instance_url`), and SOQL.

use serde::Serialize;
use serde_json::Value;
use weft_sdk::http::Method;
use weft_sdk::{Ctx, Error, Result};

/// An sObject API name (`Account`, `Invoice__c`), checked before it goes
/// into a path or a query.
pub fn object(value: &str) -> Result<&str> {
    let ok = !value.is_empty()
        && value.len() <= 80
        && value.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(value) } else { Err(Error::invalid_input(format!("{value:?} is not an object API name"))) }
}

/// A record id (15 or 18 characters).
pub fn record_id(value: &str) -> Result<&str> {
    let ok = matches!(value.len(), 15 | 18) && value.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok { Ok(value) } else { Err(Error::invalid_input(format!("{value:?} is not a Salesforce record id"))) }
}

/// `<method> <path>` with an optional JSON body; `None` for an empty
/// answer (204).
pub fn call<B: Serialize + ?Sized>(cx: &Ctx, method: Method, path: &str, body: Option<&B>) -> Result<Option<Value>> {
    let mut request = cx.http().request(method, path).connection_auth();
    if let Some(b) = body {
        request = request.json(b);
    }
    let answer = request.send()?;
    if answer.body.is_empty() { Ok(None) } else { answer.json().map(Some) }
}

/// One page of a SOQL query: the first (`q`) or the one a cursor names.
pub fn query_page(cx: &Ctx, soql: &str, cursor: Option<&str>) -> Result<Value> {
    let request = match cursor {
        Some(next) => cx.http().get(next_path(next)?),
        None => cx.http().get("/query").query("q", soql),
    };
    request.connection_auth().send()?.json()
}

/// The cursor of a query answer's next page: its `nextRecordsUrl` under
/// the API version (`/query/01gD0000002HU6KIAW-2000`).
pub fn next_cursor(answer: &Value) -> Option<String> {
    if answer.get("done").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    let url = answer.get("nextRecordsUrl").and_then(Value::as_str)?;
    url.find("/query/").or_else(|| url.find("/queryAll/")).map(|at| url[at..].to_owned())
}

/// A cursor as the path it names, refused unless it is one `next_cursor` made.
fn next_path(cursor: &str) -> Result<&str> {
    let locator = cursor.strip_prefix("/query/").or_else(|| cursor.strip_prefix("/queryAll/"));
    match locator {
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => Ok(cursor),
        _ => Err(Error::invalid_input("the page cursor is not a query locator")),
    }
}

/// A record timestamp as the API writes it (`2024-05-01T10:00:00.000+0000`)
/// as a SOQL dateTime literal, to the second (`2024-05-01T10:00:00Z`).
pub fn soql_datetime(stamp: &str) -> Result<String> {
    let ok = stamp.len() >= 19
        && stamp.is_char_boundary(19)
        && stamp[..19].bytes().all(|b| b.is_ascii_digit() || b"-:T".contains(&b));
    if ok { Ok(format!("{}Z", &stamp[..19])) } else { Err(Error::internal(format!("unexpected timestamp {stamp:?}"))) }
}
