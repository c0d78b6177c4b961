//! `hubspot`: the HubSpot integration. CRM records (contacts, companies,
//! deals) as ActionKit-style actions per object type
//! (`HUBSPOT_CREATE_RECORD_CONTACTS`, ...), record changes as app-level
//! webhook triggers routed by portal id, and the connected portal from
//! the account-info API.
//!
//! Auth is a HubSpot public app's authorization code flow. HubSpot access
//! tokens live 30 minutes and the token endpoint may answer a refresh with
//! a new refresh token: the host keeps whichever it gets. Webhook
//! deliveries are signed with the app's client secret, the project secret
//! `HUBSPOT_CLIENT_SECRET`.

mod objects;
mod records;
mod webhooks;

use serde_json::{Value, json};
use weft_sdk::{Action, Auth, ClientAuth, ConnectionInfo, Ctx, Integration, Metadata, RateLimit, Result, Trigger};
use weft_sdk::{WebhookRequest, WebhookResponse};

use objects::{Companies, Contacts, Deals};

struct HubSpot;

impl Integration for HubSpot {
    fn metadata() -> Metadata {
        Metadata::new("hubspot", "HubSpot", env!("CARGO_PKG_VERSION"))
            .description("Contacts, companies and deals in HubSpot CRM")
            .icon_url("https://www.hubspot.com/hubfs/HubSpot_Logos/HubSpot-Inversed-Favicon.png")
            .base_url("https://api.hubapi.com")
            .allowed_hosts(["api.hubapi.com"])
            .auth(
                Auth::oauth2(
                    "https://app.hubspot.com/oauth/authorize",
                    "https://api.hubapi.com/oauth/v1/token",
                    [
                        "oauth",
                        "crm.objects.contacts.read",
                        "crm.objects.contacts.write",
                        "crm.objects.companies.read",
                        "crm.objects.companies.write",
                        "crm.objects.deals.read",
                        "crm.objects.deals.write",
                    ],
                )
                .client_auth(ClientAuth::Post),
            )
            .secrets([webhooks::SECRET])
            // Public apps: 110 requests every 10 seconds per installing account.
            .rate_limit(RateLimit::per_connection(110, 10))
            .extra(json!({
                "categories": ["crm"],
                // Search has a budget of its own (a few calls a second per
                // account, not told in headers): its rate limits fail the
                // step rather than wait.
                "smartRateLimits": { "except": ["HUBSPOT_SEARCH_RECORDS_*"] },
            }))
    }

    fn actions() -> Vec<Action> {
        let mut all = records::actions::<Contacts>();
        all.extend(records::actions::<Companies>());
        all.extend(records::actions::<Deals>());
        all
    }

    fn triggers() -> Vec<Trigger> {
        webhooks::triggers()
    }

    fn handle_webhook(req: WebhookRequest) -> Result<WebhookResponse> {
        webhooks::handle(req)
    }

    /// The portal (HubSpot account) behind the token; its id is the
    /// routing key of the app's webhook events.
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let details: Value =
            records::send("read the account details", cx.http().get("/account-info/v3/details"))?.json()?;
        let portal = match &details["portalId"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(weft_sdk::Error::internal("HubSpot's account details carry no portalId")),
        };
        let name = match details["uiDomain"].as_str() {
            Some(domain) => format!("HubSpot portal {portal} ({domain})"),
            None => format!("HubSpot portal {portal}"),
        };
        Ok(ConnectionInfo::new(portal.clone(), name).routing_key(portal).profile(details))
    }
}

weft_sdk::export_integration!(HubSpot);
