//! Tables of test cases keyed by the actions or triggers a plugin lists,
//! so that a plugin's test cannot skip one.
//!
//! A test builds a [`Cases`] table (one case per key, any case type), then
//! asks it for the cases of the keys the plugin *declares*, read from the
//! running server (`GET /actions`) or the plugin host
//! (`PluginInfo::actions` / `triggers`). [`Cases::cover`] fails the test
//! when a declared key has no case (a new action without a test) or a case
//! names a key the plugin does not declare (a renamed or removed action),
//! and hands back the cases in the plugin's order to run.
//!
//! ```no_run
//! # use weft_tests::plugin_cases::Cases;
//! # fn declared() -> Vec<String> { vec![] }
//! let cases = Cases::new("github action")
//!     .case("GITHUB_CREATE_ISSUE", serde_json::json!({"owner": "o", "repo": "r", "title": "t"}))
//!     .case("GITHUB_GET_ISSUE_BY_NUMBER", serde_json::json!({"owner": "o", "repo": "r", "issueNumber": 1}));
//! for (key, input) in cases.cover(&declared()) {
//!     // run `key` with `input` and assert on the provider mock's log
//! }
//! ```

use std::collections::BTreeMap;

/// One case per key, of any type `C`.
#[derive(Debug)]
pub struct Cases<C> {
    what: String,
    by_key: BTreeMap<String, C>,
}

impl<C> Cases<C> {
    /// An empty table; `what` names the keys in failure messages (e.g.
    /// `"hubspot action"`).
    pub fn new(what: &str) -> Self {
        Self { what: what.to_owned(), by_key: BTreeMap::new() }
    }

    /// Adds the case of `key`; a second case for one key is a test bug.
    #[track_caller]
    pub fn case(mut self, key: impl Into<String>, case: C) -> Self {
        let key = key.into();
        assert!(!self.by_key.contains_key(&key), "two cases for the {} {key}", self.what);
        self.by_key.insert(key, case);
        self
    }

    /// The cases of `declared`, in that order. Panics naming every
    /// declared key without a case and every case without a declared key.
    #[track_caller]
    pub fn cover<S: AsRef<str>>(mut self, declared: &[S]) -> Vec<(String, C)> {
        assert!(!declared.is_empty(), "the plugin declares no {}: nothing would be tested", self.what);
        let missing: Vec<&str> = declared.iter().map(AsRef::as_ref).filter(|k| !self.by_key.contains_key(*k)).collect();
        let declared_set: Vec<&str> = declared.iter().map(AsRef::as_ref).collect();
        let stale: Vec<&String> = self.by_key.keys().filter(|k| !declared_set.contains(&k.as_str())).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "{} cases do not match what the plugin declares: no case for {missing:?}; cases for undeclared {stale:?}",
            self.what
        );
        declared
            .iter()
            .map(|k| {
                let key = k.as_ref().to_owned();
                let case = self.by_key.remove(&key).expect("checked above");
                (key, case)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Cases;

    #[test]
    fn covered_keys_come_back_in_declared_order() {
        let cases = Cases::new("action").case("B", 2).case("A", 1);
        assert_eq!(cases.cover(&["A", "B"]), vec![("A".to_owned(), 1), ("B".to_owned(), 2)]);
    }

    #[test]
    #[should_panic(expected = "no case for [\"C\"]")]
    fn a_declared_key_without_a_case_fails() {
        Cases::new("action").case("A", ()).cover(&["A", "C"]);
    }

    #[test]
    #[should_panic(expected = "cases for undeclared [\"OLD\"]")]
    fn a_case_for_an_undeclared_key_fails() {
        Cases::new("action").case("A", ()).case("OLD", ()).cover(&["A"]);
    }

    #[test]
    #[should_panic(expected = "declares no trigger")]
    fn an_empty_declaration_fails() {
        Cases::<()>::new("trigger").cover::<&str>(&[]);
    }
}
