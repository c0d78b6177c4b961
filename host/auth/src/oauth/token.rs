//! The token endpoint (RFC 6749 §4–6) and revocation (RFC 7009).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use url::Url;
use weft_egress::{Egress, EgressError, Method, OutboundRequest};

use super::reading::{RequestFormat, TokenReading};

/// Largest token response read; anything bigger is no token response.
const MAX_TOKEN_RESPONSE: u64 = 256 * 1024;
/// Longest `Retry-After` honoured; a longer one is clamped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the request body.
    Post,
}

/// The app's (or, for client credentials, the user's) OAuth client.
#[derive(Clone)]
pub struct OAuthClient {
    /// Client id.
    pub client_id: String,
    /// Client secret; public clients have none.
    pub client_secret: Option<SecretString>,
    /// Where the credentials go.
    pub auth: ClientAuth,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient").field("client_id", &self.client_id).field("auth", &self.auth).finish()
    }
}

/// What is exchanged for tokens.
pub enum Grant<'a> {
    /// An authorization code, with the redirect URI and PKCE verifier of
    /// its authorization request.
    AuthorizationCode {
        /// The code.
        code: &'a str,
        /// The redirect URI sent in the authorization request.
        redirect_uri: &'a str,
        /// The PKCE verifier; none when the authorization request carried
        /// no challenge.
        code_verifier: Option<&'a SecretString>,
    },
    /// A refresh token.
    RefreshToken(&'a SecretString),
    /// The resource owner's password (only where an integration enables it).
    Password {
        /// User name.
        username: &'a str,
        /// Password.
        password: &'a SecretString,
        /// Scopes to request.
        scopes: &'a [String],
    },
    /// Client credentials.
    ClientCredentials {
        /// Scopes to request.
        scopes: &'a [String],
    },
}

impl Grant<'_> {
    fn form(&self, scope_separator: &str) -> Vec<(&'static str, String)> {
        let scope = |s: &[String]| (!s.is_empty()).then(|| ("scope", s.join(scope_separator)));
        match self {
            Grant::AuthorizationCode { code, redirect_uri, code_verifier } => {
                let mut f = vec![
                    ("grant_type", "authorization_code".into()),
                    ("code", (*code).into()),
                    ("redirect_uri", (*redirect_uri).into()),
                ];
                f.extend(code_verifier.map(|v| ("code_verifier", v.expose_secret().into())));
                f
            }
            Grant::RefreshToken(token) => {
                vec![("grant_type", "refresh_token".into()), ("refresh_token", token.expose_secret().into())]
            }
            Grant::Password { username, password, scopes } => {
                let mut f = vec![
                    ("grant_type", "password".into()),
                    ("username", (*username).into()),
                    ("password", password.expose_secret().into()),
                ];
                f.extend(scope(scopes));
                f
            }
            Grant::ClientCredentials { scopes } => {
                let mut f = vec![("grant_type", "client_credentials".into())];
                f.extend(scope(scopes));
                f
            }
        }
    }
}

/// A successful token response. `Debug` shows no token.
#[derive(Clone)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: SecretString,
    /// `Bearer`, or a type the provider's [`TokenReading`] accepts (sent
    /// as a bearer token all the same).
    pub token_type: String,
    /// Lifetime in seconds, when the provider says.
    pub expires_in: Option<u64>,
    /// A (possibly rotated) refresh token.
    pub refresh_token: Option<SecretString>,
    /// Granted scopes, when the provider says.
    pub scope: Option<String>,
    /// Every other field (e.g. `id_token`, `instance_url`): kept sealed
    /// with the tokens, since it may hold secrets too.
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why the token endpoint gave no tokens. Messages never quote a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is dead.
    #[error("the provider refused the grant (invalid_grant)")]
    InvalidGrant,
    /// `invalid_client`: the app's client id or secret is wrong.
    #[error("the provider refused the client (invalid_client)")]
    InvalidClient,
    /// Another OAuth error code in a 4xx answer.
    #[error("the provider refused the request ({0})")]
    Rejected(String),
    /// 429, 5xx, a timeout or a failed connection: worth retrying later.
    #[error("the token endpoint is unavailable ({reason})")]
    Unavailable {
        /// What happened (a status or a network failure; no body).
        reason: String,
        /// The provider's `Retry-After`, clamped to an hour.
        retry_after: Option<Duration>,
    },
    /// The token endpoint redirected; redirects are never followed.
    #[error("the token endpoint answered a redirect ({0}); redirects are not followed")]
    Redirected(u16),
    /// The answer is not a usable token response (not JSON, no
    /// `access_token`, a token type the provider does not declare, too large).
    #[error("malformed token response: {0}")]
    Malformed(&'static str),
    /// The request could not be sent (bad URL, refused destination).
    #[error("token request not sent: {0}")]
    NotSent(String),
}

