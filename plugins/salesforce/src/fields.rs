//! The org's own fields of the objects the typed create actions make: the
//! custom fields (`__c`) a user may set on create, read from the object's
//! describe and offered as `field-<API name>` properties beside the typed
//! ones.

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::http::Method;
use weft_sdk::{Ctx, Error, Fields, Result};

use crate::api;

/// The object a typed create action makes.
pub fn object_of(action: &str) -> Option<&'static str> {
    Some(match action {
        "SALESFORCE_CREATE_RECORD_ACCOUNT" => "Account",
        "SALESFORCE_CREATE_RECORD_CONTACT" => "Contact",
        "SALESFORCE_CREATE_RECORD_LEAD" => "Lead",
        "SALESFORCE_CREATE_RECORD_OPPORTUNITY" => "Opportunity",
        _ => return None,
    })
}

/// One field of a describe answer (the parts used here).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Described {
    name: String,
    #[serde(default)]
    label: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    custom: bool,
    #[serde(default)]
    createable: bool,
    #[serde(default = "yes")]
    nillable: bool,
    #[serde(default)]
    defaulted_on_create: bool,
    #[serde(default)]
    picklist_values: Vec<PicklistValue>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct PicklistValue {
    value: String,
    #[serde(default = "yes")]
    active: bool,
}

#[derive(Deserialize)]
struct Describe {
    fields: Vec<Described>,
}

/// The custom fields of `action`'s object that a create may set.
pub fn of(cx: &Ctx, action: &str) -> Result<Fields> {
    let object = object_of(action).ok_or_else(|| Error::unsupported(format!("{action} has no custom fields")))?;
    let answer = api::call::<Value>(cx, Method::Get, &format!("/sobjects/{object}/describe"), None)?
        .ok_or_else(|| Error::internal("the describe answer was empty"))?;
    let describe: Describe = serde_json::from_value(answer)
        .map_err(|e| Error::internal(format!("unexpected describe answer for {object}: {e}")))?;
    let mut fields = Fields::new();
    for field in describe.fields.into_iter().filter(|f| f.custom && f.createable) {
        let name = format!("field-{}", field.name);
        let schema = schema_of(&field);
        fields = if field.nillable || field.defaulted_on_create {
            fields.field(name, schema)
        } else {
            fields.required_field(name, schema)
        };
    }
    Ok(fields)
}

/// A Salesforce field type as JSON Schema, described by its label.
fn schema_of(field: &Described) -> Value {
    let mut schema = match field.kind.as_str() {
        "boolean" => json!({ "type": "boolean" }),
        "int" => json!({ "type": "integer" }),
        "double" | "currency" | "percent" => json!({ "type": "number" }),
        "date" => json!({ "type": "string", "format": "date" }),
        "datetime" => json!({ "type": "string", "format": "date-time" }),
        "picklist" => {
            let values: Vec<&str> =
                field.picklist_values.iter().filter(|v| v.active).map(|v| v.value.as_str()).collect();
            json!({ "type": "string", "enum": values })
        }
        // Several picklist values, joined with `;`, as the API takes them.
        "multipicklist" => json!({ "type": "string" }),
        _ => json!({ "type": "string" }),
    };
    let label = if field.label.is_empty() { &field.name } else { &field.label };
    schema["description"] = json!(match field.kind.as_str() {
        "multipicklist" => format!("{label} (values separated by ';')"),
        _ => label.to_owned(),
    });
    schema
}
