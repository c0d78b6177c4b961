//! Per-connection input fields: what [`Integration::fields`] answers for an
//! action marked with [`Action::dynamic_fields`].
//!
//! [`Integration::fields`]: crate::Integration::fields
//! [`Action::dynamic_fields`]: crate::Action::dynamic_fields

use serde::Serialize;
use serde_json::{Map, Value};

/// The extra input fields of one action for one connected account: each a
/// property name with its JSON Schema, some of them required. The host adds
/// them to the action's typed input schema (a typed property of the same
/// name is kept as it is) and caches them per account.
///
/// ```no_run
/// use serde_json::json;
/// let fields = weft_sdk::Fields::new()
///     .field("field-Region__c", json!({ "type": "string", "enum": ["EMEA", "APAC"] }))
///     .required_field("field-Score__c", json!({ "type": "number", "description": "Score" }));
/// assert_eq!(fields.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fields {
    properties: Map<String, Value>,
    required: Vec<String>,
}

impl Fields {
    /// No fields.
    ///
    /// ```no_run
    /// let none = weft_sdk::Fields::new();
    /// assert!(none.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an optional field with its JSON Schema (an object such as
    /// `{"type": "string"}`); a later field of the same name replaces it.
    ///
    /// ```no_run
    /// let f = weft_sdk::Fields::new().field("field-Notes__c", serde_json::json!({ "type": "string" }));
    /// ```
    pub fn field(mut self, name: impl Into<String>, schema: Value) -> Self {
        let name = name.into();
        self.required.retain(|n| *n != name);
        self.properties.insert(name, schema);
        self
    }

    /// Adds a field that every run must give.
    ///
    /// ```no_run
    /// let f = weft_sdk::Fields::new().required_field("field-Code__c", serde_json::json!({ "type": "string" }));
    /// ```
    pub fn required_field(self, name: impl Into<String>, schema: Value) -> Self {
        let name = name.into();
        let mut fields = self.field(name.clone(), schema);
        fields.required.push(name);
        fields
    }

    /// How many fields there are.
    ///
    /// ```no_run
    /// assert_eq!(weft_sdk::Fields::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.properties.len()
    }

    /// True when there are none.
    ///
    /// ```no_run
    /// assert!(weft_sdk::Fields::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.properties.is_empty()
    }

    /// The JSON document the `fields` export answers.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_serialize_as_properties_and_required_names() {
        let f = Fields::new()
            .required_field("a", json!({"type": "string"}))
            .field("b", json!({"type": "number"}))
            .field("a", json!({"type": "boolean"}));
        let doc: Value = serde_json::from_str(&f.to_json()).unwrap();
        assert_eq!(doc, json!({"properties": {"a": {"type": "boolean"}, "b": {"type": "number"}}, "required": []}));
        let doc: Value = serde_json::from_str(&Fields::new().required_field("c", json!({})).to_json()).unwrap();
        assert_eq!(doc["required"], json!(["c"]));
    }
}
