//! Custom pagination of Request and Integration Request steps: the step's
//! request is sent once per page, all inside the one step execution (a
//! worker holds it, its lease renewed), the next page's token going where
//! the request says `{{self.pageToken}}`, until the step's stop condition
//! holds on the page just fetched. The output is every page's results in
//! order (`response.results`), with the last page's `statusCode` and
//! `headers`.
//!
//! Once a page has been fetched, nothing fails the step but its size: a
//! later page that fails, a page with no next token (or the same token
//! again) while the stop condition does not hold, and `max_pages` end the
//! step with the results so far and `response.error`. A rate-limited page
//! is sent again after a backoff first. Only the first page's failure is
//! the step's, as without pagination (auto-retry, rate-limit pauses and
//! `continueWorkflowOnError` apply): there is nothing yet to keep.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Map, Value, json};
use weft_store::ClaimedStep;

use super::{Engine, execute, jittered, now};
use crate::definition::Pagination;
use crate::plan::Plan;
use crate::template::{Context, Reference, Resolved, Template, resolve, resolve_operand};

/// The request fields that may hold the page token alone, and are left out
/// of the first page's request when they do.
const TOKEN_FIELDS: [&str; 3] = ["params", "headers", "body"];

/// The first page's input: the step's request fields resolved without a
/// token. What the history records adds the `pagination` as written.
pub(super) fn first_input(templated: &Value, cx: &dyn Context) -> crate::Result<Resolved> {
    let page = PageContext { inner: cx, token: None, page: None };
    let mut resolved = resolve(&request_fields(templated, None), &page)?;
    if let (Some(recorded), Some(pagination)) = (resolved.recorded.as_object_mut(), templated.get("pagination")) {
        recorded.insert("pagination".into(), pagination.clone());
    }
    Ok(resolved)
}

/// The step's templated settings as one page's request: `pagination` left
/// out and, with no token (the first page), every parameter, header or body
/// field whose whole value is `{{self.pageToken}}` (an API's first page
/// usually wants no cursor at all, rather than an empty one).
fn request_fields(templated: &Value, token: Option<&Value>) -> Value {
    let mut fields = templated.clone();
    if let Some(object) = fields.as_object_mut() {
        object.remove("pagination");
        if token.is_none() {
            object.retain(|k, v| !(TOKEN_FIELDS.contains(&k.as_str()) && is_token(v)));
            for field in TOKEN_FIELDS {
                if let Some(value) = object.get_mut(field) {
                    drop_tokens(value);
                }
            }
        }
    }
    fields
}

fn drop_tokens(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, v| !is_token(v));
            fields.values_mut().for_each(drop_tokens);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_tokens),
        _ => {}
    }
}

fn is_token(value: &Value) -> bool {
    value.as_str().and_then(|s| Template::parse(s).ok()).is_some_and(|t| t.single() == Some(&Reference::PageToken))
}

/// What a page's templates read: the step's context, the page's token
/// and, once fetched, the page.
struct PageContext<'a> {
    inner: &'a dyn Context,
    token: Option<&'a Value>,
    page: Option<&'a Value>,
}

impl Context for PageContext<'_> {
    fn output(&self, step: &str) -> Option<&Value> {
        self.inner.output(step)
    }
    fn setting(&self, key: &str) -> Option<&Value> {
        self.inner.setting(key)
    }
    fn user_id(&self) -> Option<&str> {
        self.inner.user_id()
    }
    fn user_meta(&self) -> Option<&Value> {
        self.inner.user_meta()
    }
    fn secret(&self, name: &str) -> Option<&SecretString> {
        self.inner.secret(name)
    }
    fn page_token(&self) -> Option<&Value> {
        self.token
    }
    fn page(&self) -> Option<&Value> {
        self.page
    }
}

/// One paginated step as it runs.
pub(super) struct Pager<'a> {
    pub(super) engine: &'a Engine,
    pub(super) plan: &'a Plan,
    pub(super) step: &'a ClaimedStep,
    pub(super) pagination: &'a Pagination,
    /// The step's templated settings ([`crate::Step::templated`]).
    pub(super) templated: &'a Value,
    /// What they read.
    pub(super) cx: &'a (dyn Context + Sync),
}

