//! Pre-configured pagination of Integration Request steps: the integration
//! says how its list endpoints page ([`weft_catalog::paging`]), the step
//! only whether to (`pagination: {}`) and how much (`limit`, `skip`,
//! `previousPage`). Pages are fetched inside the one step execution, as
//! custom pagination's are (`paginate.rs`, whose page sending, rate-limit
//! backoff and deadline rule this shares), and the output has the same
//! shape: every page's results in order (`response.results`), the last
//! page's `statusCode` and `headers`, and `response.error` when a later page
//! failed. Where a later step may go on is `response.nextPage`, given when
//! it is exact: the page after the last when `limit` took a whole page, or
//! an offset.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use weft_catalog::paging::{Next, NextPage, Paging};
use weft_store::ClaimedStep;

use super::paginate::{fetch_page, paged_output, time_for};
use super::{Engine, execute};
use crate::definition::PresetPagination;
use crate::plan::Plan;

/// Fetches the pages of `step`, whose first request is `input` (its
/// `pagination` resolved in it): the step's output or error, and the pages
/// fetched (its tasks).
pub(super) async fn run(
    engine: &Engine,
    plan: &Plan,
    step: &ClaimedStep,
    input: Value,
) -> (Result<Value, (Value, bool)>, u32) {
    let (paging, origin) = match strategy(engine, plan, step).await {
        Ok(found) => found,
        Err(message) => return (Err((json!({ "message": message }), false)), 0),
    };
    let options = match options(input.get("pagination")) {
        Ok(options) => options,
        Err(message) => return (Err((json!({ "message": message }), false)), 0),
    };
    let mut request = input;
    if let Some(fields) = request.as_object_mut() {
        fields.remove("pagination");
    }
    let mut pages = Pages::new(&paging, &origin);
    if let Err(message) = pages.start(&mut request, &options) {
        return (Err((json!({ "message": message }), false)), 0);
    }
    let limit = options.limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut results: Vec<Value> = Vec::new();
    let mut size = 0u64;
    let mut last = Map::new();
    let mut next_page = None;
    let mut n = 0u32;
    let error = loop {
        let page = match fetch_page(engine, plan, step, &request, n).await {
            Ok(page) => page,
            Err(failed) if n == 0 => return (Err(failed), 0),
            Err((error, _)) => break Some(error),
        };
        n += 1;
        let response = page.get("response").cloned().unwrap_or(Value::Null);
        for field in ["statusCode", "headers"] {
            if let Some(value) = response.get(field) {
                last.insert(field.into(), value.clone());
            }
        }
        let body = response.get("body").unwrap_or(&Value::Null);
        let (found, next) = match paging.read(body, pages.offset) {
            Ok(read) => read,
            Err(e) => break Some(json!({ "message": format!("page {n}: {e}") })),
        };
        let taken = pages.take(found, limit - results.len());
        size += taken.iter().map(|v| execute::json_size(v) + 1).sum::<u64>();
        let whole_page = pages.used_of_page == found.len();
        results.extend(taken);
        if next == Next::Done || size > engine.deps.settings.max_step_bytes {
            break None;
        }
        if results.len() >= limit {
            // Exact only if the page was used to its end (or by offset).
            next_page = match (&next, whole_page) {
                (Next::Offset(_), _) => Some(json!(pages.offset + pages.used_of_page as u64)),
                (_, true) => Some(token(&next)),
                (_, false) => None,
            };
            break None;
        }
        if n >= engine.deps.settings.max_pages {
            break Some(
                json!({ "message": format!("stopped after {n} pages (workflows.max_pages) with more to fetch") }),
            );
        }
        if !time_for(engine, step, std::time::Duration::ZERO) {
            break Some(json!({ "message": format!(
                "stopped after {n} pages: the step would pass its deadline (workflows.step_deadline_ms) before another page came"
            ) }));
        }
        if let Err(message) = pages.advance(&mut request, next) {
            break Some(json!({ "message": format!("page {n}: {message}") }));
        }
    };
    if let Some(next) = next_page {
        last.insert("nextPage".into(), next);
    }
    (Ok(paged_output(last, results, error)), n)
}

/// The step's resolved `pagination` options. A page named by a number (an
/// offset, a numeric cursor) read from an earlier output resolves to that
/// number: it is taken as its text.
fn options(asked: Option<&Value>) -> Result<PresetPagination, String> {
    let mut asked = asked.cloned().unwrap_or_else(|| json!({}));
    if let Some(previous) = asked.get_mut("previousPage")
        && let Value::Number(n) = previous
    {
        *previous = Value::String(n.to_string());
    }
    serde_json::from_value(asked).map_err(|e| format!("pagination: {e}"))
}

