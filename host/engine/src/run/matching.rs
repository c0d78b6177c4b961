//! Which of a trigger's events a workflow takes, by its trigger settings.
//!
//! An app-wide webhook delivers every event of a trigger to every workflow
//! that listens to it with the account the event names. Some triggers are
//! narrowed by a setting: HubSpot's "New Record" with `recordType:
//! contacts` wants contact events only. A plugin says so in the trigger's
//! config schema: a property carrying `x-weft-event-field`, a JSON Pointer
//! into the event's payload, is a match rule — the workflow takes an event
//! only when the payload's value there equals the setting (or one of them,
//! when the setting is a list). A workflow that leaves the setting out
//! takes every event. The plugin SDK writes the keyword
//! (`Trigger::matching`); the host reads it here, so no plugin code runs
//! to route an event.

use serde_json::Value;

/// The keyword a config schema property carries to make it a match rule.
pub const EVENT_FIELD_KEYWORD: &str = "x-weft-event-field";

/// One match rule: the setting, and where the payload holds its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMatch {
    /// The trigger setting's name (a property of the config schema).
    pub setting: String,
    /// A JSON Pointer into the event payload (`/objectType`).
    pub pointer: String,
}

impl EventMatch {
    /// The match rules `config_schema` declares (none when it declares
    /// none; a keyword that is not a JSON Pointer is ignored).
    pub fn from_schema(config_schema: &Value) -> Vec<Self> {
        let Some(properties) = config_schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        properties
            .iter()
            .filter_map(|(name, schema)| {
                let pointer = schema.get(EVENT_FIELD_KEYWORD)?.as_str()?;
                (pointer.is_empty() || pointer.starts_with('/'))
                    .then(|| Self { setting: name.clone(), pointer: pointer.to_owned() })
            })
            .collect()
    }

    /// Whether a workflow configured with `config` takes `payload` under
    /// this rule.
    pub fn admits(&self, config: &Value, payload: &Value) -> bool {
        let Some(wanted) = config.get(&self.setting).filter(|v| !v.is_null()) else {
            return true;
        };
        let Some(found) = payload.pointer(&self.pointer) else {
            return false;
        };
        match wanted {
            Value::Array(options) => options.iter().any(|o| same(o, found)),
            one => same(one, found),
        }
    }
}

/// Whether every rule admits `payload` for `config`.
pub fn admitted(rules: &[EventMatch], config: &Value, payload: &Value) -> bool {
    rules.iter().all(|r| r.admits(config, payload))
}

/// Equal values; a number and its decimal text count as equal (providers
/// send ids either way).
fn same(setting: &Value, found: &Value) -> bool {
    match (setting, found) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => *s == n.to_string(),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "recordType": {"type": "string", "x-weft-event-field": "/objectType"},
            "portal": {"type": "string", "x-weft-event-field": "/portalId"},
            "label": {"type": "string"},
            "broken": {"type": "string", "x-weft-event-field": "objectType"},
        }})
    }

    #[test]
    fn the_schema_declares_its_rules() {
        let rules = EventMatch::from_schema(&schema());
        let named: Vec<(&str, &str)> = rules.iter().map(|r| (r.setting.as_str(), r.pointer.as_str())).collect();
        assert_eq!(named, [("portal", "/portalId"), ("recordType", "/objectType")]);
        assert!(EventMatch::from_schema(&json!({"type": "object"})).is_empty());
        assert!(EventMatch::from_schema(&json!(true)).is_empty());
    }

    #[test]
    fn a_setting_narrows_the_events_a_workflow_takes() {
        let rules = EventMatch::from_schema(&schema());
        let contact = json!({"objectType": "contacts", "portalId": 62515});
        let deal = json!({"objectType": "deals", "portalId": 62515});
        let contacts = json!({"recordType": "contacts"});
        assert!(admitted(&rules, &contacts, &contact));
        assert!(!admitted(&rules, &contacts, &deal));
        assert!(admitted(&rules, &json!({}), &deal), "no setting, every event");
        assert!(admitted(&rules, &json!({"recordType": null}), &deal), "a null setting is no setting");
        let either = json!({"recordType": ["deals", "companies"]});
        assert!(admitted(&rules, &either, &deal));
        assert!(!admitted(&rules, &either, &contact));
        assert!(admitted(&rules, &json!({"portal": "62515"}), &deal), "an id as text matches the number");
        assert!(!admitted(&rules, &json!({"portal": "1"}), &deal));
        assert!(!admitted(&rules, &contacts, &json!({"portalId": 1})), "a payload without the field");
    }
}
