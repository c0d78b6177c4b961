//! API Resources: a project's own API described once as a reusable
//! connection (who connects it, how it authenticates, its base URL, how
//! the credential goes on a request, an optional user profile), usable by
//! workflow steps and as the source of webhook triggers.
//!
//! A resource is not a second connection stack. Its document (the
//! [`Resource`] format, checked here with every problem as a JSON Pointer
//! into it) is translated into a catalog [`Provider`] whose id is the
//! resource's hidden integration type ([`RESOURCE_PREFIX`] and a unique
//! suffix). That provider is then held to everything a custom integration's
//! definition meets ([`crate::check_custom`]: every URL allowed by the
//! egress policy), and the credential service connects, refreshes and calls
//! with it like any declarative provider. The document itself travels in
//! the provider's `extra.resource`, so the stored definition is the one
//! source of truth.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_egress::EgressPolicy;

use crate::load::{DefinitionError, Problem};
use crate::provider::{AuthScheme, AuthTemplate, ClientAuth, ClientSource, ConnectionTest, Provider, RefreshPolicy};
use crate::webhooks::WebhookTrigger;

/// The integration-type prefix of a resource's hidden integration
/// (`custom.resource-<32 hex digits>`); reserved: no custom integration
/// may use it.
pub const RESOURCE_PREFIX: &str = "custom.resource-";

/// Whether `integration_type` is a resource's hidden integration.
pub fn is_resource(integration_type: &str) -> bool {
    integration_type.starts_with(RESOURCE_PREFIX)
}

/// The name the browser SDK's `connectAction` finds a resource by (its
/// `slug` in `/sdk/me`): the name in lower case, every run of characters
/// other than letters and digits one `-`, none at either end ("Ledger
/// Keys" → `ledger-keys`).
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The token names an OAuth 2.0 resource is connected with.
pub const ACCESS_TOKEN: &str = "access_token";
/// See [`ACCESS_TOKEN`].
pub const REFRESH_TOKEN: &str = "refresh_token";

/// A resource as the admin API accepts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource {
    /// Display name; steps and triggers are named after it.
    pub name: String,
    /// Whether each user connects their own credentials, or one set serves
    /// the whole app.
    #[serde(default)]
    pub level: ResourceLevel,
    /// How the API authenticates.
    pub auth: ResourceAuth,
    /// Non-secret inputs given when connecting (a region, a tenant), which
    /// the base URL and the access-token URL read as `{{name}}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// Where requests go; may read inputs as `{{name}}`.
    pub base_url: String,
    /// Other hosts a request may name in full (`files.example.com`,
    /// `*.example.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// How the credential goes on a request; OAuth 2.0 defaults to
    /// `Authorization: Bearer {{access_token}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_template: Option<AuthTemplate>,
    /// A `GET` sent when a user connects, whose answer's fields are kept
    /// as the connection's profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_profile: Option<UserProfile>,
    /// Webhook triggers on the resource (the API Resource trigger), in the
    /// format of a custom integration's webhooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<WebhookTrigger>,
}

/// Who a resource's credentials belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResourceLevel {
    /// Each connected user saves their own credentials.
    #[default]
    User,
    /// One credential set, saved by the admin API, serves every user.
    App,
}

/// How a resource authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ResourceAuth {
    /// OAuth 2.0 tokens obtained elsewhere and given when connecting
    /// (`access_token`, `refresh_token`); refreshed at `accessTokenUrl`.
    #[serde(rename = "oauth2-refresh-token", rename_all = "camelCase")]
    OAuth2RefreshToken {
        /// The token endpoint refreshes go to; may read inputs.
        access_token_url: String,
        /// The client id of refresh requests (its secret is write-only:
        /// `clientSecret` in the admin API body goes to the vault).
        client_id: String,
        /// Client id and secret in a Basic `Authorization` header (on), or
        /// in the form body (off).
        #[serde(default = "yes")]
        include_client_id_and_secret: bool,
    },
    /// OAuth 2.0 client credentials with the resource's own client.
    #[serde(rename = "oauth2-client-credentials", rename_all = "camelCase")]
    OAuth2ClientCredentials {
        /// The token endpoint; may read inputs.
        access_token_url: String,
        /// The client id (its secret is write-only, as above).
        client_id: String,
        /// Scopes requested.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes: Vec<String>,
        /// As for the refresh-token type.
        #[serde(default = "yes")]
        include_client_id_and_secret: bool,
    },
    /// Named keys (`apiKey`, or `username` and `password`).
    #[serde(rename = "api-keys")]
    ApiKeys {
        /// The keys' names.
        keys: Vec<String>,
    },
}