/// The integration's paging and the origin of its base URL (what a next
/// page's path is from), as the step's account sees them.
async fn strategy(engine: &Engine, plan: &Plan, step: &ClaimedStep) -> Result<(Paging, String), String> {
    let integration = plan.workflow().integration.as_deref().unwrap_or_default();
    let session = execute::integration_session(engine, plan, step).await?;
    let paging = session.provider().pagination.clone().ok_or_else(|| PresetPagination::unavailable(integration))?;
    let origin = session
        .endpoint()
        .base_url()
        .map(|url| url.origin().ascii_serialization())
        .map_err(|e| format!("the {integration} account's base URL: {e}"))?;
    Ok((paging, origin))
}

/// Where the pages are.
struct Pages<'a> {
    paging: &'a Paging,
    origin: &'a str,
    /// The position of the current page's first result (by offset).
    offset: u64,
    /// Results still to leave out (`skip`, where the integration does not
    /// page by offset).
    skip: u64,
    /// Next pages asked for so far: one named again stops the step.
    seen: HashSet<String>,
    /// Of the last page: the results left out by `skip` or taken.
    used_of_page: usize,
}

impl<'a> Pages<'a> {
    fn new(paging: &'a Paging, origin: &'a str) -> Self {
        Pages { paging, origin, offset: 0, skip: 0, seen: HashSet::new(), used_of_page: 0 }
    }

    /// The first request: from `previousPage` and, by offset, `skip`.
    fn start(&mut self, request: &mut Value, options: &PresetPagination) -> Result<(), String> {
        let skip = options.skip.unwrap_or(0);
        let previous = options.previous_page.as_deref().map(str::trim).filter(|p| !p.is_empty());
        match &self.paging.next {
            NextPage::Offset { param } => {
                let from = match previous {
                    Some(p) => p.parse::<u64>().map_err(|_| {
                        format!("pagination.previousPage: this integration pages by offset; {p:?} is not one")
                    })?,
                    None => 0,
                };
                self.offset = from + skip;
                if self.offset > 0 {
                    set_param(request, param, &json!(self.offset))?;
                }
                return Ok(());
            }
            NextPage::Url { .. } => {
                if let Some(p) = previous {
                    self.to_url(request, p)?;
                }
            }
            NextPage::Cursor { param, .. } => {
                if let Some(p) = previous {
                    set_param(request, param, &json!(p))?;
                }
            }
        }
        self.skip = skip;
        Ok(())
    }

    /// Up to `room` of a page's results, after leaving out what `skip`
    /// still asks to.
    fn take(&mut self, found: &[Value], room: usize) -> Vec<Value> {
        let skipped = usize::try_from(self.skip).unwrap_or(usize::MAX).min(found.len());
        self.skip -= skipped as u64;
        let taken: Vec<Value> = found[skipped..].iter().take(room).cloned().collect();
        self.used_of_page = skipped + taken.len();
        taken
    }

    /// The request of the page `next` names.
    fn advance(&mut self, request: &mut Value, next: Next) -> Result<(), String> {
        let key = token(&next).to_string();
        if !self.seen.insert(key) {
            return Err("the integration named the same next page again; stopped rather than fetch it for ever".into());
        }
        match (next, &self.paging.next) {
            (Next::Url(url), _) => self.to_url(request, &url),
            (Next::Cursor(cursor), NextPage::Cursor { param, .. }) => set_param(request, param, &cursor),
            (Next::Offset(offset), NextPage::Offset { param }) => {
                self.offset = offset;
                set_param(request, param, &json!(offset))
            }
            _ => Err("the page's next page does not fit the integration's pagination".into()),
        }
    }

    /// The request sent to `url` instead (absolute, or a path from the
    /// base URL's origin), with its own query only.
    fn to_url(&self, request: &mut Value, url: &str) -> Result<(), String> {
        let url = if url.starts_with('/') { format!("{}{url}", self.origin) } else { url.to_owned() };
        let fields = request.as_object_mut().ok_or("the request is not an object")?;
        fields.insert("url".into(), Value::String(url));
        fields.remove("params");
        Ok(())
    }
}

/// `next` as a later step's `previousPage`.
fn token(next: &Next) -> Value {
    match next {
        Next::Url(url) => json!(url),
        Next::Cursor(cursor) => cursor.clone(),
        Next::Offset(offset) => json!(offset),
        Next::Done => Value::Null,
    }
}

