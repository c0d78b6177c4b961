//! [`Auth`]: how the provider authenticates requests.
//!
//! The host holds the credentials and injects them into requests made with
//! connection auth; the plugin only declares the scheme.

use schemars::JsonSchema;

use crate::bindings::exports::plugin as wit;
use crate::schema;

/// How the provider authenticates requests; set it with
/// [`Metadata::auth`](crate::Metadata::auth).
///
/// The API-key and OAuth constructors return builders ([`ApiKey`],
/// [`OAuth2`], [`ClientCredentials`]) that convert into `Auth`.
///
/// ```no_run
/// use weft_sdk::{Auth, ClientAuth, Metadata};
///
/// let slack = Metadata::new("slack", "Slack", "0.1.0").auth(
///     Auth::oauth2(
///         "https://slack.com/oauth/v2/authorize",
///         "https://slack.com/api/oauth.v2.access",
///         ["chat:write", "channels:read"],
///     )
///     .scope_separator(",")
///     .client_auth(ClientAuth::Post),
/// );
/// let airtable = Metadata::new("airtable", "Airtable", "0.1.0").auth(Auth::bearer());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth(Scheme);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scheme {
    None,
    ApiKey(ApiKey),
    Basic,
    Bearer,
    OAuth2(OAuth2),
    ClientCredentials(ClientCredentials),
    Custom(String),
}

impl Auth {
    /// No credentials.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::none();
    /// ```
    pub fn none() -> Self {
        Self(Scheme::None)
    }

    /// A static bearer token from the user.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::bearer();
    /// ```
    pub fn bearer() -> Self {
        Self(Scheme::Bearer)
    }

    /// HTTP basic auth with a username and password from the user.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::basic();
    /// ```
    pub fn basic() -> Self {
        Self(Scheme::Basic)
    }

    /// An API key sent in the header `name` on every request.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::api_key_header("Authorization").prefix("Token ");
    /// ```
    pub fn api_key_header(name: impl Into<String>) -> ApiKey {
        ApiKey { in_query: false, name: name.into(), prefix: None }
    }

    /// An API key sent in the query parameter `name` on every request.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::api_key_query("api_key");
    /// ```
    pub fn api_key_query(name: impl Into<String>) -> ApiKey {
        ApiKey { in_query: true, ..Self::api_key_header(name) }
    }

    /// OAuth 2.0 authorization code flow (the host always uses PKCE S256).
    /// The URLs may contain `{config.<field>}` placeholders.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::oauth2(
    ///     "https://github.com/login/oauth/authorize",
    ///     "https://github.com/login/oauth/access_token",
    ///     ["repo", "read:user"],
    /// );
    /// ```
    pub fn oauth2<S: Into<String>>(
        authorize_url: impl Into<String>,
        token_url: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> OAuth2 {
        OAuth2 {
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            revoke_url: None,
            scopes: scopes.into_iter().map(Into::into).collect(),
            scope_separator: " ".into(),
            client_auth: ClientAuth::Basic,
            extra_authorize_params: Vec::new(),
            custom_refresh: false,
            password_grant: false,
        }
    }

    /// OAuth 2.0 client credentials: the user supplies a client id and secret.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::client_credentials("https://auth.example.com/token", ["api"]);
    /// ```
    pub fn client_credentials<S: Into<String>>(
        token_url: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> ClientCredentials {
        ClientCredentials {
            token_url: token_url.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            client_auth: ClientAuth::Basic,
        }
    }

    /// A custom scheme whose credential fields are described by `T`'s JSON
    /// Schema. The plugin reads them with [`secrets::get`](crate::secrets::get)
    /// in [`Integration::refresh`](crate::Integration::refresh) and sets its
    /// headers itself.
    ///
    /// ```no_run
    /// #[derive(schemars::JsonSchema)]
    /// struct Credentials { username: String, api_secret: String }
    /// let auth = weft_sdk::Auth::custom::<Credentials>();
    /// ```
    pub fn custom<T: JsonSchema>() -> Self {
        Self(Scheme::Custom(schema::of::<T>()))
    }

    /// A custom scheme described by a hand-written JSON Schema.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::custom_schema(serde_json::json!({
    ///     "type": "object",
    ///     "properties": { "key": { "type": "string" } }
    /// }));
    /// ```
    pub fn custom_schema(schema: serde_json::Value) -> Self {
        Self(Scheme::Custom(schema.to_string()))
    }

    pub(crate) fn into_wit(self) -> wit::AuthScheme {
        match self.0 {
            Scheme::None => wit::AuthScheme::None,
            Scheme::Basic => wit::AuthScheme::Basic,
            Scheme::Bearer => wit::AuthScheme::Bearer,
            Scheme::ApiKey(k) => wit::AuthScheme::ApiKey(wit::ApiKeyAuth {
                location: if k.in_query { wit::ApiKeyLocation::Query } else { wit::ApiKeyLocation::Header },
                name: k.name,
                prefix: k.prefix,
            }),
            Scheme::OAuth2(o) => wit::AuthScheme::Oauth2(wit::Oauth2Auth {
                authorize_url: o.authorize_url,
                token_url: o.token_url,
                revoke_url: o.revoke_url,
                scopes: o.scopes,
                scope_separator: o.scope_separator,
                client_auth: o.client_auth.into_wit(),
                extra_authorize_params: o.extra_authorize_params,
                custom_refresh: o.custom_refresh,
                password_grant: o.password_grant,
            }),
            Scheme::ClientCredentials(c) => {
                wit::AuthScheme::Oauth2ClientCredentials(wit::Oauth2ClientCredentialsAuth {
                    token_url: c.token_url,
                    scopes: c.scopes,
                    client_auth: c.client_auth.into_wit(),
                })
            }
            Scheme::Custom(schema) => wit::AuthScheme::Custom(schema),
        }
    }
}

/// How the client authenticates at the token endpoint.
///
/// ```no_run
/// use weft_sdk::{Auth, ClientAuth};
/// let auth = Auth::client_credentials("https://id.example.com/token", ["read"])
///     .client_auth(ClientAuth::Post);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP basic auth with client id and secret (the default).
    #[default]
    Basic,
    /// Client id and secret in the form body.
    Post,
}

impl ClientAuth {
    fn into_wit(self) -> wit::ClientAuth {
        match self {
            Self::Basic => wit::ClientAuth::Basic,
            Self::Post => wit::ClientAuth::Post,
        }
    }
}

/// An API key scheme; from [`Auth::api_key_header`] or [`Auth::api_key_query`].
///
/// ```no_run
/// let auth = weft_sdk::Auth::api_key_header("Authorization").prefix("Bearer ");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    in_query: bool,
    name: String,
    prefix: Option<String>,
}