fn yes() -> bool {
    true
}

/// The user-profile request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserProfile {
    /// Path under the base URL (or a URL on a permitted host).
    pub path: String,
    /// JSON Pointer of the account's id in the answer (`/id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fields kept, by name: JSON Pointers into the answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl Resource {
    /// Whether it is connected with OAuth 2.0 tokens.
    pub fn is_oauth(&self) -> bool {
        !matches!(self.auth, ResourceAuth::ApiKeys { .. })
    }

    /// The secret keys a connect body carries, besides the inputs.
    pub fn secret_keys(&self) -> Vec<String> {
        match &self.auth {
            ResourceAuth::OAuth2RefreshToken { .. } => vec![ACCESS_TOKEN.into(), REFRESH_TOKEN.into()],
            ResourceAuth::OAuth2ClientCredentials { .. } => Vec::new(),
            ResourceAuth::ApiKeys { keys } => keys.clone(),
        }
    }

    /// The resource's client id, for OAuth 2.0 types.
    pub fn client_id(&self) -> Option<&str> {
        match &self.auth {
            ResourceAuth::OAuth2RefreshToken { client_id, .. }
            | ResourceAuth::OAuth2ClientCredentials { client_id, .. } => Some(client_id),
            ResourceAuth::ApiKeys { .. } => None,
        }
    }

    /// The resource a provider was translated from, if it was.
    pub fn of(provider: &Provider) -> Option<Resource> {
        serde_json::from_value(provider.extra.get("resource")?.clone()).ok()
    }
}

/// The compiled schema of [`Resource`].
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(Resource)).unwrap_or(Value::Null);
        jsonschema::validator_for(&schema).expect("the resource schema compiles")
    })
}

/// Checks `document` as the resource behind integration type
/// `integration_type` under the egress `policy`, and translates it into the
/// provider the credential service runs it on.
pub fn check_resource(
    document: Value,
    integration_type: &str,
    policy: &EgressPolicy,
) -> Result<(Resource, Provider), DefinitionError> {
    let source = "the resource".to_owned();
    let refused = |problems: Vec<Problem>| DefinitionError { source_name: source.clone(), problems };
    let problems = crate::load::problems_against(validator(), &document);
    if !problems.is_empty() {
        return Err(refused(problems));
    }
    let resource: Resource = serde_json::from_value(document)
        .map_err(|e| DefinitionError::one(&source, "", format!("does not match the resource format: {e}")))?;
    let problems = resource_problems(&resource);
    if !problems.is_empty() {
        return Err(refused(problems));
    }
    let translated = translate(&resource, integration_type);
    let provider = crate::check_custom(translated, integration_type, policy).map_err(|e| {
        let mut problems: Vec<Problem> =
            e.problems.into_iter().map(|p| Problem { path: original_path(&p.path), reason: p.reason }).collect();
        // The token URL stands for two of the provider's URLs: said once.
        problems.dedup();
        refused(problems)
    })?;
    Ok((resource, provider))
}

/// Whether `name` may name an input or key: used as `{{name}}` and as a
/// connect body's key.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with('-')
}

