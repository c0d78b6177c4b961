//! Triggers: what starts an execution, and what its first output is.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What starts an execution. Its output is the first step output later
/// steps read, as `{{<id>.output…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::close_variants)]
pub struct Trigger {
    /// The trigger's step id (`{{trigger.output.email}}` reads its output).
    #[serde(default = "default_id")]
    pub id: String,
    /// Which kind of trigger, and its settings.
    #[serde(flatten)]
    pub kind: TriggerKind,
}

fn default_id() -> String {
    "trigger".into()
}

/// The kinds of trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TriggerKind {
    /// An App Event the app sends (`POST …/sdk/events/trigger`); the output
    /// is the event's payload.
    AppEvent {
        /// The event's name, as the app sends it (`Contact Created`).
        event: String,
    },
    /// An HTTP request to the workflow's URL; the output is `request`
    /// (`headers`, `body`, `params`, `file`).
    Request(RequestTrigger),
    /// The user's account of the workflow's integration became usable
    /// (connected and its required settings saved).
    IntegrationEnabled,
    /// An event of the workflow's integration, produced by its plugin's
    /// trigger (a provider webhook or a poll); the output is the event.
    Integration(IntegrationTrigger),
    /// A schedule: fires at each time its cron expression names, in the
    /// user's time zone, for every user who enabled the workflow; the
    /// output is the firing time (`firedAt`, `localTime`, `timezone`).
    Scheduler(SchedulerTrigger),
}

impl TriggerKind {
    /// The kind as files spell it (`appEvent`), which is also the kind of
    /// the store's trigger key.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AppEvent { .. } => "appEvent",
            Self::Request(_) => "request",
            Self::IntegrationEnabled => "integrationEnabled",
            Self::Integration(_) => "integration",
            Self::Scheduler(_) => "scheduler",
        }
    }

    /// What the trigger listens to, where its kind has such a key: an App
    /// Event's name. With [`TriggerKind::name`], what a deployed workflow
    /// is found by when the event arrives.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::AppEvent { event } => Some(event),
            Self::Integration(t) => Some(&t.event),
            Self::Request(_) | Self::IntegrationEnabled | Self::Scheduler(_) => None,
        }
    }

    /// The trigger's type as the task history shows it: `TRIGGER/` and
    /// the kind in upper snake case (the reference's `TRIGGER/CRON`
    /// pattern).
    pub fn history_type(&self) -> &'static str {
        match self {
            Self::AppEvent { .. } => "TRIGGER/APP_EVENT",
            Self::Request(_) => "TRIGGER/REQUEST",
            Self::IntegrationEnabled => "TRIGGER/INTEGRATION_ENABLED",
            Self::Integration(_) => "TRIGGER/INTEGRATION",
            Self::Scheduler(_) => "TRIGGER/CRON",
        }
    }
}

/// An Integration trigger: which of the plugin's triggers, with what
/// settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationTrigger {
    /// The plugin's trigger key (`SLACK_MESSAGE_POSTED`), as `weft
    /// integrations show` and `GET /plugins/{id}` list them.
    pub event: String,
    /// The trigger's settings, checked against the trigger's config schema
    /// when the workflow is deployed (`{}` when it has none).
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    pub config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

fn is_empty_object(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty())
}

/// A Scheduler trigger: when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerTrigger {
    /// Six cron fields, seconds first: second, minute, hour, day of month,
    /// month, day of week (`0 30 9 * * MON-FRI`, `*/5 * * * * *`).
    pub cron: String,
    /// The IANA time zone its times are read in (`Europe/Paris`), or
    /// `{{user.meta.<field>}}` for each user's own; `America/Los_Angeles`
    /// when absent, and for a user whose field names no known zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// A Request trigger's rules for incoming requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestTrigger {
    /// Accept any request. When false the validations say what is
    /// accepted, so at least one must be declared.
    #[serde(default = "yes")]
    pub allow_arbitrary_payload: bool,
    /// Checks on request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header_validations: Vec<HeaderValidation>,
    /// Checks on top-level fields of the request body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_validations: Vec<BodyValidation>,
    /// Checks on query parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub param_validations: Vec<ParamValidation>,
}

fn yes() -> bool {
    true
}

/// A header the request must (or may) carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderValidation {
    /// The header name (compared without regard to case).
    pub key: String,
    /// The value it must have, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether a request without it is refused.
    #[serde(default)]
    pub required: bool,
}

/// A body field the request must (or may) carry, of a type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BodyValidation {
    /// The field name.
    pub key: String,
    /// The type its value must have, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    /// Whether a request without it is refused.
    #[serde(default)]
    pub required: bool,
}

/// A query parameter the request must (or may) carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParamValidation {
    /// The parameter name.
    pub key: String,
    /// Whether a request without it is refused.
    #[serde(default)]
    pub required: bool,
}

/// The type a body field must have: `STRING`, `NUMBER`, `BOOLEAN`,
/// `OBJECT`, `ARRAY`, or `FILE` (a file object, or a multipart file part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // The values are listed above, once, as the schema shows them.
pub enum DataType {
    String,
    Number,
    Boolean,
    Object,
    Array,
    File,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_id_defaults_to_trigger_and_kinds_are_tagged() {
        let t: Trigger = serde_json::from_value(json!({"type": "integrationEnabled"})).unwrap();
        assert_eq!(t.id, "trigger");
        assert_eq!(t.kind, TriggerKind::IntegrationEnabled);
        let t: Trigger = serde_json::from_value(json!({"id": "1", "type": "request"})).unwrap();
        let TriggerKind::Request(r) = &t.kind else { panic!("a request trigger") };
        assert!(r.allow_arbitrary_payload);
        assert_eq!((t.kind.name(), t.kind.key(), t.kind.history_type()), ("request", None, "TRIGGER/REQUEST"));
        let e: Trigger = serde_json::from_value(json!({"type": "appEvent", "event": "Contact Created"})).unwrap();
        assert_eq!(
            (e.kind.name(), e.kind.key(), e.kind.history_type()),
            ("appEvent", Some("Contact Created"), "TRIGGER/APP_EVENT")
        );
        let t: Trigger = serde_json::from_value(json!({
            "type": "request", "allowArbitraryPayload": false,
            "bodyValidations": [{"key": "email", "dataType": "STRING", "required": true}]
        }))
        .unwrap();
        let TriggerKind::Request(r) = &t.kind else { panic!("a request trigger") };
        assert_eq!(r.body_validations[0].data_type, Some(DataType::String));
        assert_eq!(serde_json::from_value::<Trigger>(serde_json::to_value(&t).unwrap()).unwrap(), t);
        let i: Trigger = serde_json::from_value(json!({"type": "integration", "event": "MESSAGE"})).unwrap();
        assert_eq!(
            (i.kind.name(), i.kind.key(), i.kind.history_type()),
            ("integration", Some("MESSAGE"), "TRIGGER/INTEGRATION")
        );
        let TriggerKind::Integration(it) = &i.kind else { panic!("an integration trigger") };
        assert_eq!(it.config, json!({}));
        let s: Trigger = serde_json::from_value(json!({"type": "scheduler", "cron": "*/5 * * * * *"})).unwrap();
        assert_eq!((s.kind.name(), s.kind.key(), s.kind.history_type()), ("scheduler", None, "TRIGGER/CRON"));
        let TriggerKind::Scheduler(st) = &s.kind else { panic!("a scheduler trigger") };
        assert_eq!((st.cron.as_str(), st.timezone.as_deref()), ("*/5 * * * * *", None));
    }
}
