//! Record actions: one create action per standard object (fields named
//! `field-<API name>`, as the reference's tools name them, the org's custom
//! fields among them for each account), any object by name, update, get,
//! delete, and SOQL search with pagination.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_sdk::http::Method;
use weft_sdk::{Action, Ctx, Effect, Error, Paged, Result};

use crate::api::{self, object, record_id};

/// The record fields of a typed create input: `field-Name` → `Name` (the
/// org's custom fields too, which arrive in the input's flattened map), with
/// `additionalFields` merged in.
fn fields_of<T: Serialize>(input: &T) -> Result<Map<String, Value>> {
    let Value::Object(all) = serde_json::to_value(input)? else { return Ok(Map::new()) };
    let mut fields = Map::new();
    for (key, value) in all {
        match (key.strip_prefix("field-"), value) {
            (Some(name), value) => {
                fields.insert(name.to_owned(), value);
            }
            (None, Value::Object(extra)) if key == "additionalFields" => fields.extend(extra),
            _ => {}
        }
    }
    Ok(fields)
}

fn create(cx: &Ctx, sobject: &str, fields: &Map<String, Value>) -> Result<Value> {
    let path = format!("/sobjects/{}", object(sobject)?);
    api::call(cx, Method::Post, &path, Some(fields))?.ok_or_else(|| Error::internal("create answered no body"))
}

macro_rules! create_action {
    ($input:ident, $handler:ident, $object:literal) => {
        fn $handler(cx: &Ctx, input: $input) -> Result<Value> {
            create(cx, $object, &fields_of(&input)?)
        }
    };
}

/// Fields of any object, by API name; custom fields end in `__c`.
type Extra = Option<Map<String, Value>>;

#[derive(Serialize, Deserialize, JsonSchema)]
struct CreateAccount {
    /// Account name.
    #[serde(rename = "field-Name")]
    name: String,
    /// Website.
    #[serde(rename = "field-Website", default, skip_serializing_if = "Option::is_none")]
    website: Option<String>,
    /// Phone number.
    #[serde(rename = "field-Phone", default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    /// Industry (one of the org's picklist values).
    #[serde(rename = "field-Industry", default, skip_serializing_if = "Option::is_none")]
    industry: Option<String>,
    /// Other fields by API name; custom fields end in `__c`.
    #[serde(rename = "additionalFields", default, skip_serializing_if = "Option::is_none")]
    additional: Extra,
    /// The org's custom fields as `field-<API name>`: not in the static
    /// schema, which the host extends with them per account.
    #[serde(flatten)]
    #[schemars(skip)]
    custom: Map<String, Value>,
}
create_action!(CreateAccount, create_account, "Account");

#[derive(Serialize, Deserialize, JsonSchema)]
struct CreateContact {
    /// Last name.
    #[serde(rename = "field-LastName")]
    last_name: String,
    /// First name.
    #[serde(rename = "field-FirstName", default, skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    /// Email address.
    #[serde(rename = "field-Email", default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// ID of the contact's account.
    #[serde(rename = "field-AccountId", default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    /// Other fields by API name; custom fields end in `__c`.
    #[serde(rename = "additionalFields", default, skip_serializing_if = "Option::is_none")]
    additional: Extra,
    /// The org's custom fields as `field-<API name>`: not in the static
    /// schema, which the host extends with them per account.
    #[serde(flatten)]
    #[schemars(skip)]
    custom: Map<String, Value>,
}
create_action!(CreateContact, create_contact, "Contact");

#[derive(Serialize, Deserialize, JsonSchema)]
struct CreateLead {
    /// Last name.
    #[serde(rename = "field-LastName")]
    last_name: String,
    /// Company.
    #[serde(rename = "field-Company")]
    company: String,
    /// First name.
    #[serde(rename = "field-FirstName", default, skip_serializing_if = "Option::is_none")]
    first_name: Option<String>,
    /// Email address.
    #[serde(rename = "field-Email", default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// Other fields by API name; custom fields end in `__c`.
    #[serde(rename = "additionalFields", default, skip_serializing_if = "Option::is_none")]
    additional: Extra,
    /// The org's custom fields as `field-<API name>`: not in the static
    /// schema, which the host extends with them per account.
    #[serde(flatten)]
    #[schemars(skip)]
    custom: Map<String, Value>,
}
create_action!(CreateLead, create_lead, "Lead");

#[derive(Serialize, Deserialize, JsonSchema)]
struct CreateOpportunity {
    /// Opportunity name.
    #[serde(rename = "field-Name")]
    name: String,
    /// Sales stage, one of the org's stage values (e.g. `Prospecting`).
    #[serde(rename = "field-StageName")]
    stage_name: String,
    /// Expected close date, `YYYY-MM-DD`.
    #[serde(rename = "field-CloseDate")]
    close_date: String,
    /// Amount, in the org's currency.
    #[serde(rename = "field-Amount", default, skip_serializing_if = "Option::is_none")]
    amount: Option<f64>,
    /// ID of the opportunity's account.
    #[serde(rename = "field-AccountId", default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    /// Other fields by API name; custom fields end in `__c`.
    #[serde(rename = "additionalFields", default, skip_serializing_if = "Option::is_none")]
    additional: Extra,
    /// The org's custom fields as `field-<API name>`: not in the static
    /// schema, which the host extends with them per account.
    #[serde(flatten)]
    #[schemars(skip)]
    custom: Map<String, Value>,
}
create_action!(CreateOpportunity, create_opportunity, "Opportunity");

