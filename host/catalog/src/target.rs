//! Where a call made as a connection goes: a path resolved against the
//! provider's base URL, or a fully qualified URL that must name a host the
//! connection may reach. The Proxy API, plugin HTTP and (later) workflow
//! requests all resolve targets here.
//!
//! A relative path can never move the call to another host: it is appended
//! to the base URL and the result must keep the base's scheme, host, port
//! and path prefix (`..` segments cannot climb out of it). Percent-encoded
//! slashes stay encoded, backslashes and `@` land in the path, and a path
//! that only looks like a URL (`//host/x`, `%2F%2Fhost`) is a path.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Map, Value};
use url::Url;

use crate::placeholders::fill_placeholders;
use crate::provider::Provider;

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The path cannot be used (the message says why).
    #[error("{0}")]
    BadPath(String),
    /// A fully qualified URL names a host the connection may not reach.
    #[error("the host {0:?} is not permitted for this integration")]
    HostNotPermitted(String),
    /// The provider has no usable base URL.
    #[error("{0}")]
    NoBaseUrl(String),
    /// The outbound URL (query and credential included) is longer than
    /// [`MAX_URL_LEN`]; the URL itself is never quoted, since a credential
    /// may travel in its query.
    #[error("the request URL is longer than {} bytes", MAX_URL_LEN)]
    TooLong,
}

/// A provider as one connection reaches it: the provider, the
/// integration's base URL override, and the connection's settings (which
/// fill `{config.x}` placeholders).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// The provider.
    pub provider: &'a Provider,
    /// The integration's base URL, replacing the provider's (a sandbox, a
    /// mock); its origin is permitted too.
    pub base_override: Option<&'a str>,
    /// The connection's non-secret settings.
    pub config: &'a Map<String, Value>,
}

/// The longest path (or URL) a caller may name as a target.
pub const MAX_TARGET_LEN: usize = 16 * 1024;

/// The longest outbound URL sent, once resolved, with the caller's query
/// pairs and an injected credential: twice [`MAX_TARGET_LEN`], room for a
/// long path that percent-encoding grew, and well under what HTTP
/// libraries accept (64 KiB).
pub const MAX_URL_LEN: usize = 2 * MAX_TARGET_LEN;

/// Refuses a URL longer than [`MAX_URL_LEN`] without quoting it.
pub fn check_length(url: &Url) -> Result<(), TargetError> {
    if url.as_str().len() > MAX_URL_LEN { Err(TargetError::TooLong) } else { Ok(()) }
}

