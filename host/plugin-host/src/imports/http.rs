//! `weft:plugin/http`: outbound requests.
//!
//! Checks made here, in order: phase → capability → per-call request budget
//! → deadline. Then a request made with the connection's credentials goes to
//! the [`ConnectionHttp`] the call was granted (the credential service's one
//! authorised-request path: target, permitted hosts, governor, injection,
//! refresh and one retry after a 401), and a request without credentials is
//! resolved against the plugin's provider here and sent through the egress
//! client. Every refusal is a typed `error`, never a trap.

use crate::bindings::http::{self, Auth, Error, Method, Request, Response};
use crate::call_state::{CallState, Phase};
use futures::StreamExt;
use serde_json::Map;
use std::sync::Arc;
use std::time::Duration;
use weft_catalog::{ConnectionError, ConnectionHttp, ConnectionRequest, Endpoint, TargetError};
use weft_egress::{Egress, EgressError, OutboundRequest, OutboundResponse};

/// A request that passed this module's checks and only waits to be sent.
enum Prepared {
    /// With the connection's credentials, through the granted path.
    Connection(Arc<dyn ConnectionHttp>, ConnectionRequest),
    /// Without credentials, straight to the egress client.
    Bare(Arc<dyn Egress>, OutboundRequest),
}

impl http::Host for CallState {
    async fn fetch(&mut self, req: Request) -> wasmtime::Result<Result<Response, Error>> {
        // A Function step's `libraries.fetch` is user code reaching out: each
        // call is logged (where to, without the query; how it ended).
        let logged = self.js_egress.then(|| (format!("{:?}", req.method).to_uppercase(), without_query(&req.url)));
        let started = std::time::Instant::now();
        let prepared = match self.prepare(req) {
            Ok(p) => p,
            Err(e) => {
                if let Some((method, url)) = &logged {
                    tracing::info!(invocation = %self.invocation_id, %method, %url, refused = ?e, "function step fetch refused");
                }
                return Ok(Err(e));
            }
        };
        let result = match send(prepared).await {
            Ok(answer) => Ok(answer),
            Err(failure) => Err(self.told(failure)),
        };
        if let Some((method, url)) = &logged {
            let ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(r) => {
                    tracing::info!(invocation = %self.invocation_id, %method, %url, status = r.status, ms, "function step fetch")
                }
                Err(e) => {
                    tracing::info!(invocation = %self.invocation_id, %method, %url, error = ?e, ms, "function step fetch failed")
                }
            }
        }
        Ok(result)
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
        // Bounded concurrency, results in input order.
        let sent: Vec<Result<Result<Response, Failure>, Error>> = futures::stream::iter(prepared)
            .map(|p| async move {
                match p {
                    Ok(p) => Ok(send(p).await),
                    Err(e) => Err(e),
                }
            })
            .buffered(8)
            .collect()
            .await;
        Ok(sent
            .into_iter()
            .map(|r| match r {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(failure)) => Err(self.told(failure)),
                Err(e) => Err(e),
            })
            .collect())
    }
}

/// A URL as logged: without its query and fragment, which may carry
/// secrets.
fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

impl CallState {
    /// A failure as the plugin is told it; a refusal by the governor is
    /// remembered with its wait, which the plugin's `quota-exceeded` cannot
    /// carry, so a rate-limited action can say how long to wait
    /// ([`CallState::governor_wait`]).
    fn told(&mut self, failure: Failure) -> Error {
        if let Failure::Connection(ConnectionError::RateLimited(wait)) = &failure {
            self.governor_wait = Some(self.governor_wait.map_or(*wait, |w| w.max(*wait)));
        }
        failure.into_wit(&self.scope.plugin_id)
    }

