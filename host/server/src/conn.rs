//! Serving the connections of one serving thread, with the limits a slow or
//! hostile client meets: a request's header block must arrive within
//! `server.header_read_timeout_ms` (hyper's own timer, which also ends a
//! kept-alive connection idle that long), its body within
//! `server.body_read_timeout_ms` ([`TimedBody`]), and at shutdown open
//! connections get `server.shutdown_grace_ms` to finish before they are
//! closed. (The per-address cap is the acceptor's, in `listener`.) A
//! connection the server closes is closed lingering (`linger`), so a client
//! still sending a refused body reads its answer.
//!
//! This is what `axum::serve` did (one task per connection, hyper's HTTP/1.1
//! connection, the service cloned per request), plus the timers and the
//! deadline, which `axum::serve` has no settings for.

use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::linger::Lingering;
use crate::listener::HandedListener;

/// The time limits of client connections; see `ServerSettings`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// For a request's header block (and an idle kept-alive connection).
    pub(crate) header_read: Duration,
    /// For a request's body, from the first moment the server waits for it.
    pub(crate) body_read: Duration,
    /// For open connections to finish once shutdown begins.
    pub(crate) shutdown_grace: Duration,
}

/// Where shutdown is, as the connections see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Finish the request in flight, take no new one.
    Draining,
    /// The grace is over: close now.
    Closing,
}

/// Serves `api` on the connections `listener` hands over until `stop`; then
/// lets open connections finish for the shutdown grace, and closes the
/// ones still open. Returns once every connection is closed.
pub(crate) async fn serve(
    mut listener: HandedListener,
    api: weft_api::Api,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    let (phase, watching) = watch::channel(Phase::Serving);
    let mut stop = pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let body_read = limits.body_read;
        // The body goes to the API as it is: boxing it would cost an
        // allocation per request, which the proxy's fast path avoids.
        let service = api
            .for_peer(peer)
            .map_request(move |req: hyper::Request<Incoming>| req.map(|body| TimedBody::new(body, body_read)));
        let connection = http.serve_connection(TokioIo::new(Lingering::new(stream)), TowerToHyperService::new(service));
        let mut phase = watching.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            // Until it ends, or until shutdown: then it finishes the request
            // in flight and closes, unless the grace runs out first, which
            // drops it (closing the socket, abandoning the request).
            tokio::select! {
                biased;
                served = connection.as_mut() => return ended(served),
                _ = phase.wait_for(|p| *p != Phase::Serving) => {}
            }
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                biased;
                served = connection.as_mut() => ended(served),
                _ = phase.wait_for(|p| *p == Phase::Closing) => {}
            }
        });
    }
    // Connections still waiting to be picked up are closed with it.
    drop(listener);
    drop(watching);
    let _ = phase.send(Phase::Draining);
    if tokio::time::timeout(limits.shutdown_grace, phase.closed()).await.is_err() {
        tracing::warn!(
            open = phase.receiver_count(),
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "closing the connections still open after the shutdown grace"
        );
        let _ = phase.send(Phase::Closing);
        phase.closed().await;
    }
}

fn ended(served: hyper::Result<()>) {
    if let Err(e) = served {
        // Clients that go away or time out are routine.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

pin_project_lite::pin_project! {
    /// A request body that must arrive within a time limit, counted from
    /// the first moment the server waits for it; past it, reading fails
    /// with [`io::ErrorKind::TimedOut`] (which the API answers 408), and
    /// the connection, its body unread, is closed after the answer. The
    /// timer is only set when the body is not all there already, so most
    /// requests never start one.
    pub(crate) struct TimedBody {
        #[pin]
        inner: Incoming,
        limit: Duration,
        #[pin]
        deadline: Option<tokio::time::Sleep>,
    }
}

impl TimedBody {
    pub(crate) fn new(inner: Incoming, limit: Duration) -> Self {
        Self { inner, limit, deadline: None }
    }
}

/// The error of a body that did not arrive in time.
fn body_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the request body did not arrive in time")
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.is_none() {
            this.deadline.set(Some(tokio::time::sleep(*this.limit)));
        }
        if let Some(deadline) = this.deadline.as_pin_mut() {
            ready!(deadline.poll(cx));
        }
        Poll::Ready(Some(Err(body_timed_out().into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
