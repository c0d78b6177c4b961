//! How one integration authenticates: the plugin's declared scheme with
//! the integration's settings applied (endpoint overrides, the password
//! grant switch, scopes), and how its secrets go on a request.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use url::Url;
use weft_auth::oauth::ClientAuth;
use weft_catalog::{ApiKeyLocation, AuthScheme, ClientSource, RefreshPolicy};
use weft_egress::OutboundRequest;
use weft_store::Integration;

use crate::secrets::CredentialSecrets;
use crate::{Error, Result};

/// Integration settings (in `endpointOverrides`) this crate reads.
pub mod overrides {
    /// Replaces the plugin's authorization endpoint.
    pub const AUTHORIZE_URL: &str = "authorizeUrl";
    /// Replaces the plugin's token endpoint.
    pub const TOKEN_URL: &str = "tokenUrl";
    /// Replaces the plugin's revocation endpoint.
    pub const REVOKE_URL: &str = "revokeUrl";
    /// `true` enables the password grant (where the plugin supports it).
    pub const PASSWORD_GRANT: &str = "passwordGrant";
    /// `true` keeps the password-grant password in the vault (off by default).
    pub const KEEP_PASSWORD: &str = "keepPassword";
}

/// The OAuth authorization-code settings in force for an integration.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Authorization endpoint (may hold `{config.x}` placeholders).
    pub authorize_url: String,
    /// Token endpoint (may hold placeholders).
    pub token_url: String,
    /// Revocation endpoint.
    pub revoke_url: Option<String>,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Scope separator.
    pub scope_separator: String,
    /// Token-endpoint client authentication.
    pub client_auth: ClientAuth,
    /// Extra authorization parameters.
    pub extra_params: Vec<(String, String)>,
    /// The plugin refreshes tokens itself.
    pub custom_refresh: bool,
    /// The password grant is enabled for this integration.
    pub password_grant: bool,
    /// The password is kept after a password-grant connect.
    pub keep_password: bool,
    /// With the password grant, the input users also enter an API key in.
    pub password_api_key: Option<String>,
    /// When access tokens are renewed.
    pub refresh: RefreshPolicy,
    /// PKCE is sent (the definition may turn it off).
    pub pkce: bool,
}

impl OAuthSettings {
    /// Whether users connect with the password grant only (no
    /// authorization page).
    pub fn password_only(&self) -> bool {
        self.password_grant && self.authorize_url.is_empty()
    }
}

/// How an integration's accounts are connected and used.
#[derive(Debug, Clone)]
pub enum Scheme {
    /// No credentials at all.
    None,
    /// An API key in a header or query parameter.
    ApiKey {
        /// In the query string rather than a header.
        in_query: bool,
        /// Header or parameter name.
        name: String,
        /// Value prefix.
        prefix: Option<String>,
        /// The connect input the user enters the key in.
        field: String,
    },
    /// HTTP basic auth.
    Basic,
    /// A static bearer token.
    Bearer {
        /// The connect input the user enters the token in.
        field: String,
    },
    /// OAuth 2.0 authorization code (and, where enabled, the password grant).
    OAuth(OAuthSettings),
    /// OAuth 2.0 client credentials.
    ClientCredentials {
        /// Token endpoint.
        token_url: String,
        /// Scopes.
        scopes: Vec<String>,
        /// Client authentication.
        client_auth: ClientAuth,
        /// The user enters the client (else the app's is used).
        user_client: bool,
        /// When access tokens are renewed.
        refresh: RefreshPolicy,
    },
    /// Plugin-defined fields (JSON Schema), refreshed by the plugin.
    Custom {
        /// The fields' schema.
        schema: Value,
    },
}

fn client_auth(c: weft_catalog::ClientAuth) -> ClientAuth {
    match c {
        weft_catalog::ClientAuth::Post => ClientAuth::Post,
        weft_catalog::ClientAuth::Basic => ClientAuth::Basic,
    }
}

