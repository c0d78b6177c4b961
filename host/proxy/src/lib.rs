//! The Proxy API's core: one call of an app's backend (or browser) to a
//! provider, on behalf of one connected user.
//!
//! The flow: the user's session for the integration (the credential picked
//! by `X-Paragon-Credential` or the first valid one, refreshed when due) →
//! the caller's headers, cleaned → the one authorised-request path of
//! `weft-credentials` (target, permitted hosts, governor, injection, egress,
//! one refresh and one retry after a 401) → the answer, as `{"output": ...}`
//! or raw and streamed → a task record, written in batches off the request
//! path.
//!
//! HTTP routing and the error shape belong to `weft-api`; this crate answers
//! with [`Answer`] or [`ProxyError`].

#![deny(missing_docs)]

mod recorder;

pub use recorder::TaskRecorder;
pub use weft_catalog::TargetError;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use weft_credentials::{Call, Credentials, IntegrationRef, Report, SendError};
use weft_egress::{BodyStream, EgressError, Method, OutboundRequest, StreamingResponse};
use weft_store::{CredentialId, IntegrationId, ProjectId, TaskRecord};

/// Limits of proxy calls.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Total time for the provider's answer (the body included).
    pub timeout: Duration,
    /// Largest provider body parsed into `{"output": ...}` (decoded bytes).
    pub max_json_response_bytes: u64,
    /// Largest raw body streamed through.
    pub max_raw_response_bytes: u64,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_json_response_bytes: 10 * 1024 * 1024,
            max_raw_response_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Which integration the route names.
#[derive(Debug, Clone)]
pub enum Target<'a> {
    /// `/sdk/proxy/{integrationType}/...`
    Type(&'a str),
    /// `/sdk/proxy/custom/{integrationId}/...`
    Custom(IntegrationId),
}

/// One call as the API received it (borrowing from the request).
#[derive(Debug, Clone)]
pub struct ProxyCall<'a> {
    /// The route's project.
    pub project: ProjectId,
    /// The authenticated user.
    pub user: String,
    /// The integration.
    pub target: Target<'a>,
    /// The method to send.
    pub method: Method,
    /// The path after the integration, query included, as received.
    pub path: &'a str,
    /// The caller's headers, as received; only the ones worth forwarding
    /// are sent.
    pub headers: http::HeaderMap,
    /// The request body, sent as received.
    pub body: Bytes,
    /// `X-Paragon-Credential`: the account to use.
    pub credential: Option<CredentialId>,
    /// `X-Paragon-Use-Raw-Response: 1`.
    pub raw: bool,
    /// The API request id.
    pub request_id: String,
}

/// The provider's answer, as the caller gets it.
pub enum Answer {
    /// `{"output": <the provider's JSON, or its text>}` with the provider's
    /// status and the headers worth keeping (`Retry-After`, `Location`,
    /// rate-limit headers).
    Json {
        /// The provider's status.
        status: u16,
        /// Headers passed on.
        headers: http::HeaderMap,
        /// The wrapped body, serialised: `{"output": ...}`.
        body: Bytes,
    },
    /// The provider's status, headers (without hop-by-hop ones and cookies)
    /// and body bytes, streamed.
    Raw {
        /// The provider's status.
        status: u16,
        /// Headers passed on.
        headers: http::HeaderMap,
        /// The body.
        body: BodyStream,
    },
}

