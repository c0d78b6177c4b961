//! A project's own provider: the definition of a `custom.<name>` integration,
//! written by the project's staff and given through the admin API (or read
//! from a YAML or JSON file) rather than shipped with Weft.
//!
//! It is the catalog's format, checked by the catalog's loader, and then held
//! to what a definition from outside the operator's hands must also meet: its
//! id is the integration's type, its test request is a `GET`, and every URL
//! Weft would call (base URL, token and revocation endpoints, the test
//! request, the permitted hosts) is one the egress policy lets through, over
//! https unless the operator opened that destination. The authorization URL
//! is visited by the user's browser, not by Weft, but it is held to the same
//! rules: a project has no business sending its users to an internal address.
//! A webhook trigger's setup requests go out with the account's credentials,
//! so they are held to the test request's rules.

use std::net::IpAddr;

use serde_json::Value;
use url::{Host, Url};
use weft_egress::EgressPolicy;

use crate::load::{DefinitionError, MAX_DEFINITION_BYTES, Problem, check_url, from_document, sample_config};
use crate::placeholders::fill_placeholders;
use crate::provider::{AuthScheme, Provider};
use crate::target::{TOKEN_PLACEHOLDER, host_matches};

/// Host names that mean the machine itself.
fn is_loopback_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// Host names of cloud instance-metadata services.
fn is_metadata_name(host: &str) -> bool {
    matches!(host, "metadata" | "metadata.google.internal" | "metadata.azure.internal" | "instance-data")
}

/// Checks `document` as the definition of the custom integration
/// `integration_type` under the server's egress `policy`. Every problem is
/// reported with its JSON Pointer.
/// `document` may also be a string: the text of a definition file, in
/// YAML or JSON (YAML's JSON-compatible subset reads both). A document in
/// the reference's configuration format (it has `authenticationType`) is
/// read as the catalog definition it describes ([`crate::reference`]), and
/// its problems are named at the reference's fields.
pub fn check_custom(
    document: Value,
    integration_type: &str,
    policy: &EgressPolicy,
) -> Result<Provider, DefinitionError> {
    let source = format!("the {integration_type} definition");
    let document = match document {
        Value::String(text) => read_text(&text, &source)?,
        other => other,
    };
    if crate::reference::is_reference(&document) {
        let refused = |problems| DefinitionError { source_name: source.clone(), problems };
        let translated = crate::reference::translate(&document, integration_type).map_err(refused)?;
        return check_custom(translated, integration_type, policy).map_err(|mut e| {
            e.problems.iter_mut().for_each(|p| p.path = crate::reference::original_path(&p.path));
            e
        });
    }
    let mut problems = Vec::new();
    match document.get("id").and_then(Value::as_str) {
        Some(id) if id != integration_type => problems.push(Problem {
            path: "/id".into(),
            reason: format!("must be the integration's type, {integration_type:?}"),
        }),
        _ => {}
    }
    let provider = match from_document(document, &source) {
        Ok(p) => p,
        Err(mut e) => {
            problems.append(&mut e.problems);
            return Err(DefinitionError { source_name: source, problems });
        }
    };
    problems.extend(custom_problems(&provider, policy));
    if problems.is_empty() { Ok(provider) } else { Err(DefinitionError { source_name: source, problems }) }
}

/// The most bytes of an icon given inline (a `data:` URL).
const MAX_ICON_BYTES: usize = 64 * 1024;

