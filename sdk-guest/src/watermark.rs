//! A polling cursor over a timestamp: "everything after this time", plus
//! the ids already seen *at* that time, so items sharing the boundary
//! timestamp are neither lost nor repeated. Providers stamp items coarsely
//! (Notion to the minute, Salesforce to the second), so polls query from
//! the watermark inclusive (`on_or_after`, `>=`) and let [`Watermark`]
//! drop what they already returned.
//!
//! Timestamps are compared as strings: pass them in one fixed-width format
//! (the provider's own, e.g. RFC 3339 in UTC), oldest first.
//!
//! ```no_run
//! use weft_sdk::watermark::Watermark;
//! use weft_sdk::{Event, PollRequest, PollResponse, Result};
//!
//! # fn items_since(_: &str) -> Vec<(String, String, serde_json::Value)> { vec![] }
//! fn poll(req: PollRequest) -> Result<PollResponse> {
//!     let Some(mut mark) = Watermark::decode(req.cursor.as_deref())? else {
//!         // First poll: start from now (here, the newest item) without replaying history.
//!         let start = Watermark::starting_at("2024-05-01T10:00:00Z");
//!         return Ok(PollResponse::empty(Some(start.encode()?)));
//!     };
//!     let since = mark.since().to_owned();
//!     let mut events = Vec::new();
//!     for (id, at, item) in items_since(&since) {
//!         if mark.admit(&id, &at) {
//!             events.push(Event::new(req.trigger.clone(), item).dedupe_key(format!("{id}@{at}")));
//!         }
//!     }
//!     Ok(PollResponse::new(events, Some(mark.encode()?)))
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::{Result, cursor};

/// The most boundary ids a cursor keeps; past it the oldest are dropped (a
/// provider stamping more items than this in one instant repeats some).
const MAX_SEEN: usize = 500;

/// Where a timestamp-ordered poll continues; see the [module](self) docs.
///
/// ```no_run
/// let mut mark = weft_sdk::watermark::Watermark::starting_at("2024-05-01T10:00:00Z");
/// assert!(mark.admit("a", "2024-05-01T10:00:00Z")); // at the boundary, unseen
/// assert!(!mark.admit("a", "2024-05-01T10:00:00Z")); // seen
/// assert!(!mark.admit("b", "2024-05-01T09:59:00Z")); // older
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    since: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    seen: Vec<String>,
}

impl Watermark {
    /// A watermark at `since` with nothing seen there yet: items stamped
    /// `since` or later are new.
    ///
    /// ```no_run
    /// let mark = weft_sdk::watermark::Watermark::starting_at("1970-01-01T00:00:00Z");
    /// ```
    pub fn starting_at(since: impl Into<String>) -> Self {
        Self { since: since.into(), seen: Vec::new() }
    }

    /// A watermark after `since` and `seen_ids`, which were stamped `since`
    /// and already returned: a first poll that starts from the newest item.
    ///
    /// ```no_run
    /// let mark = weft_sdk::watermark::Watermark::after("2024-05-01T10:00:00Z", ["006xx01"]);
    /// ```
    pub fn after<S: Into<String>>(since: impl Into<String>, seen_ids: impl IntoIterator<Item = S>) -> Self {
        Self { since: since.into(), seen: seen_ids.into_iter().map(Into::into).collect() }
    }

    /// The timestamp to query from, inclusive.
    ///
    /// ```no_run
    /// # let mark = weft_sdk::watermark::Watermark::starting_at("2024-05-01T10:00:00Z");
    /// let filter = format!("SystemModstamp >= {}", mark.since());
    /// ```
    pub fn since(&self) -> &str {
        &self.since
    }

    /// Whether the item `id` stamped `at` is new, and if so moves the
    /// watermark past it. Feed items oldest first.
    ///
    /// ```no_run
    /// # let mut mark = weft_sdk::watermark::Watermark::starting_at("2024-05-01T10:00:00Z");
    /// if mark.admit("page-1", "2024-05-01T10:01:00Z") { /* emit it */ }
    /// ```
    pub fn admit(&mut self, id: &str, at: &str) -> bool {
        match at.cmp(self.since.as_str()) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => {
                if self.seen.iter().any(|s| s == id) {
                    return false;
                }
                self.seen.push(id.to_owned());
                if self.seen.len() > MAX_SEEN {
                    self.seen.remove(0);
                }
                true
            }
            std::cmp::Ordering::Greater => {
                self.since = at.to_owned();
                self.seen = vec![id.to_owned()];
                true
            }
        }
    }

    /// The cursor string to return from `poll`.
    ///
    /// ```no_run
    /// # fn f() -> weft_sdk::Result<()> {
    /// let cursor = weft_sdk::watermark::Watermark::starting_at("2024-05-01T10:00:00Z").encode()?;
    /// # Ok(()) }
    /// ```
    pub fn encode(&self) -> Result<String> {
        cursor::encode(self)
    }

    /// The watermark of a cursor `encode` produced; `None` on the first poll.
    ///
    /// ```no_run
    /// # fn f(req: weft_sdk::PollRequest) -> weft_sdk::Result<()> {
    /// let mark = weft_sdk::watermark::Watermark::decode(req.cursor.as_deref())?;
    /// # Ok(()) }
    /// ```
    pub fn decode(cursor: Option<&str>) -> Result<Option<Self>> {
        cursor::decode(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_items_are_neither_lost_nor_repeated() {
        let mut mark = Watermark::starting_at("t1");
        assert!(mark.admit("a", "t1"));
        assert!(mark.admit("b", "t2"));
        let again = Watermark::decode(Some(&mark.encode().unwrap())).unwrap().unwrap();
        assert_eq!(again, mark);
        let mut next = again;
        // The next poll asks from t2 inclusive: b again, and c stamped t2 too.
        assert!(!next.admit("b", "t2"));
        assert!(next.admit("c", "t2"));
        assert!(!next.admit("a", "t1"));
        assert_eq!((next.since(), next.seen.len()), ("t2", 2));
        assert_eq!(Watermark::decode(None).unwrap(), None);
    }
}