/// What the schema cannot say: names, and which `{{…}}` each template may read.
fn resource_problems(r: &Resource) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, reason: String| problems.push(Problem { path, reason });
    if r.name.trim().is_empty() || r.name.len() > 100 {
        problem("/name".into(), "must be 1 to 100 characters".into());
    }
    let mut names = BTreeSet::new();
    let secrets = r.secret_keys();
    if let ResourceAuth::ApiKeys { keys } = &r.auth
        && keys.is_empty()
    {
        problem("/auth/keys".into(), "name at least one key (`apiKey`)".into());
    }
    let key_path = |i: usize| match &r.auth {
        ResourceAuth::ApiKeys { .. } => format!("/auth/keys/{i}"),
        _ => String::new(),
    };
    for (i, name) in secrets.iter().enumerate() {
        if !valid_name(name) {
            problem(key_path(i), "a key name is 1 to 64 letters, digits, `_` or `-`".into());
        } else if !names.insert(name.clone()) {
            problem(key_path(i), format!("`{name}` is named twice"));
        }
    }
    for (i, name) in r.inputs.iter().enumerate() {
        if !valid_name(name) {
            problem(format!("/inputs/{i}"), "an input name is 1 to 64 letters, digits, `_` or `-`".into());
        } else if name == ACCESS_TOKEN || name == REFRESH_TOKEN || name == "expires_in" {
            problem(format!("/inputs/{i}"), format!("`{name}` is a token's name, not an input's"));
        } else if !names.insert(name.clone()) {
            problem(format!("/inputs/{i}"), format!("`{name}` is already a key or an input"));
        }
    }
    let inputs: BTreeSet<&str> = r.inputs.iter().map(String::as_str).collect();
    let only_inputs = |text: &str| -> Result<(), String> {
        for name in variables(text)? {
            if !inputs.contains(name.as_str()) {
                return Err(format!("`{{{{{name}}}}}` is not one of the resource's inputs"));
            }
        }
        Ok(())
    };
    if let Err(reason) = only_inputs(&r.base_url) {
        problem("/baseUrl".into(), reason);
    }
    match &r.auth {
        ResourceAuth::OAuth2RefreshToken { access_token_url, client_id, .. }
        | ResourceAuth::OAuth2ClientCredentials { access_token_url, client_id, .. } => {
            if let Err(reason) = only_inputs(access_token_url) {
                problem("/auth/accessTokenUrl".into(), reason);
            }
            if client_id.trim().is_empty() {
                problem("/auth/clientId".into(), "must not be empty".into());
            }
        }
        ResourceAuth::ApiKeys { .. } => {}
    }
    // What an auth template may read: the credential's secrets, and inputs.
    let readable: BTreeSet<String> = match &r.auth {
        ResourceAuth::ApiKeys { keys } => keys.iter().cloned().collect(),
        _ => [ACCESS_TOKEN.to_owned()].into(),
    };
    match &r.auth_template {
        None if !r.is_oauth() => {
            problem("/authTemplate".into(), "say where the keys go (`headers`, `query` or `basic`)".into());
        }
        None => {}
        Some(t) => {
            for found in template_form_problems(t) {
                problem(found.path, found.reason);
            }
            for (at, value) in template_entries(t) {
                for v in variables(value).unwrap_or_default() {
                    if !readable.contains(&v) && !inputs.contains(v.as_str()) {
                        problem(at.clone(), format!("`{{{{{v}}}}}` is neither a credential key nor an input"));
                    }
                }
            }
        }
    }
    if let Some(profile) = &r.user_profile {
        for found in profile_problems(profile, "/userProfile") {
            problem(found.path, found.reason);
        }
    }
    problems
}

/// Every template of an auth template with its path.
fn template_entries(t: &AuthTemplate) -> impl Iterator<Item = (String, &String)> {
    let headers = t.headers.iter().map(|(n, v)| (format!("/authTemplate/headers/{}", escape(n)), v));
    let query = t.query.iter().map(|(n, v)| (format!("/authTemplate/query/{}", escape(n)), v));
    let basic = t.basic.iter().flat_map(|b| {
        [
            ("/authTemplate/basic/username".to_owned(), &b.username),
            ("/authTemplate/basic/password".to_owned(), &b.password),
        ]
    });
    headers.chain(query).chain(basic)
}

/// What any auth template must meet (a resource's, or a definition's):
/// somewhere to put the credential, header names, closed `{{…}}`
/// variables, and one `Authorization` at most.
pub(crate) fn template_form_problems(t: &AuthTemplate) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, reason: String| problems.push(Problem { path, reason });
    if t.headers.is_empty() && t.query.is_empty() && t.basic.is_none() {
        problem("/authTemplate".into(), "say where the credential goes (`headers`, `query` or `basic`)".into());
    }
    for name in t.headers.keys() {
        if http_header_name(name).is_err() {
            problem(format!("/authTemplate/headers/{}", escape(name)), format!("`{name}` is not a header name"));
        } else if t.basic.is_some() && name.eq_ignore_ascii_case("authorization") {
            problem(
                format!("/authTemplate/headers/{}", escape(name)),
                "`basic` already sends the Authorization header; keep one of the two".into(),
            );
        }
    }
    if t.basic.as_ref().is_some_and(|b| b.username.trim().is_empty()) {
        problem("/authTemplate/basic/username".into(), "must not be empty".into());
    }
    for (at, value) in template_entries(t) {
        if let Err(reason) = variables(value) {
            problem(at, reason);
        }
    }
    problems
}

/// What a user-profile request must meet beyond its schema: its JSON
/// Pointers, and closed `{{…}}` variables in its path. `at` is its path.
pub(crate) fn profile_problems(profile: &UserProfile, at: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let pointers = profile.id.iter().map(|p| (format!("{at}/id"), p));
    let fields = profile.fields.iter().map(|(n, p)| (format!("{at}/fields/{}", escape(n)), p));
    for (path, pointer) in pointers.chain(fields) {
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            problems.push(Problem { path, reason: "must be a JSON Pointer (`/data/email`)".into() });
        }
    }
    if let Err(reason) = variables(&profile.path) {
        problems.push(Problem { path: format!("{at}/path"), reason });
    }
    problems
}

