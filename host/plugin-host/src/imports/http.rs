//! `weft:plugin/http`: outbound requests through the egress client.
//!
//! Order of checks: phase → URL resolution → `allowed-hosts` → request budget
//! → credential injection (host-side, after header hygiene) → egress. Every
//! refusal is a typed `error`, never a trap.

use crate::bindings::http::{self, Auth, Error, Method, Request, Response};
use crate::call_state::{CallState, Phase};
use crate::services::{CallScope, HostServices};
use crate::types::Metadata;
use futures::StreamExt;
use std::time::Duration;
use weft_egress::governor::{Rule, Subject};
use weft_egress::{EgressError, OutboundRequest, Url};

/// A request that passed every check and only waits to be sent.
struct Prepared {
    req: OutboundRequest,
    with_credentials: bool,
    /// The plugin's declared rate limits.
    rules: Vec<Rule>,
}

impl http::Host for CallState {
    async fn fetch(&mut self, req: Request) -> wasmtime::Result<Result<Response, Error>> {
        let prepared = match self.prepare(req) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(send(self.services.clone(), self.scope.clone(), prepared).await)
    }

    async fn fetch_all(&mut self, reqs: Vec<Request>) -> wasmtime::Result<Vec<Result<Response, Error>>> {
        let max = self.config.max_fetch_all;
        let prepared: Vec<_> = reqs
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                if i >= max {
                    return Err(Error::QuotaExceeded(format!("fetch-all accepts at most {max} requests")));
                }
                self.prepare(r)
            })
            .collect();
        let (services, scope) = (self.services.clone(), self.scope.clone());
        // Bounded concurrency, results in input order.
        let results = futures::stream::iter(prepared)
            .map(|p| {
                let (services, scope) = (services.clone(), scope.clone());
                async move {
                    match p {
                        Ok(p) => send(services, scope, p).await,
                        Err(e) => Err(e),
                    }
                }
            })
            .buffered(8)
            .collect()
            .await;
        Ok(results)
    }
}

impl CallState {
    fn prepare(&mut self, req: Request) -> Result<Prepared, Error> {
        if self.phase != Phase::Normal {
            return Err(Error::Denied(
                "outbound HTTP is not available in this phase (webhook handling or metadata)".into(),
            ));
        }
        let Some(meta) = self.metadata.clone() else {
            return Err(Error::Denied("this component has no outbound HTTP capability".into()));
        };
        let config = &self.connection_config;
        let base = self.base_url.as_deref().unwrap_or(&meta.base_url);
        let url = resolve_url(base, &req.url, config)?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if !host_permitted(&meta, self.base_url.as_deref(), config, &url) {
            return Err(Error::Denied(format!("host {host:?} is not in the allowed hosts of plugin {}", meta.id)));
        }
        if self.http_requests >= self.config.max_http_requests_per_call {
            return Err(Error::QuotaExceeded(format!(
                "a call may send at most {} requests",
                self.config.max_http_requests_per_call
            )));
        }
        self.http_requests += 1;
        let mut url = url;
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        let remaining = Duration::from_millis(self.deadline_ms.saturating_sub(crate::call_state::now_ms()).max(1));
        let asked = req.timeout_ms.map(|ms| Duration::from_millis(ms.into())).unwrap_or(self.config.max_http_timeout);
        let mut out = OutboundRequest::new(method(req.method), url);
        out.headers = req.headers;
        out.body = req.body.map(Into::into);
        out.timeout = Some(asked.min(remaining).min(self.config.max_http_timeout));
        out.max_response_bytes = Some(self.config.max_http_response_bytes);
        let rules = meta.governor_rules();
        Ok(Prepared { req: out, with_credentials: matches!(req.auth, Auth::Connection), rules })
    }
}

async fn send(services: HostServices, scope: CallScope, mut p: Prepared) -> Result<Response, Error> {
    if !p.with_credentials {
        return deliver(&services, p.req).await;
    }
    if scope.connection_id.is_none() {
        return Err(Error::CredentialsUnavailable("this call acts for no connection".into()));
    }
    // The same budgets as the proxy's: per project, integration and account.
    let subject = Subject {
        project: &scope.project_id,
        integration: &scope.plugin_id,
        connection: scope.connection_id.as_deref(),
    };
    if let Err(wait) = services.governor.admit(&subject, &p.rules) {
        return Err(Error::QuotaExceeded(format!(
            "the provider's rate limit is reached; retry in {} ms",
            wait.as_millis()
        )));
    }
    let bare = p.req.clone();
    services.credentials.inject(&scope, &mut p.req).await.map_err(|e| Error::CredentialsUnavailable(e.0))?;
    let sent = p.req.clone();
    let mut resp = deliver(&services, p.req).await?;
    // A provider 401: one refresh (single-flight in the credential
    // service), then one retry with the new credentials.
    if resp.status == 401 && services.credentials.refresh_rejected(&scope, &sent).await {
        let mut retry = bare;
        services.credentials.inject(&scope, &mut retry).await.map_err(|e| Error::CredentialsUnavailable(e.0))?;
        resp = deliver(&services, retry).await?;
    }
    services.governor.learn(&subject, resp.status, resp.headers.as_slice());
    Ok(resp)
}

