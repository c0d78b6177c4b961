//! The OAuth 2.0 client side of connecting accounts: PKCE, `state`, the
//! authorization URL, and the token endpoint (code exchange, refresh,
//! password and client-credentials grants, revocation).
//!
//! Token calls go through the egress client, which never follows a
//! redirect: a token endpoint answering 3xx is an error, and the
//! credentials in the request body never reach the redirect's target.
//!
//! The token endpoint is spoken here rather than through the `oauth2`
//! crate because refresh decisions need what that crate drops: the HTTP
//! status and `Retry-After` of a refused call (to back off on 429/503 and
//! tell them from `invalid_grant`), and error values that never carry the
//! response body (a body that failed to parse may hold tokens).
//!
//! Nothing here stores anything; tokens come back as [`SecretString`]s and
//! errors never quote a response body.

mod pkce;
mod reading;
mod token;

pub use pkce::{Pkce, random_state};
pub use reading::{EXTRA_KEY as TOKEN_READING_KEY, RequestFormat, TokenReading};
pub use token::{
    ClientAuth, Grant, OAuthClient, TokenError, TokenResponse, request_token, request_token_as, revoke_token,
};

use url::Url;

/// What goes into an authorization request (RFC 6749 §4.1.1 with PKCE).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// The provider's authorization endpoint (placeholders already filled).
    pub authorize_url: &'a Url,
    /// The app's client id.
    pub client_id: &'a str,
    /// The exact redirect URI registered for this integration.
    pub redirect_uri: &'a str,
    /// Scopes to request.
    pub scopes: &'a [String],
    /// How the provider separates scopes (usually a space).
    pub scope_separator: &'a str,
    /// The one-time state.
    pub state: &'a str,
    /// The PKCE S256 challenge; none for a provider that refuses PKCE.
    pub code_challenge: Option<&'a str>,
    /// Provider-specific parameters (e.g. `access_type=offline`); they
    /// cannot replace the parameters above.
    pub extra_params: &'a [(String, String)],
}

/// Parameters Weft sets itself, which extra parameters may not override.
const RESERVED: [&str; 7] =
    ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"];

impl AuthorizationRequest<'_> {
    /// The URL to send the user's browser to.
    pub fn url(&self) -> Url {
        let mut url = self.authorize_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("state", self.state);
            if let Some(challenge) = self.code_challenge {
                q.append_pair("code_challenge", challenge).append_pair("code_challenge_method", "S256");
            }
            if !self.scopes.is_empty() {
                q.append_pair("scope", &self.scopes.join(self.scope_separator));
            }
            for (k, v) in self.extra_params.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())) {
                q.append_pair(k, v);
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_url_carries_pkce_state_and_cannot_be_overridden() {
        let base: Url = "https://as.test/authorize?tenant=x".parse().unwrap();
        let scopes = vec!["read".to_owned(), "write".to_owned()];
        let extra = vec![("access_type".to_owned(), "offline".to_owned()), ("state".to_owned(), "evil".to_owned())];
        let url = AuthorizationRequest {
            authorize_url: &base,
            client_id: "cid",
            redirect_uri: "https://weft.test/cb?x=1",
            scopes: &scopes,
            scope_separator: " ",
            state: "st",
            code_challenge: Some("ch"),
            extra_params: &extra,
        }
        .url();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("tenant"), ["x"]);
        assert_eq!(get("response_type"), ["code"]);
        assert_eq!(get("redirect_uri"), ["https://weft.test/cb?x=1"]);
        assert_eq!(get("state"), ["st"], "extra parameters cannot replace the state");
        assert_eq!(get("code_challenge_method"), ["S256"]);
        assert_eq!(get("scope"), ["read write"]);
        assert_eq!(get("access_type"), ["offline"]);
    }

    #[test]
    fn without_a_challenge_no_pkce_parameter_is_sent_nor_taken_from_extras() {
        let base: Url = "https://as.test/authorize".parse().unwrap();
        let extra = vec![("code_challenge".to_owned(), "forged".to_owned())];
        let url = AuthorizationRequest {
            authorize_url: &base,
            client_id: "cid",
            redirect_uri: "https://weft.test/cb",
            scopes: &[],
            scope_separator: " ",
            state: "st",
            code_challenge: None,
            extra_params: &extra,
        }
        .url();
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(names, ["response_type", "client_id", "redirect_uri", "state"]);
    }
}
