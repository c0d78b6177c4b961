//! A webhook's handshake: the request some providers send to a new hook's
//! URL before any event, which must be answered in a set way (echo a
//! `validationToken` query parameter, a `challenge` field or a header) to
//! prove the URL is listening. It is recognised by a query parameter, a
//! header or a payload field, answered from the definition, and starts
//! nothing. Its answer may also *persist* values of the request (a signing
//! secret the provider hands over with it, as Asana's `X-Hook-Secret`):
//! kept sealed with the subscription the request came for, and readable
//! later as `{{persisted.<name>}}` by the unsubscribe request, and as the
//! verification key (`secret: {persisted: <name>}`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RenderError, fill_json, http_name, interpolate, variables};

/// How a handshake request is recognised and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Handshake {
    /// What marks a handshake.
    pub when: HandshakeMatch,
    /// The answer.
    #[serde(default)]
    pub response: HandshakeResponse,
}

/// What marks a handshake: exactly one of a query parameter, a header or a
/// payload field (optionally with the value it must have).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HandshakeMatch {
    /// A query parameter the request has (`validationToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A header the request has (`X-Hook-Secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A JSON Pointer into the payload (`/type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value `field` must hold (`url_verification`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
}

/// The answer to a handshake. Strings may read the request:
/// `{{request.query.<name>}}`, `{{request.headers.<lower-case name>}}`,
/// `{{request.body.<field>}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HandshakeResponse {
    /// A 2xx status; 200 unless said otherwise.
    #[serde(default = "ok")]
    pub status: u16,
    /// Headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A string is sent as text, anything else as JSON; none, no body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Values of the request to keep, by name (`{"secret":
    /// "{{request.headers.x-hook-secret}}"}`), read later as
    /// `{{persisted.<name>}}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub persist: BTreeMap<String, String>,
}

impl Default for HandshakeResponse {
    fn default() -> Self {
        Self { status: ok(), headers: BTreeMap::new(), body: None, persist: BTreeMap::new() }
    }
}

/// Whether `name` may name a persisted value: 1 to 64 ASCII letters,
/// digits, `_` or `-`.
pub fn valid_persist_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn ok() -> u16 {
    200
}

/// A filled handshake answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status.
    pub status: u16,
    /// Headers (a content type added for a body that names none).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Handshake {
    /// Whether a request is this handshake. `request` is
    /// `{query: {..}, headers: {lower-case name: value}, body: payload}`.
    pub fn matches(&self, request: &Value) -> bool {
        let w = &self.when;
        if let Some(name) = &w.query {
            return request["query"].get(name).is_some();
        }
        if let Some(name) = &w.header {
            return request["headers"].get(name.to_ascii_lowercase()).is_some();
        }
        match (&w.field, &w.equals) {
            (Some(pointer), Some(want)) => request["body"].pointer(pointer) == Some(want),
            (Some(pointer), None) => request["body"].pointer(pointer).is_some_and(|v| !v.is_null()),
            _ => false,
        }
    }

    /// The values the answer persists from `request` (none when it
    /// persists nothing). A value the request lacks is an error: the
    /// handshake is then answered as refused rather than kept half.
    pub fn persisted(&self, request: &Value) -> Result<BTreeMap<String, String>, RenderError> {
        let vars = serde_json::json!({ "request": request });
        let mut out = BTreeMap::new();
        for (name, template) in &self.response.persist {
            let value = interpolate(template, &vars, false)?;
            if value.is_empty() {
                return Err(RenderError(format!("the persisted value `{name}` is empty")));
            }
            out.insert(name.clone(), value);
        }
        Ok(out)
    }

    /// The answer to `request` (as for [`Handshake::matches`]).
    pub fn answer(&self, request: &Value) -> Result<Answer, RenderError> {
        let vars = serde_json::json!({ "request": request });
        let r = &self.response;
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(n, v)| Ok((n.clone(), interpolate(v, &vars, false)?)))
            .collect::<Result<_, RenderError>>()?;
        let (body, kind) = match &r.body {
            None => (Vec::new(), None),
            Some(Value::String(text)) => (interpolate(text, &vars, false)?.into_bytes(), Some("text/plain")),
            Some(other) => (fill_json(other, &vars)?.to_string().into_bytes(), Some("application/json")),
        };
        if let Some(kind) = kind
            && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), kind.into()));
        }
        Ok(Answer { status: r.status, headers, body })
    }
}

