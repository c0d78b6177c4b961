//! Triggers: their definitions and the hooks' request and response types.
//!
//! A trigger is declared in [`Integration::triggers`](crate::Integration::triggers)
//! and served by the trait's hooks: `subscribe`/`unsubscribe` and
//! `handle_webhook` for webhook triggers, `poll` for polling ones.

mod requests;

pub use requests::{PollRequest, PollResponse, Subscription, Unsubscription};

use std::borrow::Cow;

use schemars::JsonSchema;

use crate::bindings::exports::triggers as wit;
use crate::schema::{self, SchemaFn};

/// One trigger as listed to users.
///
/// The type parameter of each constructor is the trigger's config: its JSON
/// Schema is what users fill in when they subscribe. Use
/// [`Empty`](crate::Empty) when there is nothing to configure.
///
/// ```no_run
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use weft_sdk::{Empty, Trigger};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct RepoConfig { owner: String, repo: String }
///
/// let triggers = vec![
///     Trigger::webhook::<RepoConfig>("ISSUE_OPENED", "Issue opened")
///         .description("A new issue was opened in the repository"),
///     Trigger::app_webhook::<Empty>("MESSAGE_POSTED", "Message posted"),
///     Trigger::polling::<Empty>("NEW_ROW", "New row", 300, 60),
/// ];
/// ```
#[derive(Debug, Clone)]
pub struct Trigger {
    key: Cow<'static, str>,
    display_name: Cow<'static, str>,
    description: Cow<'static, str>,
    kind: Kind,
    config_schema: SchemaFn,
    output_schema: Option<SchemaFn>,
    /// Settings that narrow the events a workflow takes: (setting, JSON
    /// Pointer into the payload).
    matching: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Webhook,
    AppWebhook,
    Polling { default_s: u32, min_s: u32 },
}

impl Trigger {
    fn new<C: JsonSchema>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
        kind: Kind,
    ) -> Self {
        Self {
            key: key.into(),
            display_name: display_name.into(),
            description: Cow::Borrowed(""),
            kind,
            config_schema: schema::of::<C>,
            output_schema: None,
            matching: Vec::new(),
        }
    }

    /// A trigger fed by one provider webhook per subscription, registered in
    /// `subscribe`.
    ///
    /// ```no_run
    /// let t = weft_sdk::Trigger::webhook::<weft_sdk::Empty>("PUSH", "Push");
    /// ```
    pub fn webhook<C: JsonSchema>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new::<C>(key, display_name, Kind::Webhook)
    }

    /// A trigger fed by the app-wide webhook: the provider sends every event
    /// of the app to one URL, and each [`Event`] carries a routing key.
    ///
    /// ```no_run
    /// let t = weft_sdk::Trigger::app_webhook::<weft_sdk::Empty>("MESSAGE", "New message");
    /// ```
    pub fn app_webhook<C: JsonSchema>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new::<C>(key, display_name, Kind::AppWebhook)
    }

    /// A trigger the host polls every `default_interval_s` seconds (users may
    /// go down to `min_interval_s`).
    ///
    /// ```no_run
    /// let t = weft_sdk::Trigger::polling::<weft_sdk::Empty>("NEW_FILE", "New file", 300, 60);
    /// ```
    pub fn polling<C: JsonSchema>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
        default_interval_s: u32,
        min_interval_s: u32,
    ) -> Self {
        let kind = Kind::Polling { default_s: default_interval_s, min_s: min_interval_s };
        Self::new::<C>(key, display_name, kind)
    }

    /// Sets the description shown to users and AI agents.
    ///
    /// ```no_run
    /// let t = weft_sdk::Trigger::webhook::<weft_sdk::Empty>("PUSH", "Push")
    ///     .description("Commits were pushed to a branch");
    /// ```
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// Declares the schema of event payloads.
    ///
    /// ```no_run
    /// #[derive(schemars::JsonSchema)]
    /// struct Push { r#ref: String }
    /// let t = weft_sdk::Trigger::webhook::<weft_sdk::Empty>("PUSH", "Push").output::<Push>();
    /// ```
    pub fn output<O: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(schema::of::<O>);
        self
    }

    /// Makes the config setting `setting` narrow which events a workflow
    /// takes: the host starts a workflow for an event only when the event
    /// payload's value at `pointer` (a JSON Pointer) equals the workflow's
    /// setting, or one of its values when the setting is a list. A workflow
    /// that leaves the setting out takes every event. The host applies it
    /// when it routes an event, without calling the plugin; the rule travels
    /// in the config schema as the property's `x-weft-event-field`.
    ///
    /// ```no_run
    /// #[derive(schemars::JsonSchema)]
    /// #[serde(rename_all = "camelCase")]
    /// struct Config { record_type: String }
    /// let t = weft_sdk::Trigger::app_webhook::<Config>("RECORD_CREATED", "New record")
    ///     .matching("recordType", "/objectType");
    /// ```
    pub fn matching(mut self, setting: impl Into<Cow<'static, str>>, pointer: impl Into<Cow<'static, str>>) -> Self {
        self.matching.push((setting.into(), pointer.into()));
        self
    }

    /// The stable key.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::Trigger::webhook::<weft_sdk::Empty>("PUSH", "Push").key(), "PUSH");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn definition(&self) -> wit::TriggerDefinition {
        wit::TriggerDefinition {
            key: self.key.to_string(),
            display_name: self.display_name.to_string(),
            description: self.description.to_string(),
            kind: match self.kind {
                Kind::Webhook => wit::TriggerKind::Webhook,
                Kind::AppWebhook => wit::TriggerKind::AppWebhook,
                Kind::Polling { default_s, min_s } => wit::TriggerKind::Polling(wit::PollingConfig {
                    default_interval_seconds: default_s,
                    min_interval_seconds: min_s,
                }),
            },
            config_schema: self.config_schema(),
            output_schema: self.output_schema.map(|f| f()),
        }
    }
}