/// Why a call got no provider answer.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The session could not be opened (no account, dead credential...).
    #[error(transparent)]
    Credentials(#[from] weft_credentials::Error),
    /// The target was refused.
    #[error("{0:?}")]
    Target(TargetError),
    /// The governor refused: retry after the duration.
    #[error("rate limited; retry after {0:?}")]
    RateLimited(Duration),
    /// The egress client refused or failed.
    #[error(transparent)]
    Egress(#[from] EgressError),
    /// The provider's body could not be decoded.
    #[error("the provider's answer could not be read: {0}")]
    BadAnswer(String),
}

/// The proxy service; one per process.
pub struct Proxy {
    credentials: Arc<Credentials>,
    recorder: Arc<TaskRecorder>,
    settings: ProxySettings,
}

/// Caller headers never forwarded: the egress client's list (credentials,
/// routing, hop-by-hop), forwarding metadata that would let a caller pose
/// as an internal client, Weft's own controls, and browser context.
fn dropped_request_header(name: &str) -> bool {
    let starts = |prefix| starts_ignoring_case(name, prefix);
    weft_egress::is_forbidden_request_header(name)
        || starts("x-forwarded-")
        || starts("x-paragon-")
        || starts("sec-")
        || starts("proxy-")
        || ["forwarded", "x-real-ip", "via", "x-request-id", "origin", "referer", "accept-encoding", "cookie"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
}

/// The browser SDK's `Content-Type: auto` ("infer it from the request"):
/// never forwarded, so a body gets the default type, JSON, as it would
/// without a `Content-Type`.
fn inferred_content_type(name: &str, value: &[u8]) -> bool {
    name.eq_ignore_ascii_case("content-type") && value.trim_ascii().eq_ignore_ascii_case(b"auto")
}

/// Provider headers never passed to the caller: connection-level ones, and
/// cookies (a provider must not set cookies on Weft's origin).
fn dropped_response_header(name: &str) -> bool {
    weft_egress::is_hop_by_hop(name)
        || name.eq_ignore_ascii_case("set-cookie")
        || name.eq_ignore_ascii_case("set-cookie2")
}

/// The headers of `headers` that `keep` accepts. An answer that keeps
/// them all (the usual raw one) is returned as it is; otherwise the kept
/// ones move into a new map, nothing copied.
fn kept_headers(headers: http::HeaderMap, keep: impl Fn(&str) -> bool) -> http::HeaderMap {
    if headers.keys().all(|n| keep(n.as_str())) {
        return headers;
    }
    let mut kept = http::HeaderMap::new();
    let mut name = None;
    // `into_iter` names a header once, before its first value.
    for (next, value) in headers {
        if next.is_some() {
            name = next;
        }
        if let Some(name) = name.as_ref().filter(|n| keep(n.as_str())) {
            kept.append(name.clone(), value);
        }
    }
    kept
}

/// Whether header `name` begins with `prefix`, in any case.
fn starts_ignoring_case(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Provider headers kept in `{"output": ...}` answers.
fn kept_json_header(name: &str) -> bool {
    let starts = |prefix| starts_ignoring_case(name, prefix);
    name.eq_ignore_ascii_case("retry-after")
        || name.eq_ignore_ascii_case("location")
        || starts("x-ratelimit-")
        || starts("ratelimit-")
}

impl Proxy {
    /// The proxy over the credential service.
    pub fn new(credentials: Arc<Credentials>, recorder: Arc<TaskRecorder>, settings: ProxySettings) -> Self {
        Self { credentials, recorder, settings }
    }

    /// The task recorder (shut down with the server).
    pub fn recorder(&self) -> &Arc<TaskRecorder> {
        &self.recorder
    }

    /// Runs one call and records it as a task.
    pub async fn call(&self, call: ProxyCall<'_>) -> Result<Answer, ProxyError> {
        let started = Instant::now();
        let created_at = time::OffsetDateTime::now_utc();
        let mut record = TaskRecord {
            // Time-ordered: rows append at the end of the primary key index.
            id: uuid::Uuid::now_v7(),
            project_id: call.project,
            kind: "proxy".into(),
            // Moved in once the call is done with them.
            user_id: String::new(),
            integration_id: None,
            credential_id: None,
            request_id: String::new(),
            method: call.method.as_str().into(),
            target: String::new(),
            status: 0,
            outcome: "".into(),
            duration_us: 0,
            created_at,
        };
        let outcome = self.run(&call, &mut record).await;
        let (status, label) = match &outcome {
            Ok(Answer::Json { status, .. } | Answer::Raw { status, .. }) => {
                (*status, if *status < 400 { "ok" } else { "provider_error" })
            }
            Err(ProxyError::RateLimited(_)) => (429, "rate_limited"),
            Err(ProxyError::Egress(EgressError::Timeout)) => (504, "timeout"),
            Err(ProxyError::Target(_) | ProxyError::Egress(EgressError::Denied(_))) => (403, "refused"),
            Err(_) => (502, "failed"),
        };
        record.status = status;
        record.outcome = label.into();
        record.duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // A call refused before an integration was found is not a task.
        if record.integration_id.is_some() {
            record.user_id = call.user;
            record.request_id = call.request_id;
            self.recorder.record(record);
        }
        outcome
    }

    async fn run(&self, call: &ProxyCall<'_>, record: &mut TaskRecord) -> Result<Answer, ProxyError> {
        let integration = match &call.target {
            Target::Type(kind) => IntegrationRef::Type(kind),
            Target::Custom(id) => IntegrationRef::Id(*id),
        };
        let session = self.credentials.session(call.project, &call.user, integration, call.credential).await?;
        record.integration_id = Some(session.integration().id);
        record.credential_id = Some(session.credential().id);
        // Built once, or twice for a retry after a 401: never cloned.
        let fill = |req: &mut OutboundRequest| {
            req.headers = call
                .headers
                .iter()
                .filter(|(n, v)| {
                    !dropped_request_header(n.as_str()) && !inferred_content_type(n.as_str(), v.as_bytes())
                })
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            if !call.body.is_empty() {
                if !req.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                    req.headers.push(("content-type".into(), "application/json".into()));
                }
                req.body = Some(call.body.clone());
            }
            req.timeout = Some(self.settings.timeout);
            req.max_response_bytes = Some(if call.raw {
                self.settings.max_raw_response_bytes
            } else {
                self.settings.max_json_response_bytes
            });
        };
        let mut report = Report::default();
        let sent = self
            .credentials
            .send_as(&session, Call { method: call.method, target: call.path, query: &[], fill: &fill }, &mut report)
            .await;
        record.target = report.target;
        let resp = sent.map_err(|e| match e {
            SendError::Target(t) => ProxyError::Target(t),
            SendError::RateLimited(wait) => ProxyError::RateLimited(wait),
            SendError::Credentials(e) => ProxyError::Credentials(e),
            SendError::Egress(e) => ProxyError::Egress(e),
        })?;
        if call.raw { Ok(raw_answer(resp)) } else { json_answer(resp, self.settings.max_json_response_bytes).await }
    }
}

fn raw_answer(resp: StreamingResponse) -> Answer {
    let headers = kept_headers(resp.headers, |n| !dropped_response_header(n));
    Answer::Raw { status: resp.status, headers, body: resp.body }
}

async fn json_answer(resp: StreamingResponse, cap: u64) -> Result<Answer, ProxyError> {
    let status = resp.status;
    let encoding = resp
        .headers
        .get(http::header::CONTENT_ENCODING)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_ascii_lowercase());
    let headers = kept_headers(resp.headers, kept_json_header);
    let mut body = Vec::new();
    let mut stream = resp.body;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
    }
    let body = match encoding.as_deref() {
        None | Some("" | "identity") => body,
        Some(enc) => decode(enc, &body, cap)?,
    };
    Ok(Answer::Json { status, headers, body: wrap_output(&body) })
}