async fn deliver(services: &HostServices, req: OutboundRequest) -> Result<Response, Error> {
    match services.egress.send(req).await {
        Ok(r) => Ok(Response { status: r.status, headers: r.headers, body: r.body.to_vec() }),
        Err(EgressError::Denied(m)) => Err(Error::Denied(m)),
        Err(EgressError::InvalidRequest(m)) => Err(Error::InvalidRequest(m)),
        Err(EgressError::Timeout) => Err(Error::Timeout),
        Err(EgressError::Connection(m)) => Err(Error::ConnectionFailed(m)),
        Err(EgressError::TooLarge(limit)) => Err(Error::ResponseTooLarge(limit)),
    }
}

fn method(m: Method) -> weft_egress::Method {
    use weft_egress::Method as E;
    match m {
        Method::Get => E::Get,
        Method::Head => E::Head,
        Method::Post => E::Post,
        Method::Put => E::Put,
        Method::Patch => E::Patch,
        Method::Delete => E::Delete,
        Method::Options => E::Options,
    }
}

/// Resolves a plugin's URL: a path against the (templated) base URL, or an
/// absolute http(s) URL.
fn resolve_url(base: &str, url: &str, config: &serde_json::Value) -> Result<Url, Error> {
    let full = if url.starts_with('/') {
        format!("{}{}", fill_placeholders(base, config)?.trim_end_matches('/'), url)
    } else {
        url.to_owned()
    };
    let parsed = Url::parse(&full).map_err(|e| Error::InvalidRequest(format!("bad URL {full:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::InvalidRequest(format!("URL {full:?} must be http(s) with a host")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::InvalidRequest("URLs may not carry credentials".into()));
    }
    Ok(parsed)
}

/// Fills `{config.<field>}` placeholders, as a typed `http` error.
fn fill_placeholders(template: &str, config: &serde_json::Value) -> Result<String, Error> {
    use crate::placeholders::PlaceholderError as P;
    crate::placeholders::fill_placeholders(template, config).map_err(|e| match e {
        P::Unclosed => Error::InvalidRequest(format!("unclosed placeholder in {template:?}")),
        P::Missing(field) => Error::InvalidRequest(format!("connection setting {field:?} is required by {template:?}")),
        P::Unsafe(field) => {
            Error::InvalidRequest(format!("connection setting {field:?} has characters not allowed in a host"))
        }
    })
}

/// Whether `url`'s host is one a plugin's connection may reach: a host of
/// the plugin's `allowed-hosts` (placeholders filled from the connection's
/// settings), or the operator's base URL override (same host and port).
pub fn host_permitted(meta: &Metadata, base_override: Option<&str>, config: &serde_json::Value, url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default();
    let overridden = base_override.and_then(|b| Url::parse(b).ok()).is_some_and(|b| {
        b.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&host)) && b.port_or_known_default() == port
    });
    overridden
        || meta.allowed_hosts.iter().any(|p| match fill_placeholders(p, config) {
            Ok(pattern) => allowed_host_matches(&pattern, &host, port),
            Err(_) => false,
        })
}

/// Matches a host against one `allowed-hosts` pattern: an exact name, a
/// `*.suffix` wildcard (any subdomain, not the apex), optionally `:port`.
pub(crate) fn allowed_host_matches(pattern: &str, host: &str, port: Option<u16>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_patterns() {
        assert!(allowed_host_matches("api.github.com", "api.github.com", Some(443)));
        assert!(allowed_host_matches("API.GitHub.com", "api.github.com", Some(443)));
        assert!(!allowed_host_matches("api.github.com", "api.github.com.evil.test", Some(443)));
        assert!(allowed_host_matches("*.slack.com", "hooks.slack.com", None));
        assert!(allowed_host_matches("*.slack.com", "a.b.slack.com", None));
        assert!(!allowed_host_matches("*.slack.com", "slack.com", None));
        assert!(!allowed_host_matches("*.slack.com", "evilslack.com", None));
        assert!(allowed_host_matches("127.0.0.1:8080", "127.0.0.1", Some(8080)));
        assert!(!allowed_host_matches("127.0.0.1:8080", "127.0.0.1", Some(9090)));
    }

    #[test]
    fn placeholders_are_filled_and_guarded() {
        let cfg = json!({"subdomain": "acme", "evil": "evil.test/x"});
        assert_eq!(
            fill_placeholders("https://{config.subdomain}.zendesk.com", &cfg).unwrap(),
            "https://acme.zendesk.com"
        );
        assert!(fill_placeholders("https://{config.evil}.zendesk.com", &cfg).is_err());
        assert!(fill_placeholders("https://{config.missing}.zendesk.com", &cfg).is_err());
    }

    #[test]
    fn urls_resolve_against_the_base() {
        let cfg = json!({});
        let u = resolve_url("https://api.github.com/", "/repos/a/b", &cfg).unwrap();
        assert_eq!(u.as_str(), "https://api.github.com/repos/a/b");
        assert!(resolve_url("https://x", "ftp://files.test/a", &cfg).is_err());
        assert!(resolve_url("https://x", "https://user:pw@api.test/", &cfg).is_err());
        assert!(resolve_url("https://x", "not a url", &cfg).is_err());
    }
}