impl Trigger {
    /// The config schema, each [`Trigger::matching`] rule written into its
    /// setting's property.
    fn config_schema(&self) -> String {
        let text = (self.config_schema)();
        if self.matching.is_empty() {
            return text;
        }
        let Ok(mut schema) = serde_json::from_str::<serde_json::Value>(&text) else { return text };
        for (setting, pointer) in &self.matching {
            if let Some(property) = schema
                .pointer_mut(&format!("/properties/{}", setting.replace('~', "~0").replace('/', "~1")))
                .and_then(|p| p.as_object_mut())
            {
                property.insert("x-weft-event-field".into(), serde_json::Value::from(pointer.as_ref()));
            }
        }
        schema.to_string()
    }
}

/// One event produced by a webhook delivery or a poll.
///
/// ```no_run
/// use weft_sdk::Event;
/// let e = Event::new("ISSUE_OPENED", serde_json::json!({ "number": 7 }))
///     .dedupe_key("delivery-123")
///     .occurred_at_ms(1_714_000_000_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The trigger key.
    pub trigger: String,
    /// For app-level webhooks: which account it concerns, e.g. a Slack team id.
    pub routing_key: Option<String>,
    /// Provider event id; the host drops events whose key it has seen.
    pub dedupe_key: Option<String>,
    /// When it happened at the provider, Unix epoch milliseconds.
    pub occurred_at_ms: Option<u64>,
    /// The event data handed to workflows.
    pub payload: serde_json::Value,
}

impl Event {
    /// An event of `trigger` carrying `payload`.
    ///
    /// ```no_run
    /// let e = weft_sdk::Event::new("TICK", serde_json::json!({ "n": 1 }));
    /// ```
    pub fn new(trigger: impl Into<String>, payload: serde_json::Value) -> Self {
        Self { trigger: trigger.into(), routing_key: None, dedupe_key: None, occurred_at_ms: None, payload }
    }

    /// Sets the routing key (app-level webhooks).
    ///
    /// ```no_run
    /// let e = weft_sdk::Event::new("MESSAGE", serde_json::json!({})).routing_key("T024BE7LD");
    /// ```
    pub fn routing_key(mut self, key: impl Into<String>) -> Self {
        self.routing_key = Some(key.into());
        self
    }

    /// Sets the de-duplication key.
    ///
    /// ```no_run
    /// let e = weft_sdk::Event::new("PUSH", serde_json::json!({})).dedupe_key("evt_1");
    /// ```
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// Sets when the event happened.
    ///
    /// ```no_run
    /// let e = weft_sdk::Event::new("PUSH", serde_json::json!({})).occurred_at_ms(1_700_000_000_000);
    /// ```
    pub fn occurred_at_ms(mut self, at_ms: u64) -> Self {
        self.occurred_at_ms = Some(at_ms);
        self
    }

    pub(crate) fn into_wit(self) -> wit::Event {
        wit::Event {
            trigger: self.trigger,
            routing_key: self.routing_key,
            dedupe_key: self.dedupe_key,
            occurred_at_ms: self.occurred_at_ms,
            payload: self.payload.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[derive(JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Config {
        record_type: String,
        label: Option<String>,
    }

    fn config_schema(t: &Trigger) -> Value {
        serde_json::from_str(&t.definition().config_schema).unwrap()
    }

    #[test]
    fn a_matching_rule_is_written_into_its_settings_property() {
        let t = Trigger::app_webhook::<Config>("CREATED", "New record").matching("recordType", "/objectType");
        let schema = config_schema(&t);
        assert_eq!(schema["properties"]["recordType"]["x-weft-event-field"], json!("/objectType"));
        assert_eq!(schema["properties"]["recordType"]["type"], json!("string"), "the property is kept");
        assert!(schema["properties"]["label"].get("x-weft-event-field").is_none());
        // A rule naming no property changes nothing; no rule, no keyword.
        let stray = Trigger::app_webhook::<Config>("CREATED", "New record").matching("missing", "/x");
        assert_eq!(config_schema(&stray), config_schema(&Trigger::app_webhook::<Config>("CREATED", "New record")));
    }
}