/// A custom integration's icon is an SVG (as the reference accepts): inline
/// as a `data:image/svg+xml` URL of an `<svg>` document, at most 64 KiB,
/// or an `.svg` file at a URL the egress policy allows (https unless
/// opened). Shown in an `<img>`, where an SVG runs no script.
fn svg_icon(icon: &str, policy: &EgressPolicy) -> Result<(), String> {
    use base64::Engine as _;
    if let Some(data) = icon.strip_prefix("data:") {
        let (kind, payload) = data.split_once(',').ok_or("a data: URL needs a `,` before its content")?;
        let svg = match kind.strip_suffix(";base64") {
            Some("image/svg+xml") => base64::engine::general_purpose::STANDARD
                .decode(payload)
                .map_err(|_| "the icon's base64 does not decode".to_owned())?,
            _ if kind == "image/svg+xml" || kind.starts_with("image/svg+xml;") => payload.as_bytes().to_vec(),
            _ => return Err(format!("must be an SVG (image/svg+xml), not {kind:?}")),
        };
        if svg.len() > MAX_ICON_BYTES {
            return Err(format!("the icon is {} bytes; at most {MAX_ICON_BYTES} are accepted", svg.len()));
        }
        let text = String::from_utf8_lossy(&svg);
        let text = urlencoding_free(&text);
        if !text.contains("<svg") {
            return Err("the icon is not an SVG document (no `<svg` element)".into());
        }
        return Ok(());
    }
    let url = Url::parse(icon).map_err(|e| format!("must be an SVG's URL or a data:image/svg+xml URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.path().to_ascii_lowercase().ends_with(".svg") {
        return Err("must be the URL of an .svg file, or a data:image/svg+xml URL (only SVG icons)".into());
    }
    reachable(&url, policy)
}

/// Percent-encoded `<` (`%3C`, as SVG data URLs are often written) read
/// back, enough to find the root element.
fn urlencoding_free(text: &str) -> String {
    text.replace("%3C", "<").replace("%3c", "<")
}

/// A definition file's text as a document.
fn read_text(text: &str, source: &str) -> Result<Value, DefinitionError> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(DefinitionError::one(source, "", format!("larger than {MAX_DEFINITION_BYTES} bytes")));
    }
    serde_yaml_ng::from_str(text).map_err(|e| DefinitionError::one(source, "", format!("not valid YAML or JSON: {e}")))
}

/// What a custom definition must meet beyond the loader's checks.
fn custom_problems(p: &Provider, policy: &EgressPolicy) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, reason: String| problems.push(Problem { path: path.into(), reason });
    if !p.base_url.starts_with(TOKEN_PLACEHOLDER)
        && let Err(reason) = destination(&p.base_url, policy)
    {
        problem("/baseUrl", reason);
    }
    let urls: Vec<(&str, &String)> = match &p.auth {
        AuthScheme::Oauth2 { authorize_url, token_url, revoke_url, .. } => {
            // No authorization page: a password-grant-only definition.
            let mut urls = vec![("/auth/tokenUrl", token_url)];
            if !authorize_url.is_empty() {
                urls.insert(0, ("/auth/authorizeUrl", authorize_url));
            }
            urls.extend(revoke_url.iter().map(|u| ("/auth/revokeUrl", u)));
            urls
        }
        AuthScheme::Oauth2ClientCredentials { token_url, .. } => vec![("/auth/tokenUrl", token_url)],
        _ => Vec::new(),
    };
    for (path, url) in urls {
        if let Err(reason) = destination(url, policy) {
            problem(path, reason);
        }
    }
    if let Some(icon) = &p.icon_url
        && let Err(reason) = svg_icon(icon, policy)
    {
        problem("/iconUrl", reason);
    }
    for (i, pattern) in p.allowed_hosts.iter().enumerate() {
        if let Err(reason) = permitted_host(pattern, policy) {
            problem(&format!("/allowedHosts/{i}"), reason);
        }
    }
    if let Some(test) = &p.connection_test {
        if test.method != "GET" {
            problem("/connectionTest/method", "a test request is a GET".into());
        }
        if let Err(reason) = test_target(p, &test.path, policy) {
            problem("/connectionTest/path", reason);
        }
    }
    // The user-profile request goes out with the account's credentials too;
    // its `{{name}}` variables are checked with a sample value.
    if let Some(profile) = &p.user_profile {
        let sample = crate::webhooks::sample_url(&profile.path);
        if let Err(reason) = test_target(p, &sample, policy) {
            problem("/userProfile/path", reason);
        }
    }
    // A webhook setup request is sent with the account's credentials:
    // held to the test request's rules.
    for (path, url) in crate::webhooks::setup_urls(&p.webhooks) {
        if let Err(reason) = test_target(p, &crate::webhooks::sample_url(url), policy) {
            problem(&path, reason);
        }
    }
    problems
}