fn text_override(integration: &Integration, key: &str) -> Option<String> {
    integration.endpoint_overrides.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn flag(integration: &Integration, key: &str) -> bool {
    integration.endpoint_overrides.get(key).and_then(Value::as_bool).unwrap_or(false)
}

impl Scheme {
    /// The scheme of `declared` (the provider's) under `integration`'s
    /// settings. A `definition`'s password grant is in force as written
    /// (the project wrote it); a plugin's needs the integration's consent.
    pub fn resolve(declared: &AuthScheme, integration: &Integration, definition: bool) -> Scheme {
        let scopes = |default: &[String]| {
            if integration.scopes.is_empty() { default.to_vec() } else { integration.scopes.clone() }
        };
        match declared {
            AuthScheme::None => Scheme::None,
            AuthScheme::ApiKey { location, name, prefix, field } => Scheme::ApiKey {
                in_query: *location == ApiKeyLocation::Query,
                name: name.clone(),
                prefix: prefix.clone(),
                field: field.clone().unwrap_or_else(|| "api_key".into()),
            },
            AuthScheme::Basic => Scheme::Basic,
            AuthScheme::Bearer { field } => Scheme::Bearer { field: field.clone().unwrap_or_else(|| "token".into()) },
            AuthScheme::Oauth2 {
                authorize_url,
                token_url,
                revoke_url,
                scopes: default_scopes,
                scope_separator,
                client_auth: auth,
                extra_authorize_params,
                custom_refresh,
                password_grant,
                password_api_key,
                refresh,
                pkce,
            } => Scheme::OAuth(OAuthSettings {
                authorize_url: text_override(integration, overrides::AUTHORIZE_URL)
                    .unwrap_or_else(|| authorize_url.clone()),
                token_url: text_override(integration, overrides::TOKEN_URL).unwrap_or_else(|| token_url.clone()),
                revoke_url: text_override(integration, overrides::REVOKE_URL).or_else(|| revoke_url.clone()),
                scopes: scopes(default_scopes),
                scope_separator: if scope_separator.is_empty() { " ".into() } else { scope_separator.clone() },
                client_auth: client_auth(*auth),
                extra_params: extra_authorize_params.clone(),
                custom_refresh: *custom_refresh,
                // Both the plugin and the integration must enable it.
                password_grant: *password_grant && (definition || flag(integration, overrides::PASSWORD_GRANT)),
                keep_password: flag(integration, overrides::KEEP_PASSWORD),
                password_api_key: password_api_key.clone(),
                refresh: *refresh,
                pkce: *pkce,
            }),
            AuthScheme::Oauth2ClientCredentials {
                token_url,
                scopes: default_scopes,
                client_auth: auth,
                client,
                refresh,
            } => Scheme::ClientCredentials {
                token_url: text_override(integration, overrides::TOKEN_URL).unwrap_or_else(|| token_url.clone()),
                scopes: scopes(default_scopes),
                client_auth: client_auth(*auth),
                user_client: *client == ClientSource::User,
                refresh: *refresh,
            },
            AuthScheme::Custom { schema } => Scheme::Custom { schema: schema.clone() },
        }
    }

    /// The secret input fields a user submits to connect, or `None` when the
    /// scheme connects through an authorization redirect (or not at all).
    pub fn input_fields(&self, password_grant: bool) -> Option<Vec<String>> {
        let names = |n: &[&str]| Some(n.iter().map(|s| (*s).to_owned()).collect());
        match self {
            Scheme::None => None,
            Scheme::ApiKey { field, .. } => names(&[field]),
            Scheme::Basic => names(&["username", "password"]),
            Scheme::Bearer { field } => names(&[field]),
            Scheme::OAuth(o) if (password_grant || o.password_only()) && o.password_grant => {
                let mut fields = vec!["username".to_owned(), "password".to_owned()];
                fields.extend(o.password_api_key.clone());
                Some(fields)
            }
            Scheme::OAuth(_) => None,
            Scheme::ClientCredentials { user_client: true, .. } => names(&["client_id", "client_secret"]),
            Scheme::ClientCredentials { user_client: false, .. } => Some(Vec::new()),
            Scheme::Custom { schema } => Some(
                schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default(),
            ),
        }
    }

    /// When the scheme's access tokens are renewed (`BeforeExpiry` for
    /// schemes whose tokens are not the provider's OAuth tokens).
    pub fn refresh(&self) -> RefreshPolicy {
        match self {
            Scheme::OAuth(o) => o.refresh,
            Scheme::ClientCredentials { refresh, .. } => *refresh,
            _ => RefreshPolicy::BeforeExpiry,
        }
    }

    /// The API's name of the scheme (`authenticationType`).
    pub fn kind(&self) -> &'static str {
        match self {
            Scheme::None => "none",
            Scheme::ApiKey { .. } | Scheme::Basic | Scheme::Bearer { .. } | Scheme::Custom { .. } => "apiKey",
            Scheme::OAuth(_) => "oauth",
            Scheme::ClientCredentials { .. } => "oauthClientCredential",
        }
    }

    /// The bearer token this scheme sends with `secrets`, if it sends one
    /// (the token a provider 401 refuses, and a refresh replaces).
    pub fn bearer<'s>(&self, secrets: &'s CredentialSecrets) -> Option<&'s str> {
        match self {
            Scheme::Bearer { .. } | Scheme::OAuth(_) | Scheme::ClientCredentials { .. } | Scheme::Custom { .. } => {
                secrets.access_token.as_deref()
            }
            Scheme::None | Scheme::ApiKey { .. } | Scheme::Basic => None,
        }
    }

    /// Adds the credential to an outbound request: after the egress header
    /// hygiene, and never visible to a plugin.
    pub fn inject(&self, secrets: &CredentialSecrets, req: &mut OutboundRequest) -> Result<()> {
        let missing = || Error::NeedsReauth { reason: "the credential has no usable secret".into() };
        let bearer = |token: &str| ("authorization".to_owned(), format!("Bearer {token}"));
        match self {
            Scheme::None => {}
            Scheme::ApiKey { in_query, name, prefix, .. } => {
                let key = secrets.fields.get("api_key").ok_or_else(missing)?;
                let value = format!("{}{key}", prefix.as_deref().unwrap_or(""));
                if *in_query {
                    replace_query_param(&mut req.url, name, &value);
                } else {
                    req.injected_headers.push((name.to_ascii_lowercase(), value));
                }
            }
            Scheme::Basic => {
                let (user, pass) = (secrets.username.as_deref().ok_or_else(missing)?, secrets.password.as_deref());
                let pair = format!("{user}:{}", pass.unwrap_or(""));
                req.injected_headers.push(("authorization".into(), format!("Basic {}", STANDARD.encode(pair))));
            }
            Scheme::Bearer { .. } | Scheme::OAuth(_) | Scheme::ClientCredentials { .. } | Scheme::Custom { .. } => {
                req.injected_headers.push(bearer(self.bearer(secrets).ok_or_else(missing)?));
            }
        }
        Ok(())
    }
}