/// A header name's checks (RFC 9110 token characters).
fn http_header_name(name: &str) -> Result<(), ()> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.is_empty() && name.bytes().all(token) { Ok(()) } else { Err(()) }
}

/// `~` and `/` escaped for a JSON Pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The `{{name}}` variables of `text`, in order.
pub fn variables(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("a `{{` is not closed by `}}`")?;
        let name = after[..end].trim();
        if !valid_name(name) {
            return Err(format!("`{{{{{name}}}}}` is not a variable name"));
        }
        out.push(name.to_owned());
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// `text` with each `{{name}}` replaced by what `value` gives for its
/// (trimmed) name; `unclosed` when a `{{` has no `}}`. The one scanner of
/// the templates a definition's requests and auth templates hold.
pub fn fill_variables<E>(
    text: &str,
    unclosed: impl FnOnce() -> E,
    mut value: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { return Err(unclosed()) };
        out.push_str(&value(after[..end].trim())?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `{{name}}` as the catalog's `{config.name}` placeholder.
fn as_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&format!("{{config.{}}}", after[..end].trim()));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The provider a resource runs on (not yet checked).
fn translate(r: &Resource, integration_type: &str) -> Value {
    let client_auth = |include: bool| if include { ClientAuth::Basic } else { ClientAuth::Post };
    let auth = match &r.auth {
        ResourceAuth::OAuth2RefreshToken { access_token_url, include_client_id_and_secret, .. } => {
            let url = as_placeholders(access_token_url);
            // Users connect with tokens obtained elsewhere: there is no
            // authorization page (connecting through `/sdk/connect` is refused).
            AuthScheme::Oauth2 {
                authorize_url: url.clone(),
                token_url: url,
                revoke_url: None,
                scopes: Vec::new(),
                scope_separator: " ".into(),
                client_auth: client_auth(*include_client_id_and_secret),
                extra_authorize_params: Vec::new(),
                custom_refresh: false,
                password_grant: false,
                password_api_key: None,
                refresh: RefreshPolicy::BeforeExpiry,
                pkce: false,
            }
        }
        ResourceAuth::OAuth2ClientCredentials { access_token_url, scopes, include_client_id_and_secret, .. } => {
            AuthScheme::Oauth2ClientCredentials {
                token_url: as_placeholders(access_token_url),
                scopes: scopes.clone(),
                client_auth: client_auth(*include_client_id_and_secret),
                // The resource's own client, set through the admin API.
                client: ClientSource::App,
                refresh: RefreshPolicy::BeforeExpiry,
            }
        }
        ResourceAuth::ApiKeys { keys } => {
            let properties: Map<String, Value> = keys.iter().map(|k| (k.clone(), json!({"type": "string"}))).collect();
            AuthScheme::Custom { schema: json!({"type": "object", "properties": properties, "required": keys}) }
        }
    };
    let template = r.auth_template.clone().unwrap_or_else(|| AuthTemplate {
        headers: [("Authorization".to_owned(), format!("Bearer {{{{{ACCESS_TOKEN}}}}}"))].into(),
        query: BTreeMap::new(),
        basic: None,
    });
    let inputs: Map<String, Value> = r.inputs.iter().map(|i| (i.clone(), json!({"type": "string"}))).collect();
    let connection_test = r.user_profile.as_ref().map(|p| ConnectionTest {
        method: "GET".into(),
        path: p.path.clone(),
        account_id: p.id.clone(),
        account_name: None,
        profile: p.fields.clone(),
    });
    json!({
        "id": integration_type,
        "name": r.name,
        "baseUrl": as_placeholders(&r.base_url),
        "allowedHosts": r.allowed_hosts,
        "auth": auth,
        "authTemplate": template,
        "connectionConfigSchema": {"type": "object", "properties": inputs, "required": r.inputs},
        "connectionTest": connection_test,
        "webhooks": r.triggers,
        "extra": {"resource": r},
    })
}

/// A problem's path in the translated provider as a path in the resource.
fn original_path(path: &str) -> String {
    let renames = [
        ("/auth/authorizeUrl", "/auth/accessTokenUrl"),
        ("/auth/tokenUrl", "/auth/accessTokenUrl"),
        ("/connectionTest/path", "/userProfile/path"),
        ("/connectionTest", "/userProfile"),
        ("/webhooks", "/triggers"),
        ("/authTemplate", "/authTemplate"),
    ];
    for (from, to) in renames {
        if let Some(rest) = path.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests;