/// `{"output": <body>}`: a JSON body is spliced in as it is (checked, not
/// rebuilt), anything else becomes a JSON string, an empty body `null`.
fn wrap_output(body: &[u8]) -> Bytes {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Bytes::from_static(br#"{"output":null}"#);
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok() {
        // Exactly the length: `Bytes` then takes the buffer as it is.
        let mut out = Vec::with_capacity(trimmed.len() + br#"{"output":}"#.len());
        out.extend_from_slice(br#"{"output":"#);
        out.extend_from_slice(trimmed);
        out.push(b'}');
        return out.into();
    }
    let text = Value::String(String::from_utf8_lossy(body).into_owned());
    serde_json::to_vec(&json!({ "output": text })).unwrap_or_default().into()
}

/// Decodes a compressed body, counting the cap against the decoded bytes
/// (a small gzip can expand to gigabytes).
fn decode(encoding: &str, body: &[u8], cap: u64) -> Result<Vec<u8>, ProxyError> {
    let reader: Box<dyn Read> = match encoding {
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(body)),
        other => return Err(ProxyError::BadAnswer(format!("content encoding {other:?} is not supported"))),
    };
    let mut out = Vec::new();
    let read = reader
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| ProxyError::BadAnswer(format!("the {encoding} body does not decode: {e}")))?;
    if read as u64 > cap {
        return Err(ProxyError::Egress(EgressError::TooLarge(cap)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_decompression_bomb_is_cut_at_the_decoded_cap() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 8 * 1024 * 1024]).unwrap();
        let small = gz.finish().unwrap();
        assert!(small.len() < 64 * 1024, "{} bytes", small.len());
        assert!(matches!(decode("gzip", &small, 1024 * 1024), Err(ProxyError::Egress(EgressError::TooLarge(_)))));
        assert_eq!(decode("gzip", &small, 16 * 1024 * 1024).unwrap().len(), 8 * 1024 * 1024);
        assert!(matches!(decode("br", &small, 1024), Err(ProxyError::BadAnswer(_))));
    }

    #[test]
    fn outputs_wrap_json_text_and_nothing() {
        let parse = |b: &[u8]| serde_json::from_slice::<Value>(&wrap_output(b)).unwrap();
        assert_eq!(parse(br#" {"ok": [1, 2]} "#), json!({"output": {"ok": [1, 2]}}));
        assert_eq!(parse(br#"plain "text""#), json!({"output": "plain \"text\""}));
        assert_eq!(parse(b"{\"half\":"), json!({"output": "{\"half\":"}));
        assert_eq!(parse(b"  "), json!({"output": null}));
        assert_eq!(parse(b"42"), json!({"output": 42}));
    }

    #[test]
    fn forwarding_and_control_headers_are_not_forwarded() {
        for h in [
            "X-Forwarded-For",
            "x-forwarded-host",
            "Forwarded",
            "X-Real-IP",
            "X-Paragon-Credential",
            "X-Paragon-SDK-Version",
            "Cookie",
        ] {
            assert!(dropped_request_header(h), "{h}");
        }
        for h in ["Accept", "Content-Type", "Notion-Version", "X-Custom"] {
            assert!(!dropped_request_header(h), "{h}");
        }
        assert!(dropped_response_header("Set-Cookie"));
        assert!(dropped_response_header("Transfer-Encoding"));
        assert!(!dropped_response_header("Content-Type"));
    }

    #[test]
    fn the_sdks_content_type_auto_is_inferred_not_forwarded() {
        for (name, value) in [("Content-Type", "auto"), ("content-type", " AUTO ")] {
            assert!(inferred_content_type(name, value.as_bytes()), "{name}: {value}");
        }
        for (name, value) in [("Content-Type", "application/json"), ("Content-Type", "text/auto"), ("X-Mode", "auto")] {
            assert!(!inferred_content_type(name, value.as_bytes()), "{name}: {value}");
        }
    }
}