/// A URL Weft calls: valid, free of user info, on a destination the egress
/// policy allows, and over https unless the operator opened it.
fn destination(template: &str, policy: &EgressPolicy) -> Result<Url, String> {
    check_url(template)?;
    let filled = fill_placeholders(template, &sample_config(template)).map_err(|e| e.to_string())?;
    let url = Url::parse(&filled).map_err(|e| format!("not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password; credentials belong to the auth scheme".into());
    }
    reachable(&url, policy)?;
    Ok(url)
}

/// Whether the egress policy lets Weft send to `url`'s host, and over
/// https unless the operator opened that destination.
fn reachable(url: &Url, policy: &EgressPolicy) -> Result<(), String> {
    let opened = match url.host() {
        Some(Host::Ipv4(ip)) => address(IpAddr::V4(ip), policy)?,
        Some(Host::Ipv6(ip)) => address(IpAddr::V6(ip), policy)?,
        Some(Host::Domain(name)) => host_name(name, policy)?,
        None => return Err("must be an http(s) URL with a host".into()),
    };
    if url.scheme() != "https" && !opened {
        return Err("must be an https URL".into());
    }
    Ok(())
}

/// A URL Weft sends to that no definition describes (an event
/// destination's webhook), under the same rules as a definition's URLs:
/// http(s), no user info, a destination the egress policy allows, and over
/// https unless the operator opened that destination.
pub fn check_outbound_url(raw: &str, policy: &EgressPolicy) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http(s) URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password; send credentials in a header".into());
    }
    reachable(&url, policy)?;
    Ok(url)
}

/// An IP literal: refused where the egress policy refuses it. `true` when
/// it is special-purpose and the operator opened it (plain http allowed).
fn address(ip: IpAddr, policy: &EgressPolicy) -> Result<bool, String> {
    let ip = weft_egress::policy::canonical(ip);
    policy.check(ip, None).map_err(|refused| format!("{ip} is refused by the egress policy: {refused}"))?;
    Ok(weft_egress::policy::special_purpose(ip).is_some())
}

/// A host name: names of the machine itself or of a metadata service are
/// refused as their addresses would be. `true` when the operator opened it.
fn host_name(name: &str, policy: &EgressPolicy) -> Result<bool, String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let listed = policy.allow_hosts.iter().any(|p| host_matches(p, &name, None));
    if is_metadata_name(&name) {
        return Err(format!("{name} is a cloud metadata service, which the egress policy refuses"));
    }
    if is_loopback_name(&name) {
        return if policy.allow_loopback || listed {
            Ok(true)
        } else {
            Err(format!("{name} is this machine; loopback addresses are refused by the egress policy"))
        };
    }
    Ok(listed)
}

/// One `allowedHosts` pattern (the loader checked its form).
fn permitted_host(pattern: &str, policy: &EgressPolicy) -> Result<(), String> {
    let host = match pattern.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => pattern,
    };
    if let Some(suffix) = host.strip_prefix("*.") {
        if !suffix.trim_matches('.').contains('.') {
            return Err(format!("`{pattern}` would permit a whole top-level domain; name the provider's domain"));
        }
        return host_name(suffix, policy).map(drop);
    }
    if host.contains('*') {
        return Err(format!("`{pattern}`: a wildcard may only open the pattern, as in *.example.com"));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => address(ip, policy).map(drop),
        Err(_) => host_name(host, policy).map(drop),
    }
}

