//! Webhook triggers of a declarative provider (a custom integration's own
//! definition, or a shipped one): how the provider's webhook is set up,
//! how a delivery is verified, and which account it is for. Everything
//! here is pure: the credential service sends the setup requests as the
//! account (`Credentials::send_as`, through a grant), and the webhook
//! ingress stores the events with the engine like a plugin's.
//!
//! A trigger is one of:
//! - *user-level, manual*: each user points the provider at the trigger's
//!   shared URL plus `?id=<credentialId>`;
//! - *user-level, API*: when a user enables a workflow on it, the
//!   `subscribe` request registers the subscription's own URL
//!   (`{{settings.webhookURL}}`) at the provider, as the user's account;
//!   `unsubscribe` removes it when the workflow is turned off;
//! - *app-level*: one hook for the whole app, set up by hand in the
//!   provider's developer settings (`manual`), or by the `subscribe`
//!   request (`api`) when the first user turns on a workflow on it, sent
//!   as that user's account, and removed by `unsubscribe` when the last
//!   one turns theirs off; each delivery names its account by a payload
//!   field or a header, matched against the accounts' `providerId`.
//!
//! A trigger may also describe its provider's handshake ([`handshake`]): a
//! request that checks a new hook's URL and is answered from the definition,
//! and may persist values of it (a signing secret) for the unsubscribe
//! request and the verification to read.

use std::collections::BTreeMap;

use hmac::{Mac, digest::KeyInit};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::load::Problem;

pub mod handshake;
pub use handshake::Handshake;

/// One webhook trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookTrigger {
    /// What a workflow's Integration trigger names as its `event`
    /// (`taskCreated`): letters, digits, `_`, `-` and `.`.
    pub key: String,
    /// Display name (`Task Created`).
    pub name: String,
    /// Who the provider's hook is for.
    #[serde(default)]
    pub level: WebhookLevel,
    /// How the hook is created at the provider.
    #[serde(default)]
    pub setup: WebhookSetup,
    /// App-level hooks: where a delivery names its account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<EventRouting>,
    /// How a delivery proves it comes from the provider; none accepts
    /// every delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// JSON Pointer of the provider's event id in the payload: a delivery
    /// sent twice starts its workflows once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The request the provider sends to check a new hook's URL, and its
    /// answer (before verification; it starts nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<Handshake>,
}

/// Who a provider's hook is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookLevel {
    /// One hook per connected account.
    #[default]
    User,
    /// One hook for the app; deliveries are routed by [`EventRouting`].
    App,
}

/// How a provider's hook is created.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum WebhookSetup {
    /// By hand, in the provider (each user, or once for an app-level hook).
    #[default]
    Manual,
    /// By requests to the provider's webhook API, made as the user's
    /// account when a workflow on the trigger is turned on and off.
    Api {
        /// Registers the hook (its target is `{{settings.webhookURL}}`).
        subscribe: Box<SetupRequest>,
        /// Removes it; may read the subscribe answer (`{{response.id}}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unsubscribe: Option<Box<SetupRequest>>,
    },
}

/// A request to the provider's webhook API. Strings may hold `{{…}}`
/// variables: `settings.webhookURL`, `credential.id`,
/// `credential.providerId`, `config.<setting>` and, in `unsubscribe`,
/// `response.<field>` of the subscribe answer and `persisted.<name>`, what
/// the trigger's handshake persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupRequest {
    /// `POST` unless said otherwise.
    #[serde(default = "post")]
    pub method: String,
    /// A path under the base URL, or a URL on the base URL's host or a
    /// permitted host. The integration's own credentials are added.
    pub url: String,
    /// Extra headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body; a string that is one variable takes its value's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

fn post() -> String {
    "POST".into()
}

/// Where an app-level delivery names its account (its `providerId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum EventRouting {
    /// A JSON Pointer into the payload (`/account/id`).
    Field(String),
    /// A request header.
    Header(String),
}

/// An HMAC signature over the raw body, sent in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verification {
    /// The header holding the signature (`X-Signature`).
    pub header: String,
    /// `sha256` (the default) or `sha1`.
    #[serde(default = "sha256")]
    pub algorithm: String,
    /// `hex` (the default) or `base64`.
    #[serde(default = "hex")]
    pub encoding: String,
    /// What the header's value opens with before the signature (`sha256=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The signing key.
    pub secret: SigningSecret,
}

