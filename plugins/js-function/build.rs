//! Installs the npm packages of `package-lock.json` into `OUT_DIR` with
//! `npm ci` (once per lockfile change) and generates `modules.rs`, which
//! embeds the files the component loads as `libraries`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files embedded, relative to `node_modules`. A directory means every
/// `.js` file directly in it.
const FILES: &[&str] = &[
    "uuid/dist/commonjs-browser/",
    "lodash/lodash.min.js",
    "lodash/fp.js",
    "lodash/fp/_baseConvert.js",
    "lodash/fp/_mapping.js",
    "lodash/fp/placeholder.js",
    "date-fns/cdn.min.js",
    "moment/min/moment.min.js",
    "buffer/index.js",
    "base64-js/index.js",
    "ieee754/index.js",
];

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=package.json");
    println!("cargo:rerun-if-changed=package-lock.json");
    let npm_dir = out.join("npm");
    let modules = install(&crate_dir, &npm_dir).join("node_modules");
    let mut files = Vec::new();
    for entry in FILES {
        if let Some(dir) = entry.strip_suffix('/') {
            let mut js: Vec<String> = std::fs::read_dir(modules.join(dir))
                .unwrap_or_else(|e| panic!("reading node_modules/{dir}: {e}"))
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".js"))
                .map(|n| format!("{dir}/{n}"))
                .collect();
            js.sort();
            files.extend(js);
        } else {
            files.push((*entry).to_owned());
        }
    }
    let mut code = String::from(
        "/// `(module id, source)` of every embedded npm file.\npub(crate) static MODULES: &[(&str, &str)] = &[\n",
    );
    for id in &files {
        let path = modules.join(id);
        assert!(path.is_file(), "{} is missing after npm ci", path.display());
        writeln!(code, "    ({id:?}, include_str!({:?})),", path.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("modules.rs"), code).expect("writing modules.rs");
}

/// Runs `npm ci` in `dir` unless it already holds this exact lockfile's install.
fn install(crate_dir: &Path, dir: &Path) -> PathBuf {
    let lock = std::fs::read(crate_dir.join("package-lock.json")).expect("plugins/js-function/package-lock.json");
    // Written only after a successful install, so a failed one is retried.
    let installed = dir.join("installed-lock.json");
    if std::fs::read(&installed).ok().as_deref() == Some(&lock[..]) {
        return dir.to_path_buf();
    }
    std::fs::create_dir_all(dir).expect("creating the npm directory");
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(crate_dir.join(f), dir.join(f)).unwrap_or_else(|e| panic!("copying {f}: {e}"));
    }
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("running npm (Node.js 20 or later is needed to build js-function): {e}"));
    assert!(status.success(), "npm ci failed ({status}) in {}", dir.display());
    std::fs::write(&installed, &lock).expect("recording the installed lockfile");
    dir.to_path_buf()
}
