//! Checks of the definitions Weft ships (`host/catalog/providers/`): each
//! passes the schema and the loader's checks, is named after its id, and
//! follows the catalog's conventions; every provider page of the reference
//! is shipped or left out for a stated reason.

use std::collections::BTreeSet;

use super::BUNDLED;
use crate::load::{self, Format};
use crate::provider::{AuthScheme, Provider};

/// The reference's integration types, one per provider page.
const REFERENCE: &[&str] = &[
    "activecampaign",
    "acrobatsign",
    "adobeexperiencemanager",
    "adpworkforcenow",
    "airtable",
    "amazons3",
    "amplitude",
    "apolloio",
    "asana",
    "azuredevops",
    "bamboohr",
    "bigquery",
    "box",
    "calendly",
    "clickup",
    "close",
    "coda",
    "confluence",
    "copper",
    "docusign",
    "dropbox",
    "dropboxsign",
    "dynamicsfinance",
    "dynamicsbusinesscentral",
    "eloqua",
    "emarsys",
    "facebookAds",
    "facebookpages",
    "figma",
    "freshdesk",
    "freshsales",
    "front",
    "gainsight",
    "github",
    "gmail",
    "gong",
    "googleadmanager",
    "googleanalytics",
    "googleCalendar",
    "googlecampaignmanager",
    "googledrive",
    "googlesearchconsole",
    "googlesheets",
    "googleads",
    "googleanalyticsGA4",
    "googledocs",
    "greenhouse",
    "gusto",
    "heap",
    "hive",
    "hubspot",
    "imanage",
    "insightly",
    "intellum",
    "intercom",
    "jira",
    "keap",
    "klaviyo",
    "lever",
    "linear",
    "linkedin",
    "linkedinmarketing",
    "magento",
    "mailchimp",
    "marketo",
    "microsoftDynamics",
    "microsoftTeams",
    "excel",
    "miro",
    "mixpanel",
    "monday.com",
    "netsuite",
    "notion",
    "onedrive",
    "onenote",
    "openai",
    "oraclefinancialscloud",
    "outlook",
    "outreach",
    "pagerduty",
    "pandadoc",
    "pardot",
    "pipedrive",
    "powerbi",
    "productboard",
    "quickbooks",
    "quip",
    "sageaccounting",
    "sageintacct",
    "sailthru",
    "salesforce",
    "salesloft",
    "saps4hana",
    "sapsucessfactors",
    "segment",
    "servicenow",
    "sharepoint",
    "shopify",
    "shortcut",
    "slack",
    "snowflake",
    "stackoverflowteams",
    "stripe",
    "tableau",
    "tiktokads",
    "todoist",
    "trello",
    "typeform",
    "unleashed",
    "vanta",
    "vimeo",
    "whatsapp",
    "woocommerce",
    "wordpress.com",
    "workable",
    "workday",
    "xero",
    "zendesk",
    "zendesksell",
    "zohocrm",
    "zohopeople",
    "zoom",
];

/// Reference providers without a definition, and why: none of them can be
/// described as OAuth 2.0, client credentials, an API key or basic auth.
const LEFT_OUT: &[(&str, &str)] = &[
    ("amazons3", "every request is signed (AWS Signature Version 4)"),
    ("acrobatsign", "tokens are refreshed at an endpoint of their own (/oauth/v2/refresh), not the token endpoint"),
    ("adpworkforcenow", "the token endpoint requires mutual TLS with the app's certificate"),
    ("sailthru", "every request carries an MD5 signature of its parameters"),
    ("unleashed", "every request carries an HMAC signature of its query"),
    ("tableau", "a personal access token is exchanged for a session token sent in X-Tableau-Auth"),
    ("sapsucessfactors", "tokens are issued for a SAML assertion the app signs"),
    ("trello", "each call needs two credentials (the app key and the user's token)"),
    ("heap", "an app id and an API key are exchanged for a session token"),
    ("hive", "each call needs two credentials (an API key and the user's id)"),
    ("intellum", "no public description of its authentication could be sourced"),
    ("imanage", "no public description of its OAuth endpoints could be sourced"),
];

