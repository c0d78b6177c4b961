//! The provider model: everything Weft needs to know to connect an account
//! of a provider and call its API on that account's behalf.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One provider: a plugin's metadata, or a declarative definition.
///
/// Serialised in camelCase; the shape of `/plugins` answers and of
/// definition files (see [`crate::schema`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provider {
    /// Stable id: the integration type (`pipedrive`, `custom.tasklab`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The definition's own version.
    #[serde(default = "default_version")]
    pub version: String,
    /// What it integrates with.
    #[serde(default)]
    pub description: String,
    /// Icon shown in the portal.
    #[serde(default)]
    pub icon_url: Option<String>,
    /// Base URL of relative requests (may hold `{config.x}` placeholders).
    pub base_url: String,
    /// Host patterns a connection may reach besides the base URL's: exact
    /// names or `*.suffix`, optionally with `:port`, placeholders allowed.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// How the provider authenticates.
    pub auth: AuthScheme,
    /// JSON Schema of the non-secret settings a user gives when connecting
    /// (a subdomain, a region), which placeholders read.
    #[serde(default)]
    pub connection_config_schema: Option<Value>,
    /// Secret names the provider's plugin may read.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Documented provider limits.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitRule>,
    /// How the credential goes on a request, when the scheme's own way is
    /// not it (an API resource's template); see [`AuthTemplate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_template: Option<AuthTemplate>,
    /// How a new account is checked and named; none accepts it as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_test: Option<ConnectionTest>,
    /// A `GET` sent as a new account once its connection test passed, whose
    /// answer names the account (`providerId`) and fills its profile
    /// (`providerData`); its path may read `{{name}}`: a field of the token
    /// answer or a connection setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_profile: Option<crate::resource::UserProfile>,
    /// How the provider's list endpoints page: the pre-configured
    /// pagination of Integration Request steps; see [`crate::paging`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<crate::paging::Paging>,
    /// Webhook triggers a definition describes (a plugin lists its own
    /// triggers instead); see [`crate::webhooks`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::webhooks::WebhookTrigger>,
    /// Extension data.
    #[serde(default = "empty_object")]
    pub extra: Value,
}

/// Where a credential's values go on a request: header and query values
/// that read `{{name}}`, a secret of the credential (`access_token`, a
/// named key) or one of the connection's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthTemplate {
    /// Headers, by name (`Authorization: Bearer {{access_token}}`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Query parameters, by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub query: std::collections::BTreeMap<String, String>,
    /// HTTP Basic auth built from two templates (`Authorization: Basic
    /// base64(username:password)`), for APIs that take keys as a user name
    /// and a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicTemplate>,
}

/// The two halves of an HTTP Basic `Authorization` header, each a template
/// like the header values (`{{apiKey}}`; an empty password is allowed).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicTemplate {
    /// The user name.
    pub username: String,
    /// The password.
    #[serde(default)]
    pub password: String,
}

/// When an OAuth account's access token is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RefreshPolicy {
    /// Ahead of its expiry (`expires_in`), and after a 401.
    #[default]
    BeforeExpiry,
    /// Only after the provider answered 401: the expiry is not tracked.
    OnUnauthorized,
    /// Never: the tokens do not expire, and a 401 is passed on.
    Never,
}

