//! The [`Egress`] implementation: request hygiene and limits here, the
//! connections in [`crate::conn`].

use crate::conn::{Connector, Origin, Pool, PooledBody, ReqBody};
use crate::headers::strip_forbidden_request_headers;
use crate::policy::EgressPolicy;
use crate::resolve::{GuardedResolver, Lookup, SystemLookup};
use crate::{BodyStream, Egress, EgressError, OutboundRequest, StreamingResponse};
use http::header::{HOST, HeaderName, HeaderValue, USER_AGENT};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

/// Limits of the outbound client.
#[derive(Clone)]
pub struct EgressConfig {
    /// Time allowed to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Default and maximum total time of one request.
    pub max_timeout: Duration,
    /// Response body size for requests that set no cap of their own.
    pub max_response_bytes: u64,
    /// Idle keep-alive connections kept per origin.
    pub pool_max_idle_per_host: usize,
    /// Which addresses may be reached (private ones are refused by default).
    pub policy: EgressPolicy,
    /// Where names resolve; `None` is the system resolver. Every answer is
    /// checked against `policy` whatever the source.
    pub lookup: Option<Arc<dyn Lookup>>,
    /// Certificates (DER) trusted besides the public web roots: an
    /// operator's internal CA, a test's own.
    pub extra_roots: Vec<Vec<u8>>,
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
            .field("extra_roots", &self.extra_roots.len())
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
            extra_roots: Vec::new(),
        }
    }
}

/// The certificates (DER) of a PEM document, for [`EgressConfig::extra_roots`].
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, EgressError> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EgressError::InvalidRequest(format!("not a PEM certificate list: {e}")))?;
    if certs.is_empty() {
        return Err(EgressError::InvalidRequest("no certificate in the PEM document".into()));
    }
    Ok(certs)
}

/// The outbound client. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct EgressClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: EgressConfig,
    pool: Arc<Pool>,
    connector: Connector,
    user_agent: HeaderValue,
}

