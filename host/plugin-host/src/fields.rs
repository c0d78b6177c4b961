//! Per-connection action fields (`wit/fields.wit`): which actions declare
//! them, what a plugin's answer must look like, and how they extend an
//! action's static input schema.

use crate::types::ActionDefinition;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The metadata `extra` key naming the actions with per-connection fields.
pub const DYNAMIC_FIELDS_KEY: &str = "dynamicFields";

/// The extra input fields of one action for one connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFields {
    /// Each field's JSON Schema, by property name.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// The names among `properties` a run must give.
    #[serde(default)]
    pub required: Vec<String>,
}

impl ActionFields {
    /// Reads a plugin's answer, refusing anything but an object of
    /// `properties` (each a JSON Schema object) and `required` names among
    /// them.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let not_fields = |e: &dyn std::fmt::Display| format!("the fields answer is not a fields object: {e}");
        // Parsed as a value first: serde would also take a struct from a
        // JSON array of its fields.
        let value: Value = serde_json::from_str(text).map_err(|e| not_fields(&e))?;
        if !value.is_object() {
            return Err(not_fields(&"not a JSON object"));
        }
        let fields: Self = serde_json::from_value(value).map_err(|e| not_fields(&e))?;
        if let Some((name, _)) = fields.properties.iter().find(|(_, schema)| !schema.is_object()) {
            return Err(format!("the schema of field {name:?} is not a JSON object"));
        }
        if let Some(name) = fields.required.iter().find(|n| !fields.properties.contains_key(*n)) {
            return Err(format!("required field {name:?} is not among the answer's properties"));
        }
        Ok(fields)
    }

    /// `schema` (an action's static input schema) with these fields added:
    /// a property the static schema already has keeps its static
    /// definition, so a connection can extend an action but never redefine
    /// it.
    pub fn merge_into(&self, schema: &Value) -> Value {
        let mut merged = schema.clone();
        let Some(object) = merged.as_object_mut() else { return merged };
        let properties = object.entry("properties").or_insert_with(|| Value::Object(Map::new()));
        let Some(properties) = properties.as_object_mut() else { return merged };
        let mut added = Vec::new();
        for (name, field) in &self.properties {
            if !properties.contains_key(name) {
                properties.insert(name.clone(), field.clone());
                added.push(name);
            }
        }
        let required: Vec<Value> =
            self.required.iter().filter(|n| added.contains(n)).map(|n| Value::String(n.clone())).collect();
        if !required.is_empty() {
            let list = object.entry("required").or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut() {
                list.extend(required);
            }
        }
        merged
    }
}

/// The action keys a plugin's metadata `extra` declares with per-connection
/// fields, checked against its actions and its exports.
pub(crate) fn declared(
    extra: &Value,
    actions: &[ActionDefinition],
    exports_fields: bool,
) -> Result<Vec<String>, String> {
    let Some(list) = extra.get(DYNAMIC_FIELDS_KEY) else { return Ok(Vec::new()) };
    let keys: Vec<String> = list
        .as_array()
        .and_then(|a| a.iter().map(|k| k.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| format!("extra.{DYNAMIC_FIELDS_KEY} must be a list of action keys"))?;
    if let Some(unknown) = keys.iter().find(|k| !actions.iter().any(|a| &a.key == *k)) {
        return Err(format!("extra.{DYNAMIC_FIELDS_KEY} names {unknown:?}, which is not one of the plugin's actions"));
    }
    if !keys.is_empty() && !exports_fields {
        return Err(format!(
            "extra.{DYNAMIC_FIELDS_KEY} names actions, but the component does not export weft:plugin/fields \
             (build it as world integration-fields)"
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_must_be_fields_objects() {
        let ok = ActionFields::parse(r#"{"properties": {"a": {"type": "string"}}, "required": ["a"]}"#).unwrap();
        assert_eq!(ok.required, ["a"]);
        assert_eq!(ActionFields::parse("{}").unwrap(), ActionFields::default());
        for bad in [
            "[]",
            r#"{"properties": {"a": 5}}"#,
            r#"{"properties": {}, "required": ["b"]}"#,
            r#"{"properties": {}, "other": 1}"#,
        ] {
            assert!(ActionFields::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn merging_adds_fields_but_never_redefines_static_ones() {
        let schema = json!({
            "type": "object",
            "properties": {"field-Name": {"type": "string"}},
            "required": ["field-Name"],
        });
        let fields = ActionFields {
            properties: serde_json::from_value(json!({
                "field-Name": {"type": "integer"},
                "field-Region__c": {"type": "string", "enum": ["EMEA", "APAC"]},
            }))
            .unwrap(),
            required: vec!["field-Name".into(), "field-Region__c".into()],
        };
        let merged = fields.merge_into(&schema);
        assert_eq!(merged["properties"]["field-Name"], json!({"type": "string"}));
        assert_eq!(merged["properties"]["field-Region__c"]["enum"], json!(["EMEA", "APAC"]));
        assert_eq!(merged["required"], json!(["field-Name", "field-Region__c"]));
        assert_eq!(ActionFields::default().merge_into(&schema)["required"], schema["required"]);
    }

    #[test]
    fn declarations_name_actions_of_a_plugin_that_exports_fields() {
        let actions = [ActionDefinition::sample("A"), ActionDefinition::sample("B")];
        assert_eq!(declared(&json!({}), &actions, false).unwrap(), Vec::<String>::new());
        assert_eq!(declared(&json!({"dynamicFields": ["B"]}), &actions, true).unwrap(), ["B"]);
        assert!(declared(&json!({"dynamicFields": ["C"]}), &actions, true).unwrap_err().contains("\"C\""));
        assert!(
            declared(&json!({"dynamicFields": ["A"]}), &actions, false).unwrap_err().contains("integration-fields")
        );
        assert!(declared(&json!({"dynamicFields": "A"}), &actions, true).is_err());
    }
}
