//! Closing a connection so that the client reads the answer: a lingering
//! close, as web servers do it.
//!
//! The server sometimes closes a connection while the client is still
//! sending: it answered 413 to a declared length over the cap without
//! reading the body, or 408 to a body that came too slowly. Closing a socket
//! with unread bytes in its receive buffer makes the kernel send a reset,
//! and a reset can reach the client before it has read the answer, which it
//! then never sees (it reports a broken pipe on its write instead). So at
//! close the server first ends its own side (the answer is all out, and the
//! client sees end of stream), then reads and discards what the client still
//! sends until the client closes too, for at most [`LINGER_FOR`], at most
//! [`LINGER_IDLE`] between reads, and at most [`LINGER_BYTES`]; only then is
//! the socket closed. A client that closes at once costs one read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The longest a closing connection is read from.
pub(crate) const LINGER_FOR: Duration = Duration::from_secs(5);
/// The longest a closing connection may be silent before it is dropped.
pub(crate) const LINGER_IDLE: Duration = Duration::from_secs(1);
/// The most a closing connection reads. Above the API's largest body cap,
/// so that a client that sent a whole refused body reads its answer.
pub(crate) const LINGER_BYTES: usize = 64 << 20;

pin_project_lite::pin_project! {
    /// A stream whose shutdown is a lingering close (see the module).
    pub(crate) struct Lingering<S> {
        #[pin]
        inner: S,
        idle: Duration,
        closing: Option<Closing>,
    }
}

/// Where a lingering close is.
struct Closing {
    /// Our side is shut (the end of stream is sent).
    shut: bool,
    discarded: usize,
    until: Instant,
    idle: Pin<Box<Sleep>>,
}

impl<S> Lingering<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self::with_idle(inner, LINGER_IDLE)
    }

    fn with_idle(inner: S, idle: Duration) -> Self {
        Self { inner, idle, closing: None }
    }
}

impl<S: AsyncRead> AsyncRead for Lingering<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncWrite for Lingering<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        let idle = *this.idle;
        let closing = this.closing.get_or_insert_with(|| Closing {
            shut: false,
            discarded: 0,
            until: Instant::now() + LINGER_FOR,
            idle: Box::pin(tokio::time::sleep(idle)),
        });
        if !closing.shut {
            ready!(this.inner.as_mut().poll_shutdown(cx))?;
            closing.shut = true;
        }
        let mut scratch = [0u8; 8192];
        loop {
            if closing.discarded >= LINGER_BYTES || Instant::now() >= closing.until {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match this.inner.as_mut().poll_read(cx, &mut buf) {
                // The client closed (or broke) its side: done.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    closing.discarded += buf.filled().len();
                    let next = (Instant::now() + idle).min(closing.until);
                    closing.idle.as_mut().reset(next);
                }
                Poll::Pending => {
                    ready!(closing.idle.as_mut().poll(cx));
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A client still sending when the server closes reads the whole answer
    /// and its writes all succeed: the server read and discarded them.
    #[tokio::test]
    async fn a_client_still_sending_reads_the_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = Lingering::new(stream);
            let mut head = [0u8; 16];
            stream.read_exact(&mut head).await.unwrap();
            stream.write_all(b"refused").await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        // Far more than the socket buffers hold, so most of it is sent
        // after the server has answered and closed.
        let body = vec![b'x'; 8 << 20];
        client.write_all(&body).await.expect("every write succeeds");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"refused");
        server.await.unwrap();
    }

    /// A client that neither sends nor closes is dropped once it has been
    /// silent for the idle limit, long before the whole lingering time.
    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_idle_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut lingering = Lingering::with_idle(stream, Duration::from_millis(50));
        // Far below LINGER_FOR: only the idle limit can end it in time.
        tokio::time::timeout(LINGER_FOR / 2, lingering.shutdown()).await.expect("closed after the idle limit").unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }
}