impl TokenError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Unavailable { .. })
    }

    /// The provider's requested wait, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Calls the token endpoint with `grant` and validates the answer as
/// RFC 6749 says (with the leniencies every provider gets).
pub async fn request_token(
    egress: &dyn Egress,
    token_url: &Url,
    client: &OAuthClient,
    grant: Grant<'_>,
    timeout: Duration,
) -> Result<TokenResponse, TokenError> {
    request_token_as(egress, token_url, client, grant, timeout, &TokenReading::default()).await
}

/// Calls the token endpoint with `grant` and reads the answer as the
/// provider declares (`reading`).
pub async fn request_token_as(
    egress: &dyn Egress,
    token_url: &Url,
    client: &OAuthClient,
    grant: Grant<'_>,
    timeout: Duration,
    reading: &TokenReading,
) -> Result<TokenResponse, TokenError> {
    let mut form = grant.form(" ");
    let resp = post_form(egress, token_url, client, &mut form, timeout, reading.request_format).await?;
    parse_token_response(resp.status, &resp.headers, &resp.body, reading)
}

/// Revokes `token` at the provider (RFC 7009); best effort for callers.
pub async fn revoke_token(
    egress: &dyn Egress,
    revoke_url: &Url,
    client: &OAuthClient,
    token: &SecretString,
    hint: &str,
    timeout: Duration,
) -> Result<(), TokenError> {
    let mut form = vec![("token", token.expose_secret().to_owned()), ("token_type_hint", hint.to_owned())];
    let resp = post_form(egress, revoke_url, client, &mut form, timeout, RequestFormat::Form).await?;
    match resp.status {
        200..=299 => Ok(()),
        status => Err(classify_refusal(status, &resp.headers, &resp.body, &TokenReading::default())),
    }
}

async fn post_form(
    egress: &dyn Egress,
    url: &Url,
    client: &OAuthClient,
    form: &mut Vec<(&'static str, String)>,
    timeout: Duration,
    format: RequestFormat,
) -> Result<weft_egress::OutboundResponse, TokenError> {
    let mut req = OutboundRequest::new(Method::Post, url.clone());
    match (client.auth, &client.client_secret) {
        (ClientAuth::Basic, Some(secret)) => {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&client.client_id), enc(secret.expose_secret()));
            // Injected headers survive the egress header hygiene that drops
            // caller-supplied `Authorization`.
            req.injected_headers.push(("authorization".into(), format!("Basic {}", STANDARD.encode(pair))));
        }
        (ClientAuth::Post, Some(secret)) => {
            form.push(("client_id", client.client_id.clone()));
            form.push(("client_secret", secret.expose_secret().to_owned()));
        }
        (_, None) => form.push(("client_id", client.client_id.clone())),
    }
    let (content_type, body) = encode_body(form, format);
    req.headers.push(("content-type".into(), content_type.into()));
    req.headers.push(("accept".into(), "application/json".into()));
    req.body = Some(body.into());
    req.timeout = Some(timeout);
    req.max_response_bytes = Some(MAX_TOKEN_RESPONSE);
    egress.send(req).await.map_err(|e| match e {
        EgressError::TooLarge(_) => TokenError::Malformed("the response is larger than a token response can be"),
        EgressError::Timeout => TokenError::Unavailable { reason: "timed out".into(), retry_after: None },
        EgressError::Connection(m) => {
            TokenError::Unavailable { reason: format!("connection failed: {m}"), retry_after: None }
        }
        EgressError::Denied(m) | EgressError::InvalidRequest(m) => TokenError::NotSent(m),
    })
}

