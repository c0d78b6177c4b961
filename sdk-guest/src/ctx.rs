//! [`Ctx`]: who an export runs for, and the door to the host's HTTP client.

use serde::de::DeserializeOwned;

use crate::bindings::integration::weft::plugin::types::CallContext;
use crate::http::{Http, RequestAuth};
use crate::{Error, Result};

/// The context of one call made on behalf of a connection.
///
/// Every action handler, and the trigger and auth hooks that act for a
/// connection, receive one. It is cheap to pass around by reference.
///
/// ```no_run
/// use serde::Deserialize;
/// use weft_sdk::{Ctx, Result};
///
/// #[derive(Deserialize)]
/// struct Settings { subdomain: String }
///
/// fn whoami(cx: &Ctx) -> Result<String> {
///     let settings: Settings = cx.config()?;
///     weft_sdk::debug!("resolving account"; invocation = cx.invocation_id());
///     Ok(format!("{} at {}", cx.connection_id().unwrap_or("nobody"), settings.subdomain))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Ctx {
    invocation_id: String,
    connection_id: Option<String>,
    connection_config: String,
    deadline_ms: u64,
}

impl Ctx {
    /// Builds a context by hand, for unit tests of handlers; the host builds
    /// the real ones. `connection_config` is a JSON document (`"{}"` for none).
    ///
    /// ```no_run
    /// let cx = weft_sdk::Ctx::new("inv-1", Some("conn-1".into()), r#"{"region":"eu"}"#, 0);
    /// assert_eq!(cx.connection_id(), Some("conn-1"));
    /// ```
    pub fn new(
        invocation_id: impl Into<String>,
        connection_id: Option<String>,
        connection_config: impl Into<String>,
        deadline_ms: u64,
    ) -> Self {
        Self {
            invocation_id: invocation_id.into(),
            connection_id,
            connection_config: connection_config.into(),
            deadline_ms,
        }
    }

    pub(crate) fn from_wit(cx: CallContext) -> Self {
        Self {
            invocation_id: cx.invocation_id,
            connection_id: cx.connection_id,
            connection_config: cx.connection_config,
            deadline_ms: cx.deadline_ms,
        }
    }

    /// Opaque id of this invocation, stable across retries of the same step:
    /// use it to correlate logs and as an idempotency key towards providers.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// cx.http().post("/payments").header("Idempotency-Key", cx.invocation_id()).send()?;
    /// # Ok(()) }
    /// ```
    pub fn invocation_id(&self) -> &str {
        &self.invocation_id
    }

    /// The connection the call acts for; `None` for calls that act for no one.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// if cx.connection_id().is_none() {
    ///     weft_sdk::warn!("no connection: requests go out unauthenticated");
    /// }
    /// # }
    /// ```
    pub fn connection_id(&self) -> Option<&str> {
        self.connection_id.as_deref()
    }

    /// The connection's non-secret settings, deserialized into `T`.
    ///
    /// The host validates them against the metadata's connection-config
    /// schema first, so a mismatch means the schema and `T` disagree.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Config { subdomain: String }
    /// let config: Config = cx.config()?;
    /// # Ok(()) }
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.connection_config)
            .map_err(|e| Error::invalid_input(format!("connection config: {e}")))
    }

    /// The connection's settings as the raw JSON text.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// let has_settings = cx.config_json() != "{}";
    /// # }
    /// ```
    pub fn config_json(&self) -> &str {
        &self.connection_config
    }

    /// Unix epoch milliseconds after which the host aborts the call.
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) {
    /// weft_sdk::trace!("deadline"; at_ms = cx.deadline_ms());
    /// # }
    /// ```
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// The host-mediated HTTP client. Requests carry the connection's
    /// credentials when the call has a connection (see
    /// [`RequestBuilder::no_auth`](crate::http::RequestBuilder::no_auth)).
    ///
    /// ```no_run
    /// # fn f(cx: &weft_sdk::Ctx) -> weft_sdk::Result<()> {
    /// let me: serde_json::Value = cx.http().get("/user").send()?.json()?;
    /// # Ok(()) }
    /// ```
    pub fn http(&self) -> Http {
        let auth = match self.connection_id {
            Some(_) => RequestAuth::Connection,
            None => RequestAuth::None,
        };
        Http::new(auth)
    }
}
