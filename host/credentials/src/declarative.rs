//! The generic path for providers described by a definition rather than a
//! plugin: a new account is checked with the definition's connection test,
//! one request made with the account's credentials on the authorised-request
//! path, whose answer names the account; then the definition's user
//! profile, a `GET` made the same way, names it and fills its profile.

use futures::StreamExt;
use serde_json::{Map, Value, json};
use weft_egress::Method;

use crate::request::{Call, Report, SendError};
use crate::service::{Credentials, IntegrationAuth};
use crate::session::Session;
use crate::{Error, Result};

/// Largest connection-test answer read.
const MAX_TEST_ANSWER: u64 = 1024 * 1024;
/// How long a connection test may take.
const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl Credentials {
    /// Runs the definition's connection test, then its user profile, with
    /// `session`'s unsaved secrets: the account's `providerId` and profile,
    /// or why it fails.
    pub(crate) async fn declarative_test(
        &self,
        auth: &IntegrationAuth,
        session: &Session,
    ) -> Result<(Option<String>, Value)> {
        let (mut account_id, mut profile) = (None, Value::Object(Map::new()));
        if let Some(test) = &auth.provider.connection_test {
            let method = match test.method.as_str() {
                "POST" => Method::Post,
                "HEAD" => Method::Head,
                _ => Method::Get,
            };
            let document = self.answer_of(auth, session, method, &test.path, "the connection test").await?;
            account_id = text_at(&document, test.account_id.as_deref());
            if test.account_id.is_some() && account_id.is_none() {
                return Err(Error::ConnectionTest("the provider's answer does not name the account".into()));
            }
            if let Some(name) = text_at(&document, test.account_name.as_deref()) {
                profile = json!({ "name": name });
            }
            keep_fields(&document, &test.profile, &mut profile);
        }
        if let Some(wanted) = &auth.provider.user_profile {
            let path = profile_path(&wanted.path, session)?;
            let document = self.answer_of(auth, session, Method::Get, &path, "the user-profile request").await?;
            if let Some(pointer) = wanted.id.as_deref() {
                account_id = Some(text_at(&document, Some(pointer)).ok_or_else(|| {
                    Error::ConnectionTest("the provider's user profile does not name the account".into())
                })?);
            }
            keep_fields(&document, &wanted.fields, &mut profile);
        }
        Ok((account_id, profile))
    }

    /// Sends one request as `session`'s account and reads its JSON answer
    /// (`null` when empty); `what` names the request in errors.
    async fn answer_of(
        &self,
        auth: &IntegrationAuth,
        session: &Session,
        method: Method,
        target: &str,
        what: &str,
    ) -> Result<Value> {
        let fill = |req: &mut weft_egress::OutboundRequest| {
            req.headers.push(("accept".into(), "application/json".into()));
            req.timeout = Some(TEST_TIMEOUT);
            req.max_response_bytes = Some(MAX_TEST_ANSWER);
        };
        let call = Call { method, target, query: &[], fill: &fill };
        let unreachable = || Error::ConnectionTest("the provider could not be reached to verify the account".into());
        let answer = match self.send_as(session, call, &mut Report::default()).await {
            Ok(answer) => answer,
            Err(SendError::Credentials(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(provider = %auth.provider.id, error = %e, "{what} failed");
                return Err(unreachable());
            }
        };
        let status = answer.status;
        if status == 401 || status == 403 {
            return Err(Error::ConnectionTest(format!("the provider rejected the credentials ({status})")));
        }
        if !(200..300).contains(&status) {
            return Err(Error::ConnectionTest(format!("the provider answered {what} with {status}")));
        }
        let mut body = Vec::new();
        let mut stream = answer.body;
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.map_err(|_| unreachable())?);
        }
        if body.trim_ascii().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|_| Error::ConnectionTest(format!("the provider's answer to {what} is not JSON")))
    }
}

/// The string or number at `pointer` in `document`.
fn text_at(document: &Value, pointer: Option<&str>) -> Option<String> {
    match document.pointer(pointer?)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Copies the fields a definition keeps into `profile`, as the answer has
/// them (absent ones are left out).
fn keep_fields(document: &Value, fields: &std::collections::BTreeMap<String, String>, profile: &mut Value) {
    for (name, pointer) in fields {
        if let Some(found) = document.pointer(pointer) {
            profile[name.as_str()] = found.clone();
        }
    }
}

/// The user-profile path with each `{{name}}` filled from the token answer
/// (a field such as `user_id`) or else the connection's settings, as one
/// percent-encoded path segment. A name neither holds refuses the account:
/// the definition asked for a value this provider did not give.
fn profile_path(template: &str, session: &Session) -> Result<String> {
    let extra = &session.secrets().extra;
    let config = &session.credential().connection_config;
    weft_catalog::resource::fill_variables(
        template,
        || Error::Misconfigured("the user-profile path is not closed".into()),
        |name| {
            let value = match extra.get(name).or_else(|| config.get(name)) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(Error::ConnectionTest(format!(
                        "the provider's token answer has no `{name}` for the user-profile request"
                    )));
                }
            };
            // One path segment: only unreserved characters stay as they are.
            let mut segment = String::with_capacity(value.len());
            for b in value.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => segment.push(char::from(b)),
                    _ => segment.push_str(&format!("%{b:02X}")),
                }
            }
            Ok(segment)
        },
    )
}
