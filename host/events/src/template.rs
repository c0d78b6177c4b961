//! Payload templates: the body a destination receives, as a JSON document
//! whose strings may read the event with `{{$.event…}}`.
//!
//! A string that is exactly one placeholder becomes the value it reads (an
//! object stays an object, a number a number); a placeholder inside other
//! text is written into it (a string as it is, anything else as JSON text,
//! nothing for a missing value). A path is `$.event` followed by `.name`
//! or `[index]` segments. Without a template a destination receives the
//! whole event, as if its template were `"{{$.event}}"`.

use serde_json::Value;

/// One step of a path into the event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A path into the event: the segments after `$.event`.
type Path = Vec<Segment>;

/// A checked payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    document: Value,
}

impl Template {
    /// Checks `document`: every `{{…}}` in its strings must be a path into
    /// the event. The error says which placeholder is wrong and why.
    pub fn parse(document: Value) -> Result<Self, String> {
        check(&document)?;
        Ok(Self { document })
    }

    /// The body for `event`.
    pub fn render(&self, event: &Value) -> Value {
        render(&self.document, event)
    }
}

/// The body a destination with `template` receives for `event`.
pub fn render_payload(template: Option<&Value>, event: &Value) -> Value {
    match template {
        Some(t) => render(t, event),
        None => event.clone(),
    }
}

fn check(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) => pieces(s).map(drop),
        Value::Array(items) => items.iter().try_for_each(check),
        Value::Object(fields) => fields.values().try_for_each(check),
        _ => Ok(()),
    }
}

fn render(v: &Value, event: &Value) -> Value {
    match v {
        Value::String(s) => render_string(s, event),
        Value::Array(items) => Value::Array(items.iter().map(|i| render(i, event)).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), render(v, event))).collect()),
        other => other.clone(),
    }
}

/// Text or a placeholder's path.
enum Piece<'a> {
    Text(&'a str),
    Read(Path),
}

/// `s` cut into text and placeholders.
fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("`{}` opens a placeholder that is never closed", excerpt(&rest[open..])))?;
        out.push(Piece::Read(path(after[..close].trim())?));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `$.event` then `.name` / `[n]` segments.
fn path(expr: &str) -> Result<Path, String> {
    let bad = |why: &str| format!("`{{{{{expr}}}}}`: {why}; write a path such as {{{{$.event.workflow.name}}}}");
    let Some(mut rest) = expr.strip_prefix("$.event") else {
        return Err(bad("a placeholder reads the event, so it starts with `$.event`"));
    };
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                return Err(bad("a field name is letters, digits, `_` or `-`"));
            }
            segments.push(Segment::Key(name.to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| bad("`[` is not closed"))?;
            let index = after[..end].trim().parse().map_err(|_| bad("an index is a whole number"))?;
            segments.push(Segment::Index(index));
            rest = &after[end + 1..];
        } else {
            return Err(bad("fields follow a `.`, indexes sit in `[]`"));
        }
    }
    Ok(segments)
}

fn read<'a>(event: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(event, |v, s| match s {
        Segment::Key(k) => v.get(k),
        Segment::Index(i) => v.get(i),
    })
}

fn render_string(s: &str, event: &Value) -> Value {
    // Checked when the template was stored; a string that no longer
    // parses is sent as it is.
    let Ok(pieces) = pieces(s) else { return Value::String(s.to_owned()) };
    if let [Piece::Read(p)] = pieces.as_slice() {
        return read(event, p).cloned().unwrap_or(Value::Null);
    }
    let mut out = String::with_capacity(s.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Read(p) => match read(event, &p) {
                None | Some(Value::Null) => {}
                Some(Value::String(v)) => out.push_str(v),
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({"type": "workflow_failure", "message": "it failed", "workflow": {"name": "Sync"},
               "data": {"steps": [{"id": "a"}, {"id": "b"}], "n": 3}})
    }

    #[test]
    fn a_lone_placeholder_keeps_the_value_and_text_takes_it_in() {
        let t = Template::parse(json!({
            "text": "{{ $.event.message }} in {{$.event.workflow.name}} ({{$.event.data.n}}){{$.event.missing}}",
            "whole": "{{$.event.workflow}}",
            "second": ["{{$.event.data.steps[1].id}}", 7, null],
            "gone": "{{$.event.nope.deeper}}"
        }))
        .unwrap();
        assert_eq!(
            t.render(&event()),
            json!({"text": "it failed in Sync (3)", "whole": {"name": "Sync"}, "second": ["b", 7, null], "gone": null})
        );
        assert_eq!(Template::parse(json!("{{$.event}}")).unwrap().render(&event()), event());
        assert_eq!(render_payload(None, &event()), event(), "no template: the whole event");
    }

    #[test]
    fn bad_placeholders_are_refused_with_the_reason() {
        for (bad, why) in [
            ("{{$.event.message", "never closed"),
            ("{{message}}", "starts with `$.event`"),
            ("{{$.events}}", "fields follow"),
            ("{{$.event..x}}", "field name"),
            ("{{$.event.a[x]}}", "whole number"),
            ("{{$.event.a[1}}", "not closed"),
        ] {
            let e = Template::parse(json!({"k": [bad]})).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(Template::parse(json!({"plain": "no placeholders", "n": 1})).is_ok());
    }
}
