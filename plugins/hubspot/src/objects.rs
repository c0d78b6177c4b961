//! The CRM objects the plugin has actions for, with the fields each one's
//! create and update actions take. Field names follow ActionKit's
//! `field-<property>` form; `additionalFieldsJSON` carries any other
//! property (custom ones included) as a JSON object in a string.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use weft_sdk::{Error, Result};

/// A CRM object type and its writable fields.
pub(crate) trait Object: DeserializeOwned + JsonSchema + 'static {
    /// The object type in API paths, e.g. `contacts`.
    const TYPE: &'static str;
    /// The suffix of the action keys, e.g. `CONTACTS`.
    const KEY: &'static str;
    /// One record, for display names, e.g. `Contact`.
    const ONE: &'static str;
    /// The HubSpot properties the input sets.
    fn properties(self) -> Result<Map<String, Value>>;
}

/// Named fields, then the additional ones, as HubSpot property values
/// (strings; numbers and booleans are written as text).
fn collect(named: Vec<(&str, Option<String>)>, additional: Option<String>) -> Result<Map<String, Value>> {
    let mut out: Map<String, Value> =
        named.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::String(v)))).collect();
    if let Some(json) = additional.filter(|j| !j.trim().is_empty()) {
        let extra: Map<String, Value> = serde_json::from_str(&json)
            .map_err(|e| Error::invalid_input(format!("`additionalFieldsJSON` is not a JSON object: {e}")))?;
        for (k, v) in extra {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            out.insert(k, Value::String(text));
        }
    }
    Ok(out)
}

/// A contact's fields.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub(crate) struct Contacts {
    /// Email: the contact's primary email address.
    #[serde(rename = "field-email")]
    email: Option<String>,
    /// First Name.
    #[serde(rename = "field-firstname")]
    firstname: Option<String>,
    /// Last Name.
    #[serde(rename = "field-lastname")]
    lastname: Option<String>,
    /// Job Title.
    #[serde(rename = "field-jobtitle")]
    jobtitle: Option<String>,
    /// Company Name.
    #[serde(rename = "field-company")]
    company: Option<String>,
    /// Contact Owner: the id of the HubSpot user assigned to this contact.
    #[serde(rename = "field-hubspot_owner_id")]
    owner: Option<String>,
    /// Lifecycle Stage, e.g. `lead`, `customer` (the account's first stage when absent).
    #[serde(rename = "field-lifecyclestage")]
    lifecyclestage: Option<String>,
    /// Lead Status, e.g. `NEW`, `OPEN`.
    #[serde(rename = "field-hs_lead_status")]
    lead_status: Option<String>,
    /// Additional Fields: any other properties as a JSON object, e.g. `{"phone": "+1 555 0100"}`.
    #[serde(rename = "additionalFieldsJSON")]
    additional: Option<String>,
}

impl Object for Contacts {
    const TYPE: &'static str = "contacts";
    const KEY: &'static str = "CONTACTS";
    const ONE: &'static str = "Contact";
    fn properties(self) -> Result<Map<String, Value>> {
        let named = vec![
            ("email", self.email),
            ("firstname", self.firstname),
            ("lastname", self.lastname),
            ("jobtitle", self.jobtitle),
            ("company", self.company),
            ("hubspot_owner_id", self.owner),
            ("lifecyclestage", self.lifecyclestage),
            ("hs_lead_status", self.lead_status),
        ];
        collect(named, self.additional)
    }
}

/// A company's fields.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub(crate) struct Companies {
    /// Name: the company's name.
    #[serde(rename = "field-name")]
    name: Option<String>,
    /// Company Domain Name, e.g. `biglytics.net`.
    #[serde(rename = "field-domain")]
    domain: Option<String>,
    /// Industry, e.g. `COMPUTER_SOFTWARE`.
    #[serde(rename = "field-industry")]
    industry: Option<String>,
    /// Phone Number.
    #[serde(rename = "field-phone")]
    phone: Option<String>,
    /// City.
    #[serde(rename = "field-city")]
    city: Option<String>,
    /// State/Region.
    #[serde(rename = "field-state")]
    state: Option<String>,
    /// Company Owner: the id of the HubSpot user assigned to this company.
    #[serde(rename = "field-hubspot_owner_id")]
    owner: Option<String>,
    /// Additional Fields: any other properties as a JSON object, e.g. `{"numberofemployees": "25"}`.
    #[serde(rename = "additionalFieldsJSON")]
    additional: Option<String>,
}

impl Object for Companies {
    const TYPE: &'static str = "companies";
    const KEY: &'static str = "COMPANIES";
    const ONE: &'static str = "Company";
    fn properties(self) -> Result<Map<String, Value>> {
        let named = vec![
            ("name", self.name),
            ("domain", self.domain),
            ("industry", self.industry),
            ("phone", self.phone),
            ("city", self.city),
            ("state", self.state),
            ("hubspot_owner_id", self.owner),
        ];
        collect(named, self.additional)
    }
}

/// A deal's fields.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub(crate) struct Deals {
    /// Deal Name.
    #[serde(rename = "field-dealname")]
    dealname: Option<String>,
    /// Amount, e.g. `1500.00`.
    #[serde(rename = "field-amount")]
    amount: Option<String>,
    /// Deal Stage: the id of a stage of the deal's pipeline, e.g. `appointmentscheduled`.
    #[serde(rename = "field-dealstage")]
    dealstage: Option<String>,
    /// Pipeline: the id of the deal's pipeline, e.g. `default`.
    #[serde(rename = "field-pipeline")]
    pipeline: Option<String>,
    /// Close Date, as an ISO 8601 date-time, e.g. `2024-12-31T00:00:00Z`.
    #[serde(rename = "field-closedate")]
    closedate: Option<String>,
    /// Deal Owner: the id of the HubSpot user assigned to this deal.
    #[serde(rename = "field-hubspot_owner_id")]
    owner: Option<String>,
    /// Additional Fields: any other properties as a JSON object, e.g. `{"description": "Renewal"}`.
    #[serde(rename = "additionalFieldsJSON")]
    additional: Option<String>,
}

impl Object for Deals {
    const TYPE: &'static str = "deals";
    const KEY: &'static str = "DEALS";
    const ONE: &'static str = "Deal";
    fn properties(self) -> Result<Map<String, Value>> {
        let named = vec![
            ("dealname", self.dealname),
            ("amount", self.amount),
            ("dealstage", self.dealstage),
            ("pipeline", self.pipeline),
            ("closedate", self.closedate),
            ("hubspot_owner_id", self.owner),
        ];
        collect(named, self.additional)
    }
}
