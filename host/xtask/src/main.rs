//! `cargo xtask run|test|plugins|bench`: the project's entry points.

mod plugins;
mod sweep;

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run            build the plugins and start `weft serve` on ./weft-data (127.0.0.1:8080)
  test           install the wasm target, build the plugins, run every test (the browser suite last)
  browser [ARGS] build `weft` and run the browser SDK suite in tests/browser; ARGS go to
                 `node --test` (a case file, --test-name-pattern=...)
  plugins        build every plugin in plugins/ for wasm32-wasip2
  bench [name [ARGS]]
                 run benchmarks (all, or one of: plugin-call, proxy, queue, actions, js-function, parked),
                 writing target/bench/<name>.json; ARGS go to that one (`bench parked --executions 500`)
  fuzz NAME [--seconds N | --merge]
                 build fuzz/ and run one coverage-guided target (user_token, proxy_target,
                 egress_policy, provider_definition) for N seconds (default 60); --merge
                 adds the scratch inputs that reach new code to the kept corpus fuzz/corpus/NAME";

const BENCHES: &[&str] = &["plugin-call", "proxy", "queue", "actions", "js-function", "parked"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("browser") => browser(&root, &args[1..]),
        Some("plugins") => build_plugins(&root).map(|_| ()),
        Some("bench") => bench(&root, args.get(1).map(String::as_str), args.get(2..).unwrap_or_default()),
        Some("fuzz") => fuzz(&root, &args[1..]),
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
            .args(["run", "--quiet", "-p", "weft-server", "--bin", "weft", "--", "serve", "--demo"])
            .args(extra),
    )
}

/// Crates that must not depend on others (ARCHITECTURE.md): the credential
/// path reaches plugins only through traits, the plugin host never holds
/// storage or keys, the provider model sits at the bottom, and event
/// delivery knows only the store and the egress client.
const FORBIDDEN_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("weft-credentials", &["weft-plugin-host", "wasmtime"]),
    ("weft-proxy", &["weft-plugin-host", "wasmtime"]),
    ("weft-plugin-host", &["weft-credentials", "weft-store", "weft-vault", "sqlx"]),
    ("weft-catalog", &["weft-credentials", "weft-plugin-host", "weft-store", "weft-vault", "wasmtime", "sqlx"]),
    ("weft-engine", &["weft-plugin-host", "wasmtime"]),
    // Event destinations sit beside the engine: the queue and the credential
    // service write events to the store, never through this crate.
    ("weft-events", &["weft-api", "weft-engine", "weft-credentials", "weft-plugin-host", "wasmtime"]),
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
    build_weft(root)?;
    // The tests leave their canaries, logs and data directories here for
    // the sweep; kept when the sweep finds something, to look at.
    let sweep_dir = std::env::temp_dir().join(format!("weft-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&sweep_dir);
    std::fs::create_dir_all(&sweep_dir).with_context(|| format!("creating {}", sweep_dir.display()))?;
    let tested = status(
        cargo()
            .current_dir(root)
            .args(["test", "--workspace", "--locked"])
            .args(extra)
            .env("WEFT_SWEEP_DIR", &sweep_dir),
    );
    if let Err(e) = tested.and_then(|()| sweep::check(&sweep_dir, extra.is_empty())) {
        eprintln!("the sweep directory is kept: {}", sweep_dir.display());
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&sweep_dir);
    browser_suite(root, &[])
}

fn build_weft(root: &Path) -> anyhow::Result<()> {
    status(cargo().current_dir(root).args(["build", "--locked", "-p", "weft-server", "--bin", "weft"]))
}

fn browser(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    build_weft(root)?;
    browser_suite(root, extra)
}

/// The browser SDK suite (`tests/browser`, README there): the reference's
/// SDK from npm in headless Chromium against the `weft` just built. Its npm
/// packages are installed from the lockfile when missing or when the lock
/// changed since.
fn browser_suite(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    let dir = root.join("tests").join("browser");
    let lock = std::fs::read(dir.join("package-lock.json")).context("reading tests/browser/package-lock.json")?;
    let stamp = dir.join("node_modules").join(".weft-installed-lock");
    if std::fs::read(&stamp).ok().as_deref() != Some(lock.as_slice()) {
        status(Command::new("npm").current_dir(&dir).args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]))
            .context("installing the browser suite's packages (npm ci)")?;
        std::fs::write(&stamp, &lock).with_context(|| format!("writing {}", stamp.display()))?;
    }
    let bin = plugins::target_dir(root).join("debug").join(format!("weft{}", std::env::consts::EXE_SUFFIX));
    let bin = std::path::absolute(&bin).context("resolving the weft binary's path")?;
    // Every case file, unless the arguments name some.
    let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
    if args.iter().all(|a| a.starts_with('-')) {
        args.push("cases/");
    }
    eprintln!("browser suite: weft {}", bin.display());
    status(
        Command::new("node")
            .current_dir(&dir)
            .env("WEFT_BIN", &bin)
            .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
            .args(args),
    )
    .context("the browser suite failed (screenshots and console logs in tests/browser/artifacts)")
}

