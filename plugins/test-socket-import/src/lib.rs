//! `test-socket-import`: a test plugin that opens a TCP connection, so its
//! component imports `wasi:sockets`. The host must refuse to install it; it
//! exists only to check that refusal.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::{Action, Ctx, Error, Integration, Metadata, Result};

struct TestSocketImport;

impl Integration for TestSocketImport {
    fn metadata() -> Metadata {
        Metadata::new("test-socket-import", "Test Socket Import", "0.1.0")
            .description("Imports wasi:sockets; the host must refuse it")
    }

    fn actions() -> Vec<Action> {
        vec![Action::new("CONNECT", "Open a TCP connection", connect)]
    }
}

weft_sdk::export_integration!(TestSocketImport);

#[derive(Deserialize, JsonSchema)]
struct Target {
    /// `host:port`, e.g. a loopback listener of the test.
    address: String,
}

#[derive(Serialize, JsonSchema)]
struct Connected {
    peer: String,
}

fn connect(_cx: &Ctx, input: Target) -> Result<Connected> {
    // On wasm32-wasip2 std's sockets go through wasi-libc to `wasi:sockets`.
    let stream = std::net::TcpStream::connect(&input.address)
        .map_err(|e| Error::internal(format!("connecting to {}: {e}", input.address)))?;
    let peer = stream.peer_addr().map_err(|e| Error::internal(format!("peer address: {e}")))?;
    Ok(Connected { peer: peer.to_string() })
}