/// A token request's content type and body.
fn encode_body(form: &[(&'static str, String)], format: RequestFormat) -> (&'static str, Vec<u8>) {
    match format {
        RequestFormat::Form => (
            "application/x-www-form-urlencoded",
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish().into_bytes(),
        ),
        RequestFormat::Json => {
            let object: Map<String, Value> =
                form.iter().map(|(k, v)| ((*k).to_owned(), Value::from(v.as_str()))).collect();
            ("application/json", Value::Object(object).to_string().into_bytes())
        }
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `Retry-After` in delta-seconds or as an HTTP date, capped.
fn retry_after(headers: &[(String, String)]) -> Option<Duration> {
    header(headers, "retry-after")
        .and_then(|v| weft_egress::governor::retry_after(v, std::time::SystemTime::now()))
        .map(|d| d.min(MAX_RETRY_AFTER))
}

/// Maps a non-2xx answer to an error.
fn classify_refusal(status: u16, headers: &[(String, String)], body: &[u8], reading: &TokenReading) -> TokenError {
    if (300..400).contains(&status) {
        return TokenError::Redirected(status);
    }
    if status == 429 || status >= 500 {
        return TokenError::Unavailable { reason: format!("HTTP {status}"), retry_after: retry_after(headers) };
    }
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
    classify_code(status, code.as_deref(), reading)
}

/// Maps an OAuth (or the provider's own) error code to an error.
fn classify_code(status: u16, code: Option<&str>, reading: &TokenReading) -> TokenError {
    match code.map(|c| reading.normalise(c)) {
        Some("invalid_grant") => TokenError::InvalidGrant,
        Some("invalid_client") | Some("unauthorized_client") => TokenError::InvalidClient,
        // An error code is a short token; anything else is not quoted.
        Some(c) if c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            TokenError::Rejected(c.to_owned())
        }
        _ if status == 401 => TokenError::InvalidClient,
        _ => TokenError::Rejected(format!("HTTP {status}")),
    }
}

fn parse_token_response(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    reading: &TokenReading,
) -> Result<TokenResponse, TokenError> {
    if !(200..300).contains(&status) {
        return Err(classify_refusal(status, headers, body, reading));
    }
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(TokenError::Malformed("the body is not a JSON object"));
    };
    // Some providers refuse with 200 (GitHub, Slack): the refusal it is,
    // never "malformed", so a dead grant is recognised as one.
    if let Some(code) = reading.refusal_in_success(&fields) {
        let status = if reading.normalise(&code) == "invalid_client" { 401 } else { 400 };
        return Err(classify_code(status, Some(&code), reading));
    }
    let (access_token, token_type) = match fields.remove("access_token") {
        Some(Value::String(t)) if !t.is_empty() => (SecretString::from(t), fields.remove("token_type")),
        _ => match reading.take_nested_token(&mut fields) {
            Some((t, token_type)) => (SecretString::from(t), token_type),
            None => return Err(TokenError::Malformed("no access_token")),
        },
    };
    // RFC 6749 §5.1 makes token_type required, but several providers omit
    // it; when present it must be Bearer or a type the provider declares
    // (sent as a bearer token all the same).
    let token_type = match token_type {
        None | Some(Value::Null) => "Bearer".to_owned(),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
        Some(Value::String(t)) if reading.accepts_token_type(&t) => t,
        Some(_) => return Err(TokenError::Malformed("token_type is not Bearer nor one the provider declares")),
    };
    let expires_in = match fields.remove("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        // Some providers send it as a string.
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => return Err(TokenError::Malformed("expires_in is not a number")),
    };
    let refresh_token = match fields.remove("refresh_token") {
        Some(Value::String(t)) if !t.is_empty() => Some(SecretString::from(t)),
        _ => None,
    };
    let scope = match fields.remove("scope") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(TokenResponse { access_token, token_type, expires_in, refresh_token, scope, extra: fields })
}

#[cfg(test)]
mod provider_answers;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> Result<TokenResponse, TokenError> {
        parse_token_response(status, &[("Retry-After".into(), "2".into())], body.as_bytes(), &TokenReading::default())
    }

    #[test]
    fn token_responses_are_validated() {
        let ok =
            parse(200, r#"{"access_token":"a","token_type":"bearer","expires_in":"60","refresh_token":"r","x":1}"#)
                .unwrap();
        assert_eq!((ok.access_token.expose_secret(), ok.expires_in), ("a", Some(60)));
        assert_eq!(ok.refresh_token.as_ref().map(|r| r.expose_secret()), Some("r"));
        assert_eq!(ok.extra.get("x"), Some(&Value::from(1)));
        assert!(!format!("{ok:?}").contains("\"a\""));
        let no_expiry = parse(200, r#"{"access_token":"a"}"#).unwrap();
        assert_eq!(no_expiry.expires_in, None);
        assert_eq!(parse(200, r#"{"token_type":"Bearer"}"#).unwrap_err(), TokenError::Malformed("no access_token"));
        assert_eq!(
            parse(200, r#"{"access_token":"a","token_type":"mac"}"#).unwrap_err(),
            TokenError::Malformed("token_type is not Bearer nor one the provider declares")
        );
        assert!(matches!(parse(200, "<html>"), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn refusals_are_classified_without_quoting_bodies() {
        assert_eq!(parse(400, r#"{"error":"invalid_grant"}"#).unwrap_err(), TokenError::InvalidGrant);
        assert_eq!(parse(401, r#"{"error":"invalid_client"}"#).unwrap_err(), TokenError::InvalidClient);
        assert_eq!(
            parse(400, r#"{"error":"invalid_scope"}"#).unwrap_err(),
            TokenError::Rejected("invalid_scope".into())
        );
        assert_eq!(parse(400, r#"{"error":"secret-token zzz"}"#).unwrap_err(), TokenError::Rejected("HTTP 400".into()));
        let busy = parse(429, "").unwrap_err();
        assert!(busy.is_transient());
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(2)));
        assert!(parse(503, "oops").unwrap_err().is_transient());
        assert_eq!(parse(302, "").unwrap_err(), TokenError::Redirected(302));
    }
}
