//! The [`Integration`] trait and the answers of its auth hooks.

use crate::{
    Action, Ctx, Error, Fields, Metadata, PollRequest, PollResponse, Result, Subscription, Trigger, Unsubscription,
    WebhookRequest, WebhookResponse,
};

/// A third-party integration: implement it on a unit struct and register it
/// with [`export_integration!`](crate::export_integration).
///
/// Only [`metadata`](Self::metadata) is required; every other hook has a
/// default, so a plugin implements what its provider offers. Hooks are
/// associated functions (no `self`): each call runs in a fresh instance, so
/// there is no plugin state to hold; durable state goes through
/// [`state`](crate::state).
///
/// ```no_run
/// use weft_sdk::{Action, Auth, ConnectionInfo, Ctx, Empty, Integration, Metadata, Result};
///
/// struct Todo;
///
/// fn list(cx: &Ctx, _: Empty) -> Result<Vec<serde_json::Value>> {
///     cx.http().get("/todos").send()?.json()
/// }
///
/// impl Integration for Todo {
///     fn metadata() -> Metadata {
///         Metadata::new("todo", "Todo", "0.1.0")
///             .base_url("https://api.todo.example")
///             .allowed_hosts(["api.todo.example"])
///             .auth(Auth::bearer())
///     }
///
///     fn actions() -> Vec<Action> {
///         vec![Action::new("TODO_LIST", "List todos", list)]
///     }
///
///     fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
///         let me: serde_json::Value = cx.http().get("/me").send()?.json()?;
///         let id = me["id"].to_string();
///         Ok(ConnectionInfo::new(id.clone(), format!("Todo user {id}")))
///     }
/// }
///
/// weft_sdk::export_integration!(Todo);
/// ```
pub trait Integration: 'static {
    /// Who the plugin is; pure and deterministic (the host caches it per
    /// plugin version).
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// fn metadata() -> weft_sdk::Metadata {
    ///     weft_sdk::Metadata::new("p", "P", "0.1.0")
    /// }
    /// # }
    /// ```
    fn metadata() -> Metadata;

    /// Every action, in the order shown to users. Called on every
    /// `run-action` to find the handler, so build the list and nothing else.
    ///
    /// ```no_run
    /// # struct P;
    /// # fn ping(_: &weft_sdk::Ctx, _: weft_sdk::Empty) -> weft_sdk::Result<weft_sdk::Empty> { todo!() }
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn actions() -> Vec<weft_sdk::Action> {
    ///     vec![weft_sdk::Action::new("PING", "Ping", ping)]
    /// }
    /// # }
    /// ```
    fn actions() -> Vec<Action> {
        Vec::new()
    }

    /// Every trigger.
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn triggers() -> Vec<weft_sdk::Trigger> {
    ///     vec![weft_sdk::Trigger::polling::<weft_sdk::Empty>("NEW_ITEM", "New item", 300, 60)]
    /// }
    /// # }
    /// ```
    fn triggers() -> Vec<Trigger> {
        Vec::new()
    }

    /// Registers a provider webhook for a new subscription, delivering to
    /// `req.webhook_url`. The returned JSON (e.g. the provider's hook id) is
    /// stored by the host and handed back to [`unsubscribe`](Self::unsubscribe).
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn subscribe(cx: &weft_sdk::Ctx, req: weft_sdk::Subscription) -> weft_sdk::Result<serde_json::Value> {
    ///     let hook: serde_json::Value =
    ///         cx.http().post("/hooks").json(&serde_json::json!({ "url": req.webhook_url })).send()?.json()?;
    ///     Ok(serde_json::json!({ "hook_id": hook["id"] }))
    /// }
    /// # }
    /// ```
    fn subscribe(cx: &Ctx, req: Subscription) -> Result<serde_json::Value> {
        let _ = cx;
        Err(Error::unsupported(format!("trigger `{}` has no subscribe hook", req.trigger)))
    }

    /// Removes what [`subscribe`](Self::subscribe) registered; removing a
    /// hook the provider no longer has must succeed.
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn unsubscribe(cx: &weft_sdk::Ctx, req: weft_sdk::Unsubscription) -> weft_sdk::Result<()> {
    ///     let state: serde_json::Value = req.state()?;
    ///     match cx.http().delete(format!("/hooks/{}", state["hook_id"])).send() {
    ///         Ok(_) | Err(weft_sdk::Error::NotFound(_)) => Ok(()),
    ///         Err(e) => Err(e),
    ///     }
    /// }
    /// # }
    /// ```
    fn unsubscribe(cx: &Ctx, req: Unsubscription) -> Result<()> {
        let _ = cx;
        Err(Error::unsupported(format!("trigger `{}` has no unsubscribe hook", req.trigger)))
    }

    /// Handles one delivery: verify it, answer challenges, produce events.
    /// Must be fast and side-effect free (the host denies HTTP and state
    /// writes here). See [`webhook`](crate::webhook).
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn handle_webhook(req: weft_sdk::WebhookRequest) -> weft_sdk::Result<weft_sdk::WebhookResponse> {
    ///     let sig = req.header("x-hub-signature-256").unwrap_or_default();
    ///     if !weft_sdk::webhook::verify_github_sha256("webhook_secret", &req.body, sig) {
    ///         return Ok(weft_sdk::WebhookResponse::rejected("bad signature"));
    ///     }
    ///     let event = weft_sdk::Event::new("PUSH", req.json()?);
    ///     Ok(weft_sdk::WebhookResponse::verified().event(event))
    /// }
    /// # }
    /// ```
    fn handle_webhook(req: WebhookRequest) -> Result<WebhookResponse> {
        let _ = req;
        Err(Error::unsupported("this plugin does not accept webhooks"))
    }

    /// Fetches the events of a polling trigger since `req.cursor`.
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn poll(cx: &weft_sdk::Ctx, req: weft_sdk::PollRequest) -> weft_sdk::Result<weft_sdk::PollResponse> {
    ///     let items: Vec<serde_json::Value> = cx.http().get("/items").send()?.json()?;
    ///     let events = items.into_iter().map(|i| weft_sdk::Event::new("NEW_ITEM", i));
    ///     Ok(weft_sdk::PollResponse::new(events, req.cursor))
    /// }
    /// # }
    /// ```
    fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
        let _ = cx;
        Err(Error::unsupported(format!("trigger `{}` is not polled", req.trigger)))
    }

    /// The per-account input fields of `action`, one of the actions marked
    /// with [`Action::dynamic_fields`]; only called when the plugin is
    /// exported with `export_integration!(YourType, fields)`. It acts for
    /// the connection like an action does (its requests may use the
    /// account's credentials), and the host caches the answer per account,
    /// so ask the provider for what the account has and nothing else.
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn fields(cx: &weft_sdk::Ctx, action: &str) -> weft_sdk::Result<weft_sdk::Fields> {
    ///     let custom: Vec<serde_json::Value> = cx.http().get("/custom-fields").send()?.json()?;
    ///     let mut fields = weft_sdk::Fields::new();
    ///     for f in custom {
    ///         let name = format!("field-{}", f["name"].as_str().unwrap_or_default());
    ///         fields = fields.field(name, serde_json::json!({ "type": "string" }));
    ///     }
    ///     weft_sdk::debug!("fields"; action = action, count = fields.len());
    ///     Ok(fields)
    /// }
    /// # }
    /// ```
    fn fields(cx: &Ctx, action: &str) -> Result<Fields> {
        let _ = cx;
        Err(Error::unsupported(format!("action `{action}` has no per-account fields")))
    }

    /// Validates the connection's credentials and describes the account;
    /// called after connecting and periodically. Answer `unauthorized` when
    /// the provider rejects the credentials.
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn test_connection(cx: &weft_sdk::Ctx) -> weft_sdk::Result<weft_sdk::ConnectionInfo> {
    ///     let me: serde_json::Value = cx.http().get("/user").send()?.json()?;
    ///     let login = me["login"].as_str().unwrap_or_default();
    ///     Ok(weft_sdk::ConnectionInfo::new(me["id"].to_string(), login).profile(me.clone()))
    /// }
    /// # }
    /// ```
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let _ = cx;
        Err(Error::unsupported("this plugin cannot test connections"))
    }

    /// Produces new credentials, for `oauth2` with `custom_refresh` or
    /// `custom` schemes only; the one call in which
    /// [`secrets::get`](crate::secrets::get) may read credential fields.
    ///
    /// ```no_run
    /// # struct P;
    /// # impl weft_sdk::Integration for P {
    /// # fn metadata() -> weft_sdk::Metadata { todo!() }
    /// fn refresh(cx: &weft_sdk::Ctx) -> weft_sdk::Result<weft_sdk::RefreshedCredentials> {
    ///     let key = weft_sdk::secrets::get("api_key")?;
    ///     let token: serde_json::Value = cx
    ///         .http()
    ///         .post("/session")
    ///         .no_auth()
    ///         .json(&serde_json::json!({ "key": key }))
    ///         .send()?
    ///         .json()?;
    ///     let access = token["token"].as_str().unwrap_or_default();
    ///     Ok(weft_sdk::RefreshedCredentials::new(access).expires_in_seconds(3600))
    /// }
    /// # }
    /// ```
    fn refresh(cx: &Ctx) -> Result<RefreshedCredentials> {
        let _ = cx;
        Err(Error::unsupported("this plugin has no custom refresh"))
    }
}

/// The account behind a connection, from
/// [`Integration::test_connection`].
///
/// ```no_run
/// use weft_sdk::ConnectionInfo;
/// let info = ConnectionInfo::new("T024BE7LD", "Acme workspace")
///     .routing_key("T024BE7LD")
///     .profile(serde_json::json!({ "domain": "acme" }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    /// Stable account id at the provider.
    pub account_id: String,
    /// Name shown to users.
    pub display_name: String,
    /// Routing keys that app-level webhook events carry for this connection.
    pub routing_keys: Vec<String>,
    /// Profile data shown to users; `{}` when none.
    pub profile: serde_json::Value,
}

impl ConnectionInfo {
    /// An account with no routing keys and an empty profile.
    ///
    /// ```no_run
    /// let info = weft_sdk::ConnectionInfo::new("42", "octocat");
    /// ```
    pub fn new(account_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            account_id: account_id.into(),
            display_name: display_name.into(),
            routing_keys: Vec::new(),
            profile: serde_json::Value::Object(Default::default()),
        }
    }

    /// Adds a routing key.
    ///
    /// ```no_run
    /// let info = weft_sdk::ConnectionInfo::new("42", "octocat").routing_key("team-42");
    /// ```
    pub fn routing_key(mut self, key: impl Into<String>) -> Self {
        self.routing_keys.push(key.into());
        self
    }

    /// Sets the profile.
    ///
    /// ```no_run
    /// let info = weft_sdk::ConnectionInfo::new("42", "octocat")
    ///     .profile(serde_json::json!({ "plan": "pro" }));
    /// ```
    pub fn profile(mut self, profile: serde_json::Value) -> Self {
        self.profile = profile;
        self
    }
}

/// New credentials from a custom [`Integration::refresh`]. Not `Debug`, so
/// a token cannot end up in a log by accident.
///
/// ```no_run
/// let creds = weft_sdk::RefreshedCredentials::new("new-access-token")
///     .refresh_token("new-refresh-token")
///     .expires_in_seconds(3600);
/// ```
#[derive(Clone, PartialEq)]
pub struct RefreshedCredentials {
    /// The new access token.
    pub access_token: String,
    /// A new refresh token, when the provider rotated it.
    pub refresh_token: Option<String>,
    /// Lifetime of the access token.
    pub expires_in_seconds: Option<u64>,
    /// Anything else the host should keep with the credentials; `{}` when none.
    pub extra: serde_json::Value,
}

impl RefreshedCredentials {
    /// Credentials holding `access_token` only.
    ///
    /// ```no_run
    /// let creds = weft_sdk::RefreshedCredentials::new("token");
    /// ```
    pub fn new(access_token: impl Into<String>) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: None,
            expires_in_seconds: None,
            extra: serde_json::Value::Object(Default::default()),
        }
    }

    /// Sets the rotated refresh token.
    ///
    /// ```no_run
    /// let creds = weft_sdk::RefreshedCredentials::new("a").refresh_token("r");
    /// ```
    pub fn refresh_token(mut self, token: impl Into<String>) -> Self {
        self.refresh_token = Some(token.into());
        self
    }

    /// Sets the access token's lifetime.
    ///
    /// ```no_run
    /// let creds = weft_sdk::RefreshedCredentials::new("a").expires_in_seconds(900);
    /// ```
    pub fn expires_in_seconds(mut self, seconds: u64) -> Self {
        self.expires_in_seconds = Some(seconds);
        self
    }

    /// Sets the extra data.
    ///
    /// ```no_run
    /// let creds = weft_sdk::RefreshedCredentials::new("a")
    ///     .extra(serde_json::json!({ "instance_url": "https://eu1.example.com" }));
    /// ```
    pub fn extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }
}