/// The pages so far.
#[derive(Default)]
struct Gathered {
    results: Vec<Value>,
    /// Bytes of JSON of `results`.
    size: u64,
    /// Pages fetched.
    pages: u32,
    /// The last page's `statusCode` and `headers`.
    last: Map<String, Value>,
    /// Tokens sent so far.
    tokens: HashSet<String>,
}

/// What comes after a page.
enum After {
    Stop,
    Next(Value),
    Failed(String),
}

impl Pager<'_> {
    /// Fetches every page, starting with `first` (the first page's input):
    /// the step's output or error, and the pages fetched (its tasks).
    pub(super) async fn run(&self, first: Value) -> (Result<Value, (Value, bool)>, u32) {
        let mut got = Gathered::default();
        let mut input = first;
        let mut token: Option<Value> = None;
        let error = loop {
            let page = match self.fetch(&input, got.pages).await {
                Ok(page) => page,
                Err(failed) if got.pages == 0 => return (Err(failed), 0),
                Err((error, _)) => break Some(error),
            };
            got.pages += 1;
            let next = match self.after(&page, token.as_ref(), &mut got) {
                After::Stop => break None,
                After::Failed(message) => break Some(json!({ "message": message })),
                After::Next(next) => next,
            };
            match self.next_input(&next, got.pages) {
                Ok(next_input) => input = next_input,
                Err(message) => break Some(json!({ "message": message })),
            }
            token = Some(next);
        };
        (Ok(paged_output(std::mem::take(&mut got.last), got.results, error)), got.pages)
    }

    /// Takes in the page just fetched (fetched with `token`): its results,
    /// then whether to stop or the next page's token.
    fn after(&self, page: &Value, token: Option<&Value>, got: &mut Gathered) -> After {
        let p = self.pagination;
        let n = got.pages;
        let cx = PageContext { inner: self.cx, token, page: Some(page) };
        match resolve_operand(&Value::String(p.output_path.clone()), &cx) {
            Ok(None | Some(Value::Null)) => {}
            Ok(Some(Value::Array(items))) => {
                got.size += items.iter().map(|i| execute::json_size(i) + 1).sum::<u64>();
                got.results.extend(items);
            }
            Ok(Some(other)) => {
                let kind = execute::kind_of(Some(&other));
                return After::Failed(format!("page {n}: `outputPath` ({}) is {kind}, not an array", p.output_path));
            }
            Err(e) => return After::Failed(format!("page {n}: `outputPath`: {e}")),
        }
        for field in ["statusCode", "headers"] {
            if let Some(value) = page.get("response").and_then(|r| r.get(field)) {
                got.last.insert(field.into(), value.clone());
            }
        }
        if got.size > self.engine.deps.settings.max_step_bytes {
            // Past the size limit: the step's size check fails it.
            return After::Stop;
        }
        match p.stop_condition.evaluate(&cx) {
            Ok(true) => return After::Stop,
            Ok(false) => {}
            Err(e) => return After::Failed(format!("page {n}: `stopCondition`: {e}")),
        }
        let next = match resolve_operand(&Value::String(p.page_token.clone()), &cx) {
            Ok(Some(next)) if !matches!(&next, Value::Null) && next != json!("") => next,
            Ok(_) => {
                return After::Failed(format!(
                    "page {n} has no next page token at `pageToken` ({}) but `stopCondition` does not hold",
                    p.page_token
                ));
            }
            Err(e) => return After::Failed(format!("page {n}: `pageToken`: {e}")),
        };
        if !got.tokens.insert(next.to_string()) {
            return After::Failed(format!(
                "page {n} gave the page token {next} again; stopped rather than fetch the same pages for ever"
            ));
        }
        let max = self.engine.deps.settings.max_pages;
        if n >= max {
            return After::Failed(format!("stopped after {n} pages (workflows.max_pages) with more to fetch"));
        }
        After::Next(next)
    }

    /// The request of the page after page `n`, asking for `token`.
    fn next_input(&self, token: &Value, n: u32) -> Result<Value, String> {
        if !self.time_for(Duration::ZERO) {
            return Err(format!(
                "stopped after {n} pages: the step would pass its deadline (workflows.step_deadline_ms) \
                 before another page came"
            ));
        }
        let cx = PageContext { inner: self.cx, token: Some(token), page: None };
        let input = resolve(&request_fields(self.templated, Some(token)), &cx)
            .map_err(|e| format!("page {}: {e}", n + 1))?
            .input;
        match execute::over_limit(&self.step.step, "input", &input, self.engine.deps.settings.max_step_bytes) {
            Some(message) => Err(format!("page {}: {message}", n + 1)),
            None => Ok(input),
        }
    }

    async fn fetch(&self, input: &Value, n: u32) -> Result<Value, (Value, bool)> {
        fetch_page(self.engine, self.plan, self.step, input, n).await
    }

    fn time_for(&self, wait: Duration) -> bool {
        time_for(self.engine, self.step, wait)
    }
}

