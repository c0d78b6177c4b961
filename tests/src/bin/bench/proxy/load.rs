//! The load generator every target of the proxy benchmark gets: closed-loop
//! HTTP/1.1 keep-alive connections, each one request at a time in a tight
//! loop, for a warm-up and then a measured window.
//!
//! It is a hyper client connection per socket (no pool, no retries, no
//! redirects: nothing between the loop and the wire) on `threads` OS threads,
//! each with its own single-threaded runtime, the way `wrk -t -c` spreads its
//! connections. Every response is read to its end and its status checked, so
//! a 401 from the mock (a credential that was not injected) or a 404 is an
//! error, never a fast "request".

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONNECTION, HOST, HeaderName, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The one request a run repeats.
#[derive(Clone)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Path and query sent in the request line.
    pub path: String,
    /// Headers besides `Host`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// How hard and how long to drive a target.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Open connections, each with one request in flight.
    pub connections: usize,
    /// OS threads sharing the connections.
    pub threads: usize,
    /// Time before measuring: connections, caches, the JIT of nothing.
    pub warmup: Duration,
    /// The measured window.
    pub measure: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Successful responses per second in the measured window.
    pub rps: f64,
    /// Median latency of successful responses in the window, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Successful responses over the whole run (warm-up included).
    pub ok: u64,
    /// Failed exchanges over the whole run: connection or protocol errors
    /// and non-2xx answers.
    pub errors: u64,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

impl Outcome {
    /// Errors as a fraction of all exchanges.
    pub fn error_rate(&self) -> f64 {
        let total = self.ok + self.errors;
        if total == 0 { 1.0 } else { self.errors as f64 / total as f64 }
    }
}

/// When a connection measures and when it stops.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    until: Instant,
}

/// One connection's (then one thread's, then the run's) counts.
#[derive(Default)]
struct Tally {
    latencies_ns: Vec<u64>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_ns.extend(other.latencies_ns);
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Drives `target` with `shape` and reports what it measured. Blocks for
/// the warm-up plus the measured window.
pub fn run(target: &Target, shape: Shape) -> anyhow::Result<Outcome> {
    anyhow::ensure!(shape.connections > 0 && shape.threads > 0, "a run needs connections and threads");
    let threads = shape.threads.min(shape.connections);
    let start = Instant::now();
    let window = Window { measure_from: start + shape.warmup, until: start + shape.warmup + shape.measure };
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            // Connections dealt round-robin: 32 over 2 threads is 16 each.
            let connections = (i..shape.connections).step_by(threads).count();
            let target = target.clone();
            std::thread::Builder::new()
                .name(format!("load-{i}"))
                .spawn(move || drive_thread(&target, connections, window))
        })
        .collect::<Result<_, _>>()?;
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        all.merge(tally);
    }
    Ok(summarise(all, shape.measure))
}

fn summarise(mut all: Tally, measured: Duration) -> Outcome {
    all.latencies_ns.sort_unstable();
    let rps = all.latencies_ns.len() as f64 / measured.as_secs_f64();
    let (p50_ms, p99_ms) = (percentile_ms(&all.latencies_ns, 0.50), percentile_ms(&all.latencies_ns, 0.99));
    Outcome { rps, p50_ms, p99_ms, ok: all.ok, errors: all.errors, first_error: all.first_error }
}

/// Nearest-rank percentile of sorted nanoseconds, in milliseconds.
fn percentile_ms(sorted_ns: &[u64], p: f64) -> f64 {
    if sorted_ns.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted_ns.len() as f64).ceil() as usize).clamp(1, sorted_ns.len());
    sorted_ns[rank - 1] as f64 / 1e6
}

fn drive_thread(target: &Target, connections: usize, window: Window) -> anyhow::Result<Tally> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let target = target.clone();
                tokio::spawn(async move { drive_connection(&target, window).await })
            })
            .collect();
        let mut tally = Tally::default();
        for task in tasks {
            tally.merge(task.await?);
        }
        anyhow::Ok(tally)
    })
}

/// One keep-alive connection in a closed loop until the window ends. A
/// failed exchange counts as an error and the next one reconnects.
async fn drive_connection(target: &Target, window: Window) -> Tally {
    let mut tally = Tally::default();
    let host = HeaderValue::from_str(&target.addr.to_string()).unwrap_or(HeaderValue::from_static("127.0.0.1"));
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    while Instant::now() < window.until {
        let conn = match sender.as_mut() {
            Some(conn) => conn,
            None => match connect(target.addr).await {
                Ok(conn) => sender.insert(conn),
                Err(e) => {
                    tally.error(|| format!("connecting to {}: {e}", target.addr));
                    // A refused port would otherwise spin a core.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let mut request = Request::get(target.path.as_str()).header(HOST, host.clone());
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        let request = match request.body(Empty::new()) {
            Ok(request) => request,
            Err(e) => {
                tally.error(|| format!("building the request: {e}"));
                return tally;
            }
        };
        let sent = Instant::now();
        match exchange(conn, request).await {
            Ok((status, keep_alive)) => {
                let done = Instant::now();
                if !status.is_success() {
                    tally.error(|| format!("GET {} answered {status}", target.path));
                } else {
                    tally.ok += 1;
                    if done >= window.measure_from && done <= window.until {
                        tally.latencies_ns.push((done - sent).as_nanos() as u64);
                    }
                }
                if !keep_alive {
                    sender = None;
                }
            }
            Err(e) => {
                tally.error(|| format!("GET {}: {e}", target.path));
                sender = None;
            }
        }
    }
    tally
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Its error, if any, surfaces through the next `send_request`.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer; returns its status and
/// whether the connection stays open.
async fn exchange(
    conn: &mut SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
) -> anyhow::Result<(StatusCode, bool)> {
    conn.ready().await?;
    let response = conn.send_request(request).await?;
    let status = response.status();
    let closing = response.headers().get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    response.into_body().collect().await?;
    Ok((status, !closing))
}
