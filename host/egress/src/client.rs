//! The reqwest-backed [`Egress`] implementation.

use crate::headers::strip_forbidden_request_headers;
use crate::policy::EgressPolicy;
use crate::resolve::{GuardedResolver, Lookup, PolicyDenied, SystemLookup};
use crate::{BodyStream, Egress, EgressError, OutboundRequest, StreamingResponse};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Limits of the outbound client.
#[derive(Clone)]
pub struct EgressConfig {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Default and maximum total time of one request.
    pub max_timeout: Duration,
    /// Response body size for requests that set no cap of their own.
    pub max_response_bytes: u64,
    /// Idle keep-alive connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Which addresses may be reached (private ones are refused by default).
    pub policy: EgressPolicy,
    /// Where names resolve; `None` is the system resolver. Every answer is
    /// checked against `policy` whatever the source.
    pub lookup: Option<Arc<dyn Lookup>>,
}

impl std::fmt::Debug for EgressConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("max_timeout", &self.max_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("policy", &self.policy)
            .field("lookup", &self.lookup.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            max_timeout: Duration::from_secs(30),
            max_response_bytes: 10 * 1024 * 1024,
            pool_max_idle_per_host: 32,
            policy: EgressPolicy::default(),
            lookup: None,
        }
    }
}

/// The outbound client. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct EgressClient {
    http: reqwest::Client,
    config: EgressConfig,
}

impl EgressClient {
    /// Builds the client: no redirects, no system proxy, the given timeouts.
    pub fn new(config: EgressConfig) -> Result<Self, EgressError> {
        // This is the one place in Weft allowed to build an HTTP client.
        #[allow(clippy::disallowed_methods)]
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            // Names resolve through the policy; never `.resolve()` overrides,
            // which would bypass it.
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::new(config.policy.clone()),
                lookup: config.lookup.clone().unwrap_or_else(|| Arc::new(SystemLookup)),
            }))
            .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EgressError::InvalidRequest(format!("building the client: {e}")))?;
        Ok(Self { http, config })
    }

    /// The limits in force.
    pub fn config(&self) -> &EgressConfig {
        &self.config
    }
}

/// Reads `resp`'s body chunk by chunk: at most `cap` bytes, and nothing
/// after `deadline` (a slow drip cannot hold a caller past its timeout).
fn capped_body(resp: reqwest::Response, cap: u64, deadline: Instant) -> BodyStream {
    let state = (resp, 0u64, false);
    Box::pin(futures::stream::unfold(state, move |(mut resp, read, done)| async move {
        if done {
            return None;
        }
        let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => Err(EgressError::Timeout),
            Ok(Err(e)) => Err(classify(e)),
            Ok(Ok(None)) => return None,
            Ok(Ok(Some(chunk))) => Ok(chunk),
        };
        match chunk {
            Ok(chunk) if read + chunk.len() as u64 > cap => Some((Err(EgressError::TooLarge(cap)), (resp, read, true))),
            Ok(chunk) => {
                let read = read + chunk.len() as u64;
                Some((Ok(chunk), (resp, read, false)))
            }
            Err(e) => Some((Err(e), (resp, read, true))),
        }
    }))
}