fn sha256() -> String {
    "sha256".into()
}

fn hex() -> String {
    "hex".into()
}

/// Where the signing key is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SigningSecret {
    /// The project's environment secret of this name.
    Environment(String),
    /// The integration's OAuth client secret.
    ClientSecret(bool),
    /// What the trigger's handshake persisted under this name for the
    /// subscription the delivery is for.
    Persisted(String),
}

/// The algorithms a signature may use.
const ALGORITHMS: [&str; 2] = ["sha256", "sha1"];
/// The encodings a signature may use.
const ENCODINGS: [&str; 2] = ["hex", "base64"];
/// The methods a setup request may use.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl Verification {
    /// Whether `signature` (the header's value) is the HMAC of `body`
    /// under `secret`; why not otherwise. Compared in constant time.
    pub fn check(&self, secret: &[u8], body: &[u8], signature: Option<&str>) -> Result<(), String> {
        let sent = signature.ok_or_else(|| format!("no {} header", self.header))?.trim();
        let sent = match &self.prefix {
            Some(prefix) => sent.strip_prefix(prefix.as_str()).ok_or("the signature lacks its prefix")?,
            None => sent,
        };
        let bytes = match self.encoding.as_str() {
            "base64" => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(sent).map_err(|_| "the signature is not base64")?
            }
            _ => ::hex::decode(sent).map_err(|_| "the signature is not hex")?,
        };
        let matches = match self.algorithm.as_str() {
            "sha1" => mac::<hmac::Hmac<sha1::Sha1>>(secret, body, &bytes),
            _ => mac::<hmac::Hmac<sha2::Sha256>>(secret, body, &bytes),
        };
        if matches { Ok(()) } else { Err("the signature does not match the body".into()) }
    }
}

fn mac<M: Mac + KeyInit>(secret: &[u8], body: &[u8], expected: &[u8]) -> bool {
    let Ok(mut m) = <M as KeyInit>::new_from_slice(secret) else { return false };
    m.update(body);
    m.verify_slice(expected).is_ok()
}

impl EventRouting {
    /// The account a delivery names: the payload field's or the header's
    /// value (`header` looks a header up by name, case-insensitively).
    pub fn key<'a>(&self, payload: &Value, header: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        let found = match self {
            Self::Field(pointer) => match payload.pointer(pointer)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            },
            Self::Header(name) => header(name)?.to_owned(),
        };
        Some(found).filter(|k| !k.is_empty())
    }
}

/// Why a setup request could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(String);

/// A setup request with its variables filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The method.
    pub method: String,
    /// The target (a path under the base URL, or a URL).
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl SetupRequest {
    /// Fills the request's variables from `vars` (an object: `settings`,
    /// `credential`, `config`, `response`).
    pub fn render(&self, vars: &Value) -> Result<Rendered, RenderError> {
        let url = interpolate(&self.url, vars, true)?;
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| Ok((n.clone(), interpolate(v, vars, false)?)))
            .collect::<Result<_, RenderError>>()?;
        let body = self.body.as_ref().map(|b| fill_json(b, vars)).transpose()?;
        Ok(Rendered { method: self.method.clone(), url, headers, body })
    }
}