impl RefreshPolicy {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Whose OAuth client a client-credentials account is connected with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientSource {
    /// The user's own: they enter its id and secret when connecting, and
    /// they are kept sealed with the account to get new tokens.
    #[default]
    User,
    /// The integration's (the app's client id and vaulted secret).
    App,
}

impl ClientSource {
    fn is_user(&self) -> bool {
        *self == Self::User
    }
}

fn default_version() -> String {
    "1.0.0".into()
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// How the app's OAuth client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP basic auth (RFC 6749's recommendation).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// How the provider authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AuthScheme {
    /// No credentials.
    None,
    /// An API key in a header or query parameter.
    ApiKey {
        /// Header or query.
        location: ApiKeyLocation,
        /// Header or parameter name.
        name: String,
        /// Value prefix (`Token `).
        #[serde(default)]
        prefix: Option<String>,
        /// The name of the input a user enters the key in (`apiKey`);
        /// `api_key` unless named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
    /// HTTP basic auth.
    Basic,
    /// A static bearer token.
    Bearer {
        /// The name of the input a user enters the token in; `token`
        /// unless named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
    /// OAuth 2.0 authorization code (with PKCE), or the password grant.
    #[serde(rename_all = "camelCase")]
    Oauth2 {
        /// Authorization endpoint (placeholders allowed); may be left out
        /// only with `passwordGrant`, and then users connect with their
        /// user name and password alone.
        #[serde(default)]
        authorize_url: String,
        /// Token endpoint (placeholders allowed).
        token_url: String,
        /// Revocation endpoint.
        #[serde(default)]
        revoke_url: Option<String>,
        /// Default scopes.
        #[serde(default)]
        scopes: Vec<String>,
        /// Scope separator.
        #[serde(default = "space")]
        scope_separator: String,
        /// Token-endpoint client authentication.
        #[serde(default)]
        client_auth: ClientAuth,
        /// Extra authorization parameters, in order.
        #[serde(default)]
        extra_authorize_params: Vec<(String, String)>,
        /// The plugin refreshes tokens itself (plugins only).
        #[serde(default)]
        custom_refresh: bool,
        /// The provider supports the password grant (RFC 6749 §4.3). A
        /// plugin's integration must also enable it; a definition's users
        /// may connect with it as written.
        #[serde(default)]
        password_grant: bool,
        /// With the password grant: the input (`apiKey`) in which users
        /// also enter an API key, kept sealed under that name for the auth
        /// template (`{{apiKey}}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_api_key: Option<String>,
        /// When access tokens are renewed.
        #[serde(default, skip_serializing_if = "RefreshPolicy::is_default")]
        refresh: RefreshPolicy,
        /// The authorization request carries a PKCE challenge and the code
        /// exchange its verifier (RFC 7636); off only for a provider that
        /// refuses them.
        #[serde(default = "yes")]
        pkce: bool,
    },
    /// OAuth 2.0 client credentials, with the user's own client or the
    /// app's.
    #[serde(rename_all = "camelCase")]
    Oauth2ClientCredentials {
        /// Token endpoint.
        token_url: String,
        /// Scopes.
        #[serde(default)]
        scopes: Vec<String>,
        /// Token-endpoint client authentication.
        #[serde(default)]
        client_auth: ClientAuth,
        /// Whose client: the user's (the default) or the app's.
        #[serde(default, skip_serializing_if = "ClientSource::is_user")]
        client: ClientSource,
        /// When access tokens are renewed.
        #[serde(default, skip_serializing_if = "RefreshPolicy::is_default")]
        refresh: RefreshPolicy,
    },
    /// Provider-defined credential fields (JSON Schema), refreshed by the
    /// provider's plugin.
    Custom {
        /// JSON Schema of the fields.
        schema: Value,
    },
}

fn space() -> String {
    " ".into()
}

fn yes() -> bool {
    true
}

/// What a declared limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitScope {
    /// The calls made with one connected account.
    Connection,
    /// Every call of the app (project) to the provider.
    App,
}

/// A documented provider limit: at most `requests` per `per_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitRule {
    /// What it counts.
    pub scope: RateLimitScope,
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in seconds.
    pub per_seconds: u32,
}

/// How a declarative provider checks a new account: one request made with
/// the account's credentials, and where its answer names the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionTest {
    /// `GET` unless said otherwise.
    #[serde(default = "get")]
    pub method: String,
    /// Path under the base URL (or a URL on a permitted host).
    pub path: String,
    /// JSON Pointer (RFC 6901) to the account's id in the answer
    /// (`/data/id`); none when the answer names no account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// JSON Pointer to a display name, if the answer has one.
    #[serde(default)]
    pub account_name: Option<String>,
    /// Other fields of the answer kept in the account's profile, by name:
    /// JSON Pointers (an API resource's user profile).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub profile: std::collections::BTreeMap<String, String>,
}

fn get() -> String {
    "GET".into()
}

impl Provider {
    /// The declared rate limits as the governor counts them (every path to
    /// the provider, proxy or plugin HTTP, spends the same budgets).
    pub fn governor_rules(&self) -> Vec<weft_egress::governor::Rule> {
        use weft_egress::governor::{Rule, Scope};
        self.rate_limits
            .iter()
            .map(|r| Rule {
                scope: match r.scope {
                    RateLimitScope::App => Scope::App,
                    RateLimitScope::Connection => Scope::Connection,
                },
                requests: r.requests,
                per: std::time::Duration::from_secs(u64::from(r.per_seconds.max(1))),
            })
            .collect()
    }
}

/// Whether `id` is usable as a provider id: the reference's integration
/// types (`googledrive`, `microsoftTeams`, `monday.com`, `custom.tasklab`):
/// 1 to 64 ASCII letters, digits, `-`, `_` and `.`, with no dot first, last
/// or twice in a row (the store's rule for integration types).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains("..")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn ids_are_the_reference_integration_types() {
        for ok in ["slack", "googleCalendar", "monday.com", "wordpress.com", "custom.tasklab", "a_b-c"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", ".x", "x.", "a..b", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
