//! Resolving dynamic variables against an execution's data.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::parse::{Piece, Reference, Segment, Template};
use crate::{Error, Result};

/// What references read, as the running step sees it. The executor loads
/// what a step's references need (see [`super::references`]) and answers
/// from memory: resolution is synchronous and does no I/O.
pub trait Context {
    /// The output of `step`: for a step of the same fan-out instance or of
    /// an enclosing one, its stored output; for an enclosing fan-out,
    /// `{"instance": <this instance's item>}` (see
    /// [`crate::plan::Plan::locate`]). `None` when it has not run (a step
    /// of a conditional branch not taken).
    fn output(&self, step: &str) -> Option<&Value>;
    /// A user setting of the workflow or its integration.
    fn setting(&self, key: &str) -> Option<&Value>;
    /// The connected user's id.
    fn user_id(&self) -> Option<&str>;
    /// The connected user's metadata.
    fn user_meta(&self) -> Option<&Value>;
    /// An environment secret's value.
    fn secret(&self, name: &str) -> Option<&SecretString>;
    /// The token of the page a paginated request step asks for
    /// (`{{self.pageToken}}`); `None` on the first page and elsewhere.
    fn page_token(&self) -> Option<&Value> {
        None
    }
    /// The page a paginated request step just fetched
    /// (`{{self.output…}}`); `None` elsewhere.
    fn page(&self) -> Option<&Value> {
        None
    }
}

/// A resolved value, twice.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// What the step is called with: every reference replaced.
    pub input: Value,
    /// What the task history stores: the same, except that each string
    /// that used a secret keeps its template text, so a secret is never
    /// stored or logged in clear.
    pub recorded: Value,
}

/// Resolves every string of `value` (object keys are left as they are).
///
/// A string that is exactly one reference becomes the referenced value,
/// of its JSON type (`null` when it is missing); in other strings each
/// reference is replaced by its text: strings as they are, objects and
/// arrays as compact JSON, `null` and missing values as nothing. A
/// referenced secret with no value is an error ([`Error::MissingSecret`]):
/// the call would go out without its credentials.
pub fn resolve(value: &Value, cx: &dyn Context) -> Result<Resolved> {
    Ok(match value {
        Value::String(text) => {
            let template = Template::parse(text)?;
            let input = match template.single() {
                Some(reference) => lookup(reference, cx)?.unwrap_or(Value::Null),
                None => Value::String(interpolate(&template, cx)?),
            };
            let secret = template.references().any(|r| matches!(r, Reference::Secret { .. }));
            let recorded = if secret { value.clone() } else { input.clone() };
            Resolved { input, recorded }
        }
        Value::Array(items) => {
            let (mut input, mut recorded) = (Vec::with_capacity(items.len()), Vec::with_capacity(items.len()));
            for item in items {
                let r = resolve(item, cx)?;
                input.push(r.input);
                recorded.push(r.recorded);
            }
            Resolved { input: Value::Array(input), recorded: Value::Array(recorded) }
        }
        Value::Object(fields) => {
            let (mut input, mut recorded) = (Map::new(), Map::new());
            for (key, item) in fields {
                let r = resolve(item, cx)?;
                input.insert(key.clone(), r.input);
                recorded.insert(key.clone(), r.recorded);
            }
            Resolved { input: Value::Object(input), recorded: Value::Object(recorded) }
        }
        other => Resolved { input: other.clone(), recorded: other.clone() },
    })
}

/// Resolves one operand of a condition, telling a missing value (`None`)
/// from `null`: `exists` and `doesNotExist` need the difference.
pub fn resolve_operand(value: &Value, cx: &dyn Context) -> Result<Option<Value>> {
    if let Value::String(text) = value {
        let template = Template::parse(text)?;
        if let Some(reference) = template.single() {
            return lookup(reference, cx);
        }
    }
    resolve(value, cx).map(|r| Some(r.input))
}