/// The value of a variable (`settings.webhookURL`, `response.data.id`).
fn lookup<'a>(vars: &'a Value, name: &str) -> Option<&'a Value> {
    name.split('.').try_fold(vars, |at, part| match at {
        Value::Object(m) => m.get(part),
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => None,
    })
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `{{…}}` variables of a template, in order; `Err` when one is not
/// closed.
fn variables(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("a `{{` is not closed")?;
        names.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// The variable `text` is made of alone (`"{{response.id}}"`), if it is.
fn sole_variable(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

/// `template` with each variable replaced by its value's text (in a URL,
/// percent-encoded unless it is the whole URL).
fn interpolate(template: &str, vars: &Value, in_url: bool) -> Result<String, RenderError> {
    let whole = sole_variable(template).is_some();
    crate::resource::fill_variables(
        template,
        || RenderError("a `{{` is not closed".into()),
        |name| {
            let value = lookup(vars, name)
                .and_then(as_text)
                .ok_or_else(|| RenderError(format!("the variable `{name}` has no value")))?;
            Ok(if in_url && !whole { url::form_urlencoded::byte_serialize(value.as_bytes()).collect() } else { value })
        },
    )
}

fn fill_json(template: &Value, vars: &Value) -> Result<Value, RenderError> {
    Ok(match template {
        Value::String(s) => match sole_variable(s) {
            Some(name) => {
                lookup(vars, name).cloned().ok_or_else(|| RenderError(format!("the variable `{name}` has no value")))?
            }
            None => Value::String(interpolate(s, vars, false)?),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| fill_json(v, vars)).collect::<Result<_, _>>()?),
        Value::Object(m) => Value::Object(
            m.iter().map(|(k, v)| Ok((k.clone(), fill_json(v, vars)?))).collect::<Result<Map<_, _>, RenderError>>()?,
        ),
        other => other.clone(),
    })
}

/// The variables a setup request may read (`unsubscribe` also reads the
/// subscribe answer and the handshake's `persisted` values).
fn known_variable(name: &str, unsubscribe: Option<&[&str]>) -> bool {
    matches!(name, "settings.webhookURL" | "credential.id" | "credential.providerId")
        || name.strip_prefix("config.").is_some_and(|s| !s.is_empty())
        || unsubscribe.is_some_and(|persisted| {
            name.strip_prefix("response.").is_some_and(|s| !s.is_empty())
                || name.strip_prefix("persisted.").is_some_and(|s| persisted.contains(&s))
        })
}

/// The names `hook`'s handshake persists.
fn persisted_names(hook: &WebhookTrigger) -> Vec<&str> {
    hook.handshake.iter().flat_map(|h| h.response.persist.keys().map(String::as_str)).collect()
}

/// Whether `key` is usable as a trigger key.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// What the schema cannot say about a provider's webhook triggers; paths
/// under `/webhooks`. Where a setup request may go is the caller's check
/// (`targets`).
pub(crate) fn problems(hooks: &[WebhookTrigger]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, reason: String| problems.push(Problem { path, reason });
    for (i, h) in hooks.iter().enumerate() {
        let at = format!("/webhooks/{i}");
        if !valid_key(&h.key) {
            problem(format!("{at}/key"), "must be 1 to 64 ASCII letters, digits, '_', '-' or '.'".into());
        } else if hooks[..i].iter().any(|o| o.key == h.key) {
            problem(format!("{at}/key"), format!("`{}` names an earlier trigger too", h.key));
        }
        match (h.level, &h.routing, &h.setup) {
            (WebhookLevel::App, None, _) => problem(
                format!("{at}/routing"),
                "an app-level webhook must say where a delivery names its account (a payload field or a header)".into(),
            ),
            (WebhookLevel::User, Some(_), _) => problem(
                format!("{at}/routing"),
                "a user-level webhook's URL names its account; routing is for app-level webhooks".into(),
            ),
            _ => {}
        }
        if h.level == WebhookLevel::App && h.verification.is_none() {
            // One URL for every account, which a delivery names itself:
            // unverified, anyone who knows the URL could start any user's
            // workflows.
            problem(
                format!("{at}/verification"),
                "an app-level webhook's URL is shared by every account: its deliveries must be verified".into(),
            );
        }
        match &h.routing {
            Some(EventRouting::Field(p)) if !p.starts_with('/') => {
                problem(format!("{at}/routing/field"), "must be a JSON Pointer such as /account/id".into())
            }
            Some(EventRouting::Header(name)) if http_name(name).is_err() => {
                problem(format!("{at}/routing/header"), "must be a header name".into())
            }
            _ => {}
        }
        if let Some(v) = &h.verification {
            if http_name(&v.header).is_err() {
                problem(format!("{at}/verification/header"), "must be a header name such as X-Signature".into());
            }
            if !ALGORITHMS.contains(&v.algorithm.as_str()) {
                problem(
                    format!("{at}/verification/algorithm"),
                    format!("unknown algorithm `{}`: use sha256 or sha1", v.algorithm),
                );
            }
            if !ENCODINGS.contains(&v.encoding.as_str()) {
                problem(
                    format!("{at}/verification/encoding"),
                    format!("unknown encoding `{}`: use hex or base64", v.encoding),
                );
            }
            match &v.secret {
                SigningSecret::Environment(name) if name.trim().is_empty() => {
                    problem(format!("{at}/verification/secret/environment"), "name an environment secret".into())
                }
                SigningSecret::ClientSecret(false) => problem(
                    format!("{at}/verification/secret/clientSecret"),
                    "`clientSecret: true` signs with the integration's client secret; name a secret otherwise".into(),
                ),
                SigningSecret::Persisted(name) if !persisted_names(h).contains(&name.as_str()) => problem(
                    format!("{at}/verification/secret/persisted"),
                    format!("the trigger's handshake persists no `{name}` (handshake.response.persist)"),
                ),
                _ => {}
            }
        }
        for (path, reason) in h.handshake.iter().flat_map(handshake::problems) {
            problem(format!("{at}/handshake{path}"), reason);
        }
        if h.event_id.as_ref().is_some_and(|p| !p.starts_with('/')) {
            problem(format!("{at}/eventId"), "must be a JSON Pointer such as /id".into());
        }
        if let WebhookSetup::Api { subscribe, unsubscribe } = &h.setup {
            let persisted = persisted_names(h);
            let requests = [("subscribe", Some(&**subscribe)), ("unsubscribe", unsubscribe.as_deref())];
            for (which, r) in requests.into_iter().filter_map(|(w, r)| Some((w, r?))) {
                let reads = (which == "unsubscribe").then_some(persisted.as_slice());
                for (path, reason) in request_problems(r, reads) {
                    problem(format!("{at}/setup/{which}{path}"), reason);
                }
            }
            if !mentions_webhook_url(subscribe) {
                problem(
                    format!("{at}/setup/subscribe"),
                    "the subscribe request must give the provider {{settings.webhookURL}} to send events to".into(),
                );
            }
        }
    }
    problems
}

fn http_name(name: &str) -> Result<(), ()> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok { Ok(()) } else { Err(()) }
}

