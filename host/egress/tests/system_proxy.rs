//! C4-64: the egress client ignores `HTTP_PROXY`, `HTTPS_PROXY` and
//! `ALL_PROXY`. This file is its own test process, so setting the
//! variables here affects no other test.

mod common;

use common::counting_listener;

use std::sync::atomic::Ordering;
use weft_egress::{Egress, EgressClient, EgressConfig, EgressPolicy, OutboundRequest};

#[tokio::test]
async fn system_proxy_variables_are_ignored() {
    let (sink_port, sink) = counting_listener("127.0.0.1").await;
    let (port, provider) = counting_listener("127.0.0.2").await;
    let sink_url = format!("http://127.0.0.1:{sink_port}");
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        // SAFETY: this test binary has this one test; nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var(var, &sink_url) };
    }
    let policy = EgressPolicy { allow_loopback: true, ..Default::default() };
    let client = EgressClient::new(EgressConfig { policy, ..Default::default() }).unwrap();
    let resp = client.send(OutboundRequest::get(format!("http://127.0.0.2:{port}/").parse().unwrap())).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(provider.load(Ordering::SeqCst), 1);
    assert_eq!(sink.load(Ordering::SeqCst), 0, "the request went through the system proxy");
}
