//! Spreading connections over the serving threads.
//!
//! One acceptor (on the main runtime) takes every connection and hands it to
//! the serving thread that holds the fewest open ones; each thread then
//! serves it to the end. Threads accepting from a shared socket themselves
//! would be simpler, but the kernel wakes whichever waits first, and one
//! thread can end up with nearly every connection while the others idle.
//!
//! The acceptor also holds each client address to
//! `server.max_connections_per_address` open connections: one more is
//! closed as it arrives, so one client cannot take every descriptor.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A connection on its way to a serving thread.
type Handoff = (std::net::TcpStream, SocketAddr, Option<AddressSlot>);

/// The acceptor's side of one serving thread.
struct Lane {
    tx: mpsc::UnboundedSender<Handoff>,
    open: Arc<AtomicUsize>,
}

/// The connections of one serving thread.
pub(crate) struct HandedListener {
    rx: mpsc::UnboundedReceiver<Handoff>,
    open: Arc<AtomicUsize>,
}

/// `threads` listeners and the acceptor that feeds them from `listener`,
/// at most `per_address` connections open from one client address (0: no
/// cap); the acceptor runs until every listener is dropped (or it is
/// aborted).
pub(crate) fn spread(
    listener: tokio::net::TcpListener,
    threads: usize,
    per_address: usize,
) -> (Vec<HandedListener>, impl Future<Output = ()> + Send + 'static) {
    let (lanes, listeners): (Vec<_>, Vec<_>) = (0..threads.max(1))
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            let open = Arc::new(AtomicUsize::new(0));
            (Lane { tx, open: open.clone() }, HandedListener { rx, open })
        })
        .unzip();
    let addresses = (per_address > 0).then(|| Arc::new(OpenPerAddress::new(per_address)));
    (listeners, accept_loop(listener, lanes, addresses))
}

async fn accept_loop(listener: tokio::net::TcpListener, lanes: Vec<Lane>, addresses: Option<Arc<OpenPerAddress>>) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors and the like: accepting again at once
                // would spin.
                tracing::error!(error = %e, "accepting a connection failed; pausing");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let slot = match &addresses {
            Some(table) => match table.admit(addr.ip()) {
                Some(slot) => Some(slot),
                None => {
                    // Closed unanswered: a client over its cap is not
                    // worth a write, and an answer would invite a retry.
                    tracing::debug!(client = %addr.ip(), "connection refused: too many open from this address");
                    continue;
                }
            },
            None => None,
        };
        // Answers go out as soon as they are written (as nginx's `tcp_nodelay`).
        let _ = stream.set_nodelay(true);
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "handing a connection over failed");
                continue;
            }
        };
        let live = lanes.iter().filter(|l| !l.tx.is_closed());
        let Some(lane) = live.min_by_key(|l| l.open.load(Ordering::Relaxed)) else {
            return;
        };
        lane.open.fetch_add(1, Ordering::Relaxed);
        if lane.tx.send((stream, addr, slot)).is_err() {
            lane.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Errors of one connection (the client gave up before it was accepted).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Open connections per client address, shared by the acceptor (which
/// counts them in) and the serving threads (whose connections count
/// themselves out when closed). Locked once per connection, never per
/// request.
struct OpenPerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenPerAddress {
    fn new(max: usize) -> Self {
        Self { max, open: Mutex::new(HashMap::new()) }
    }

    /// A slot for one more connection from `ip`, unless it has `max` open.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot { table: self.clone(), ip })
    }
}

/// One open connection of a client address, counted until dropped.
struct AddressSlot {
    table: Arc<OpenPerAddress>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl HandedListener {
    /// The next connection handed to this thread; pending forever once the
    /// acceptor is gone.
    pub(crate) async fn accept(&mut self) -> (CountedStream, SocketAddr) {
        loop {
            let Some((stream, addr, slot)) = self.rx.recv().await else {
                // The acceptor is gone (shutting down): nothing more comes.
                return std::future::pending().await;
            };
            let counted = CountedOpen(self.open.clone());
            match TcpStream::from_std(stream) {
                Ok(stream) => return (CountedStream { stream, _open: counted, _slot: slot }, addr),
                Err(e) => tracing::warn!(error = %e, "registering a connection failed"),
            }
        }
    }
}

/// Counts one open connection of a thread until dropped.
struct CountedOpen(Arc<AtomicUsize>);

impl Drop for CountedOpen {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection counted against its serving thread while it is open.
pub(crate) struct CountedStream {
    stream: TcpStream,
    _open: CountedOpen,
    /// Its place in its address's cap, when there is one.
    _slot: Option<AddressSlot>,
}

impl AsyncRead for CountedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_go_to_the_thread_with_the_fewest_open() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut lanes, acceptor) = spread(listener, 2, 0);
        let acceptor = tokio::spawn(acceptor);
        let mut clients = Vec::new();
        let mut held = Vec::new();
        // Four connections: two each, whichever order they arrive in.
        for _ in 0..4 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            // Wait until the acceptor has handed it over.
            tokio::time::timeout(Duration::from_secs(5), async {
                while lanes.iter().map(|l| l.open.load(Ordering::Relaxed)).sum::<usize>() < clients.len() {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("the acceptor hands connections over");
        }
        assert_eq!(lanes[0].open.load(Ordering::Relaxed), 2);
        assert_eq!(lanes[1].open.load(Ordering::Relaxed), 2);
        // Closing two of the first thread's makes it the next one's home.
        let (a, _) = lanes[0].accept().await;
        let (b, _) = lanes[0].accept().await;
        held.push(lanes[1].accept().await.0);
        drop((a, b));
        assert_eq!(lanes[0].open.load(Ordering::Relaxed), 0);
        clients.push(TcpStream::connect(addr).await.unwrap());
        let (next, _) = tokio::time::timeout(Duration::from_secs(5), lanes[0].accept()).await.expect("to lane 0");
        assert_eq!(lanes[0].open.load(Ordering::Relaxed), 1);
        drop(next);
        acceptor.abort();
    }

    #[test]
    fn an_address_holds_at_most_its_cap_and_a_closed_connection_frees_its_slot() {
        let table = Arc::new(OpenPerAddress::new(2));
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let first = table.admit(a).expect("first");
        let _second = table.admit(a).expect("second");
        assert!(table.admit(a).is_none(), "a third from the same address is refused");
        let _other = table.admit(b).expect("another address has its own cap");
        drop(first);
        let _again = table.admit(a).expect("a closed connection frees its slot");
        assert!(table.admit(a).is_none());
        drop((_second, _again));
        assert!(!table.open.lock().unwrap().contains_key(&a), "no entry is kept for an address with none open");
    }
}