fn shipped() -> Vec<(&'static str, &'static str, Provider)> {
    BUNDLED
        .iter()
        .map(|(name, text)| match load::parse(text, Format::Yaml, name) {
            Ok(p) => (*name, *text, p),
            Err(e) => panic!("a shipped definition is refused: {e}"),
        })
        .collect()
}

#[test]
fn every_shipped_definition_passes_the_schema_and_the_loader() {
    let shipped = shipped();
    assert!(shipped.len() >= 150, "only {} definitions are shipped", shipped.len());
    for (name, text, _) in &shipped {
        // The schema alone, on the document as written.
        let document: serde_json::Value = serde_yaml_ng::from_str(text).unwrap();
        let errors: Vec<String> = load::validator().iter_errors(&document).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn ids_are_unique_and_name_their_files() {
    let mut seen = BTreeSet::new();
    for (name, _, p) in shipped() {
        assert_eq!(name.strip_suffix(".yaml"), Some(p.id.as_str()), "{name} holds the definition of {}", p.id);
        // Ids are compared exactly, but two differing only in case would
        // confuse anyone reading a list of them.
        assert!(seen.insert(p.id.to_ascii_lowercase()), "{} is shipped twice", p.id);
    }
}

/// What the schema allows but a shipped definition must not do.
#[test]
fn shipped_definitions_follow_the_catalog_conventions() {
    for (name, text, p) in shipped() {
        assert!(text.starts_with("# "), "{name}: opens with a one-line comment naming the auth scheme");
        assert!(!p.description.is_empty() && !p.description.contains('\n'), "{name}: a one-line description");
        let mut urls = vec![("baseUrl", p.base_url.as_str())];
        match &p.auth {
            AuthScheme::Oauth2 { authorize_url, token_url, revoke_url, password_grant, .. } => {
                urls.extend([("authorizeUrl", authorize_url.as_str()), ("tokenUrl", token_url.as_str())]);
                urls.extend(revoke_url.as_deref().map(|u| ("revokeUrl", u)));
                assert!(!password_grant, "{name}: the catalog connects users through the authorization code");
            }
            AuthScheme::Oauth2ClientCredentials { token_url, .. } => urls.push(("tokenUrl", token_url.as_str())),
            AuthScheme::ApiKey { .. } | AuthScheme::Basic | AuthScheme::Bearer { .. } => {}
            AuthScheme::None | AuthScheme::Custom { .. } => panic!("{name}: a catalog provider takes credentials"),
        }
        for (field, url) in urls {
            // A base URL may open with an origin from the token answer
            // (Salesforce's `instance_url`), checked against the allowed hosts.
            let from_token = field == "baseUrl" && url.starts_with(crate::TOKEN_PLACEHOLDER);
            assert!(url.starts_with("https://") || from_token, "{name}: {field} must be https");
            if from_token {
                assert!(!p.allowed_hosts.is_empty(), "{name}: an origin from the token answer needs allowedHosts");
            }
        }
        if let Some(test) = &p.connection_test {
            // Under the base URL, so that an integration's base URL override
            // (a sandbox, or the mock of the generated test) covers it.
            assert!(test.path.starts_with('/'), "{name}: the connection test path is relative");
        }
        for rule in &p.rate_limits {
            assert!(rule.requests >= 2, "{name}: a limit below 2 requests would stop a connect and its first call");
        }
        let placeholders = |s: &str| s.matches("{config.").count();
        let config = p.connection_config_schema.as_ref().and_then(|s| s.get("properties"));
        if placeholders(text) > 0 {
            assert!(config.is_some(), "{name}: placeholders need a connectionConfigSchema");
        }
    }
}

#[test]
fn every_reference_provider_is_shipped_or_left_out_for_a_reason() {
    let ids: BTreeSet<String> = shipped().into_iter().map(|(_, _, p)| p.id).collect();
    let left_out: BTreeSet<&str> = LEFT_OUT.iter().map(|(id, _)| *id).collect();
    for id in REFERENCE {
        assert!(ids.contains(*id) != left_out.contains(id), "{id}: shipped, or left out with a reason (not both)");
    }
    assert!(left_out.iter().all(|id| REFERENCE.contains(id)), "LEFT_OUT names only reference providers");
}