/// Sets query parameter `name` of `request` to `value`.
fn set_param(request: &mut Value, name: &str, value: &Value) -> Result<(), String> {
    let fields = request.as_object_mut().ok_or("the request is not an object")?;
    let params = fields.entry("params").or_insert_with(|| Value::Object(Map::new()));
    if params.is_null() {
        *params = Value::Object(Map::new());
    }
    let params = params.as_object_mut().ok_or("the step's `params` is not an object")?;
    let value = match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.clone(),
        other => Value::String(other.to_string()),
    };
    params.insert(name.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(paging: Value) -> (Paging, String) {
        (serde_json::from_value(paging).unwrap(), "https://eu1.example.test".to_owned())
    }

    #[test]
    fn options_take_a_numeric_previous_page_as_text() {
        let o = options(Some(&json!({"limit": 5, "previousPage": 40}))).unwrap();
        assert_eq!((o.limit, o.previous_page.as_deref()), (Some(5), Some("40")));
        assert_eq!(options(None).unwrap(), PresetPagination::default());
        assert!(options(Some(&json!({"previousPage": {"a": 1}}))).unwrap_err().starts_with("pagination:"));
    }

    #[test]
    fn by_offset_skip_and_previous_page_are_the_first_position() {
        let (paging, origin) = pages(json!({"results": "/issues", "next": {"type": "offset", "param": "startAt"}}));
        let mut p = Pages::new(&paging, &origin);
        let mut request = json!({"url": "/search", "params": {"jql": "project = X"}});
        let asked = PresetPagination { skip: Some(5), previous_page: Some("50".into()), ..Default::default() };
        p.start(&mut request, &asked).unwrap();
        assert_eq!(request["params"], json!({"jql": "project = X", "startAt": 55}));
        assert_eq!(p.take(&[json!(1), json!(2)], usize::MAX), [json!(1), json!(2)], "nothing left out here");
        p.advance(&mut request, Next::Offset(57)).unwrap();
        assert_eq!((request["params"]["startAt"].clone(), p.offset), (json!(57), 57));
        let bad = PresetPagination { previous_page: Some("/next".into()), ..Default::default() };
        assert!(Pages::new(&paging, &origin).start(&mut request, &bad).unwrap_err().contains("pages by offset"));
    }

    #[test]
    fn by_url_the_next_page_is_requested_as_named() {
        let (paging, origin) =
            pages(json!({"results": "/value", "next": {"type": "url", "field": "/@odata.nextLink"}}));
        let mut p = Pages::new(&paging, &origin);
        let mut request = json!({"url": "/me/messages", "params": {"$top": 50}, "headers": {"Prefer": "x"}});
        let asked =
            PresetPagination { previous_page: Some("/v1.0/me/messages?$skiptoken=a".into()), ..Default::default() };
        p.start(&mut request, &asked).unwrap();
        assert_eq!(
            request,
            json!({"url": "https://eu1.example.test/v1.0/me/messages?$skiptoken=a", "headers": {"Prefer": "x"}}),
            "a path goes from the base URL's origin, with its own query only"
        );
        p.advance(&mut request, Next::Url("https://graph.example.test/next?$skiptoken=b".into())).unwrap();
        assert_eq!(request["url"], "https://graph.example.test/next?$skiptoken=b");
        let again = p.advance(&mut request, Next::Url("https://graph.example.test/next?$skiptoken=b".into()));
        assert!(again.unwrap_err().contains("same next page again"));
    }

    #[test]
    fn skip_leaves_out_results_across_pages_and_limit_bounds_what_is_taken() {
        let (paging, origin) =
            pages(json!({"results": "/data", "next": {"type": "cursor", "field": "/next", "param": "cursor"}}));
        let mut p = Pages::new(&paging, &origin);
        let mut request = json!({"url": "/items"});
        p.start(&mut request, &PresetPagination { skip: Some(3), ..Default::default() }).unwrap();
        assert_eq!(request, json!({"url": "/items"}), "skip is counted here, not sent");
        assert!(p.take(&[json!(1), json!(2)], 10).is_empty());
        assert_eq!(p.used_of_page, 2);
        assert_eq!(p.take(&[json!(3), json!(4), json!(5)], 1), [json!(4)]);
        assert_eq!(p.used_of_page, 2);
        p.advance(&mut request, Next::Cursor(json!(7))).unwrap();
        assert_eq!(request["params"]["cursor"], 7);
    }
}