/// The test request's target: a path under the base URL, or a URL on the
/// base URL's host or a permitted host.
fn test_target(p: &Provider, target: &str, policy: &EgressPolicy) -> Result<(), String> {
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        return if target.starts_with('/') { Ok(()) } else { Err("must be a path such as /me, or a URL".into()) };
    }
    let url = destination(target, policy)?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default();
    let base = fill_placeholders(&p.base_url, &sample_config(&p.base_url)).ok();
    let base_host = base.and_then(|b| Url::parse(&b).ok()).and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let permitted = base_host.as_deref() == Some(host.as_str())
        || p.allowed_hosts.iter().any(|pattern| {
            let pattern = fill_placeholders(pattern, &sample_config(pattern)).unwrap_or_default();
            host_matches(&pattern, &host, port)
        });
    if permitted {
        Ok(())
    } else {
        Err(format!("{host} is neither the base URL's host nor a permitted host (allowedHosts)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition() -> Value {
        json!({
            "id": "custom.tasklab", "name": "TaskLab", "baseUrl": "https://api.tasklab.test/v1",
            "allowedHosts": ["files.tasklab.test"],
            "auth": {
                "type": "oauth2", "authorizeUrl": "https://tasklab.test/oauth/authorize",
                "tokenUrl": "https://tasklab.test/oauth/token", "scopes": ["read"], "clientAuth": "post",
            },
            "connectionTest": {"method": "GET", "path": "/me", "accountId": "/id", "accountName": "/name"},
        })
    }

    fn with(pointer: &str, value: Value) -> Value {
        let mut d = definition();
        *d.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        d
    }

    fn problems(document: Value, policy: &EgressPolicy) -> Vec<Problem> {
        check_custom(document, "custom.tasklab", policy).err().map(|e| e.problems).unwrap_or_default()
    }

    #[test]
    fn a_good_definition_passes() {
        let p = check_custom(definition(), "custom.tasklab", &EgressPolicy::default()).unwrap();
        assert_eq!(p.id, "custom.tasklab");
        let config_host = with("/baseUrl", json!("https://{config.region}.tasklab.test"));
        assert!(problems(config_host, &EgressPolicy::default()).is_empty());
    }

    #[test]
    fn each_mistake_is_named_by_its_path() {
        let strict = EgressPolicy::default();
        let cases = [
            (with("/id", json!("custom.other")), "/id", "integration's type"),
            (with("/auth/tokenUrl", json!("http://tasklab.test/token")), "/auth/tokenUrl", "https"),
            (with("/auth/tokenUrl", json!("https://10.1.2.3/token")), "/auth/tokenUrl", "private"),
            (with("/auth/tokenUrl", json!("https://169.254.169.254/token")), "/auth/tokenUrl", "metadata"),
            (with("/auth/authorizeUrl", json!("https://[::ffff:127.0.0.1]/a")), "/auth/authorizeUrl", "loopback"),
            (with("/baseUrl", json!("https://localhost:8080")), "/baseUrl", "loopback"),
            (with("/baseUrl", json!("https://metadata.google.internal/v1")), "/baseUrl", "metadata"),
            (with("/baseUrl", json!("https://me:pw@api.tasklab.test")), "/baseUrl", "user name"),
            (with("/allowedHosts/0", json!("*.test")), "/allowedHosts/0", "top-level"),
            (with("/allowedHosts/0", json!("192.168.0.4")), "/allowedHosts/0", "private"),
            (with("/connectionTest/method", json!("POST")), "/connectionTest/method", "GET"),
            (with("/connectionTest/path", json!("https://elsewhere.test/me")), "/connectionTest/path", "permitted"),
        ];
        for (document, path, word) in cases {
            let found = problems(document, &strict);
            assert!(found.iter().any(|p| p.path == path && p.reason.contains(word)), "{path} {word}: {found:?}");
        }
    }

    #[test]
    fn webhook_setup_requests_go_only_where_the_test_request_may() {
        let mut d = definition();
        d["webhooks"] = json!([{
            "key": "taskCreated", "name": "Task Created",
            "verification": {"header": "X-Sig", "algorithm": "sha1", "secret": {"environment": "SIGNING"}},
            "setup": {"type": "api",
                "subscribe": {"url": "https://169.254.169.254/hooks", "body": {"to": "{{settings.webhookURL}}"}},
                "unsubscribe": {"method": "DELETE", "url": "https://elsewhere.test/hooks/{{response.id}}"}},
        }]);
        let found = problems(d.clone(), &EgressPolicy::default());
        let expect =
            [("/webhooks/0/setup/subscribe/url", "metadata"), ("/webhooks/0/setup/unsubscribe/url", "permitted host")];
        for (path, word) in expect {
            assert!(found.iter().any(|p| p.path == path && p.reason.contains(word)), "{path} {word}: {found:?}");
        }
        let mut md5 = d.clone();
        md5["webhooks"][0]["verification"]["algorithm"] = json!("md5");
        let found = problems(md5, &EgressPolicy::default());
        let unknown = |p: &Problem| p.path == "/webhooks/0/verification/algorithm" && p.reason.contains("`md5`");
        assert!(found.iter().any(unknown), "{found:?}");
        d["webhooks"][0]["setup"]["subscribe"]["url"] = json!("/hooks");
        d["webhooks"][0]["setup"]["unsubscribe"]["url"] = json!("https://files.tasklab.test/hooks/{{response.id}}");
        let p = check_custom(d, "custom.tasklab", &EgressPolicy::default()).unwrap();
        assert_eq!(p.webhooks[0].key, "taskCreated");
    }

    #[test]
    fn what_the_operator_opened_is_accepted() {
        let loopback = EgressPolicy { allow_loopback: true, ..Default::default() };
        let local = with("/auth/tokenUrl", json!("http://127.0.0.1:9000/token"));
        assert!(problems(local.clone(), &loopback).is_empty());
        assert!(!problems(local, &EgressPolicy::default()).is_empty());
        let internal = EgressPolicy { allow_cidrs: vec!["10.0.0.0/8".parse().unwrap()], ..Default::default() };
        let private = with("/baseUrl", json!("http://10.1.2.3/api"));
        assert!(problems(private.clone(), &internal).is_empty());
        // Metadata stays closed to a loopback or network opening.
        let metadata = with("/baseUrl", json!("https://169.254.169.254/api"));
        assert!(!problems(metadata, &loopback).is_empty());
        // A permitted host is a valid test request target.
        let on_files = with("/connectionTest/path", json!("https://files.tasklab.test/me"));
        assert!(problems(on_files, &EgressPolicy::default()).is_empty());
    }

    #[test]
    fn password_grant_profile_refresh_and_client_fields() {
        let mut d = definition();
        d["auth"] = json!({
            "type": "oauth2", "tokenUrl": "https://tasklab.test/oauth/token", "passwordGrant": true,
            "passwordApiKey": "apiKey", "refresh": "never",
        });
        d["userProfile"] = json!({"path": "/users/{{user_id}}", "id": "/id", "fields": {"email": "/email"}});
        let p = check_custom(d.clone(), "custom.tasklab", &EgressPolicy::default()).unwrap();
        let AuthScheme::Oauth2 { authorize_url, password_grant, password_api_key, refresh, .. } = &p.auth else {
            panic!("{:?}", p.auth)
        };
        assert_eq!((authorize_url.as_str(), *password_grant), ("", true));
        assert_eq!((password_api_key.as_deref(), *refresh), (Some("apiKey"), crate::RefreshPolicy::Never));
        assert_eq!(p.user_profile.as_ref().unwrap().fields["email"], "/email");
        // Read back as written: the stored form is the one checked.
        let again = check_custom(serde_json::to_value(&p).unwrap(), "custom.tasklab", &EgressPolicy::default());
        assert_eq!(again.unwrap(), p);
        let cc = json!({"type": "oauth2-client-credentials", "tokenUrl": "https://tasklab.test/t", "client": "app"});
        d["auth"] = cc;
        let p = check_custom(d.clone(), "custom.tasklab", &EgressPolicy::default()).unwrap();
        assert!(matches!(p.auth, AuthScheme::Oauth2ClientCredentials { client: crate::ClientSource::App, .. }));
        d["userProfile"]["path"] = json!("https://169.254.169.254/users/{{user_id}}");
        let found = problems(d, &EgressPolicy::default());
        assert!(found.iter().any(|p| p.path == "/userProfile/path" && p.reason.contains("metadata")), "{found:?}");
    }

    #[test]
    fn a_file_text_is_read_as_yaml_or_json() {
        let yaml = "id: custom.tasklab\nname: TaskLab\nbaseUrl: https://api.tasklab.test\n\
                    auth: {type: api-key, location: query, name: key}\n";
        let p = check_custom(Value::String(yaml.into()), "custom.tasklab", &EgressPolicy::default()).unwrap();
        assert_eq!(p.name, "TaskLab");
        let json = serde_json::to_string(&definition()).unwrap();
        assert!(check_custom(Value::String(json), "custom.tasklab", &EgressPolicy::default()).is_ok());
        let e = check_custom(Value::String("a: [".into()), "custom.tasklab", &EgressPolicy::default()).unwrap_err();
        assert!(e.problems[0].reason.starts_with("not valid YAML or JSON"), "{e}");
    }

    #[test]
    fn loader_problems_come_with_the_custom_ones() {
        let mut d = with("/id", json!("custom.other"));
        d["auth"]["location"] = json!("body");
        let found = problems(d, &EgressPolicy::default());
        let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"/id") && paths.iter().any(|p| p.starts_with("/auth")), "{found:?}");
    }

    #[test]
    fn outbound_urls_follow_the_egress_policy() {
        let strict = EgressPolicy::default();
        assert!(check_outbound_url("https://hooks.example.com/x?y=1", &strict).is_ok());
        assert!(check_outbound_url("http://hooks.example.com/x", &strict).unwrap_err().contains("https"));
        assert!(check_outbound_url("https://127.0.0.1/x", &strict).unwrap_err().contains("egress policy"));
        assert!(check_outbound_url("https://localhost/x", &strict).is_err());
        assert!(check_outbound_url("https://metadata.google.internal/", &strict).is_err());
        assert!(check_outbound_url("https://u:p@hooks.example.com/", &strict).is_err());
        assert!(check_outbound_url("ftp://hooks.example.com/", &strict).is_err());
        assert!(check_outbound_url("not a url", &strict).is_err());
        let loopback = EgressPolicy { allow_loopback: true, ..Default::default() };
        assert!(check_outbound_url("http://127.0.0.1:8080/x", &loopback).is_ok());
    }

    #[test]
    fn icons_are_svg_only() {
        use base64::Engine as _;
        let policy = EgressPolicy::default();
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(svg);
        for good in [
            format!("data:image/svg+xml;base64,{b64}"),
            format!("data:image/svg+xml;utf8,{svg}"),
            "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E".to_owned(),
            "https://cdn.tasklab.test/logo.svg".to_owned(),
        ] {
            assert!(problems(with_icon(&good), &policy).is_empty(), "{good}");
        }
        for (bad, reason) in [
            ("https://cdn.tasklab.test/logo.png", "only SVG"),
            ("data:image/png;base64,iVBORw0KGgo=", "must be an SVG"),
            ("data:image/svg+xml;base64,!!!", "does not decode"),
            ("data:image/svg+xml,<html/>", "no `<svg`"),
            ("http://cdn.tasklab.test/logo.svg", "https"),
            ("http://127.0.0.1/logo.svg", "loopback"),
        ] {
            let found = problems(with_icon(bad), &policy);
            assert!(found.iter().any(|p| p.path == "/iconUrl" && p.reason.contains(reason)), "{bad}: {found:?}");
        }
        let huge = format!("data:image/svg+xml,<svg>{}</svg>", "x".repeat(MAX_ICON_BYTES));
        assert!(problems(with_icon(&huge), &policy).iter().any(|p| p.reason.contains("at most")));
    }

    fn with_icon(icon: &str) -> Value {
        let mut d = definition();
        d["iconUrl"] = json!(icon);
        d
    }
}