impl EgressClient {
    /// Builds the client: HTTP/1.1 over TCP or TLS (the public web roots
    /// plus `extra_roots`), names resolved through the policy, no redirects
    /// followed, no system proxy, the given timeouts.
    pub fn new(config: EgressConfig) -> Result<Self, EgressError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for der in &config.extra_roots {
            roots
                .add(rustls::pki_types::CertificateDer::from(der.clone()))
                .map_err(|e| EgressError::InvalidRequest(format!("an extra root certificate is unusable: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| EgressError::InvalidRequest(format!("TLS set-up: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Connections are opened only by this connector (see `conn`).
        let connector = Connector {
            resolver: GuardedResolver {
                policy: Arc::new(config.policy.clone()),
                lookup: config.lookup.clone().unwrap_or_else(|| Arc::new(SystemLookup)),
            },
            tls: TlsConnector::from(Arc::new(tls)),
            connect_timeout: config.connect_timeout,
        };
        let inner = Inner {
            pool: Pool::new(config.pool_max_idle_per_host),
            connector,
            user_agent: HeaderValue::from_static(concat!("weft/", env!("CARGO_PKG_VERSION"))),
            config,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The limits in force.
    pub fn config(&self) -> &EgressConfig {
        &self.inner.config
    }
}

/// The request's one timer: registered once, shared by the wait for the
/// answer's head and every body read.
type Deadline = Pin<Box<tokio::time::Sleep>>;

/// `work`'s output, or `None` when `deadline` passes first.
async fn within<F: Future>(deadline: &mut Deadline, work: F) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Reads `body` chunk by chunk: at most `cap` bytes, and nothing after
/// `deadline` (a slow drip cannot hold a caller past its timeout).
fn capped_body(body: PooledBody, cap: u64, deadline: Deadline) -> BodyStream {
    let state = (body, 0u64, false, deadline);
    Box::pin(futures::stream::unfold(state, move |(mut body, read, done, mut deadline)| async move {
        if done {
            return None;
        }
        let chunk = match within(&mut deadline, body.chunk()).await {
            None => Err(EgressError::Timeout),
            Some(Err(e)) => Err(e),
            Some(Ok(None)) => return None,
            Some(Ok(Some(chunk))) => Ok(chunk),
        };
        match chunk {
            Ok(chunk) if read + chunk.len() as u64 > cap => {
                Some((Err(EgressError::TooLarge(cap)), (body, read, true, deadline)))
            }
            Ok(chunk) => {
                let read = read + chunk.len() as u64;
                Some((Ok(chunk), (body, read, false, deadline)))
            }
            Err(e) => Some((Err(e), (body, read, true, deadline))),
        }
    }))
}

/// The longest request target (path and query) sent: what the `http`
/// crate's `Uri` holds.
const MAX_REQUEST_TARGET_LEN: usize = u16::MAX as usize - 1;

/// The request hyper sends: origin-form target, `Host`, the caller's
/// headers (already cleaned), then the injected ones.
fn http_request(req: &mut OutboundRequest, user_agent: &HeaderValue) -> Result<http::Request<ReqBody>, EgressError> {
    use url::Position;
    let invalid = EgressError::InvalidRequest;
    if req.url.host_str().is_none() {
        return Err(invalid("the URL has no host".into()));
    }
    // Slices of the URL: `/path?query`, and `host` or `host:port` (a
    // default port is never written out).
    let target = &req.url[Position::BeforePath..Position::AfterQuery];
    let host = &req.url[Position::BeforeHost..Position::AfterPort];
    // Errors never quote the URL: a credential may travel in its query.
    if target.len() > MAX_REQUEST_TARGET_LEN {
        return Err(invalid(format!("the request target is longer than {MAX_REQUEST_TARGET_LEN} bytes")));
    }
    let mut out = http::Request::new(ReqBody::new(req.body.take().unwrap_or_default()));
    *out.method_mut() = req.method.to_http();
    *out.uri_mut() = http::Uri::try_from(target).map_err(|_| invalid("the request target is not valid".into()))?;
    let headers = out.headers_mut();
    headers.insert(HOST, HeaderValue::from_str(host).map_err(|_| invalid("the host is not a valid header".into()))?);
    for (name, value) in req.headers.iter().chain(req.injected_headers.iter()) {
        let name =
            HeaderName::try_from(name.as_str()).map_err(|_| invalid(format!("{name:?} is not a header name")))?;
        let value =
            HeaderValue::try_from(value.as_str()).map_err(|_| invalid(format!("the value of {name} is not valid")))?;
        headers.append(name, value);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, user_agent.clone());
    }
    Ok(out)
}

#[async_trait::async_trait]
impl Egress for EgressClient {
    async fn send_streaming(&self, mut req: OutboundRequest) -> Result<StreamingResponse, EgressError> {
        let inner = &*self.inner;
        let https = match req.url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(EgressError::InvalidRequest(format!(
                    "unsupported scheme {other:?}; only http and https are allowed"
                )));
            }
        };
        // IP literals never reach the resolver: check them here.
        let literal = match req.url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(EgressError::InvalidRequest("the URL has no host".into())),
        };
        if let Some(ip) = literal
            && let Err(refused) = inner.config.policy.check(ip, None)
        {
            return Err(EgressError::Denied(format!("{ip}: {refused}")));
        }
        let timeout = req.timeout.unwrap_or(inner.config.max_timeout).min(inner.config.max_timeout);
        let deadline = Instant::now() + timeout;
        // A request's own cap is host code's choice (the proxy streams large
        // raw bodies); the client's is the default for those that set none.
        let cap = req.max_response_bytes.unwrap_or(inner.config.max_response_bytes);
        strip_forbidden_request_headers(&mut req.headers);
        // A caller cannot add its own value beside an injected credential
        // (a second `X-API-Key` the provider might read first).
        let injected = &req.injected_headers;
        req.headers.retain(|(name, _)| !injected.iter().any(|(i, _)| i.eq_ignore_ascii_case(name)));
        let origin = Origin {
            https,
            host: req.url.host_str().unwrap_or_default().to_owned(),
            port: req.url.port_or_known_default().unwrap_or(if https { 443 } else { 80 }),
            literal,
        };
        let request = http_request(&mut req, &inner.user_agent)?;
        let mut deadline = Box::pin(tokio::time::sleep_until(deadline));
        let sent = crate::conn::send(&inner.pool, &inner.connector, origin, request);
        let (head, body) = within(&mut deadline, sent).await.ok_or(EgressError::Timeout)??;
        let content_length = head
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if content_length.is_some_and(|len| len > cap) {
            return Err(EgressError::TooLarge(cap));
        }
        Ok(StreamingResponse {
            status: head.status.as_u16(),
            headers: head.headers,
            content_length,
            body: capped_body(body, cap, deadline),
        })
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

    #[test]
    fn the_request_names_the_host_and_the_origin_form_target() {
        let ua = HeaderValue::from_static("weft/test");
        for (url, host, target) in [
            ("http://api.test/v1/items?limit=5&x=%2F", "api.test", "/v1/items?limit=5&x=%2F"),
            ("https://api.test:8443/a%20b", "api.test:8443", "/a%20b"),
            ("https://api.test:443/x#frag", "api.test", "/x"),
            ("http://[::1]:8080/?q", "[::1]:8080", "/?q"),
            ("http://127.0.0.1", "127.0.0.1", "/"),
        ] {
            let mut req = OutboundRequest::get(url.parse().unwrap());
            let out = http_request(&mut req, &ua).unwrap();
            assert_eq!(out.headers()[HOST], host, "{url}");
            assert_eq!(out.uri().to_string(), target, "{url}");
            assert_eq!(out.headers()[USER_AGENT], "weft/test");
        }
    }

    /// Issue 24, defect 2: an unsendable target is refused without quoting
    /// the URL, whose query may hold an injected key.
    #[test]
    fn a_refused_target_is_not_quoted() {
        let ua = HeaderValue::from_static("weft/test");
        let long = format!("http://api.test/x?pad={}&key=secret-in-query", "a".repeat(70_000));
        let mut req = OutboundRequest::get(long.parse().unwrap());
        let err = http_request(&mut req, &ua).unwrap_err();
        assert!(matches!(&err, EgressError::InvalidRequest(m) if !m.contains("secret") && !m.contains("api.test")));
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
