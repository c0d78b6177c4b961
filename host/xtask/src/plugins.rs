//! Building the plugins workspace for `wasm32-wasip2`.
//!
//! Shared, through `#[path]`, by `cargo xtask` and by the tests crate's
//! `build.rs`, so both build the same artifacts into the same place. Uses
//! only `std`: a build script cannot depend on the xtask crate.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target plugins are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// One plugin crate of `plugins/`.
#[derive(Debug, Clone)]
pub struct PluginCrate {
    /// Package name, e.g. `test-echo`.
    pub name: String,
    /// Shipped by `cargo xtask run` (`[package.metadata.weft] bundled = true`).
    pub bundled: bool,
}

impl PluginCrate {
    /// The identifier form of the name, e.g. `test_echo`.
    pub fn ident(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// The Cargo target directory in force for the root workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

/// Where built components land.
pub fn artifact_dir(root: &Path) -> PathBuf {
    target_dir(root).join("wasm-plugins").join(WASM_TARGET).join("release")
}

/// Every plugin crate: each directory of `plugins/` with a `Cargo.toml`.
pub fn plugin_crates(root: &Path) -> Result<Vec<PluginCrate>, String> {
    let dir = root.join("plugins");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut crates = Vec::new();
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name")
                    .map(|r| r.trim_start_matches([' ', '=']).trim().trim_matches('"').to_owned())
            })
            .ok_or_else(|| format!("{} has no package name", manifest.display()))?;
        let bundled = text.split("[package.metadata.weft]").nth(1).is_some_and(|section| {
            section.lines().take_while(|l| !l.starts_with('[')).any(|l| l.replace(' ', "") == "bundled=true")
        });
        crates.push(PluginCrate { name, bundled });
    }
    crates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(crates)
}

/// Builds the whole plugins workspace in release mode and returns each
/// plugin with the path of its component.
pub fn build_plugins(root: &Path) -> Result<Vec<(PluginCrate, PathBuf)>, String> {
    let crates = plugin_crates(root)?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Not `--locked`: adding a plugin crate (as the README walks through)
    // must only add its entry to plugins/Cargo.lock, not fail the build.
    cmd.current_dir(root.join("plugins"))
        .args(["build", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(target_dir(root).join("wasm-plugins"));
    // A build script inherits the outer build's settings (host RUSTFLAGS,
    // profile, jobserver); none of them apply to the wasm build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let keep = key == "CARGO_HOME" || key == "CARGO_TARGET_DIR" || key == "CARGO_NET_OFFLINE";
        if (key.starts_with("CARGO_") && !keep) || key == "RUSTFLAGS" || key == "RUSTC_WRAPPER" || key == "RUSTC" {
            cmd.env_remove(&key);
        }
    }
    let status = cmd.status().map_err(|e| format!("running cargo for the plugins: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the plugins failed ({status}); is the {WASM_TARGET} target installed? `cargo xtask test` installs it"
        ));
    }
    let dir = artifact_dir(root);
    crates
        .into_iter()
        .map(|c| {
            let path = dir.join(format!("{}.wasm", c.ident()));
            if path.is_file() { Ok((c, path)) } else { Err(format!("{} was not produced", path.display())) }
        })
        .collect()
}