/// A paginated step's output: `response` with the last page's fields
/// (`statusCode`, `headers`, ...), every page's `results` and the `error`
/// that ended it, if one did.
pub(super) fn paged_output(mut response: Map<String, Value>, results: Vec<Value>, error: Option<Value>) -> Value {
    response.insert("results".into(), Value::Array(results));
    if let Some(error) = error {
        response.insert("error".into(), error);
    }
    json!({ "response": response })
}

/// Sends page `n`'s (from 0) request of a paginated `step`. A later page
/// that is rate limited (a 429, or the governor's known budget) is sent
/// again after the longer of the provider's window and a backoff
/// (`retry_base`, doubling), at most `max_retries` times; the first page's
/// rate limit is the step's, which pauses in the queue instead.
pub(super) async fn fetch_page(
    engine: &Engine,
    plan: &Plan,
    step: &ClaimedStep,
    input: &Value,
    n: u32,
) -> Result<Value, (Value, bool)> {
    let s = &engine.deps.settings;
    let as_page = page_step(step, n);
    let mut retries = 0;
    loop {
        let result = execute::fetch(engine, plan, &as_page, input).await;
        let Err((error, _)) = &result else { return result };
        let Some(window) = execute::rate_limited(error).filter(|_| n > 0 && retries < s.max_retries) else {
            return result;
        };
        let backoff = jittered(s.retry_base.saturating_mul(1u32 << retries.min(16)));
        let wait = window.max(backoff).min(s.max_pause);
        if !time_for(engine, step, wait) {
            return result;
        }
        tracing::debug!(step = %step.step, page = n + 1, ?wait, "a rate-limited page waits");
        tokio::time::sleep(wait).await;
        retries += 1;
    }
}

/// The step as page `n` (from 0) sends it: each page has an idempotency
/// key of its own (a provider must not answer page 2 with page 1's answer),
/// the first the step's.
fn page_step(step: &ClaimedStep, n: u32) -> Cow<'_, ClaimedStep> {
    if n == 0 {
        return Cow::Borrowed(step);
    }
    let mut step = step.clone();
    step.idempotency_key = format!("{}:page-{}", step.idempotency_key, n + 1);
    Cow::Owned(step)
}

/// Whether waiting `wait`, then a request taking all its time, still ends
/// before the step's deadline (past it, its lease is lost and the step
/// restarts from the first page).
pub(super) fn time_for(engine: &Engine, step: &ClaimedStep, wait: Duration) -> bool {
    let left = step.lease.deadline - now();
    let need = wait.saturating_add(engine.deps.settings.request_timeout);
    time::Duration::try_from(need).is_ok_and(|need| need < left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_leaves_out_fields_that_are_only_the_token() {
        let templated = json!({
            "url": "https://api.test/items?after={{self.pageToken}}",
            "params": {"cursor": "{{self.pageToken}}", "limit": 2},
            "headers": {"X-Cursor": "{{ self.pageToken }}", "X-Team": "a"},
            "body": {"page": {"cursor": "{{self.pageToken}}", "n": "{{self.pageToken}}x"}},
            "pagination": {"outputPath": "{{self.output.response.body.items}}"}
        });
        let first = request_fields(&templated, None);
        assert_eq!(
            first,
            json!({
                "url": "https://api.test/items?after={{self.pageToken}}",
                "params": {"limit": 2},
                "headers": {"X-Team": "a"},
                "body": {"page": {"n": "{{self.pageToken}}x"}}
            })
        );
        let mut later = templated.clone();
        later.as_object_mut().unwrap().remove("pagination");
        assert_eq!(request_fields(&templated, Some(&json!("c2"))), later);
        let raw = json!({"body": "{{self.pageToken}}", "bodyType": "raw"});
        assert_eq!(request_fields(&raw, None), json!({"bodyType": "raw"}));
    }
}
