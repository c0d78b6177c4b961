//! Connections of the egress client: HTTP/1.1 over TCP or TLS, opened to
//! addresses the policy checked, kept alive in a small pool per origin.
//!
//! A connection is a hyper client connection whose I/O is driven by the
//! request using it, not by a task of its own: the request polls the
//! connection beside its response, and its body polls it beside each
//! chunk, so a response wakes one task, once. A request borrows the
//! connection and gives it back once the response body has been read to
//! its end; a body dropped half read takes the connection with it (its
//! remaining bytes are unknown). An idle connection in the pool is polled
//! once when it is taken, which notices a close by the server; a pooled
//! connection closed just then is noticed when the request cannot be
//! written, and the request goes out once more on a fresh connection. A
//! request that was written is never sent twice.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
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

/// The I/O side of a connection: reads answers, writes requests; ends when
/// the connection closes or fails.
type Io = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// One connection: where requests go in, and its I/O, driven by whoever
/// holds it.
pub(crate) struct Conn {
    sender: SendRequest<ReqBody>,
    /// `None` once the connection has ended.
    io: Option<Io>,
}

impl Conn {
    /// Drives the connection's I/O; ready once it has ended.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(io) = self.io.as_mut() else { return Poll::Ready(()) };
        match io.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(ended) => {
                if let Err(e) = ended {
                    tracing::debug!(error = %hyper_error(&e), "outbound connection ended with an error");
                }
                self.io = None;
                Poll::Ready(())
            }
        }
    }

    /// Whether the connection can take no more requests. Reads what the
    /// server sent while it was idle, so a close is noticed.
    fn is_closed(&mut self) -> bool {
        let _ = self.poll_io(&mut Context::from_waker(Waker::noop()));
        self.io.is_none() || self.sender.is_closed()
    }

    /// Waits until a request can be sent.
    async fn ready(&mut self) -> hyper::Result<()> {
        std::future::poll_fn(|cx| {
            let _ = self.poll_io(cx);
            self.sender.poll_ready(cx)
        })
        .await
    }

    /// Sends `req` and waits for the answer's head, driving the I/O.
    async fn try_send(
        &mut self,
        req: http::Request<ReqBody>,
    ) -> Result<http::Response<Incoming>, hyper::client::conn::TrySendError<http::Request<ReqBody>>> {
        let mut answer = std::pin::pin!(self.sender.try_send_request(req));
        std::future::poll_fn(|cx| {
            // An ended connection resolves the answer (with an error).
            let _ = self.poll_io(cx);
            answer.as_mut().poll(cx)
        })
        .await
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// Idle keep-alive connections, per thread and origin, most recently used
/// last. Per thread because a connection's socket is registered with the
/// runtime that opened it: the server's threads each run their own, and a
/// request served on one should not wait on another's event loop.
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
    fn take(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(&this_thread())?.get_mut(origin)?;
        while let Some(mut c) = list.pop() {
            if c.since.elapsed() < IDLE_TIMEOUT && !c.conn.is_closed() {
                return Some(c.conn);
            }
        }
        None
    }

    /// Keeps `conn` for the next request to `origin`, unless the pool for
    /// it is full; dead and expired connections are dropped on the way.
    fn give_back(&self, origin: Origin, mut conn: Conn) {
        if conn.is_closed() || self.max_idle_per_origin == 0 {
            return;
        }
        let live = |c: &mut Idle| c.since.elapsed() < IDLE_TIMEOUT && !c.conn.is_closed();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Now and then, every list: threads that ended leave theirs behind.
        if self.since_sweep.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(SWEEP_EVERY) {
            for lists in idle.values_mut() {
                lists.values_mut().for_each(|list| list.retain_mut(live));
                lists.retain(|_, list| !list.is_empty());
            }
            idle.retain(|_, lists| !lists.is_empty());
        }
        let list = idle.entry(this_thread()).or_default().entry(origin).or_default();
        // Dead ones are looked for only when they would keep a live one out
        // (and at sweeps): a check costs a clock read per connection.
        if list.len() >= self.max_idle_per_origin {
            list.retain_mut(live);
        }
        if list.len() < self.max_idle_per_origin {
            list.push(Idle { conn, since: Instant::now() });
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
    /// A new connection to `origin`.
    async fn open(&self, origin: &Origin) -> Result<Conn, EgressError> {
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

async fn handshake<T>(io: T) -> Result<Conn, EgressError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| EgressError::Connection(hyper_error(&e)))?;
    Ok(Conn { sender, io: Some(Box::pin(connection)) })
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
    while let Some(mut conn) = pool.take(&origin) {
        if conn.ready().await.is_err() {
            continue;
        }
        match conn.try_send(req).await {
            Ok(resp) => return Ok(pooled(pool, origin, conn, resp)),
            Err(mut e) => match e.take_message() {
                Some(unsent) => req = unsent,
                None => return Err(EgressError::Connection(hyper_error(e.error()))),
            },
        }
    }
    // Boxed: opening (resolver, TCP, TLS) is the rare path, and its state
    // would otherwise be carried, and moved, by every request's future.
    let mut conn = Box::pin(connector.open(&origin)).await?;
    conn.ready().await.map_err(|e| EgressError::Connection(hyper_error(&e)))?;
    let resp = conn.try_send(req).await.map_err(|e| EgressError::Connection(hyper_error(e.error())))?;
    Ok(pooled(pool, origin, conn, resp))
}

fn pooled(
    pool: &Arc<Pool>,
    origin: Origin,
    conn: Conn,
    resp: http::Response<Incoming>,
) -> (http::response::Parts, PooledBody) {
    let (parts, body) = resp.into_parts();
    let mut pooled = PooledBody { body, conn: Some(conn), lender: Some((pool.clone(), origin)) };
    // Nothing to read (HEAD, 204, 304): the connection is free already.
    if pooled.body.is_end_stream() {
        pooled.give_back();
    }
    (parts, pooled)
}

/// A response body that drives its connection while it is read and
/// returns it to the pool at its end.
pub(crate) struct PooledBody {
    body: Incoming,
    /// The connection, until the body ends or fails.
    conn: Option<Conn>,
    /// Where it goes back to; `None` once it must not be reused.
    lender: Option<(Arc<Pool>, Origin)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let (Some((pool, origin)), Some(conn)) = (self.lender.take(), self.conn.take()) {
            pool.give_back(origin, conn);
        }
    }

    /// The next data chunk; `None` at the end (the connection is back in
    /// the pool by then).
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, EgressError> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, EgressError>> {
        loop {
            if let Some(conn) = self.conn.as_mut() {
                // An ended connection ends (or fails) the body.
                let _ = conn.poll_io(cx);
            }
            match std::task::ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => {
                    self.give_back();
                    return Poll::Ready(Ok(None));
                }
                Some(Err(e)) => {
                    // The connection's state is unknown: never reuse it.
                    self.lender = None;
                    self.conn = None;
                    return Poll::Ready(Err(EgressError::Connection(hyper_error(&e))));
                }
                // Trailers carry nothing to pass on.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Ok(Some(data)));
                    }
                }
            }
        }
    }
}