    fn prepare(&mut self, req: Request) -> Result<Prepared, Error> {
        if self.phase != Phase::Normal {
            return Err(Error::Denied(
                "outbound HTTP is not available in this phase (webhook handling or metadata)".into(),
            ));
        }
        let provider = match self.metadata.clone() {
            Some(provider) => Some(provider),
            None if self.js_egress => None,
            None => return Err(Error::Denied("this component has no outbound HTTP capability".into())),
        };
        // A plugin names a path under its base URL with a leading `/`, or a
        // full http(s) URL; anything else is a mistake to report, not a path.
        let absolute =
            ["http://", "https://"].iter().any(|s| req.url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
        if !absolute && !req.url.starts_with('/') {
            return Err(Error::InvalidRequest(
                "the URL must be an absolute http(s) URL or a path starting with '/'".into(),
            ));
        }
        let with_credentials = matches!(req.auth, Auth::Connection);
        let grant = match (with_credentials, &self.connection_http) {
            (false, _) => None,
            (true, Some(grant)) => Some(grant.clone()),
            (true, None) if self.scope.connection_id.is_none() => {
                return Err(Error::CredentialsUnavailable("this call acts for no connection".into()));
            }
            (true, None) => {
                return Err(Error::CredentialsUnavailable("no credentials were granted to this call".into()));
            }
        };
        if self.http_requests >= self.config.max_http_requests_per_call {
            return Err(Error::QuotaExceeded(format!(
                "a call may send at most {} requests",
                self.config.max_http_requests_per_call
            )));
        }
        self.http_requests += 1;
        let remaining = Duration::from_millis(self.deadline_ms.saturating_sub(crate::call_state::now_ms()).max(1));
        let asked = req.timeout_ms.map(|ms| Duration::from_millis(ms.into())).unwrap_or(self.config.max_http_timeout);
        let timeout = Some(asked.min(remaining).min(self.config.max_http_timeout));
        let max_response_bytes = Some(self.config.max_http_response_bytes);
        if let Some(grant) = grant {
            let out = ConnectionRequest {
                method: method(req.method),
                target: req.url,
                query: req.query,
                headers: req.headers,
                body: req.body.map(Into::into),
                timeout,
                max_response_bytes,
            };
            return Ok(Prepared::Connection(grant, out));
        }
        let Some(provider) = provider else {
            // A Function step's `libraries.fetch`: any URL the egress
            // policy allows (it refuses private and metadata addresses).
            if !absolute {
                return Err(Error::InvalidRequest("fetch needs an absolute http(s) URL".into()));
            }
            let mut url = url::Url::parse(&req.url).map_err(|e| Error::InvalidRequest(format!("bad URL: {e}")))?;
            if !req.query.is_empty() {
                url.query_pairs_mut().extend_pairs(&req.query);
            }
            let mut out = OutboundRequest::new(method(req.method), url);
            out.headers = req.headers;
            out.body = req.body.map(Into::into);
            out.timeout = timeout;
            out.max_response_bytes = max_response_bytes;
            return Ok(Prepared::Bare(self.services.egress.clone(), out));
        };
        let empty = Map::new();
        let endpoint = Endpoint {
            provider: &provider,
            base_override: self.base_url.as_deref(),
            config: self.connection_config.as_object().unwrap_or(&empty),
        };
        let mut url = endpoint.resolve(&req.url).map_err(|e| target_error(e, &self.scope.plugin_id))?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
            weft_catalog::check_length(&url).map_err(|e| target_error(e, &self.scope.plugin_id))?;
        }
        let mut out = OutboundRequest::new(method(req.method), url);
        out.headers = req.headers;
        out.body = req.body.map(Into::into);
        out.timeout = timeout;
        out.max_response_bytes = max_response_bytes;
        Ok(Prepared::Bare(self.services.egress.clone(), out))
    }
}

/// Why a prepared request got no answer, before it is told to the plugin.
enum Failure {
    Connection(ConnectionError),
    Egress(EgressError),
}

impl Failure {
    fn into_wit(self, plugin: &str) -> Error {
        match self {
            Failure::Connection(ConnectionError::Target(t)) => target_error(t, plugin),
            Failure::Connection(ConnectionError::RateLimited(wait)) => {
                Error::QuotaExceeded(format!("the provider's rate limit is reached; retry in {} ms", wait.as_millis()))
            }
            Failure::Connection(ConnectionError::Credentials(m)) => Error::CredentialsUnavailable(m),
            Failure::Connection(ConnectionError::Egress(e)) | Failure::Egress(e) => egress_error(e),
        }
    }
}

async fn send(prepared: Prepared) -> Result<Response, Failure> {
    let answer = match prepared {
        Prepared::Connection(grant, req) => grant.send(req).await.map_err(Failure::Connection)?,
        Prepared::Bare(egress, req) => egress.send(req).await.map_err(Failure::Egress)?,
    };
    let OutboundResponse { status, headers, body } = answer;
    Ok(Response { status, headers, body: body.to_vec() })
}

fn target_error(e: TargetError, plugin: &str) -> Error {
    match e {
        TargetError::HostNotPermitted(host) => {
            Error::Denied(format!("host {host:?} is not in the allowed hosts of plugin {plugin}"))
        }
        TargetError::BadPath(m) | TargetError::NoBaseUrl(m) => Error::InvalidRequest(m),
        e @ TargetError::TooLong => Error::InvalidRequest(e.to_string()),
    }
}

fn egress_error(e: EgressError) -> Error {
    match e {
        EgressError::Denied(m) => Error::Denied(m),
        EgressError::InvalidRequest(m) => Error::InvalidRequest(m),
        EgressError::Timeout => Error::Timeout,
        EgressError::Connection(m) => Error::ConnectionFailed(m),
        EgressError::TooLarge(limit) => Error::ResponseTooLarge(limit),
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
