//! The generic path for providers described by a definition rather than a
//! plugin: a new account is checked with the definition's connection test,
//! one request made with the account's credentials on the authorised-request
//! path, whose answer names the account.

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
    /// Runs the definition's connection test with `session`'s unsaved
    /// secrets: the account's `providerId` and profile, or why it fails.
    pub(crate) async fn declarative_test(
        &self,
        auth: &IntegrationAuth,
        session: &Session,
    ) -> Result<(Option<String>, Value)> {
        let Some(test) = &auth.provider.connection_test else {
            return Ok((None, Value::Object(Map::new())));
        };
        let method = match test.method.as_str() {
            "POST" => Method::Post,
            "HEAD" => Method::Head,
            _ => Method::Get,
        };
        let fill = |req: &mut weft_egress::OutboundRequest| {
            req.headers.push(("accept".into(), "application/json".into()));
            req.timeout = Some(TEST_TIMEOUT);
            req.max_response_bytes = Some(MAX_TEST_ANSWER);
        };
        let call = Call { method, target: &test.path, query: &[], fill: &fill };
        let unreachable = || Error::ConnectionTest("the provider could not be reached to verify the account".into());
        let answer = match self.send_as(session, call, &mut Report::default()).await {
            Ok(answer) => answer,
            Err(SendError::Credentials(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(provider = %auth.provider.id, error = %e, "connection test failed");
                return Err(unreachable());
            }
        };
        let status = answer.status;
        if status == 401 || status == 403 {
            return Err(Error::ConnectionTest(format!("the provider rejected the credentials ({status})")));
        }
        if !(200..300).contains(&status) {
            return Err(Error::ConnectionTest(format!("the provider answered the connection test with {status}")));
        }
        let mut body = Vec::new();
        let mut stream = answer.body;
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.map_err(|_| unreachable())?);
        }
        let document: Value = if body.trim_ascii().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .map_err(|_| Error::ConnectionTest("the provider's answer to the connection test is not JSON".into()))?
        };
        let text = |pointer: &Option<String>| -> Option<String> {
            match document.pointer(pointer.as_deref()?)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let account_id = text(&test.account_id);
        if test.account_id.is_some() && account_id.is_none() {
            return Err(Error::ConnectionTest("the provider's answer does not name the account".into()));
        }
        let mut profile = match text(&test.account_name) {
            Some(name) => json!({ "name": name }),
            None => Value::Object(Map::new()),
        };
        // Fields the definition keeps, as the answer has them (absent ones
        // are left out).
        for (name, pointer) in &test.profile {
            if let Some(found) = document.pointer(pointer) {
                profile[name.as_str()] = found.clone();
            }
        }
        Ok((account_id, profile))
    }
}
