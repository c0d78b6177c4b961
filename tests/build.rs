//! Builds the plugins (real components for the tests) and generates
//! `foreach_plugin!`, so a plugin without a test fails the build, the way
//! wasmtime's `assert_test_exists` does for its test programs.

#[path = "../host/xtask/src/plugins.rs"]
#[allow(dead_code)]
mod plugins;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    // Read at run time: a build script compiled for one checkout may be
    // reused from a shared target directory by another.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).parent().expect("tests/ has a parent").to_path_buf();
    for watched in ["plugins", "sdk-guest", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let built = match plugins::build_plugins(&root) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let mut out = String::new();
    let dir = plugins::artifact_dir(&root);
    writeln!(out, "/// Directory of the built plugin components.").unwrap();
    writeln!(out, "pub const PLUGIN_DIR: &str = {:?};", dir.display().to_string()).unwrap();
    writeln!(out, "/// Every plugin crate of `plugins/`, by identifier.").unwrap();
    writeln!(
        out,
        "pub const PLUGINS: &[&str] = &[{}];",
        built.iter().map(|(c, _)| format!("{:?}", c.ident())).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    writeln!(out, "/// Calls `$mac!(ident)` once per plugin crate.").unwrap();
    writeln!(out, "#[macro_export]\nmacro_rules! foreach_plugin {{ ($mac:ident) => {{").unwrap();
    for (c, _) in &built {
        writeln!(out, "    $mac!({});", c.ident()).unwrap();
    }
    writeln!(out, "}} }}").unwrap();
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("plugins.rs");
    std::fs::write(dest, out).expect("writing plugins.rs");
}
