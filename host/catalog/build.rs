//! Lists the shipped definitions (`providers/*.yaml`) for `src/registry.rs`:
//! adding a file is all it takes to ship a provider, and each file is
//! embedded with `include_str!`, so a missing one fails the build.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time: a build script compiled for one checkout may be
    // reused from a shared target directory by another.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("providers");
    // A directory is watched with everything in it: a new, renamed or
    // removed file reruns this script.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("host/catalog/providers is readable")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut out = String::from("/// The definitions shipped with Weft: file name and text, by file name.\n");
    out.push_str("const BUNDLED: &[(&str, &str)] = &[\n");
    for name in &names {
        let path = dir.join(name);
        writeln!(out, "    ({name:?}, include_str!({:?})),", path.display().to_string())
            .expect("a String takes writes");
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
