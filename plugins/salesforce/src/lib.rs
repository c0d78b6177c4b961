//! `salesforce`: the Salesforce integration. A connected app (OAuth 2.0
//! web server flow); calls go to the org's instance, which the token
//! answer names (`instance_url`) and the host fills into the base URL;
//! records and SOQL as actions (the typed creates with each org's custom
//! fields), polling triggers on record timestamps.

mod api;
mod fields;
mod polling;
mod records;

use serde_json::{Value, json};
use weft_sdk::{
    Action, Auth, ClientAuth, ConnectionInfo, Ctx, Fields, Integration, Metadata, PollRequest, PollResponse, RateLimit,
    Result, Trigger,
};

struct Salesforce;

impl Integration for Salesforce {
    fn metadata() -> Metadata {
        Metadata::new("salesforce", "Salesforce", env!("CARGO_PKG_VERSION"))
            .description("Accounts, contacts, leads, opportunities and any object in Salesforce")
            .icon_url("https://www.salesforce.com/favicon.ico")
            // The origin comes from the token answer's `instance_url`; the
            // host checks it against the allowed hosts on every call.
            .base_url("{token.instance_url}/services/data/v62.0")
            .allowed_hosts(["*.my.salesforce.com", "*.salesforce.com"])
            .auth(
                Auth::oauth2(
                    "https://login.salesforce.com/services/oauth2/authorize",
                    "https://login.salesforce.com/services/oauth2/token",
                    ["api", "refresh_token"],
                )
                .revoke_url("https://login.salesforce.com/services/oauth2/revoke")
                .client_auth(ClientAuth::Post),
            )
            // The default daily API request allocation of an org.
            .rate_limit(RateLimit::per_connection(100_000, 86_400))
            .extra(json!({
                "categories": ["crm"],
                "smartRateLimits": true,
                // Integration Request steps page a query's answer by its
                // `nextRecordsUrl` until `done`.
                "pagination": {
                    "results": "/records",
                    "next": { "type": "url", "field": "/nextRecordsUrl" },
                    "lastPage": "/done",
                },
            }))
    }

    fn actions() -> Vec<Action> {
        records::all()
    }

    fn fields(cx: &Ctx, action: &str) -> Result<Fields> {
        fields::of(cx, action)
    }

    fn triggers() -> Vec<Trigger> {
        polling::all()
    }

    fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
        polling::poll(cx, req)
    }

    /// The org is the account: its id and name, from SOQL (every user may
    /// read the Organization object).
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let answer = api::query_page(cx, "SELECT Id, Name FROM Organization LIMIT 1", None)?;
        let org = answer.pointer("/records/0").cloned().unwrap_or(Value::Null);
        let text = |k: &str| org.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let profile = json!({ "organizationId": org["Id"], "organizationName": org["Name"] });
        Ok(ConnectionInfo::new(text("Id"), text("Name")).profile(profile))
    }
}

weft_sdk::export_integration!(Salesforce, fields);