#[async_trait::async_trait]
impl Egress for EgressClient {
    async fn send_streaming(&self, mut req: OutboundRequest) -> Result<StreamingResponse, EgressError> {
        if !matches!(req.url.scheme(), "http" | "https") {
            return Err(EgressError::InvalidRequest(format!(
                "unsupported scheme {:?}; only http and https are allowed",
                req.url.scheme()
            )));
        }
        // IP literals never reach the resolver: check them here.
        let literal = match req.url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(EgressError::InvalidRequest("the URL has no host".into())),
        };
        if let Some(ip) = literal
            && let Err(refused) = self.config.policy.check(ip, None)
        {
            return Err(EgressError::Denied(format!("{ip}: {refused}")));
        }
        let timeout = req.timeout.unwrap_or(self.config.max_timeout).min(self.config.max_timeout);
        let deadline = Instant::now() + timeout;
        // A request's own cap is host code's choice (the proxy streams large
        // raw bodies); the client's is the default for those that set none.
        let cap = req.max_response_bytes.unwrap_or(self.config.max_response_bytes);
        strip_forbidden_request_headers(&mut req.headers);
        // A caller cannot add its own value beside an injected credential
        // (a second `X-API-Key` the provider might read first).
        let injected = &req.injected_headers;
        req.headers.retain(|(name, _)| !injected.iter().any(|(i, _)| i.eq_ignore_ascii_case(name)));
        // The deadline is enforced here, around the headers and each chunk of
        // the body, so reqwest needs no timer of its own.
        let mut builder = self.http.request(req.method.to_http(), req.url.clone());
        for (name, value) in req.headers.iter().chain(req.injected_headers.iter()) {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let resp = match tokio::time::timeout_at(deadline, builder.send()).await {
            Err(_) => return Err(EgressError::Timeout),
            Ok(sent) => sent.map_err(classify)?,
        };
        let content_length = resp.content_length();
        if content_length.is_some_and(|len| len > cap) {
            return Err(EgressError::TooLarge(cap));
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        Ok(StreamingResponse { status, headers, content_length, body: capped_body(resp, cap, deadline) })
    }
}

fn classify(e: reqwest::Error) -> EgressError {
    if e.is_timeout() {
        EgressError::Timeout
    } else if e.is_builder() {
        EgressError::InvalidRequest(e.to_string())
    } else {
        // Walk to the innermost cause: "error sending request" alone tells nothing.
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            if let Some(denied) = s.downcast_ref::<PolicyDenied>() {
                return EgressError::Denied(denied.0.clone());
            }
            msg = s.to_string();
            source = s.source();
        }
        // Some layers re-wrap errors as text; the marker survives that.
        match msg.strip_prefix("egress policy: ") {
            Some(why) => EgressError::Denied(why.to_owned()),
            None => EgressError::Connection(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, http::HeaderMap, routing::get};

    /// The test servers live on loopback, which the default policy refuses.
    fn loopback() -> EgressConfig {
        EgressConfig { policy: EgressPolicy { allow_loopback: true, ..Default::default() }, ..Default::default() }
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn redirects_are_returned_not_followed() {
        let base = serve(
            Router::new()
                .route("/", get(|| async { (axum::http::StatusCode::FOUND, [("location", "/elsewhere")], "") })),
        )
        .await;
        let client = EgressClient::new(loopback()).unwrap();
        let resp = client.send(OutboundRequest::get(base.parse().unwrap())).await.unwrap();
        assert_eq!(resp.status, 302);
    }

    #[tokio::test]
    async fn body_over_cap_is_refused_and_injected_headers_survive_hygiene() {
        let base = serve(Router::new().route(
            "/",
            get(|h: HeaderMap| async move {
                let auth = h.get("authorization").map(|v| v.to_str().unwrap_or("").to_owned());
                format!("{}{}", auth.unwrap_or_default(), "x".repeat(100))
            }),
        ))
        .await;
        let client = EgressClient::new(loopback()).unwrap();
        let mut req = OutboundRequest::get(base.parse().unwrap());
        req.headers.push(("Authorization".into(), "Bearer caller".into()));
        req.injected_headers.push(("Authorization".into(), "Bearer host".into()));
        let resp = client.send(req.clone()).await.unwrap();
        assert!(resp.body.starts_with(b"Bearer host"));
        req.max_response_bytes = Some(50);
        assert_eq!(client.send(req).await.unwrap_err(), EgressError::TooLarge(50));
    }

    #[tokio::test]
    async fn refused_connection_and_bad_scheme_are_typed() {
        let client = EgressClient::new(loopback()).unwrap();
        // Bind then drop to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err =
            client.send(OutboundRequest::get(format!("http://127.0.0.1:{port}/").parse().unwrap())).await.unwrap_err();
        assert!(matches!(err, EgressError::Connection(_)), "{err:?}");
        let err = client.send(OutboundRequest::get("file:///etc/passwd".parse().unwrap())).await;
        assert!(matches!(err, Err(EgressError::InvalidRequest(_))));
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A listener on loopback that counts the connections it accepts.
    async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        (port, accepted)
    }

    /// Loopback is refused by default, as a literal (before connecting) and
    /// as a name (in the resolver); the listener never sees a connection.
    #[tokio::test]
    async fn loopback_is_refused_by_default_as_literal_and_name() {
        let (port, accepted) = counting_listener().await;
        let client = EgressClient::new(EgressConfig::default()).unwrap();
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            let err = client.send(OutboundRequest::get(url.parse().unwrap())).await.unwrap_err();
            assert!(matches!(err, EgressError::Denied(_)), "{url}: {err:?}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was attempted");
        let open = EgressClient::new(EgressConfig {
            policy: EgressPolicy { allow_loopback: true, ..Default::default() },
            ..Default::default()
        })
        .unwrap();
        let err = open.send(OutboundRequest::get(format!("http://localhost:{port}/").parse().unwrap())).await;
        // The listener accepts and says nothing: any outcome but Denied.
        assert!(!matches!(err, Err(EgressError::Denied(_))), "{err:?}");
    }
}