/// A handshake's own problems, as (path under it, reason).
pub(super) fn problems(h: &Handshake) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let w = &h.when;
    let named = [w.query.is_some(), w.header.is_some(), w.field.is_some()].into_iter().filter(|b| *b).count();
    if named != 1 {
        out.push(("/when".into(), "name exactly one of query, header or field".into()));
    }
    if w.equals.is_some() && w.field.is_none() {
        out.push(("/when/equals".into(), "compares a payload field: name the field".into()));
    }
    if w.field.as_ref().is_some_and(|p| !p.starts_with('/')) {
        out.push(("/when/field".into(), "must be a JSON Pointer such as /type".into()));
    }
    if w.header.as_ref().is_some_and(|n| http_name(n).is_err()) {
        out.push(("/when/header".into(), "must be a header name".into()));
    }
    if !(200..300).contains(&h.response.status) {
        out.push(("/response/status".into(), "a handshake is answered with a 2xx status".into()));
    }
    let mut texts: Vec<(String, String)> = Vec::new();
    for (name, value) in &h.response.headers {
        if http_name(name).is_err() {
            out.push((format!("/response/headers/{name}"), "must be a header name".into()));
        }
        texts.push((format!("/response/headers/{name}"), value.clone()));
    }
    if let Some(body) = &h.response.body {
        super::strings(body, "/response/body", &mut texts);
    }
    for (name, template) in &h.response.persist {
        let at = format!("/response/persist/{}", name.replace('~', "~0").replace('/', "~1"));
        if !valid_persist_name(name) {
            out.push((at.clone(), "a persisted value's name is 1 to 64 ASCII letters, digits, '_' or '-'".into()));
        }
        if variables(template).is_ok_and(|v| v.is_empty()) {
            out.push((at.clone(), "persist a value of the request: {{request.…}}".into()));
        }
        texts.push((at, template.clone()));
    }
    for (path, text) in texts {
        match variables(&text) {
            Err(reason) => out.push((path, reason)),
            Ok(names) => {
                let known = |n: &&str| {
                    ["request.query.", "request.headers.", "request.body."]
                        .iter()
                        .any(|p| n.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
                };
                if let Some(name) = names.iter().find(|n| !known(n)) {
                    out.push((
                        path,
                        format!(
                            "unknown variable `{{{{{name}}}}}`: a handshake answer reads request.query.<name>, request.headers.<name> or request.body.<field>"
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn handshake(value: Value) -> Handshake {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_handshake_is_recognised_and_answered_from_the_request() {
        let graph = handshake(json!({"when": {"query": "validationToken"},
            "response": {"body": "{{request.query.validationToken}}"}}));
        let request = json!({"query": {"validationToken": "tok 1"}, "headers": {}, "body": null});
        assert!(graph.matches(&request));
        assert!(!graph.matches(&json!({"query": {}, "headers": {}, "body": null})));
        let answer = graph.answer(&request).unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, b"tok 1".as_slice()));
        assert_eq!(answer.headers, [("content-type".to_owned(), "text/plain".to_owned())]);

        let slack = handshake(json!({"when": {"field": "/type", "equals": "url_verification"},
            "response": {"body": {"challenge": "{{request.body.challenge}}"}}}));
        let request = json!({"query": {}, "headers": {}, "body": {"type": "url_verification", "challenge": "c-9"}});
        assert!(slack.matches(&request));
        assert!(!slack.matches(&json!({"query": {}, "headers": {}, "body": {"type": "event_callback"}})));
        assert_eq!(slack.answer(&request).unwrap().body, br#"{"challenge":"c-9"}"#.to_vec());

        let asana = handshake(json!({"when": {"header": "X-Hook-Secret"},
            "response": {"status": 204, "headers": {"X-Hook-Secret": "{{request.headers.x-hook-secret}}"},
                         "persist": {"secret": "{{request.headers.x-hook-secret}}"}}}));
        let request = json!({"query": {}, "headers": {"x-hook-secret": "s3"}, "body": null});
        assert!(asana.matches(&request));
        assert_eq!(asana.persisted(&request).unwrap(), BTreeMap::from([("secret".to_owned(), "s3".to_owned())]));
        assert!(asana.persisted(&json!({"query": {}, "headers": {}, "body": null})).is_err(), "nothing to keep");
        assert_eq!(slack.persisted(&request).unwrap(), BTreeMap::new());
        let answer = asana.answer(&request).unwrap();
        assert_eq!(
            (answer.status, answer.headers, answer.body),
            (204, vec![("X-Hook-Secret".into(), "s3".into())], vec![])
        );
    }

    #[test]
    fn each_mistake_of_a_handshake_is_named_by_its_path() {
        let bad = handshake(json!({"when": {"query": "a", "header": "B", "equals": 1},
            "response": {"status": 302, "headers": {"Bad Name": "{{request.cookie}}"},
                         "persist": {"a b": "{{request.body.x}}", "fixed": "abc", "odd": "{{settings.webhookURL}}"}}}));
        let found = problems(&bad);
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/when",
                "/when/equals",
                "/response/status",
                "/response/headers/Bad Name",
                "/response/persist/a b",
                "/response/persist/fixed",
                "/response/headers/Bad Name",
                "/response/persist/odd",
            ],
            "{found:?}"
        );
        assert!(found[5].1.contains("a value of the request"), "{found:?}");
        assert!(found[7].1.contains("unknown variable `{{settings.webhookURL}}`"), "{found:?}");
        assert!(found[6].1.contains("unknown variable `{{request.cookie}}`"), "{found:?}");
        let good = handshake(json!({"when": {"field": "/type"}, "response": {"body": {"c": "{{request.body.c}}"}}}));
        assert_eq!(problems(&good), []);
    }
}
