//! Where a proxy call goes: the path the caller wrote, resolved against the
//! integration's base URL, or a fully qualified URL that must name one of
//! the integration's permitted hosts.
//!
//! A relative path can never move the call to another host: it is appended
//! to the base URL and the result must keep the base's scheme, host, port
//! and path prefix (`..` segments cannot climb out of it). Percent-encoded
//! slashes stay encoded, backslashes and `@` land in the path, and a path
//! that only looks like a URL (`//host/x`, `%2F%2Fhost`) is a path.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;
use weft_credentials::Session;
use weft_egress::Url;
use weft_plugin_host::fill_placeholders;

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The path cannot be used (the message says why).
    BadPath(String),
    /// A fully qualified URL names a host the integration may not reach.
    HostNotPermitted(String),
    /// The integration has no usable base URL.
    NoBaseUrl(String),
}

/// The integration's base URL: the operator's override, else the plugin's,
/// with `{config.x}` placeholders filled from the account's settings.
fn base_url(session: &Session) -> Result<Rc<Url>, TargetError> {
    let meta = session.plugin().metadata.as_ref();
    let template = session
        .integration()
        .base_url
        .as_deref()
        .or(meta.map(|m| m.base_url.as_str()))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| TargetError::NoBaseUrl("the integration declares no base URL".into()))?;
    if !template.contains('{') {
        return parse_base(template);
    }
    let filled = fill_placeholders(template, &config(session)).map_err(|e| {
        TargetError::NoBaseUrl(format!("the base URL cannot be filled from the account's settings: {e:?}"))
    })?;
    parse_base(&filled)
}

/// The account's settings, as placeholders read them.
fn config(session: &Session) -> Value {
    Value::Object(session.credential().connection_config.clone())
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

/// A fully qualified URL in the path, if the caller wrote one.
fn absolute(rest: &str) -> Option<String> {
    for scheme in ["https:", "http:"] {
        if crate::starts_ignoring_case(rest, scheme) {
            let after = rest[scheme.len()..].trim_start_matches('/');
            // Some intermediaries merge `//` into `/`: put it back.
            return Some(format!("{scheme}//{after}"));
        }
    }
    None
}

/// Resolves `rest` (the path after the integration, query included, still
/// percent-encoded as received) for `session`.
pub(crate) fn resolve(session: &Session, rest: &str) -> Result<Url, TargetError> {
    if rest.chars().any(|c| c.is_control()) {
        return Err(TargetError::BadPath("the path contains control characters".into()));
    }
    let base = base_url(session)?;
    if let Some(full) = absolute(rest) {
        let url = Url::parse(&full).map_err(|_| TargetError::BadPath(format!("{full:?} is not a URL")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::BadPath("URLs may not carry credentials".into()));
        }
        let meta = session.plugin().metadata.as_ref();
        let permitted = same_origin(&url, &base)
            || meta.is_some_and(|m| {
                weft_plugin_host::host_permitted(m, session.integration().base_url.as_deref(), &config(session), &url)
            });
        if !permitted {
            return Err(TargetError::HostNotPermitted(url.host_str().unwrap_or_default().to_owned()));
        }
        return Ok(url);
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
    Ok(url)
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

/// Scheme, host and path of `url`, for records and logs (no query: an API
/// key may travel there).
pub(crate) fn display(url: &Url) -> String {
    url[..url::Position::AfterPath].to_owned()
}

#[cfg(test)]
mod tests {
    use super::{absolute, display, extend, parse_base};
    use weft_egress::Url;

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
        let url = weft_egress::Url::parse("https://api.test:8443/v1/items?api_key=secret#top").unwrap();
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
}
