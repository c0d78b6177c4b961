//! Connections of the egress client: HTTP/1.1 over TCP or TLS, opened to
//! addresses the policy checked, kept alive in a small pool per origin.
//!
//! Each connection is a hyper client connection whose I/O task runs on the
//! runtime that opened it; a request borrows its sender and gives it back
//! once the response body has been read to its end. A body dropped half
//! read takes the connection with it (its remaining bytes are unknown).
//! A pooled connection the server closed meanwhile is noticed when the
//! request cannot be written, and the request goes out once more on a fresh
//! connection; a request that was written is never sent twice.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::EgressError;
use crate::resolve::GuardedResolver;

/// The request body type: every outbound body is complete before sending.
pub(crate) type ReqBody = Full<Bytes>;

/// How long an idle connection stays in the pool (providers commonly close
/// theirs after 60 to 120 s; an old one is more likely dead than useful).
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Give-backs between two sweeps of the whole pool.
const SWEEP_EVERY: usize = 1024;

/// Where a connection goes: scheme, host as written in the URL, port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The IP when the URL names one (already checked by the caller).
    pub(crate) literal: Option<IpAddr>,
}

struct Idle {
    sender: SendRequest<ReqBody>,
    since: Instant,
}

/// Idle keep-alive connections, per thread and origin, most recently used
/// last. Per thread because a connection's I/O task runs where it was
/// opened: the server's threads each run their own runtime, and a request
/// served on one should not wait on another's.
pub(crate) struct Pool {
    idle: Mutex<HashMap<ThreadId, HashMap<Origin, Vec<Idle>>>>,
    /// Give-backs since the last sweep of every list.
    since_sweep: std::sync::atomic::AtomicUsize,
    max_idle_per_origin: usize,
}

impl Pool {
    pub(crate) fn new(max_idle_per_origin: usize) -> Arc<Self> {
        Arc::new(Self { idle: Mutex::default(), since_sweep: Default::default(), max_idle_per_origin })
    }

    /// The most recently used live connection to `origin`, if any.
    fn take(&self, origin: &Origin) -> Option<SendRequest<ReqBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(&this_thread())?.get_mut(origin)?;
        while let Some(c) = list.pop() {
            if !c.sender.is_closed() && c.since.elapsed() < IDLE_TIMEOUT {
                return Some(c.sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next request to `origin`, unless the pool for
    /// it is full; dead and expired connections are dropped on the way.
    fn give_back(&self, origin: Origin, sender: SendRequest<ReqBody>) {
        if sender.is_closed() || self.max_idle_per_origin == 0 {
            return;
        }
        let live = |c: &Idle| !c.sender.is_closed() && c.since.elapsed() < IDLE_TIMEOUT;
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Now and then, every list: threads that ended leave theirs behind.
        if self.since_sweep.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(SWEEP_EVERY) {
            for lists in idle.values_mut() {
                lists.values_mut().for_each(|list| list.retain(live));
                lists.retain(|_, list| !list.is_empty());
            }
            idle.retain(|_, lists| !lists.is_empty());
        }
        let list = idle.entry(this_thread()).or_default().entry(origin).or_default();
        // Dead ones are looked for only when they would keep a live one out
        // (and at sweeps): a check costs a clock read per connection.
        if list.len() >= self.max_idle_per_origin {
            list.retain(live);
        }
        if list.len() < self.max_idle_per_origin {
            list.push(Idle { sender, since: Instant::now() });
        }
    }
}

/// This thread's id (read once per thread: `thread::current` clones a handle).
fn this_thread() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.with(|id| *id)
}

/// Opens connections: resolution through the policy, TCP, TLS, HTTP/1.1.
pub(crate) struct Connector {
    pub(crate) resolver: GuardedResolver,
    pub(crate) tls: TlsConnector,
    pub(crate) connect_timeout: Duration,
}

impl Connector {
    /// A new connection to `origin`, its I/O task spawned on this runtime.
    async fn open(&self, origin: &Origin) -> Result<SendRequest<ReqBody>, EgressError> {
        let opening = async {
            let addrs = match origin.literal {
                Some(ip) => vec![ip],
                None => self.resolver.resolve(&origin.host).await?,
            };
            let tcp = connect_any(&addrs, origin.port).await?;
            let _ = tcp.set_nodelay(true);
            if origin.https {
                // An IP literal is checked against the certificate's IP
                // addresses; `host` would hold IPv6 in brackets.
                let name = match origin.literal {
                    Some(ip) => ServerName::IpAddress(ip.into()),
                    None => ServerName::try_from(origin.host.clone()).map_err(|_| {
                        EgressError::InvalidRequest(format!("{:?} is not a TLS server name", origin.host))
                    })?,
                };
                let tls = self.tls.connect(name, tcp).await.map_err(|e| EgressError::Connection(tls_error(&e)))?;
                handshake(tls).await
            } else {
                handshake(tcp).await
            }
        };
        tokio::time::timeout(self.connect_timeout, opening).await.map_err(|_| EgressError::Timeout)?
    }
}

/// The first of `addrs` that accepts, in order (all were checked).
async fn connect_any(addrs: &[IpAddr], port: u16) -> Result<TcpStream, EgressError> {
    let mut last = None;
    for ip in addrs {
        match TcpStream::connect(SocketAddr::new(*ip, port)).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(format!("{ip}:{port}: {e}")),
        }
    }
    Err(EgressError::Connection(last.unwrap_or_else(|| "no address to connect to".into())))
}

/// The innermost message of a TLS failure ("invalid peer certificate: ...").
fn tls_error(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => format!("TLS: {inner}"),
        None => format!("TLS: {e}"),
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<ReqBody>, EgressError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| EgressError::Connection(hyper_error(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "outbound connection ended with an error");
        }
    });
    Ok(sender)
}