/// The fuzz targets of `fuzz/` (each a binary and a corpus folder).
const FUZZ_TARGETS: &[&str] = &["user_token", "proxy_target", "egress_policy", "provider_definition"];

/// Sanitizer coverage for libFuzzer with the stable toolchain (what
/// `cargo fuzz --sanitizer none` passes), plus the checks a debug build has.
const FUZZ_RUSTFLAGS: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
     -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
     -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

/// The host's target triple: building for it explicitly keeps the coverage
/// flags off build scripts and proc macros.
fn host_triple() -> anyhow::Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")
}

fn fuzz(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let Some(name) = args.first().filter(|n| FUZZ_TARGETS.contains(&n.as_str())) else {
        bail!("usage: cargo xtask fuzz NAME [--seconds N | --merge]; targets: {}", FUZZ_TARGETS.join(", "));
    };
    let (seconds, merge): (u64, bool) = match args.get(1).map(String::as_str) {
        None => (60, false),
        Some("--seconds") => (args.get(2).context("--seconds needs a number")?.parse().context("--seconds N")?, false),
        Some("--merge") => (0, true),
        Some(other) => bail!("unknown option {other:?}"),
    };
    let triple = host_triple()?;
    let target_dir = plugins::target_dir(root).join("fuzz");
    status(
        cargo()
            .current_dir(root.join("fuzz"))
            .env("RUSTFLAGS", FUZZ_RUSTFLAGS.split_whitespace().collect::<Vec<_>>().join(" "))
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["build", "--release", "--target", &triple, "--bin", name]),
    )?;
    // New inputs go to a scratch corpus; the repository keeps the seeds and
    // the interesting finds merged in with `--merge` (replayed by the tests).
    let scratch = target_dir.join("corpus").join(name);
    let artifacts = target_dir.join("artifacts").join(name);
    std::fs::create_dir_all(&scratch)?;
    std::fs::create_dir_all(&artifacts)?;
    let binary = target_dir.join(&triple).join("release").join(name);
    let kept = root.join("fuzz").join("corpus").join(name);
    if merge {
        // libFuzzer's set-cover merge on edge coverage alone: of the
        // scratch inputs, a small set that reaches every edge the kept
        // corpus does not is copied into it. (With comparison and counter
        // features too, thousands of inputs qualify: too many to keep in
        // the repository.) Review and commit what it adds.
        let before = std::fs::read_dir(&kept)?.count();
        status(
            Command::new(&binary)
                .args(["-set_cover_merge=1", "-use_cmp=0", "-use_counters=0"])
                .arg(&kept)
                .arg(&scratch),
        )?;
        let after = std::fs::read_dir(&kept)?.count();
        eprintln!("{name}: {} inputs added to {} (now {after})", after - before, kept.display());
        return Ok(());
    }
    eprintln!(
        "fuzzing {name} for {seconds} s (new inputs in {}, crashes in {})",
        scratch.display(),
        artifacts.display()
    );
    status(
        Command::new(&binary)
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&scratch)
            .arg(&kept),
    )
}

/// Runs every benchmark, or the one named with `extra` as its arguments.
fn bench(root: &Path, which: Option<&str>, extra: &[String]) -> anyhow::Result<()> {
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
                .arg(out_dir.join(format!("{name}.json")))
                .args(extra),
        )?;
    }
    Ok(())
}
