//! Serves the Hello API mock (`weft_tests::mock_providers::hello`) for the
//! README's walkthrough: a running server's `hello` integration points its
//! base URL here. Prints each request it answers; stops with Ctrl-C.
//!
//! `hello-mock [ADDR]` (default `127.0.0.1:9090`); the accepted API key is
//! `$HELLO_API_KEY`, or `hello-demo-key`.

use anyhow::Context;
use std::net::SocketAddr;
use weft_tests::mock_providers::hello;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr: SocketAddr =
        std::env::args().nth(1).as_deref().unwrap_or("127.0.0.1:9090").parse().context("ADDR, e.g. 127.0.0.1:9090")?;
    let key = std::env::var("HELLO_API_KEY").unwrap_or_else(|_| "hello-demo-key".into());
    let mock = hello::start_on(&key, addr).await;
    mock.with(|h| h.verbose = true);
    println!("Hello API mock on {}/v1 (API key {key}); Ctrl-C stops it", mock.base);
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    Ok(())
}