impl Endpoint<'_> {
    /// The base URL in force, placeholders filled.
    pub fn base_url(&self) -> Result<Rc<Url>, TargetError> {
        let template = self
            .base_override
            .or(Some(self.provider.base_url.as_str()))
            .filter(|b| !b.is_empty())
            .ok_or_else(|| TargetError::NoBaseUrl("the integration declares no base URL".into()))?;
        if !template.contains('{') {
            return parse_base(template);
        }
        let (origin, rest) = match split_token_origin(template)? {
            Some((field, rest)) => (Some(self.token_origin(field)?), rest),
            None => (None, template),
        };
        let filled = fill_placeholders(rest, self.config).map_err(|e| {
            TargetError::NoBaseUrl(format!("the base URL cannot be filled from the account's settings: {e}"))
        })?;
        match origin {
            Some(origin) => parse_base(&format!("{origin}{filled}")),
            None => parse_base(&filled),
        }
    }

    /// The origin kept from the account's token answer (field `field`),
    /// which must be an http(s) origin on a host this connection may reach:
    /// the provider, not the answer, decides where credentials may go.
    fn token_origin(&self, field: &str) -> Result<String, TargetError> {
        let missing = || {
            TargetError::NoBaseUrl(format!(
                "the account has no `{field}` from its token answer, which the base URL needs; reconnect it"
            ))
        };
        let value = self.config.get(&token_setting(field)).and_then(Value::as_str).ok_or_else(missing)?;
        let url = Url::parse(value)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .filter(|u| u.username().is_empty() && u.password().is_none())
            .filter(|u| u.path() == "/" && u.query().is_none() && u.fragment().is_none())
            .ok_or_else(|| {
                TargetError::NoBaseUrl(format!("the `{field}` of the account's token answer is not an origin"))
            })?;
        if !self.permits(&url) {
            return Err(TargetError::HostNotPermitted(url.host_str().unwrap_or_default().to_owned()));
        }
        Ok(url.origin().ascii_serialization())
    }

    /// Resolves `rest` (a path under the base URL, query included and still
    /// percent-encoded, or a fully qualified http(s) URL).
    pub fn resolve(&self, rest: &str) -> Result<Url, TargetError> {
        if rest.chars().any(|c| c.is_control()) {
            return Err(TargetError::BadPath("the path contains control characters".into()));
        }
        if rest.len() > MAX_TARGET_LEN {
            return Err(TargetError::BadPath(format!("the path is longer than {MAX_TARGET_LEN} bytes")));
        }
        let base = self.base_url()?;
        if let Some(full) = absolute(rest) {
            let url = Url::parse(&full).map_err(|_| TargetError::BadPath("the URL does not parse".into()))?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(TargetError::BadPath("URLs may not carry credentials".into()));
            }
            if !(same_origin(&url, &base) || self.permits(&url)) {
                return Err(TargetError::HostNotPermitted(url.host_str().unwrap_or_default().to_owned()));
            }
            check_length(&url)?;
            return Ok(url);
        }
        if other_scheme(rest) {
            return Err(TargetError::BadPath("only http and https URLs can be called".into()));
        }
        let url = extend(&base, rest);
        let base_path = base.path().trim_end_matches('/');
        let stays = same_origin(&url, &base)
            && url.username().is_empty()
            && url.password().is_none()
            && url.path().strip_prefix(base_path).is_some_and(|after| after.is_empty() || after.starts_with('/'));
        if !stays {
            return Err(TargetError::BadPath("the path leaves the integration's base URL".into()));
        }
        check_length(&url)?;
        Ok(url)
    }

    /// Whether `url`'s host is one this connection may reach: a host of the
    /// provider's `allowedHosts` (placeholders filled from the connection's
    /// settings), or the base URL override's (same host and port).
    pub fn permits(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = url.port_or_known_default();
        let overridden = self.base_override.and_then(|b| Url::parse(b).ok()).is_some_and(|b| {
            b.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&host)) && b.port_or_known_default() == port
        });
        overridden
            || self.provider.allowed_hosts.iter().any(|p| match fill_placeholders(p, self.config) {
                Ok(pattern) => host_matches(&pattern, &host, port),
                Err(_) => false,
            })
    }
}

/// Opens a base URL whose origin is a token-response field.
pub const TOKEN_PLACEHOLDER: &str = "{token.";

/// The key under which a connection's settings keep the token-response
/// field `field` that a base URL names (`{token.instance_url}`): apart from
/// the user's own inputs, which never have a dot in their names here.
pub fn token_setting(field: &str) -> String {
    format!("token.{field}")
}

/// The token-response fields a base URL template names (at most one, as
/// its origin).
pub fn token_fields(template: &str) -> Vec<String> {
    match split_token_origin(template) {
        Ok(Some((field, _))) => vec![field.to_owned()],
        _ => Vec::new(),
    }
}

/// `{token.<field>}` at the start of `template`: the field and the rest.
/// Anywhere else it is refused: a token answer may name the origin of the
/// calls (Salesforce's `instance_url`), never a piece of a host or path.
fn split_token_origin(template: &str) -> Result<Option<(&str, &str)>, TargetError> {
    let Some(after) = template.strip_prefix(TOKEN_PLACEHOLDER) else {
        if template.contains(TOKEN_PLACEHOLDER) {
            return Err(TargetError::NoBaseUrl("a `{token.` placeholder may only open the base URL".into()));
        }
        return Ok(None);
    };
    let (field, rest) =
        after.split_once('}').ok_or_else(|| TargetError::NoBaseUrl("a `{token.` placeholder is not closed".into()))?;
    let simple = !field.is_empty() && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !simple || rest.contains(TOKEN_PLACEHOLDER) || !(rest.is_empty() || rest.starts_with('/')) {
        return Err(TargetError::NoBaseUrl("a `{token.<field>}` placeholder must be the base URL's origin".into()));
    }
    Ok(Some((field, rest)))
}