/// The value a reference names, if there is one.
fn lookup(reference: &Reference, cx: &dyn Context) -> Result<Option<Value>> {
    Ok(match reference {
        Reference::Output { step, path } => cx.output(step).and_then(|v| walk(v, path)).cloned(),
        Reference::Setting { key, path } => cx.setting(key).and_then(|v| walk(v, path)).cloned(),
        Reference::UserId => cx.user_id().map(|id| Value::String(id.into())),
        Reference::UserMeta { path } => cx.user_meta().and_then(|v| walk(v, path)).cloned(),
        Reference::Secret { name } => {
            let secret = cx.secret(name).ok_or_else(|| Error::MissingSecret(name.clone()))?;
            Some(Value::String(secret.expose_secret().to_owned()))
        }
        Reference::PageToken => cx.page_token().cloned(),
        Reference::Page { path } => cx.page().and_then(|v| walk(v, path)).cloned(),
    })
}

/// Follows `path` into `value`. A name of digits also indexes an array and
/// an index also names an object's field, so `.items.0` and `items[0]`
/// read the same.
pub fn walk<'v>(mut value: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    for segment in path {
        value = match (value, segment) {
            (Value::Object(o), Segment::Key(k)) => o.get(k)?,
            (Value::Object(o), Segment::Index(i)) => o.get(&i.to_string())?,
            (Value::Array(a), Segment::Index(i)) => a.get(*i)?,
            (Value::Array(a), Segment::Key(k)) => a.get(k.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn interpolate(template: &Template, cx: &dyn Context) -> Result<String> {
    let mut out = String::new();
    for piece in &template.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Ref(reference, _) => match lookup(reference, cx)? {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => out.push_str(&s),
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Data {
        outputs: HashMap<String, Value>,
        settings: HashMap<String, Value>,
        user: Option<String>,
        meta: Option<Value>,
        secrets: HashMap<String, SecretString>,
        token: Option<Value>,
        page: Option<Value>,
    }

    impl Context for Data {
        fn output(&self, step: &str) -> Option<&Value> {
            self.outputs.get(step)
        }
        fn setting(&self, key: &str) -> Option<&Value> {
            self.settings.get(key)
        }
        fn user_id(&self) -> Option<&str> {
            self.user.as_deref()
        }
        fn user_meta(&self) -> Option<&Value> {
            self.meta.as_ref()
        }
        fn secret(&self, name: &str) -> Option<&SecretString> {
            self.secrets.get(name)
        }
        fn page_token(&self) -> Option<&Value> {
            self.token.as_ref()
        }
        fn page(&self) -> Option<&Value> {
            self.page.as_ref()
        }
    }

    fn data() -> Data {
        let mut d = Data::default();
        d.outputs.insert("trigger".into(), json!({"email": "a@b.test", "n": 3, "items": [{"id": 7}], "none": null}));
        d.outputs.insert("fan".into(), json!({"instance": {"name": "x"}}));
        d.settings.insert("channel".into(), json!({"id": "C1"}));
        d.user = Some("user-1".into());
        d.meta = Some(json!({"Email": "u@app.test"}));
        d.secrets.insert("API_KEY".into(), SecretString::from("s3cr3t"));
        d
    }

    #[test]
    fn a_single_reference_keeps_its_type() {
        let d = data();
        let r = resolve(&json!({"n": "{{trigger.output.n}}", "items": "{{trigger.output.items}}"}), &d).unwrap();
        assert_eq!(r.input, json!({"n": 3, "items": [{"id": 7}]}));
        assert_eq!(r.recorded, r.input);
        let r = resolve(&json!(["{{trigger.output.items.0.id}}", "{{trigger.output.items[0].id}}"]), &d).unwrap();
        assert_eq!(r.input, json!([7, 7]));
        let r = resolve(&json!(["{{trigger.output.nope}}", "{{ghost.output}}", "{{fan.output.instance}}"]), &d);
        assert_eq!(r.unwrap().input, json!([null, null, {"name": "x"}]));
    }

    #[test]
    fn mixed_text_interpolates() {
        let d = data();
        let text = json!(
            "{{user.userId}} <{{user.meta.Email}}> {{trigger.output.items}} n={{trigger.output.n}}\
                          {{trigger.output.none}}{{trigger.output.nope}} #{{settings.channel.id}}"
        );
        let r = resolve(&text, &d).unwrap();
        assert_eq!(r.input, json!("user-1 <u@app.test> [{\"id\":7}] n=3 #C1"));
    }

    #[test]
    fn secrets_are_used_but_never_recorded() {
        let d = data();
        let value = json!({
            "headers": {"Authorization": "Bearer {{secrets.API_KEY}}", "X-User": "{{user.userId}}"},
            "token": "{{secrets.API_KEY}}",
            "n": 1
        });
        let r = resolve(&value, &d).unwrap();
        assert_eq!(r.input["headers"]["Authorization"], "Bearer s3cr3t");
        assert_eq!(r.input["token"], "s3cr3t");
        assert_eq!(
            r.recorded,
            json!({
                "headers": {"Authorization": "Bearer {{secrets.API_KEY}}", "X-User": "user-1"},
                "token": "{{secrets.API_KEY}}",
                "n": 1
            })
        );
        assert!(!r.recorded.to_string().contains("s3cr3t"));
        let e = resolve(&json!("{{secrets.OTHER}}"), &d).unwrap_err();
        assert!(matches!(&e, Error::MissingSecret(n) if n == "OTHER"), "{e}");
    }

    #[test]
    fn keys_are_not_templates_and_values_are_resolved_once() {
        let mut d = data();
        d.outputs.insert("echo".into(), json!({"text": "{{secrets.API_KEY}}"}));
        let r = resolve(&json!({"{{user.userId}}": "{{echo.output.text}}"}), &d).unwrap();
        assert_eq!(r.input, json!({"{{user.userId}}": "{{secrets.API_KEY}}"}));
    }

    #[test]
    fn operands_tell_missing_from_null() {
        let d = data();
        assert_eq!(resolve_operand(&json!("{{trigger.output.none}}"), &d).unwrap(), Some(Value::Null));
        assert_eq!(resolve_operand(&json!("{{trigger.output.nope}}"), &d).unwrap(), None);
        assert_eq!(resolve_operand(&json!("n={{trigger.output.nope}}"), &d).unwrap(), Some(json!("n=")));
        assert_eq!(resolve_operand(&json!(5), &d).unwrap(), Some(json!(5)));
    }

    #[test]
    fn page_references_read_the_token_and_the_page_when_there_is_one() {
        let mut d = data();
        let value =
            json!({"cursor": "{{self.pageToken}}", "q": "after={{self.pageToken}}", "n": "{{self.output.next}}"});
        let r = resolve(&value, &d).unwrap();
        assert_eq!(r.input, json!({"cursor": null, "q": "after=", "n": null}));
        d.token = Some(json!(40));
        d.page = Some(json!({"next": "c2"}));
        let r = resolve(&value, &d).unwrap();
        assert_eq!(r.input, json!({"cursor": 40, "q": "after=40", "n": "c2"}));
        assert_eq!(resolve_operand(&json!("{{self.output.gone}}"), &d).unwrap(), None);
    }

    #[test]
    fn an_invalid_template_is_an_error() {
        assert!(matches!(resolve(&json!("{{oops"), &data()), Err(Error::Template(_))));
    }

    proptest! {
        #[test]
        fn text_without_references_is_unchanged(text in "[^{\\\\]{0,40}") {
            let r = resolve(&json!(text), &data()).unwrap();
            prop_assert_eq!(&r.input, &json!(text));
            prop_assert_eq!(r.recorded, r.input);
        }

        #[test]
        fn recorded_values_never_hold_the_secret(prefix in "[a-z ]{0,10}", suffix in "[a-z ]{0,10}") {
            let text = format!("{prefix}{{{{secrets.API_KEY}}}}{suffix}");
            let r = resolve(&json!({"a": [text.clone()]}), &data()).unwrap();
            prop_assert_eq!(&r.input["a"][0], &json!(format!("{prefix}s3cr3t{suffix}")));
            prop_assert_eq!(&r.recorded["a"][0], &json!(text));
        }
    }
}