/// Sets `name=value` as the one parameter of that name in `url`'s query:
/// every parameter of the caller's that a provider could read as `name`
/// (any spelling that decodes to it, in any case, also after a `;`) is
/// dropped, the others are kept byte for byte, and the injected pair goes
/// last. Appending alone would send both, and a provider reading the first
/// would take the caller's.
pub(crate) fn replace_query_param(url: &mut Url, name: &str, value: &str) {
    let names_it = |segment: &str| {
        segment.split(';').any(|part| {
            let raw = part.split_once('=').map_or(part, |(n, _)| n);
            url::form_urlencoded::parse(raw.as_bytes()).next().is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        })
    };
    let mut query: String = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|segment| !segment.is_empty() && !names_it(segment))
        .collect::<Vec<_>>()
        .join("&");
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&url::form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish());
    url.set_query(Some(&query));
}

/// Adds the credential to `req` as a provider's auth template says (an API
/// resource): each `{{name}}` reads the secret of that name (`access_token`,
/// a named key) or else the connection's setting of that name. A value the
/// credential lacks refuses the call rather than sending a blank.
pub(crate) fn inject_template(
    template: &weft_catalog::AuthTemplate,
    secrets: &CredentialSecrets,
    config: &Map<String, Value>,
    req: &mut OutboundRequest,
) -> Result<()> {
    let value_of = |name: &str| -> Option<String> {
        let secret = match name {
            "access_token" => secrets.access_token.clone(),
            "refresh_token" => None,
            // A basic scheme's user name and password, or keys so named.
            "username" => secrets.fields.get(name).or(secrets.username.as_ref()).cloned(),
            "password" => secrets.fields.get(name).or(secrets.password.as_ref()).cloned(),
            _ => secrets.fields.get(name).cloned(),
        };
        secret.or_else(|| match config.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    };
    let render = |text: &str| -> Result<String> {
        weft_catalog::resource::fill_variables(
            text,
            || Error::Misconfigured("an auth template is not closed".into()),
            |name| {
                value_of(name)
                    .ok_or_else(|| Error::NeedsReauth { reason: format!("the credential has no value for `{name}`") })
            },
        )
    };
    for (name, value) in &template.headers {
        let value = render(value)?;
        if value.contains(['\r', '\n', '\0']) {
            return Err(Error::NeedsReauth {
                reason: format!("the credential's `{name}` header is not a header value"),
            });
        }
        req.injected_headers.push((name.to_ascii_lowercase(), value));
    }
    for (name, value) in &template.query {
        replace_query_param(&mut req.url, name, &render(value)?);
    }
    if let Some(basic) = &template.basic {
        let pair = format!("{}:{}", render(&basic.username)?, render(&basic.password)?);
        req.injected_headers.push(("authorization".into(), format!("Basic {}", STANDARD.encode(pair))));
    }
    Ok(())
}

/// Fills `{config.<field>}` placeholders of `template` from the connection's
/// pre-authorization inputs (the plugin host's rules: only host-safe
/// values) and parses the result as an http(s) URL.
pub fn fill_url(template: &str, config: &Map<String, Value>) -> Result<Url> {
    use weft_catalog::PlaceholderError as P;
    let filled = weft_catalog::fill_placeholders(template, config).map_err(|e| match e {
        P::Unclosed => Error::Misconfigured(format!("unclosed placeholder in {template}")),
        P::Missing(field) => Error::BadRequest(format!("the input field `{field}` is required to connect")),
        P::Unsafe(field) => {
            Error::BadRequest(format!("the input field `{field}` may only hold letters, digits, '-', '_' and '.'"))
        }
    })?;
    let url: Url = filled.parse().map_err(|_| Error::Misconfigured(format!("{template} is not a URL")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::Misconfigured(format!("{template} is not an http(s) URL")));
    }
    Ok(url)
}

/// The non-secret pre-authorization inputs a user sent, checked against the
/// plugin's connection-config schema (top-level properties only; values
/// must be strings, numbers or booleans).
pub fn connection_inputs(schema: Option<&Value>, inputs: &Map<String, Value>) -> Result<Map<String, Value>> {
    let declared = schema.and_then(|s| s.get("properties")).and_then(Value::as_object);
    let mut out = Map::new();
    for (k, v) in inputs {
        if !declared.is_some_and(|d| d.contains_key(k)) {
            continue;
        }
        match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                out.insert(k.clone(), v.clone());
            }
            _ => return Err(Error::BadRequest(format!("the input field `{k}` must be a string, number or boolean"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_accept_only_safe_tokens() {
        let config = json!({"subdomain": "acme", "evil": "x.test/a?", "at": "a@b"});
        let config = config.as_object().unwrap();
        assert_eq!(
            fill_url("https://{config.subdomain}.zendesk.test/oauth", config).unwrap().as_str(),
            "https://acme.zendesk.test/oauth"
        );
        assert!(matches!(fill_url("https://{config.evil}.x/", config), Err(Error::BadRequest(_))));
        assert!(matches!(fill_url("https://{config.at}.x/", config), Err(Error::BadRequest(_))));
        assert!(matches!(fill_url("https://{config.missing}.x/", config), Err(Error::BadRequest(_))));
        assert!(matches!(fill_url("file:///{config.subdomain}", config), Err(Error::Misconfigured(_))));
    }

    #[test]
    fn secrets_go_where_the_scheme_says() {
        let req = || OutboundRequest::get("https://api.test/x?a=1".parse().unwrap());
        let mut s = CredentialSecrets::default();
        s.username = Some("ada".into());
        s.password = Some("pw".into());
        s.fields.insert("api_key".into(), "k1".into());
        s.access_token = Some("at".into());

        let mut r = req();
        Scheme::Basic.inject(&s, &mut r).unwrap();
        assert_eq!(r.injected_headers, [("authorization".to_owned(), format!("Basic {}", STANDARD.encode("ada:pw")))]);
        let mut r = req();
        Scheme::ApiKey { in_query: true, name: "key".into(), prefix: None, field: "api_key".into() }
            .inject(&s, &mut r)
            .unwrap();
        assert_eq!(r.url.as_str(), "https://api.test/x?a=1&key=k1");
        assert!(r.injected_headers.is_empty());
        let mut r = req();
        Scheme::ApiKey { in_query: false, name: "X-Key".into(), prefix: Some("Token ".into()), field: "apiKey".into() }
            .inject(&s, &mut r)
            .unwrap();
        assert_eq!(r.injected_headers, [("x-key".to_owned(), "Token k1".to_owned())]);
        let mut r = req();
        Scheme::Bearer { field: "token".into() }.inject(&s, &mut r).unwrap();
        assert_eq!(r.injected_headers, [("authorization".to_owned(), "Bearer at".to_owned())]);
        let empty = CredentialSecrets::default();
        let bearer = Scheme::Bearer { field: "token".into() };
        assert!(matches!(bearer.inject(&empty, &mut req()), Err(Error::NeedsReauth { .. })));
    }

    /// Issue 24, defect 6: the injected key replaces a caller's parameter
    /// of the same name, whatever its spelling; other parameters are kept
    /// exactly as sent.
    #[test]
    fn an_injected_query_key_replaces_the_callers() {
        let mut s = CredentialSecrets::default();
        s.fields.insert("api_key".into(), "real key".into());
        let scheme = Scheme::ApiKey { in_query: true, name: "key".into(), prefix: None, field: "api_key".into() };
        for (sent, expected) in [
            ("https://api.test/x", "https://api.test/x?key=real+key"),
            ("https://api.test/x?", "https://api.test/x?key=real+key"),
            ("https://api.test/x?key=evil", "https://api.test/x?key=real+key"),
            ("https://api.test/x?a=1&key=evil&b=%2F+x", "https://api.test/x?a=1&b=%2F+x&key=real+key"),
            ("https://api.test/x?%6Bey=evil&KEY=evil&key&key[]=ok", "https://api.test/x?key[]=ok&key=real+key"),
            ("https://api.test/x?a=1;key=evil&keys=ok", "https://api.test/x?keys=ok&key=real+key"),
            ("https://api.test/x?a=%zz&&b#frag", "https://api.test/x?a=%zz&b&key=real+key#frag"),
        ] {
            let mut r = OutboundRequest::get(sent.parse().unwrap());
            scheme.inject(&s, &mut r).unwrap();
            assert_eq!(r.url.as_str(), expected, "{sent}");
        }
    }

    /// An API resource's template: secrets by name, then the connection's
    /// settings; a value the credential lacks refuses the call.
    #[test]
    fn a_template_places_secrets_and_settings() {
        let mut s = CredentialSecrets::default();
        s.access_token = Some("at".into());
        s.fields.insert("apiKey".into(), "k1".into());
        let config = json!({"tenant": "acme"});
        let config = config.as_object().unwrap();
        let template = weft_catalog::AuthTemplate {
            headers: [("X-Key".to_owned(), "{{apiKey}}/{{ tenant }}".to_owned())].into(),
            query: [("token".to_owned(), "{{access_token}}".to_owned())].into(),
            basic: None,
        };
        let mut r = OutboundRequest::get("https://api.test/x?token=evil&a=1".parse().unwrap());
        inject_template(&template, &s, config, &mut r).unwrap();
        assert_eq!(r.injected_headers, [("x-key".to_owned(), "k1/acme".to_owned())]);
        assert_eq!(r.url.as_str(), "https://api.test/x?a=1&token=at");
        let refresh = weft_catalog::AuthTemplate {
            headers: [("X-Key".to_owned(), "{{refresh_token}}".to_owned())].into(),
            query: Default::default(),
            basic: None,
        };
        s.refresh_token = Some("rt".into());
        let mut r = OutboundRequest::get("https://api.test/x".parse().unwrap());
        assert!(matches!(inject_template(&refresh, &s, config, &mut r), Err(Error::NeedsReauth { .. })));
    }

    /// HTTP Basic from two templates: an API key as the user name (an
    /// empty password), or a basic scheme's own user name and password.
    #[test]
    fn a_template_may_send_http_basic() {
        let mut s = CredentialSecrets::default();
        s.fields.insert("apiKey".into(), "k1".into());
        let basic = |username: &str, password: &str| weft_catalog::AuthTemplate {
            basic: Some(weft_catalog::BasicTemplate { username: username.into(), password: password.into() }),
            ..Default::default()
        };
        let mut r = OutboundRequest::get("https://api.test/x".parse().unwrap());
        inject_template(&basic("{{apiKey}}", ""), &s, &Map::new(), &mut r).unwrap();
        assert_eq!(r.injected_headers, [("authorization".to_owned(), format!("Basic {}", STANDARD.encode("k1:")))]);
        s.username = Some("ada".into());
        s.password = Some("pw".into());
        let mut r = OutboundRequest::get("https://api.test/x".parse().unwrap());
        inject_template(&basic("{{username}}", "{{password}}"), &s, &Map::new(), &mut r).unwrap();
        assert_eq!(r.injected_headers[0].1, format!("Basic {}", STANDARD.encode("ada:pw")));
        let mut r = OutboundRequest::get("https://api.test/x".parse().unwrap());
        let missing = inject_template(&basic("{{other}}", ""), &s, &Map::new(), &mut r);
        assert!(matches!(missing, Err(Error::NeedsReauth { .. })));
    }

    #[test]
    fn inputs_keep_only_declared_scalar_fields() {
        let schema = json!({"properties": {"subdomain": {"type": "string"}}});
        let inputs = json!({"subdomain": "acme", "other": "x"});
        let got = connection_inputs(Some(&schema), inputs.as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(got), json!({"subdomain": "acme"}));
        let nested = json!({"subdomain": {"a": 1}});
        assert!(connection_inputs(Some(&schema), nested.as_object().unwrap()).is_err());
    }
}