/// Matches a host against one `allowedHosts` pattern: an exact name, a
/// `*.suffix` wildcard (any subdomain, not the apex), optionally `:port`.
pub fn host_matches(pattern: &str, host: &str, port: Option<u16>) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let (pat_host, pat_port) = match pattern.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h.to_owned(), p.parse::<u16>().ok()),
        _ => (pattern.clone(), None),
    };
    if pat_port.is_some_and(|p| Some(p) != port) {
        return false;
    }
    match pat_host.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1 && host.ends_with(suffix) && host[..host.len() - suffix.len()].ends_with('.')
        }
        None => pat_host == host,
    }
}

thread_local! {
    /// The base URL this thread parsed last, with its text: calls go to a
    /// few integrations, and parsing costs more than the rest of resolving.
    /// Shared, not cloned: resolving copies it once, into the target.
    static LAST_BASE: RefCell<Option<(String, Rc<Url>)>> = const { RefCell::new(None) };
}

/// `text` parsed as a base URL (an absolute http(s) URL with a host).
fn parse_base(text: &str) -> Result<Rc<Url>, TargetError> {
    LAST_BASE.with_borrow_mut(|last| {
        if let Some((known, url)) = last.as_ref()
            && known == text
        {
            return Ok(url.clone());
        }
        let url = Url::parse(text).map_err(|_| TargetError::NoBaseUrl("the base URL does not parse".into()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(TargetError::NoBaseUrl("the base URL is not an http(s) URL".into()));
        }
        let url = Rc::new(url);
        *last = Some((text.to_owned(), url.clone()));
        Ok(url)
    })
}

/// Same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether header-like `name` begins with `prefix`, in any case.
fn starts_ignoring_case(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// A fully qualified URL in the path, if the caller wrote one.
fn absolute(rest: &str) -> Option<String> {
    for scheme in ["https:", "http:"] {
        if starts_ignoring_case(rest, scheme) {
            let after = rest[scheme.len()..].trim_start_matches('/');
            // Some intermediaries merge `//` into `/`: put it back.
            return Some(format!("{scheme}//{after}"));
        }
    }
    None
}

/// Whether `rest` starts like a URL of another scheme (`ftp://`, `file://`).
fn other_scheme(rest: &str) -> bool {
    let Some((scheme, after)) = rest.split_once("://") else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !after.is_empty()
}

/// `base` with `rest` appended to its path (and the caller's query): the
/// URL that parsing `{base}/{rest}` gives, without parsing scheme and host
/// again, and with no way for `rest` to reach the authority.
fn extend(base: &Url, rest: &str) -> Url {
    let (path, query, fragment) = split_reference(rest.trim_start_matches('/'));
    let mut url = base.clone();
    url.set_path(&format!("{}/{path}", base.path().trim_end_matches('/')));
    url.set_query(query);
    url.set_fragment(fragment);
    url
}

/// `rest` cut where a URL parser cuts it: path, then query (after the
/// first `?`), then fragment (after the first `#`).
fn split_reference(rest: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    match before.split_once('?') {
        Some((path, query)) => (path, Some(query), fragment),
        None => (before, None, fragment),
    }
}

/// Scheme, host and path of `url`, for records, logs and error messages (no
/// query: an API key may travel there).
pub fn display(url: &Url) -> String {
    url[..url::Position::AfterPath].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::AuthScheme;
    use serde_json::json;

    fn provider(base: &str, allowed: &[&str]) -> Provider {
        Provider {
            id: "t".into(),
            name: "T".into(),
            version: "1".into(),
            description: String::new(),
            icon_url: None,
            base_url: base.into(),
            allowed_hosts: allowed.iter().map(|s| (*s).to_owned()).collect(),
            auth: AuthScheme::None,
            connection_config_schema: None,
            secrets: vec![],
            rate_limits: vec![],
            pagination: None,
            auth_template: None,
            connection_test: None,
            user_profile: None,
            webhooks: vec![],
            extra: json!({}),
        }
    }

    /// Extending the base gives what parsing the concatenation gives.
    #[test]
    fn an_extended_base_is_the_concatenation_parsed() {
        for base in ["https://api.test/v1", "https://api.test/", "http://api.test:8080/a/b/"] {
            let parsed = parse_base(base).unwrap();
            for rest in [
                "items",
                "items?limit=5&x=%2F",
                "a/../../b",
                "%2e%2e/x",
                "\\evil.test/x",
                "@evil.test/x",
                "a?b#c",
                "a#b?c",
                "",
                "?only=query",
                "sp ace/ü",
            ] {
                let joined = format!("{}/{}", parsed.as_str().trim_end_matches('/'), rest);
                assert_eq!(extend(&parsed, rest), Url::parse(&joined).unwrap(), "{base} + {rest}");
            }
        }
    }

    #[test]
    fn records_show_no_query_and_no_fragment() {
        let url = Url::parse("https://api.test:8443/v1/items?api_key=secret#top").unwrap();
        assert_eq!(display(&url), "https://api.test:8443/v1/items");
    }

    #[test]
    fn the_remembered_base_is_the_one_asked_for() {
        assert_eq!(parse_base("https://one.test/v1").unwrap().as_str(), "https://one.test/v1");
        assert_eq!(parse_base("https://two.test/v2").unwrap().as_str(), "https://two.test/v2");
        assert_eq!(parse_base("https://two.test/v2").unwrap().as_str(), "https://two.test/v2");
        assert!(parse_base("ftp://three.test/").is_err());
        assert!(parse_base("/relative").is_err());
        assert_eq!(parse_base("https://one.test/v1").unwrap().host_str(), Some("one.test"));
    }

    #[test]
    fn only_a_leading_scheme_makes_a_url() {
        assert_eq!(absolute("https://sheets.test/v4").as_deref(), Some("https://sheets.test/v4"));
        assert_eq!(absolute("HTTP:/one.test/x").as_deref(), Some("http://one.test/x"));
        assert_eq!(absolute("v1/https://x"), None);
        assert_eq!(absolute("https%3A%2F%2Fx"), None);
        assert_eq!(absolute("//127.0.0.1/x"), None);
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("api.github.com", "api.github.com", Some(443)));
        assert!(host_matches("API.GitHub.com", "api.github.com", Some(443)));
        assert!(!host_matches("api.github.com", "api.github.com.evil.test", Some(443)));
        assert!(host_matches("*.slack.com", "hooks.slack.com", None));
        assert!(host_matches("*.slack.com", "a.b.slack.com", None));
        assert!(!host_matches("*.slack.com", "slack.com", None));
        assert!(!host_matches("*.slack.com", "evilslack.com", None));
        assert!(host_matches("127.0.0.1:8080", "127.0.0.1", Some(8080)));
        assert!(!host_matches("127.0.0.1:8080", "127.0.0.1", Some(9090)));
    }

    #[test]
    fn targets_stay_on_the_base_or_a_permitted_host() {
        let p = provider("https://{config.sub}.api.test/v1", &["files.test", "*.{config.sub}.cdn.test"]);
        let config = json!({"sub": "acme"});
        let at = Endpoint { provider: &p, base_override: None, config: config.as_object().unwrap() };
        assert_eq!(at.resolve("/items?x=1").unwrap().as_str(), "https://acme.api.test/v1/items?x=1");
        assert_eq!(at.resolve("https://files.test/a").unwrap().as_str(), "https://files.test/a");
        assert_eq!(at.resolve("https://img.acme.cdn.test/a").unwrap().host_str(), Some("img.acme.cdn.test"));
        assert!(matches!(at.resolve("https://evil.test/a"), Err(TargetError::HostNotPermitted(_))));
        assert!(matches!(at.resolve("../../x"), Err(TargetError::BadPath(_))));
        assert!(matches!(at.resolve("ftp://files.test/a"), Err(TargetError::BadPath(_))));
        assert!(matches!(at.resolve("https://u:p@files.test/a"), Err(TargetError::BadPath(_))));
        assert!(matches!(at.resolve("a\nb"), Err(TargetError::BadPath(_))));
        let long = "a".repeat(MAX_TARGET_LEN + 1);
        assert!(matches!(at.resolve(&long), Err(TargetError::BadPath(_))));
        // Under the caller's cap, but percent-encoding triples it.
        let grows = "{".repeat(MAX_TARGET_LEN - 10);
        assert_eq!(at.resolve(&grows), Err(TargetError::TooLong));
        assert!(!TargetError::TooLong.to_string().contains('{'));
        let empty = Map::new();
        let unfilled = Endpoint { provider: &p, base_override: None, config: &empty };
        assert!(matches!(unfilled.resolve("/x"), Err(TargetError::NoBaseUrl(_))));
        let overridden = Endpoint { provider: &p, base_override: Some("http://127.0.0.1:9/mock"), config: &empty };
        assert_eq!(overridden.resolve("x").unwrap().as_str(), "http://127.0.0.1:9/mock/x");
        assert!(overridden.permits(&Url::parse("http://127.0.0.1:9/elsewhere").unwrap()));
        assert!(!overridden.permits(&Url::parse("http://127.0.0.1:10/").unwrap()));
    }

    /// Salesforce: calls go to the instance its token answer names, and
    /// only when the provider permits that host.
    #[test]
    fn a_base_url_may_open_with_an_origin_from_the_token_answer() {
        let p = provider("{token.instance_url}/services/data/v62.0", &["*.my.salesforce.com", "*.force.com"]);
        let with = |value: &str| {
            let mut config = Map::new();
            config.insert(token_setting("instance_url"), Value::from(value));
            config
        };
        let config = with("https://acme.my.salesforce.com");
        let at = Endpoint { provider: &p, base_override: None, config: &config };
        assert_eq!(
            at.resolve("/sobjects/Account").unwrap().as_str(),
            "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Account"
        );
        assert!(matches!(at.resolve("https://evil.test/x"), Err(TargetError::HostNotPermitted(_))));
        for (value, refused_as_host) in [
            ("https://evil.test", true),
            ("https://my.salesforce.com", true),
            ("https://acme.my.salesforce.com.evil.test", true),
            ("https://acme.my.salesforce.com/steal", false),
            ("https://u:p@acme.my.salesforce.com", false),
            ("javascript:alert(1)", false),
            ("acme.my.salesforce.com", false),
        ] {
            let config = with(value);
            let at = Endpoint { provider: &p, base_override: None, config: &config };
            match at.resolve("/x") {
                Err(TargetError::HostNotPermitted(_)) => assert!(refused_as_host, "{value}"),
                Err(TargetError::NoBaseUrl(_)) => assert!(!refused_as_host, "{value}"),
                other => panic!("{value} gave {other:?}"),
            }
        }
        let empty = Map::new();
        let unset = Endpoint { provider: &p, base_override: None, config: &empty };
        assert!(matches!(unset.resolve("/x"), Err(TargetError::NoBaseUrl(m)) if m.contains("reconnect")));
        // An integration's override replaces the whole base, as always.
        let mocked =
            Endpoint { provider: &p, base_override: Some("http://127.0.0.1:9/services/data/v62.0"), config: &empty };
        assert_eq!(mocked.resolve("/limits").unwrap().as_str(), "http://127.0.0.1:9/services/data/v62.0/limits");
        assert_eq!(token_fields(&p.base_url), ["instance_url"]);
        assert_eq!(token_fields("https://api.test/{config.x}"), Vec::<String>::new());
        for misplaced in
            ["https://{token.instance_url}/v1", "{token.instance_url}.evil.test", "{token.a.b}/x", "{token.x"]
        {
            let bad = provider(misplaced, &[]);
            let at = Endpoint { provider: &bad, base_override: None, config: &config };
            assert!(matches!(at.resolve("/x"), Err(TargetError::NoBaseUrl(_))), "{misplaced}");
        }
    }
}