impl ApiKey {
    /// Puts `prefix` before the key, e.g. `Token `.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::api_key_header("Authorization").prefix("Token ");
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }
}

impl From<ApiKey> for Auth {
    fn from(k: ApiKey) -> Self {
        Self(Scheme::ApiKey(k))
    }
}

/// An OAuth 2.0 authorization code scheme; from [`Auth::oauth2`].
///
/// ```no_run
/// let auth = weft_sdk::Auth::oauth2("https://a.example/authorize", "https://a.example/token", ["read"])
///     .revoke_url("https://a.example/revoke")
///     .extra_authorize_param("access_type", "offline");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2 {
    authorize_url: String,
    token_url: String,
    revoke_url: Option<String>,
    scopes: Vec<String>,
    scope_separator: String,
    client_auth: ClientAuth,
    extra_authorize_params: Vec<(String, String)>,
    custom_refresh: bool,
    password_grant: bool,
}

impl OAuth2 {
    /// Sets the RFC 7009 revocation endpoint, called on uninstall.
    ///
    /// ```no_run
    /// # let o = weft_sdk::Auth::oauth2("https://a/authorize", "https://a/token", ["r"]);
    /// let o = o.revoke_url("https://a/revoke");
    /// ```
    pub fn revoke_url(mut self, url: impl Into<String>) -> Self {
        self.revoke_url = Some(url.into());
        self
    }

    /// Sets the separator between scopes (a space by default).
    ///
    /// ```no_run
    /// # let o = weft_sdk::Auth::oauth2("https://a/authorize", "https://a/token", ["r"]);
    /// let o = o.scope_separator(",");
    /// ```
    pub fn scope_separator(mut self, separator: impl Into<String>) -> Self {
        self.scope_separator = separator.into();
        self
    }

    /// Sets how the client authenticates at the token endpoint.
    ///
    /// ```no_run
    /// # let o = weft_sdk::Auth::oauth2("https://a/authorize", "https://a/token", ["r"]);
    /// let o = o.client_auth(weft_sdk::ClientAuth::Post);
    /// ```
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// Adds a parameter to the authorization request.
    ///
    /// ```no_run
    /// # let o = weft_sdk::Auth::oauth2("https://a/authorize", "https://a/token", ["r"]);
    /// let o = o.extra_authorize_param("prompt", "consent");
    /// ```
    pub fn extra_authorize_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_authorize_params.push((name.into(), value.into()));
        self
    }

    /// Declares that refresh is not plain RFC 6749: the host then calls
    /// [`Integration::refresh`](crate::Integration::refresh).
    ///
    /// ```no_run
    /// # let o = weft_sdk::Auth::oauth2("https://a/authorize", "https://a/token", ["r"]);
    /// let o = o.custom_refresh();
    /// ```
    pub fn custom_refresh(mut self) -> Self {
        self.custom_refresh = true;
        self
    }

    /// Declares that the provider supports the password grant; the host
    /// uses it only where the integration's settings enable it.
    ///
    /// ```no_run
    /// # let o = weft_sdk::Auth::oauth2("https://a/authorize", "https://a/token", ["r"]);
    /// let o = o.password_grant();
    /// ```
    pub fn password_grant(mut self) -> Self {
        self.password_grant = true;
        self
    }
}

impl From<OAuth2> for Auth {
    fn from(o: OAuth2) -> Self {
        Self(Scheme::OAuth2(o))
    }
}

/// An OAuth 2.0 client credentials scheme; from [`Auth::client_credentials`].
///
/// ```no_run
/// let auth = weft_sdk::Auth::client_credentials("https://id.example/token", ["read"])
///     .client_auth(weft_sdk::ClientAuth::Post);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    token_url: String,
    scopes: Vec<String>,
    client_auth: ClientAuth,
}

impl ClientCredentials {
    /// Sets how the client authenticates at the token endpoint.
    ///
    /// ```no_run
    /// let auth = weft_sdk::Auth::client_credentials("https://id.example/token", ["read"])
    ///     .client_auth(weft_sdk::ClientAuth::Basic);
    /// ```
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }
}

impl From<ClientCredentials> for Auth {
    fn from(c: ClientCredentials) -> Self {
        Self(Scheme::ClientCredentials(c))
    }
}
