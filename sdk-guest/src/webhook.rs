//! Webhook deliveries: the request the host received, the plugin's verdict,
//! and signature checks done by the host.
//!
//! [`Integration::handle_webhook`](crate::Integration::handle_webhook) must
//! be fast and side-effect free: verify, answer challenges, turn the body
//! into [`Event`]s. The host denies HTTP and state writes
//! during the call.
//!
//! ```no_run
//! use weft_sdk::webhook::{verify_github_sha256, WebhookRequest, WebhookResponse};
//! use weft_sdk::{Event, Result};
//!
//! fn handle(req: WebhookRequest) -> Result<WebhookResponse> {
//!     let signature = req.header("x-hub-signature-256").unwrap_or_default();
//!     if !verify_github_sha256("webhook_secret", &req.body, signature) {
//!         return Ok(WebhookResponse::rejected("bad signature"));
//!     }
//!     let payload: serde_json::Value = req.json()?;
//!     let event = Event::new("ISSUE_OPENED", payload)
//!         .dedupe_key(req.header("x-github-delivery").unwrap_or_default());
//!     Ok(WebhookResponse::verified().event(event))
//! }
//! ```

mod verify;

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use verify::{Encoding, HmacAlgorithm, verify_github_sha256, verify_hmac, verify_slack_v0};

use crate::bindings::exports::triggers as wit;
use crate::{Error, Event, Result};

/// An HTTP request the host received on a webhook URL.
///
/// ```no_run
/// # fn f(req: weft_sdk::WebhookRequest) -> weft_sdk::Result<()> {
/// if req.method == "POST" && req.header("content-type") == Some("application/json") {
///     let body: serde_json::Value = req.json()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// Set for per-subscription URLs, `None` for app-level URLs.
    pub subscription_id: Option<String>,
    /// The trigger of the subscription, for per-subscription URLs.
    pub trigger: Option<String>,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Headers, in order; use [`header`](Self::header) to look one up.
    pub headers: Vec<(String, String)>,
    /// The body, capped by the host.
    pub body: Vec<u8>,
    /// When the host received it, Unix epoch milliseconds.
    pub received_at_ms: u64,
    config: Option<String>,
}

impl WebhookRequest {
    pub(crate) fn from_wit(r: wit::WebhookRequest) -> Self {
        Self {
            subscription_id: r.subscription_id,
            trigger: r.trigger,
            method: r.request.method,
            path: r.request.path,
            query: r.request.query,
            headers: r.request.headers,
            body: r.request.body,
            received_at_ms: r.received_at_ms,
            config: r.config,
        }
    }

    /// The first header named `name`, compared case-insensitively.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::WebhookRequest) {
    /// let event_type = req.header("X-GitHub-Event");
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name, |a, b| a.eq_ignore_ascii_case(b))
    }

    /// The first query parameter named `name` (case-sensitive).
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::WebhookRequest) {
    /// let challenge = req.query_param("hub.challenge");
    /// # }
    /// ```
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find(&self.query, name, |a, b| a == b)
    }

    /// Deserializes the body as JSON; a body that does not fit is
    /// `invalid-input`.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::WebhookRequest) -> weft_sdk::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Push { r#ref: String }
    /// let push: Push = req.json()?;
    /// # Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::invalid_input(format!("webhook body: {e}")))
    }

    /// The body as text; invalid UTF-8 is replaced with U+FFFD.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::WebhookRequest) {
    /// weft_sdk::trace!("delivery"; bytes = req.text().len());
    /// # }
    /// ```
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The subscription's trigger config, for per-subscription URLs.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::WebhookRequest) -> weft_sdk::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Config { repo: String }
    /// let config: Option<Config> = req.config()?;
    /// # Ok(()) }
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        match &self.config {
            None => Ok(None),
            Some(json) => {
                serde_json::from_str(json).map(Some).map_err(|e| Error::invalid_input(format!("trigger config: {e}")))
            }
        }
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str, eq: impl Fn(&str, &str) -> bool) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| eq(n, name)).map(|(_, v)| v.as_str())
}

/// The plugin's verdict on a delivery's authenticity.
///
/// ```no_run
/// use weft_sdk::webhook::Verification;
/// let verdict = Verification::Rejected("stale timestamp".into());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Authentic: the host enqueues the events.
    Verified,
    /// Not authentic: the host answers 401 and drops the delivery.
    Rejected(String),
}