/// A hyper error with its cause ("connection closed before message
/// completed", "connection reset by peer").
pub(crate) fn hyper_error(e: &hyper::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Sends `req` to `origin` on a pooled connection, or a new one. Returns
/// the response head and its body, which gives the connection back when
/// read to its end.
pub(crate) async fn send(
    pool: &Arc<Pool>,
    connector: &Connector,
    origin: Origin,
    mut req: http::Request<ReqBody>,
) -> Result<(http::response::Parts, PooledBody), EgressError> {
    // A reused connection may have been closed by the server while idle:
    // when the request could not be written, it goes out on a fresh one.
    while let Some(mut sender) = pool.take(&origin) {
        if sender.ready().await.is_err() {
            continue;
        }
        match sender.try_send_request(req).await {
            Ok(resp) => return Ok(pooled(pool, origin, sender, resp)),
            Err(mut e) => match e.take_message() {
                Some(unsent) => req = unsent,
                None => return Err(EgressError::Connection(hyper_error(e.error()))),
            },
        }
    }
    let mut sender = connector.open(&origin).await?;
    sender.ready().await.map_err(|e| EgressError::Connection(hyper_error(&e)))?;
    let resp = sender.send_request(req).await.map_err(|e| EgressError::Connection(hyper_error(&e)))?;
    Ok(pooled(pool, origin, sender, resp))
}

fn pooled(
    pool: &Arc<Pool>,
    origin: Origin,
    sender: SendRequest<ReqBody>,
    resp: http::Response<Incoming>,
) -> (http::response::Parts, PooledBody) {
    let (parts, body) = resp.into_parts();
    let mut pooled = PooledBody { body, lender: Some((pool.clone(), origin, sender)) };
    // Nothing to read (HEAD, 204, 304): the connection is free already.
    if pooled.body.is_end_stream() {
        pooled.give_back();
    }
    (parts, pooled)
}

/// A response body that returns its connection to the pool at its end.
pub(crate) struct PooledBody {
    body: Incoming,
    lender: Option<(Arc<Pool>, Origin, SendRequest<ReqBody>)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some((pool, origin, sender)) = self.lender.take() {
            pool.give_back(origin, sender);
        }
    }

    /// The next data chunk; `None` at the end (the connection is back in
    /// the pool by then).
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, EgressError> {
        loop {
            match self.body.frame().await {
                None => {
                    self.give_back();
                    return Ok(None);
                }
                Some(Err(e)) => {
                    // The connection's state is unknown: never reuse it.
                    self.lender = None;
                    return Err(EgressError::Connection(hyper_error(&e)));
                }
                // Trailers carry nothing to pass on.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}
