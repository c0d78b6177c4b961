//! Input checks shared by several kinds of rows.

use crate::{Error, Result};

/// A human-facing name or identifier: non-empty, at most `max` characters,
/// no control characters (they break logs and UIs). Not trimmed: an id such
/// as a token's `sub` must be stored exactly as given.
pub(crate) fn label<'a>(what: &str, value: &'a str, max: usize) -> Result<&'a str> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(format!("{what} must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!("{what} must not contain control characters")));
    }
    Ok(value)
}

/// Longest serialized JSON document accepted in a JSON column (metadata,
/// payload examples, overrides): large enough for any sane use, small
/// enough that a single row cannot balloon the database.
pub(crate) const MAX_JSON_BYTES: usize = 64 * 1024;

/// Rejects JSON documents over [`MAX_JSON_BYTES`].
pub(crate) fn json_size(what: &str, value: &impl serde::Serialize) -> Result<()> {
    let size = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_JSON_BYTES {
        return Err(Error::invalid(format!("{what} is {size} bytes of JSON; at most {MAX_JSON_BYTES} are accepted")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked_but_not_trimmed() {
        assert_eq!(label("x", " a ", 10).ok(), Some(" a "));
        assert!(label("x", "  ", 10).is_err());
        assert!(label("x", "abc", 2).is_err());
        assert!(label("x", "a\u{7}", 10).is_err());
    }

    #[test]
    fn oversized_json_is_refused() {
        assert!(json_size("m", &serde_json::json!({"a": "b"})).is_ok());
        let big = serde_json::json!({"a": "x".repeat(MAX_JSON_BYTES)});
        assert!(matches!(json_size("m", &big), Err(Error::Invalid(_))));
    }
}