/// What to answer the provider and which events to enqueue.
///
/// ```no_run
/// use weft_sdk::webhook::{Reply, WebhookResponse};
/// use weft_sdk::Event;
///
/// let ack = WebhookResponse::verified()
///     .reply(Reply::text("ok"))
///     .event(Event::new("PING", serde_json::json!({})));
/// let nope = WebhookResponse::rejected("bad signature");
/// ```
#[derive(Debug, Clone)]
pub struct WebhookResponse {
    /// The verdict.
    pub verification: Verification,
    /// Immediate reply; the host sends 200 with no body when `None`.
    pub reply: Option<Reply>,
    /// Events to enqueue.
    pub events: Vec<Event>,
}

impl WebhookResponse {
    /// An authentic delivery, so far with no reply and no events.
    ///
    /// ```no_run
    /// let r = weft_sdk::WebhookResponse::verified();
    /// ```
    pub fn verified() -> Self {
        Self { verification: Verification::Verified, reply: None, events: Vec::new() }
    }

    /// A delivery to refuse; the host answers 401.
    ///
    /// ```no_run
    /// let r = weft_sdk::WebhookResponse::rejected("bad signature");
    /// ```
    pub fn rejected(reason: impl Into<String>) -> Self {
        Self { verification: Verification::Rejected(reason.into()), reply: None, events: Vec::new() }
    }

    /// Sets the immediate reply, e.g. a challenge echo.
    ///
    /// ```no_run
    /// use weft_sdk::webhook::Reply;
    /// let r = weft_sdk::WebhookResponse::verified().reply(Reply::text("challenge-123"));
    /// ```
    pub fn reply(mut self, reply: Reply) -> Self {
        self.reply = Some(reply);
        self
    }

    /// Adds one event.
    ///
    /// ```no_run
    /// let r = weft_sdk::WebhookResponse::verified()
    ///     .event(weft_sdk::Event::new("PUSH", serde_json::json!({ "ref": "main" })));
    /// ```
    pub fn event(mut self, event: Event) -> Self {
        self.events.push(event);
        self
    }

    /// Adds several events.
    ///
    /// ```no_run
    /// # let items: Vec<serde_json::Value> = vec![];
    /// let r = weft_sdk::WebhookResponse::verified()
    ///     .events(items.into_iter().map(|p| weft_sdk::Event::new("ROW", p)));
    /// ```
    pub fn events(mut self, events: impl IntoIterator<Item = Event>) -> Self {
        self.events.extend(events);
        self
    }

    pub(crate) fn into_wit(self) -> wit::WebhookResponse {
        wit::WebhookResponse {
            verification: match self.verification {
                Verification::Verified => wit::Verification::Verified,
                Verification::Rejected(m) => wit::Verification::Rejected(m),
            },
            reply: self.reply.map(Reply::into_wit),
            events: self.events.into_iter().map(Event::into_wit).collect(),
        }
    }
}

/// The host's immediate HTTP reply to the provider.
///
/// ```no_run
/// use weft_sdk::webhook::Reply;
/// let accepted = Reply::new(202).header("x-handled-by", "weft");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// Body to send.
    pub body: Vec<u8>,
}

impl Reply {
    /// An empty reply with `status`.
    ///
    /// ```no_run
    /// let r = weft_sdk::webhook::Reply::new(204);
    /// ```
    pub fn new(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// `200` with a `text/plain` body, e.g. to echo a verification challenge.
    ///
    /// ```no_run
    /// let r = weft_sdk::webhook::Reply::text("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    /// ```
    pub fn text(body: impl Into<String>) -> Self {
        Self::new(200).header("content-type", "text/plain; charset=utf-8").body(body.into())
    }

    /// `200` with a JSON body.
    ///
    /// ```no_run
    /// # fn f() -> weft_sdk::Result<()> {
    /// let r = weft_sdk::webhook::Reply::json(&serde_json::json!({ "challenge": "abc" }))?;
    /// # Ok(()) }
    /// ```
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Ok(Self::new(200).header("content-type", "application/json").body(serde_json::to_vec(value)?))
    }

    /// Changes the status.
    ///
    /// ```no_run
    /// let r = weft_sdk::webhook::Reply::text("queued").status(202);
    /// ```
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header.
    ///
    /// ```no_run
    /// let r = weft_sdk::webhook::Reply::new(200).header("x-request-id", "abc");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    ///
    /// ```no_run
    /// let r = weft_sdk::webhook::Reply::new(200).body("ok");
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn into_wit(self) -> wit::OutgoingResponse {
        wit::OutgoingResponse { status: self.status, headers: self.headers, body: self.body }
    }
}
