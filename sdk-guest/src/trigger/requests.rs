//! What the host hands to the trigger hooks, and what `poll` answers.

use serde::de::DeserializeOwned;

use super::{Event, wit};
use crate::{Ctx, Error, Result};

fn parse<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::invalid_input(format!("{what}: {e}")))
}

/// A request to register a provider webhook for one subscription.
///
/// ```no_run
/// use weft_sdk::{Ctx, Result, Subscription};
///
/// #[derive(serde::Deserialize)]
/// struct RepoConfig { owner: String, repo: String }
///
/// fn subscribe(cx: &Ctx, req: Subscription) -> Result<serde_json::Value> {
///     let config: RepoConfig = req.config()?;
///     let hook: serde_json::Value = cx
///         .http()
///         .post(format!("/repos/{}/{}/hooks", config.owner, config.repo))
///         .json(&serde_json::json!({ "config": { "url": req.webhook_url } }))
///         .send()?
///         .json()?;
///     Ok(serde_json::json!({ "hook_id": hook["id"] }))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The trigger key.
    pub trigger: String,
    /// The unique public URL the host accepts deliveries on.
    pub webhook_url: String,
    config: String,
}

impl Subscription {
    pub(crate) fn from_wit(r: wit::SubscribeRequest) -> (Ctx, Self) {
        let req = Self { trigger: r.trigger, webhook_url: r.webhook_url, config: r.config };
        (Ctx::from_wit(r.context), req)
    }

    /// The trigger config, validated by the host against its schema.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::Subscription) -> weft_sdk::Result<()> {
    /// let config: serde_json::Value = req.config()?;
    /// # Ok(()) }
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        parse(&self.config, "trigger config")
    }
}

/// A request to remove what `subscribe` registered.
///
/// ```no_run
/// use weft_sdk::{Ctx, Result, Unsubscription};
///
/// #[derive(serde::Deserialize)]
/// struct HookState { hook_id: u64 }
///
/// fn unsubscribe(cx: &Ctx, req: Unsubscription) -> Result<()> {
///     let state: HookState = req.state()?;
///     match cx.http().delete(format!("/hooks/{}", state.hook_id)).send() {
///         // Already gone at the provider: that is what we wanted.
///         Ok(_) | Err(weft_sdk::Error::NotFound(_)) => Ok(()),
///         Err(e) => Err(e),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Unsubscription {
    /// The trigger key.
    pub trigger: String,
    config: String,
    state: String,
}

impl Unsubscription {
    pub(crate) fn from_wit(r: wit::UnsubscribeRequest) -> (Ctx, Self) {
        let req = Self { trigger: r.trigger, config: r.config, state: r.state };
        (Ctx::from_wit(r.context), req)
    }

    /// The trigger config the subscription was made with.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::Unsubscription) -> weft_sdk::Result<()> {
    /// let config: serde_json::Value = req.config()?;
    /// # Ok(()) }
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        parse(&self.config, "trigger config")
    }

    /// The state `subscribe` returned, e.g. the provider's hook id.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::Unsubscription) -> weft_sdk::Result<()> {
    /// let state: serde_json::Value = req.state()?;
    /// # Ok(()) }
    /// ```
    pub fn state<T: DeserializeOwned>(&self) -> Result<T> {
        parse(&self.state, "subscription state")
    }
}

/// A poll of one subscription.
///
/// ```no_run
/// use weft_sdk::{Ctx, Event, PollRequest, PollResponse, Result};
///
/// fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
///     let since = req.cursor.as_deref().unwrap_or("0");
///     let rows: Vec<serde_json::Value> =
///         cx.http().get("/rows").query("since", since).send()?.json()?;
///     let next = rows.last().and_then(|r| r["id"].as_str()).unwrap_or(since).to_string();
///     let events = rows.into_iter().map(|r| Event::new(req.trigger.clone(), r));
///     Ok(PollResponse::new(events, Some(next)))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct PollRequest {
    /// The trigger key.
    pub trigger: String,
    /// The cursor the previous poll returned; `None` on the first.
    pub cursor: Option<String>,
    config: String,
}

impl PollRequest {
    pub(crate) fn from_wit(r: wit::PollRequest) -> (Ctx, Self) {
        let req = Self { trigger: r.trigger, cursor: r.cursor, config: r.config };
        (Ctx::from_wit(r.context), req)
    }

    /// The trigger config of the subscription.
    ///
    /// ```no_run
    /// # fn f(req: &weft_sdk::PollRequest) -> weft_sdk::Result<()> {
    /// let config: serde_json::Value = req.config()?;
    /// # Ok(()) }
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        parse(&self.config, "trigger config")
    }
}

/// Events found since the cursor, and the cursor to continue from. The host
/// stores both in one transaction.
///
/// ```no_run
/// use weft_sdk::{Event, PollResponse};
/// let found = PollResponse::new([Event::new("TICK", serde_json::json!({ "n": 1 }))], Some("1".into()));
/// let nothing_new = PollResponse::empty(Some("1".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PollResponse {
    /// New events, oldest first.
    pub events: Vec<Event>,
    /// Where the next poll continues; `None` starts over.
    pub cursor: Option<String>,
}

impl PollResponse {
    /// Events and the cursor to continue from.
    ///
    /// ```no_run
    /// let r = weft_sdk::PollResponse::new(Vec::new(), Some("2024-05-01T00:00:00Z".into()));
    /// ```
    pub fn new(events: impl IntoIterator<Item = Event>, cursor: Option<String>) -> Self {
        Self { events: events.into_iter().collect(), cursor }
    }

    /// No new events; keep (or set) the cursor.
    ///
    /// ```no_run
    /// # let req: weft_sdk::PollRequest = todo!();
    /// let r = weft_sdk::PollResponse::empty(req.cursor.clone());
    /// ```
    pub fn empty(cursor: Option<String>) -> Self {
        Self::new(Vec::new(), cursor)
    }

    pub(crate) fn into_wit(self) -> wit::PollResponse {
        wit::PollResponse { events: self.events.into_iter().map(Event::into_wit).collect(), cursor: self.cursor }
    }
}
