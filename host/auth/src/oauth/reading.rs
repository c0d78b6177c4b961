//! How one provider's token endpoint departs from RFC 6749, declared by
//! the provider (a plugin's metadata `extra.tokenResponse`, or the same key
//! of a definition) instead of being known here by provider name.
//!
//! What every provider gets without declaring anything: a missing or
//! lower-case `token_type`, `expires_in` as a string, and a refusal sent
//! with status 200 (`{"error": …}` as GitHub sends it, `{"ok": false,
//! "error": …}` as Slack does) read as the refusal it is.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The body format of token requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestFormat {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says.
    #[default]
    Form,
    /// A JSON object with the same fields (Notion documents this).
    Json,
}

/// A provider's reading of its token answers. The default is plain
/// RFC 6749 with the leniencies above.
///
/// ```
/// let slack: weft_auth::oauth::TokenReading = serde_json::from_value(serde_json::json!({
///     "tokenTypes": ["bot", "user"],
///     "grantErrors": ["invalid_code", "invalid_refresh_token"],
/// }))
/// .unwrap();
/// assert!(slack.accepts_token_type("bot"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenReading {
    /// Token types accepted besides `Bearer` (compared without case): the
    /// provider still expects the token as a bearer token on API calls
    /// (Slack answers `bot` for bot tokens, `user` for user tokens).
    #[serde(default)]
    pub token_types: Vec<String>,
    /// JSON Pointer of the access token when the answer has none at the
    /// top (Slack's user-token-only installs: `/authed_user/access_token`).
    #[serde(default)]
    pub access_token_at: Option<String>,
    /// Provider error codes that mean the code or refresh token is dead,
    /// read as `invalid_grant` (Slack's `invalid_refresh_token`).
    #[serde(default)]
    pub grant_errors: Vec<String>,
    /// Provider error codes that mean the app's client is wrong, read as
    /// `invalid_client` (Slack's `bad_client_secret`).
    #[serde(default)]
    pub client_errors: Vec<String>,
    /// The body format of token requests.
    #[serde(default)]
    pub request_format: RequestFormat,
}

/// The key of a provider's `extra` that holds its [`TokenReading`].
pub const EXTRA_KEY: &str = "tokenResponse";

impl TokenReading {
    /// The reading declared in a provider's `extra` object; the default
    /// when there is none. A declaration that does not parse is an error
    /// naming the problem (never a token).
    pub fn from_extra(extra: &Value) -> Result<Self, String> {
        match extra.get(EXTRA_KEY) {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(declared) => serde_json::from_value(declared.clone()).map_err(|e| format!("extra.{EXTRA_KEY}: {e}")),
        }
    }

    /// Whether `token_type` is one Weft can send as a bearer token.
    pub fn accepts_token_type(&self, token_type: &str) -> bool {
        token_type.eq_ignore_ascii_case("bearer") || self.token_types.iter().any(|t| t.eq_ignore_ascii_case(token_type))
    }

    /// The error code of a 2xx answer that is a refusal: an `error` string
    /// beside no access token, or `"ok": false`.
    pub(crate) fn refusal_in_success(&self, fields: &Map<String, Value>) -> Option<String> {
        let error = fields.get("error").and_then(Value::as_str);
        let refused =
            fields.get("ok") == Some(&Value::Bool(false)) || (error.is_some() && !fields.contains_key("access_token"));
        refused.then(|| error.unwrap_or("ok_false").to_owned())
    }

    /// The access token at [`Self::access_token_at`], taken out of `fields`
    /// together with the `token_type` beside it.
    pub(crate) fn take_nested_token(&self, fields: &mut Map<String, Value>) -> Option<(String, Option<Value>)> {
        let pointer = self.access_token_at.as_deref()?;
        let (parent, leaf) = pointer.rsplit_once('/')?;
        let mut root = Value::Object(std::mem::take(fields));
        let found = root.pointer_mut(parent).and_then(Value::as_object_mut).and_then(|obj| {
            let token = match obj.remove(leaf) {
                Some(Value::String(t)) if !t.is_empty() => t,
                Some(other) => {
                    obj.insert(leaf.to_owned(), other);
                    return None;
                }
                None => return None,
            };
            Some((token, obj.remove("token_type")))
        });
        if let Value::Object(back) = root {
            *fields = back;
        }
        found
    }

    /// The error code as Weft reads it: one of the provider's grant or
    /// client errors becomes `invalid_grant` or `invalid_client`.
    pub(crate) fn normalise<'a>(&self, code: &'a str) -> &'a str {
        if self.grant_errors.iter().any(|c| c == code) {
            "invalid_grant"
        } else if self.client_errors.iter().any(|c| c == code) {
            "invalid_client"
        } else {
            code
        }
    }
}