fn mentions_webhook_url(r: &SetupRequest) -> bool {
    let body = r.body.as_ref().map(Value::to_string).unwrap_or_default();
    [r.url.as_str(), body.as_str()]
        .into_iter()
        .chain(r.headers.values().map(String::as_str))
        .any(|s| variables(s).is_ok_and(|v| v.contains(&"settings.webhookURL")))
}

/// A setup request's own problems, as (path under the request, reason);
/// `unsubscribe` holds the names the handshake persists, for that request.
fn request_problems(r: &SetupRequest, unsubscribe: Option<&[&str]>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !METHODS.contains(&r.method.as_str()) {
        out.push(("/method".into(), format!("must be one of {}", METHODS.join(", "))));
    }
    let mut texts: Vec<(String, String)> = vec![("/url".into(), r.url.clone())];
    texts.extend(r.headers.iter().map(|(n, v)| (format!("/headers/{n}"), v.clone())));
    if let Some(body) = &r.body {
        strings(body, "/body", &mut texts);
    }
    for (path, text) in texts {
        match variables(&text) {
            Err(reason) => out.push((path, reason)),
            Ok(names) => {
                if let Some(name) = names.into_iter().find(|n| !known_variable(n, unsubscribe)) {
                    let more = if unsubscribe.is_some() {
                        ", response.<field>, persisted.<a name the handshake persists>"
                    } else {
                        ""
                    };
                    out.push((path, format!(
                        "unknown variable `{{{{{name}}}}}`: use settings.webhookURL, credential.id, credential.providerId, config.<setting>{more}"
                    )));
                }
            }
        }
    }
    for name in r.headers.keys() {
        if http_name(name).is_err() {
            out.push((format!("/headers/{name}"), "must be a header name".into()));
        } else if name.eq_ignore_ascii_case("authorization") {
            out.push((
                format!("/headers/{name}"),
                "the integration's own credentials are added; do not set Authorization".into(),
            ));
        }
    }
    out
}

/// Every string of `v`, with its JSON Pointer.
fn strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((at.to_owned(), s.clone())),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| strings(v, &format!("{at}/{i}"), out)),
        Value::Object(m) => {
            m.iter().for_each(|(k, v)| strings(v, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out))
        }
        _ => {}
    }
}

