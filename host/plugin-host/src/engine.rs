//! The wasmtime engine, its epoch ticker and the linkers of both worlds.

use crate::bindings::{integration, js, step};
use crate::call_state::CallState;
use crate::config::{EPOCH_TICK, HostConfig};
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Builds the engine: pooling allocator sized for `max_concurrent_calls`,
/// epoch interruption, stack and memory caps.
pub(crate) fn build_engine(config: &HostConfig) -> wasmtime::Result<Engine> {
    let mut c = Config::new();
    c.epoch_interruption(true);
    c.max_wasm_stack(config.max_wasm_stack_bytes);
    c.async_stack_size(config.max_wasm_stack_bytes + (1 << 20));
    // Plugins use synchronous WIT functions only; skipping the concurrent
    // machinery makes each call measurably cheaper.
    c.concurrency_support(false);
    let n = config.max_concurrent_calls;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n)
        .total_core_instances(8 * n)
        .total_memories(2 * n)
        .total_tables(4 * n)
        .total_stacks(n)
        .max_memory_size(config.max_memory_bytes.max(config.js_max_memory_bytes).max(1 << 20))
        .max_core_instances_per_component(20)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .table_elements(20_000)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
/// Without it no call could ever be interrupted, so failing to start it is fatal.
pub(crate) fn spawn_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new().name("weft-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    })?;
    Ok(())
}

struct Io;
impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// The WASI a Rust guest needs to start: io, clocks, random, cli (stdio
/// discarded, no env, no args). No filesystem, sockets or `wasi:http`.
fn add_minimal_wasi(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::WasiView as _;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::p2::bindings::{cli, clocks, io, random};
    use wasmtime_wasi::random::WasiRandom;
    io::error::add_to_linker::<_, Io>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<_, Io>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<_, Io>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, |t| t.clocks())?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, |t| t.clocks())?;
    random::random::add_to_linker::<_, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<_, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::environment::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, |t| t.cli())?;
    Ok(())
}

/// Linker of the `integration` world.
pub(crate) fn integration_linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut l = Linker::new(engine);
    add_minimal_wasi(&mut l)?;
    integration::Integration::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    Ok(l)
}

/// Linker of the `function-step` world: logging only.
pub(crate) fn step_linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut l = Linker::new(engine);
    add_minimal_wasi(&mut l)?;
    step::FunctionStep::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    Ok(l)
}

/// Linker of the `js-function` world: `http` only (for `libraries.fetch`).
pub(crate) fn js_linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut l = Linker::new(engine);
    add_minimal_wasi(&mut l)?;
    js::JsFunction::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::Component;

    /// Install-time inspection refuses these imports first; the linkers must
    /// not provide them either, so a gap in that allow-list still cannot hand
    /// a plugin a socket, a file or a raw HTTP client.
    #[test]
    fn linkers_provide_no_sockets_filesystem_or_wasi_http() {
        let engine = build_engine(&HostConfig { max_concurrent_calls: 1, ..HostConfig::default() }).unwrap();
        let linkers = [
            ("integration", integration_linker(&engine).unwrap()),
            ("step", step_linker(&engine).unwrap()),
            ("js", js_linker(&engine).unwrap()),
        ];
        let imports = [
            ("wasi:sockets/instance-network@0.2.0", "instance-network"),
            ("wasi:sockets/tcp-create-socket@0.2.0", "create-tcp-socket"),
            ("wasi:sockets/ip-name-lookup@0.2.0", "resolve-addresses"),
            ("wasi:filesystem/preopens@0.2.0", "get-directories"),
            ("wasi:http/outgoing-handler@0.2.0", "handle"),
        ];
        for (import, func) in imports {
            let wat = format!(r#"(component (import "{import}" (instance (export "{func}" (func)))))"#);
            let component = Component::new(&engine, &wat).unwrap();
            for (world, linker) in &linkers {
                let err = linker.instantiate_pre(&component).err().unwrap_or_else(|| panic!("{world} links {import}"));
                // "Missing", not a type mismatch: the fixture's signatures are
                // not the real ones, so a linked interface fails differently.
                let msg = format!("{err:#}");
                assert!(msg.contains(import) && msg.contains("implementation is missing"), "{world}: {msg}");
            }
        }
    }
}
