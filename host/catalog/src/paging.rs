//! A provider's pre-configured pagination: where one page of a list
//! endpoint's answer holds its results, and how the page after it is asked
//! for. An Integration Request step with `pagination` but no custom
//! `outputPath` pages this way (the workflow engine sends the requests);
//! this module only reads pages. Pure.
//!
//! Fields are JSON Pointers into the answer's JSON body (`/records`,
//! `/@odata.nextLink`, `/next_page/offset`): provider field names hold dots.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a provider's list endpoints page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Paging {
    /// Where a page's results are, an array: `/records`, `/data`, `/value`.
    pub results: String,
    /// How the page after this one is asked for.
    pub next: NextPage,
    /// A boolean that is `true` on the last page (Salesforce's `/done`);
    /// without it, the last page is the one that names no next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_page: Option<String>,
}

/// How the next page is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum NextPage {
    /// The answer names the next page's URL (`/nextRecordsUrl`,
    /// `/@odata.nextLink`): absolute, or a path from the base URL's origin.
    /// It is requested as it is, without the step's query parameters.
    Url {
        /// Where the URL is.
        field: String,
    },
    /// The answer holds a cursor (`/next_page/offset`), sent as query
    /// parameter `param` of the same request.
    Cursor {
        /// Where the cursor is.
        field: String,
        /// The query parameter that takes it.
        param: String,
    },
    /// The position of the first record, sent as query parameter `param`
    /// (`startAt`), moved on by each page's count of results; an empty page
    /// is the last.
    Offset {
        /// The query parameter that takes it.
        param: String,
    },
}

/// What a page says comes after it.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// This was the last page.
    Done,
    /// The next page's URL, as the answer wrote it.
    Url(String),
    /// The next page's cursor.
    Cursor(Value),
    /// The position of the next page's first record.
    Offset(u64),
}

impl Paging {
    /// Checks the pointers; a message naming the field otherwise.
    pub fn check(&self) -> Result<(), String> {
        let pointer = |name: &str, p: &str| {
            if p.is_empty() || p.starts_with('/') {
                Ok(())
            } else {
                Err(format!("pagination.{name} must be a JSON Pointer such as \"/records\", not {p:?}"))
            }
        };
        pointer("results", &self.results)?;
        if let Some(last) = &self.last_page {
            pointer("lastPage", last)?;
        }
        match &self.next {
            NextPage::Url { field } => pointer("next.field", field),
            NextPage::Cursor { field, param } => {
                pointer("next.field", field)?;
                non_empty("next.param", param)
            }
            NextPage::Offset { param } => non_empty("next.param", param),
        }
    }

    /// Reads one page's answer `body`, fetched at `offset` (the position
    /// of its first record; 0 but for [`NextPage::Offset`]): its results,
    /// and what comes after it.
    pub fn read<'a>(&self, body: &'a Value, offset: u64) -> Result<(&'a [Value], Next), String> {
        let results = match body.pointer(&self.results) {
            Some(Value::Array(items)) => items.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err(format!("the page's {} is not an array", shown(&self.results))),
        };
        if let Some(last) = &self.last_page
            && body.pointer(last).and_then(Value::as_bool) == Some(true)
        {
            return Ok((results, Next::Done));
        }
        let present = |field: &str| body.pointer(field).filter(|v| !v.is_null() && *v != "");
        let next = match &self.next {
            NextPage::Url { field } => match present(field) {
                Some(Value::String(url)) => Next::Url(url.clone()),
                Some(_) => return Err(format!("the page's {} is not a URL", shown(field))),
                None => Next::Done,
            },
            NextPage::Cursor { field, .. } => present(field).map_or(Next::Done, |c| Next::Cursor(c.clone())),
            NextPage::Offset { .. } if results.is_empty() => Next::Done,
            NextPage::Offset { .. } => Next::Offset(offset + results.len() as u64),
        };
        Ok((results, next))
    }
}

fn non_empty(name: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() { Err(format!("pagination.{name} must not be empty")) } else { Ok(()) }
}

fn shown(pointer: &str) -> String {
    if pointer.is_empty() { "whole body".into() } else { format!("`{pointer}`") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn salesforce() -> Paging {
        serde_json::from_value(json!({
            "results": "/records",
            "next": {"type": "url", "field": "/nextRecordsUrl"},
            "lastPage": "/done",
        }))
        .unwrap()
    }

    #[test]
    fn a_page_gives_its_results_and_what_follows() {
        let p = salesforce();
        let page = json!({"done": false, "records": [1, 2], "nextRecordsUrl": "/services/data/v62.0/query/01g-2000"});
        let (results, next) = p.read(&page, 0).unwrap();
        assert_eq!(
            (results, next),
            (&[json!(1), json!(2)][..], Next::Url("/services/data/v62.0/query/01g-2000".into()))
        );
        let last = json!({"done": true, "records": [3], "nextRecordsUrl": "/ignored"});
        assert_eq!(p.read(&last, 0).unwrap().1, Next::Done, "the last-page flag wins");
        assert_eq!(p.read(&json!({"records": []}), 0).unwrap().1, Next::Done, "no next URL: done");

        let asana: Paging = serde_json::from_value(json!({
            "results": "/data", "next": {"type": "cursor", "field": "/next_page/offset", "param": "offset"},
        }))
        .unwrap();
        let page = json!({"data": [{"gid": "1"}], "next_page": {"offset": "eyJ0"}});
        assert_eq!(asana.read(&page, 0).unwrap().1, Next::Cursor(json!("eyJ0")));
        assert_eq!(asana.read(&json!({"data": [], "next_page": null}), 0).unwrap().1, Next::Done);

        let jira: Paging =
            serde_json::from_value(json!({"results": "/issues", "next": {"type": "offset", "param": "startAt"}}))
                .unwrap();
        assert_eq!(jira.read(&json!({"issues": [1, 2, 3]}), 50).unwrap().1, Next::Offset(53));
        assert_eq!(jira.read(&json!({"issues": []}), 53).unwrap().1, Next::Done);
    }

    #[test]
    fn mistakes_are_named() {
        let p = salesforce();
        assert!(p.read(&json!({"records": {"a": 1}}), 0).unwrap_err().contains("`/records` is not an array"));
        assert!(p.read(&json!({"records": [], "nextRecordsUrl": 5}), 0).unwrap_err().contains("not a URL"));
        let mut bad = salesforce();
        bad.results = "records".into();
        assert!(bad.check().unwrap_err().contains("JSON Pointer"));
        assert!(salesforce().check().is_ok());
        let empty = Paging { next: NextPage::Offset { param: " ".into() }, ..salesforce() };
        assert!(empty.check().unwrap_err().contains("next.param"));
    }
}
