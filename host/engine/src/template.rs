//! Dynamic variables: `{{…}}` references in any string of a step's
//! settings.
//!
//! | reference | reads |
//! |---|---|
//! | `{{<stepId>.output.<path>}}` | a step's output (the trigger's id included) |
//! | `{{settings.<key>.<path>}}` | a user setting of the workflow or integration |
//! | `{{user.userId}}`, `{{user.meta.<path>}}` | the connected user |
//! | `{{secrets.<NAME>}}` | an environment secret |
//! | `{{self.pageToken}}` | a paginated request step's page token (in its request) |
//! | `{{self.output.<path>}}` | the page just fetched (in the step's `pagination`) |
//!
//! A path is `.name` steps, with `[0]` or `.0` for array items and
//! `["a name"]` for names with spaces or dots. `\{{` is a literal `{{`.
//! [`resolve`] turns a value into the step's input and the input the
//! history records, in which no secret appears.

mod parse;
mod resolve;

pub use parse::{
    MAX_SECRET_NAME_LEN, Piece, RESERVED_ROOTS, Reference, Segment, Template, TemplateError, valid_step_id,
};
pub use resolve::{Context, Resolved, resolve, resolve_operand, walk};

use serde_json::Value;

/// Calls `f` with each string of `value` that holds `{{`, and the JSON
/// Pointer of that string under `value` (`/body/0/name`); `key` is true
/// for an object key, which is never resolved.
pub fn visit_strings(value: &Value, f: &mut dyn FnMut(&str, &str, bool)) {
    fn go(value: &Value, pointer: &mut String, f: &mut dyn FnMut(&str, &str, bool)) {
        match value {
            Value::String(s) if s.contains("{{") => f(pointer, s, false),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    go(item, pointer, f);
                    pointer.truncate(len);
                }
            }
            Value::Object(fields) => {
                for (k, item) in fields {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape_pointer(k));
                    if k.contains("{{") {
                        f(pointer, k, true);
                    }
                    go(item, pointer, f);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    go(value, &mut String::new(), f);
}

/// The references of every string of `value` that parses (a definition
/// that loaded has no other): what the executor loads before resolving.
pub fn references(value: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    visit_strings(value, &mut |_, text, key| {
        if let (false, Ok(t)) = (key, Template::parse(text)) {
            out.extend(t.references().cloned());
        }
    });
    out
}

/// One JSON Pointer token (`~` and `/` escaped).
pub(crate) fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_visited_with_their_pointers() {
        let value = json!({"a/b": ["x", "{{y.output}}"], "{{k}}": 1, "c": {"d": "plain"}});
        let mut seen = Vec::new();
        visit_strings(&value, &mut |p, s, key| seen.push((p.to_owned(), s.to_owned(), key)));
        assert_eq!(
            seen,
            [("/a~1b/1".to_owned(), "{{y.output}}".to_owned(), false), ("/{{k}}".to_owned(), "{{k}}".to_owned(), true)]
        );
    }

    #[test]
    fn references_are_listed_for_loading() {
        let value = json!({"u": "{{a.output.x}}/{{secrets.K}}", "n": ["{{user.userId}}"], "bad": "{{"});
        let refs = references(&value);
        assert_eq!(refs.len(), 3);
        assert!(refs.contains(&Reference::Secret { name: "K".into() }));
        assert!(refs.contains(&Reference::UserId));
    }
}
