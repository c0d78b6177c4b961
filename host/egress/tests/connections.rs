//! The client's connections: kept alive and reused, replaced when the
//! server closed them, dropped when a body was left half read, and TLS
//! checked against the trusted roots.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_egress::{Egress, EgressClient, EgressConfig, EgressError, EgressPolicy, OutboundRequest};

fn loopback() -> EgressConfig {
    EgressConfig { policy: EgressPolicy { allow_loopback: true, ..Default::default() }, ..Default::default() }
}

/// A raw HTTP/1.1 server on loopback: answers every request on a connection
/// with `body`, closing the connection after `per_connection` answers.
/// Counts the connections it accepted.
async fn server(body: &'static [u8], per_connection: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                for _ in 0..per_connection {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    if socket.write_all(head.as_bytes()).await.is_err() || socket.write_all(body).await.is_err() {
                        return;
                    }
                }
                // Closed while the client may still hold it as idle.
            });
        }
    });
    (port, accepted)
}

async fn get(client: &EgressClient, url: &str) -> Result<Vec<u8>, EgressError> {
    Ok(client.send(OutboundRequest::get(url.parse().unwrap())).await?.body.to_vec())
}

#[tokio::test]
async fn sequential_requests_share_one_connection() {
    let (port, accepted) = server(b"hello", 1000).await;
    let client = EgressClient::new(loopback()).unwrap();
    for _ in 0..20 {
        assert_eq!(get(&client, &format!("http://127.0.0.1:{port}/")).await.unwrap(), b"hello");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one kept-alive connection for 20 requests");
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced() {
    // One answer per connection, then the server closes it silently.
    let (port, accepted) = server(b"once", 1).await;
    let client = EgressClient::new(loopback()).unwrap();
    for i in 0..5 {
        let got = get(&client, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(got.unwrap(), b"once", "request {i}");
        if i % 2 == 0 {
            // Sometimes the close is seen before the next request, sometimes not.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_body_left_half_read_does_not_poison_the_pool() {
    static BIG: [u8; 256 * 1024] = [b'x'; 256 * 1024];
    let (port, accepted) = server(&BIG, 1000).await;
    let client = EgressClient::new(loopback()).unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let mut resp = client.send_streaming(OutboundRequest::get(url.parse().unwrap())).await.unwrap();
    use futures::StreamExt;
    let first = resp.body.next().await.unwrap().unwrap();
    assert!(!first.is_empty() && first.len() < BIG.len());
    drop(resp);
    // The next request gets the whole body, on another connection.
    assert_eq!(get(&client, &url).await.unwrap().len(), BIG.len());
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// A TLS server for `localhost` with a self-signed certificate; answers
/// one request per connection. Returns its port and certificate (PEM).
async fn tls_server() -> (u16, String) {
    use tokio_rustls::rustls;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let pem = cert.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn tls_is_verified_against_the_trusted_roots() {
    let (port, pem) = tls_server().await;
    let url = format!("https://localhost:{port}/");
    let untrusting = EgressClient::new(loopback()).unwrap();
    let err = get(&untrusting, &url).await.unwrap_err();
    assert!(matches!(&err, EgressError::Connection(m) if m.contains("certificate")), "{err:?}");
    // As an operator gives it: a PEM file.
    let roots = weft_egress::certificates_from_pem(pem.as_bytes()).unwrap();
    assert!(weft_egress::certificates_from_pem(b"not pem").is_err());
    let trusting = EgressClient::new(EgressConfig { extra_roots: roots, ..loopback() }).unwrap();
    assert_eq!(get(&trusting, &url).await.unwrap(), b"secret");
}