/// A setup request's URL with every variable replaced by a sample value
/// (where it may go is checked on that).
pub(crate) fn sample_url(url: &str) -> String {
    let mut out = String::new();
    let mut rest = url;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find("}}") {
            Some(end) => {
                out.push_str("sample");
                rest = &rest[start + 2 + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The setup requests of `hooks` with their paths (`/webhooks/0/setup/subscribe/url`).
pub(crate) fn setup_urls(hooks: &[WebhookTrigger]) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for (i, h) in hooks.iter().enumerate() {
        if let WebhookSetup::Api { subscribe, unsubscribe } = &h.setup {
            out.push((format!("/webhooks/{i}/setup/subscribe/url"), subscribe.url.as_str()));
            if let Some(u) = unsubscribe {
                out.push((format!("/webhooks/{i}/setup/unsubscribe/url"), u.url.as_str()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";
    const FOX_SHA256: &str = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";

    fn verification(algorithm: &str, encoding: &str, prefix: Option<&str>) -> Verification {
        Verification {
            header: "X-Signature".into(),
            algorithm: algorithm.into(),
            encoding: encoding.into(),
            prefix: prefix.map(str::to_owned),
            secret: SigningSecret::Environment("S".into()),
        }
    }

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let hex256 = verification("sha256", "hex", None);
        assert_eq!(hex256.check(b"key", FOX, Some(FOX_SHA256)), Ok(()));
        assert_eq!(hex256.check(b"key", FOX, Some(&FOX_SHA256.to_uppercase())), Ok(()));
        assert!(hex256.check(b"other", FOX, Some(FOX_SHA256)).is_err(), "another key");
        assert!(hex256.check(b"key", b"The quick brown fox", Some(FOX_SHA256)).is_err(), "another body");
        assert!(hex256.check(b"key", FOX, None).unwrap_err().contains("X-Signature"));
        assert!(hex256.check(b"key", FOX, Some("zz")).is_err());
        let prefixed = verification("sha256", "hex", Some("sha256="));
        assert_eq!(prefixed.check(b"key", FOX, Some(&format!("sha256={FOX_SHA256}"))), Ok(()));
        assert!(prefixed.check(b"key", FOX, Some(FOX_SHA256)).unwrap_err().contains("prefix"));
        let b64 = verification("sha256", "base64", None);
        assert_eq!(b64.check(b"key", FOX, Some("97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=")), Ok(()));
        let sha1 = verification("sha1", "hex", None);
        assert_eq!(sha1.check(b"key", FOX, Some("de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9")), Ok(()));
        assert!(sha1.check(b"key", FOX, Some(FOX_SHA256)).is_err(), "a sha256 signature is no sha1 one");
    }

    #[test]
    fn a_delivery_names_its_account_by_field_or_header() {
        let payload = json!({"account": {"id": "acct-1", "n": 7}, "empty": ""});
        let none = |_: &str| None;
        assert_eq!(EventRouting::Field("/account/id".into()).key(&payload, none), Some("acct-1".into()));
        assert_eq!(EventRouting::Field("/account/n".into()).key(&payload, none), Some("7".into()));
        assert_eq!(EventRouting::Field("/empty".into()).key(&payload, none), None);
        assert_eq!(EventRouting::Field("/missing".into()).key(&payload, none), None);
        let header = |name: &str| name.eq_ignore_ascii_case("x-account").then_some("acct-2");
        assert_eq!(EventRouting::Header("X-Account".into()).key(&payload, header), Some("acct-2".into()));
    }

    #[test]
    fn setup_requests_are_filled_from_their_variables() {
        let request: SetupRequest = serde_json::from_value(json!({
            "url": "/hooks/{{response.data.id}}?owner={{credential.providerId}}",
            "headers": {"X-Region": "{{config.region}}"},
            "body": {"target": "{{settings.webhookURL}}", "id": "{{response.data.id}}", "note": "for {{credential.id}}"},
        }))
        .unwrap();
        let vars = json!({
            "settings": {"webhookURL": "https://weft.test/webhooks/p/custom.x/s"},
            "credential": {"id": "c1", "providerId": "a b"},
            "config": {"region": "eu"},
            "response": {"data": {"id": 42}},
        });
        let r = request.render(&vars).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "/hooks/42?owner=a+b");
        assert_eq!(r.headers, [("X-Region".to_owned(), "eu".to_owned())]);
        let body = json!({"target": "https://weft.test/webhooks/p/custom.x/s", "id": 42, "note": "for c1"});
        assert_eq!(r.body, Some(body));
        let missing = request.render(&json!({})).unwrap_err();
        assert!(missing.to_string().contains("response.data.id"), "{missing}");
    }

    fn trigger(value: Value) -> WebhookTrigger {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn each_mistake_of_a_webhook_trigger_is_named_by_its_path() {
        let hooks = vec![
            trigger(json!({"key": "a b", "name": "A", "level": "app"})),
            trigger(json!({
                "key": "b", "name": "B", "routing": {"header": "X-Account"}, "eventId": "id",
                "verification": {"header": "X Sig", "algorithm": "md5", "encoding": "hex32", "secret": {"clientSecret": false}},
                "setup": {"type": "api", "subscribe": {"method": "TRACE", "url": "/hooks", "headers": {"Authorization": "x"},
                          "body": {"to": "{{settings.webhookUrl}}"}},
                          "unsubscribe": {"url": "/hooks/{{response.id", "method": "DELETE"}},
            })),
            trigger(json!({"key": "b", "name": "Again", "level": "app", "routing": {"field": "account"},
                           "setup": {"type": "api", "subscribe": {"url": "/h", "body": {"to": "{{settings.webhookURL}}"}}}})),
        ];
        let found = problems(&hooks);
        let expect = [
            ("/webhooks/0/key", "ASCII"),
            ("/webhooks/0/routing", "app-level"),
            ("/webhooks/0/verification", "must be verified"),
            ("/webhooks/1/routing", "user-level"),
            ("/webhooks/1/verification/header", "header name"),
            ("/webhooks/1/verification/algorithm", "unknown algorithm `md5`"),
            ("/webhooks/1/verification/encoding", "unknown encoding"),
            ("/webhooks/1/verification/secret/clientSecret", "client secret"),
            ("/webhooks/1/eventId", "JSON Pointer"),
            ("/webhooks/1/setup/subscribe/method", "one of"),
            ("/webhooks/1/setup/subscribe/body/to", "unknown variable `{{settings.webhookUrl}}`"),
            ("/webhooks/1/setup/subscribe/headers/Authorization", "credentials are added"),
            ("/webhooks/1/setup/unsubscribe/url", "not closed"),
            ("/webhooks/1/setup/subscribe", "settings.webhookURL"),
            ("/webhooks/2/key", "earlier trigger"),
            ("/webhooks/2/verification", "must be verified"),
            ("/webhooks/2/routing/field", "JSON Pointer"),
        ];
        for (path, words) in expect {
            assert!(found.iter().any(|p| p.path == path && p.reason.contains(words)), "{path} {words}: {found:#?}");
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        // What a handshake persists is read by name; other names are refused.
        let persisted = trigger(json!({
            "key": "p", "name": "P", "level": "app", "routing": {"header": "X-Account"},
            "verification": {"header": "X-Sig", "secret": {"persisted": "secrett"}},
            "handshake": {"when": {"header": "X-Hook-Secret"},
                          "response": {"persist": {"secret": "{{request.headers.x-hook-secret}}"}}},
            "setup": {"type": "api", "subscribe": {"url": "/h/{{persisted.secret}}", "body": {"to": "{{settings.webhookURL}}"}},
                      "unsubscribe": {"method": "DELETE", "url": "/h/{{response.id}}?s={{persisted.secret}}&t={{persisted.other}}"}},
        }));
        let found = problems(std::slice::from_ref(&persisted));
        let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/webhooks/0/verification/secret/persisted",
                "/webhooks/0/setup/subscribe/url",
                "/webhooks/0/setup/unsubscribe/url"
            ],
            "{found:#?}"
        );
        assert!(found[2].reason.contains("persisted.other"), "{found:#?}");
        let mut fixed = persisted;
        fixed.verification = Some(Verification {
            secret: SigningSecret::Persisted("secret".into()),
            ..verification("sha256", "hex", None)
        });
        fixed.setup = serde_json::from_value(json!({"type": "api",
            "subscribe": {"url": "/h", "body": {"to": "{{settings.webhookURL}}"}},
            "unsubscribe": {"method": "DELETE", "url": "/h/{{response.id}}?s={{persisted.secret}}"}}))
        .unwrap();
        assert_eq!(problems(&[fixed]), [], "an app-level webhook may be set up by API requests");
        let good = trigger(json!({
            "key": "taskCreated", "name": "Task Created",
            "verification": {"header": "X-Sig", "prefix": "sha256=", "secret": {"environment": "TASKLAB_SIGNING"}},
            "setup": {"type": "api", "subscribe": {"url": "/hooks", "body": {"url": "{{settings.webhookURL}}"}},
                      "unsubscribe": {"method": "DELETE", "url": "/hooks/{{response.id}}"}},
        }));
        assert_eq!(problems(&[good]), []);
    }
}
