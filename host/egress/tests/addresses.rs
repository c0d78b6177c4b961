//! C4-57, 58 and 59 against real listeners on loopback: every spelling of
//! a forbidden address is refused before connecting, names resolving to a
//! forbidden address are refused, and a rebinding name cannot move a
//! connection to an address that was not checked.

mod common;

use common::counting_listener;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use weft_egress::{Egress, EgressClient, EgressConfig, EgressError, EgressPolicy, Lookup, OutboundRequest};

/// Answers from a script: each lookup of a name takes the next answer.
struct Scripted(Mutex<Vec<Vec<IpAddr>>>);

impl Lookup for Scripted {
    fn lookup(&self, _: &str) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let mut answers = self.0.lock().unwrap();
        let next = if answers.len() > 1 { answers.remove(0) } else { answers[0].clone() };
        Box::pin(async move { Ok(next) })
    }
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

/// Only 127.0.0.2 is allowed (an exact entry, not all of loopback).
fn only_127_0_0_2(lookup: Option<Arc<dyn Lookup>>) -> EgressClient {
    let policy = EgressPolicy { allow_cidrs: vec!["127.0.0.2/32".parse().unwrap()], ..Default::default() };
    // No pooling: every request opens (and resolves) a new connection.
    EgressClient::new(EgressConfig { policy, lookup, pool_max_idle_per_host: 0, ..Default::default() }).unwrap()
}

async fn get(client: &EgressClient, url: &str) -> Result<u16, EgressError> {
    client.send(OutboundRequest::get(url.parse().unwrap())).await.map(|r| r.status)
}

#[tokio::test]
async fn every_spelling_of_a_forbidden_literal_is_refused_before_connecting() {
    let (port, accepted) = counting_listener("127.0.0.1").await;
    let (v6_port, v6_accepted) = counting_listener("::1").await;
    let client = only_127_0_0_2(None);
    for host in [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "0.0.0.0",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[fe80::1]",
    ] {
        let err = get(&client, &format!("http://{host}:{port}/")).await.unwrap_err();
        assert!(matches!(err, EgressError::Denied(_)), "{host}: {err:?}");
    }
    let err = get(&client, &format!("http://[::1]:{v6_port}/")).await.unwrap_err();
    assert!(matches!(err, EgressError::Denied(_)), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst) + v6_accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_with_any_forbidden_answer_is_refused() {
    let (port, accepted) = counting_listener("127.0.0.1").await;
    for answer in [
        ips(&["127.0.0.1"]),
        ips(&["10.66.0.1"]),
        ips(&["169.254.169.254"]),
        ips(&["127.0.0.2", "127.0.0.1"]),
        ips(&["::ffff:127.0.0.1"]),
        vec![],
    ] {
        let client = only_127_0_0_2(Some(Arc::new(Scripted(Mutex::new(vec![answer.clone()])))));
        let err = get(&client, &format!("http://evil.test:{port}/")).await.unwrap_err();
        assert!(matches!(err, EgressError::Denied(_)), "{answer:?}: {err:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rebinding_name_only_ever_connects_to_checked_addresses() {
    // Both listeners on one port number, so only the address differs.
    let (port, good) = counting_listener("127.0.0.2").await;
    let bad_listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
    let Ok(bad_listener) = bad_listener else {
        eprintln!("SKIPPED rebinding: port {port} is taken on 127.0.0.1");
        return;
    };
    let bad = Arc::new(AtomicUsize::new(0));
    let count = bad.clone();
    tokio::spawn(async move {
        while bad_listener.accept().await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let script = Scripted(Mutex::new(vec![ips(&["127.0.0.2"]), ips(&["127.0.0.1"])]));
    let client = only_127_0_0_2(Some(Arc::new(script)));
    let url = format!("http://rebind.test:{port}/");
    assert_eq!(get(&client, &url).await, Ok(200), "the first answer is allowed");
    let err = get(&client, &url).await.unwrap_err();
    assert!(matches!(err, EgressError::Denied(_)), "{err:?}");
    assert_eq!(good.load(Ordering::SeqCst), 1);
    assert_eq!(bad.load(Ordering::SeqCst), 0, "the rebound address was connected to");
}