#[derive(Deserialize, JsonSchema)]
struct CreateAny {
    /// API name of the object, e.g. `Case` or `Invoice__c`.
    record_type: String,
    /// Field values by API name.
    fields: Map<String, Value>,
}

fn create_any(cx: &Ctx, input: CreateAny) -> Result<Value> {
    create(cx, &input.record_type, &input.fields)
}

#[derive(Deserialize, JsonSchema)]
struct UpdateRecord {
    /// API name of the object, e.g. `Opportunity`.
    record_type: String,
    /// ID of the record.
    record_id: String,
    /// Field values to set, by API name.
    fields: Map<String, Value>,
}

fn update_record(cx: &Ctx, input: UpdateRecord) -> Result<Value> {
    let id = record_id(&input.record_id)?;
    let path = format!("/sobjects/{}/{id}", object(&input.record_type)?);
    api::call(cx, Method::Patch, &path, Some(&input.fields))?;
    Ok(json!({ "id": id, "success": true }))
}

#[derive(Deserialize, JsonSchema)]
struct GetRecord {
    /// API name of the object, e.g. `Contact`.
    record_type: String,
    /// ID of the record.
    record_id: String,
    /// Fields to return, by API name; all readable fields when empty.
    #[serde(default)]
    fields: Vec<String>,
}

fn get_record(cx: &Ctx, input: GetRecord) -> Result<Value> {
    let path = format!("/sobjects/{}/{}", object(&input.record_type)?, record_id(&input.record_id)?);
    let mut request = cx.http().get(path).connection_auth();
    if !input.fields.is_empty() {
        for f in &input.fields {
            object(f)?;
        }
        request = request.query("fields", input.fields.join(","));
    }
    request.send()?.json()
}

#[derive(Deserialize, JsonSchema)]
struct DeleteRecord {
    /// API name of the object, e.g. `Lead`.
    record_type: String,
    /// ID of the record to delete.
    record_id: String,
}

fn delete_record(cx: &Ctx, input: DeleteRecord) -> Result<Value> {
    let id = record_id(&input.record_id)?;
    let path = format!("/sobjects/{}/{id}", object(&input.record_type)?);
    api::call::<Value>(cx, Method::Delete, &path, None)?;
    Ok(json!({ "id": id, "deleted": true }))
}

#[derive(Deserialize, JsonSchema)]
struct SoqlSearch {
    /// A SOQL query, e.g. `SELECT Id, Name FROM Account WHERE Industry = 'Energy'`.
    query: String,
}

fn soql_search(cx: &Ctx, input: SoqlSearch, page: Option<String>) -> Result<Paged<Value>> {
    let answer = api::query_page(cx, &input.query, page.as_deref())?;
    let next = api::next_cursor(&answer);
    let output = json!({ "totalSize": answer["totalSize"], "records": answer["records"] });
    Ok(Paged::new(output, next))
}

/// Every action, in the order users see them.
pub fn all() -> Vec<Action> {
    vec![
        Action::new("SALESFORCE_CREATE_RECORD_ACCOUNT", "Create account", create_account)
            .description("Create an account")
            .effect(Effect::Write)
            .dynamic_fields(),
        Action::new("SALESFORCE_CREATE_RECORD_CONTACT", "Create contact", create_contact)
            .description("Create a contact")
            .effect(Effect::Write)
            .dynamic_fields(),
        Action::new("SALESFORCE_CREATE_RECORD_LEAD", "Create lead", create_lead)
            .description("Create a lead")
            .effect(Effect::Write)
            .dynamic_fields(),
        Action::new("SALESFORCE_CREATE_RECORD_OPPORTUNITY", "Create opportunity", create_opportunity)
            .description("Create an opportunity")
            .effect(Effect::Write)
            .dynamic_fields(),
        Action::new("SALESFORCE_CREATE_RECORD_ANY", "Create record", create_any)
            .description("Create a record of any object, custom objects included")
            .effect(Effect::Write),
        Action::new("SALESFORCE_UPDATE_RECORD", "Update record", update_record)
            .description("Set field values of a record")
            .effect(Effect::Write),
        Action::new("SALESFORCE_GET_RECORD_BY_ID", "Get record by ID", get_record)
            .description("Get a record's fields by its ID"),
        Action::new("SALESFORCE_DELETE_RECORD", "Delete record", delete_record)
            .description("Delete a record (it goes to the org's recycle bin)")
            .effect(Effect::Destructive),
        Action::paginated("SALESFORCE_SEARCH_RECORDS_BY_SOQL", "Search records by SOQL query", soql_search)
            .description("Run a SOQL query and return its records, a batch at a time"),
    ]
}
