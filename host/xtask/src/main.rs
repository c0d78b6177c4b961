//! `cargo xtask run|test|plugins|bench`: the project's entry points.

mod plugins;

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run            build the plugins and start `weft serve` on ./weft-data (127.0.0.1:8080)
  test           install the wasm target, build the plugins, run every test
  plugins        build every plugin in plugins/ for wasm32-wasip2
  bench [name]   run benchmarks (all, or one of: plugin-call, proxy), writing target/bench/<name>.json";

const BENCHES: &[&str] = &["plugin-call", "proxy"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("plugins") => build_plugins(&root).map(|_| ()),
        Some("bench") => bench(&root, args.get(1).map(String::as_str)),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    // host/xtask -> repository root
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).map(Path::to_path_buf).unwrap_or_default()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn status(cmd: &mut Command) -> anyhow::Result<()> {
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed: {st}");
    }
    Ok(())
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    status(Command::new("rustup").args(["target", "add", plugins::WASM_TARGET]))
        .context("installing the wasm32-wasip2 target with rustup")
}

fn build_plugins(root: &Path) -> anyhow::Result<Vec<(plugins::PluginCrate, PathBuf)>> {
    eprintln!("building plugins for {} ...", plugins::WASM_TARGET);
    let built = plugins::build_plugins(root).map_err(anyhow::Error::msg)?;
    for (c, path) in &built {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!("  {:<18} {:>8} KiB  {}", c.name, size / 1024, path.display());
    }
    Ok(built)
}

fn run(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    let built = build_plugins(root)?;
    // The data directory gets exactly the bundled plugins: stale copies of
    // removed or renamed plugins would otherwise linger.
    let dir = root.join("weft-data").join("plugins");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        if entry.path().extension().is_some_and(|e| e == "wasm") {
            std::fs::remove_file(entry.path())?;
        }
    }
    for (c, path) in built.iter().filter(|(c, _)| c.bundled) {
        std::fs::copy(path, dir.join(format!("{}.wasm", c.ident())))?;
    }
    status(
        cargo()
            .current_dir(root)
            .args(["run", "--quiet", "-p", "weft-server", "--bin", "weft", "--", "serve"])
            .args(extra),
    )
}

/// Crates that must not depend on others (ARCHITECTURE.md): the credential
/// path reaches plugins only through traits, the plugin host never holds
/// storage or keys, and the provider model sits at the bottom.
const FORBIDDEN_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("weft-credentials", &["weft-plugin-host", "wasmtime"]),
    ("weft-proxy", &["weft-plugin-host", "wasmtime"]),
    ("weft-plugin-host", &["weft-credentials", "weft-store", "weft-vault", "sqlx"]),
    ("weft-catalog", &["weft-credentials", "weft-plugin-host", "weft-store", "weft-vault", "wasmtime", "sqlx"]),
];

/// Fails when a crate's normal dependency tree holds a crate it must not.
fn check_layering(root: &Path) -> anyhow::Result<()> {
    for (krate, forbidden) in FORBIDDEN_DEPENDENCIES {
        let out = cargo()
            .current_dir(root)
            .args(["tree", "--locked", "-e", "normal", "--prefix", "none", "-p", krate])
            .output()
            .with_context(|| format!("running cargo tree -p {krate}"))?;
        if !out.status.success() {
            bail!("cargo tree -p {krate} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        for name in *forbidden {
            if tree.lines().any(|l| l.split_whitespace().next() == Some(name)) {
                bail!("{krate} depends on {name}; see ARCHITECTURE.md for the allowed directions");
            }
        }
    }
    eprintln!("layering: {} crates checked", FORBIDDEN_DEPENDENCIES.len());
    Ok(())
}

fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    check_layering(root)?;
    ensure_wasm_target()?;
    build_plugins(root)?;
    // End-to-end tests start the real `weft` binary; `cargo test` builds a
    // package's binaries only for that package's own tests.
    status(cargo().current_dir(root).args(["build", "--locked", "-p", "weft-server", "--bin", "weft"]))?;
    status(cargo().current_dir(root).args(["test", "--workspace", "--locked"]).args(extra))
}

fn bench(root: &Path, which: Option<&str>) -> anyhow::Result<()> {
    let selected: Vec<&str> = match which {
        None => BENCHES.to_vec(),
        Some(name) if BENCHES.contains(&name) => vec![name],
        Some(name) => bail!("unknown benchmark {name:?}; known: {}", BENCHES.join(", ")),
    };
    ensure_wasm_target()?;
    build_plugins(root)?;
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir)?;
    for name in selected {
        status(
            cargo()
                .current_dir(root)
                .args(["run", "--release", "--locked", "-p", "weft-tests", "--bin", "bench", "--"])
                .arg(name)
                .arg(out_dir.join(format!("{name}.json"))),
        )?;
    }
    Ok(())
}
