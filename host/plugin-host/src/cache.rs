//! On-disk cache of compiled components, keyed by the component's SHA-256
//! and the engine's compatibility hash, so a restart or a second process
//! skips compilation and an engine upgrade recompiles instead of loading an
//! incompatible artifact.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Hex SHA-256 of a component.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The engine part of cache keys.
pub(crate) fn engine_key(engine: &Engine) -> String {
    // DefaultHasher::new() has fixed keys: stable across runs of one build.
    let mut h = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Where the artifact of `wasm_sha` for this engine lives.
pub(crate) fn artifact_path(dir: &Path, wasm_sha: &str, engine_key: &str) -> PathBuf {
    dir.join(format!("{wasm_sha}-{engine_key}.cwasm"))
}

/// Loads the compiled component from `dir`, compiling and storing it first
/// when absent. Returns the component and whether it came from the cache.
pub(crate) fn load_or_compile(
    engine: &Engine,
    dir: &Path,
    wasm_sha: &str,
    bytes: &[u8],
) -> Result<(Component, bool), crate::InstallError> {
    let path = artifact_path(dir, wasm_sha, &engine_key(engine));
    // Read into memory rather than mmap: a file truncated under a mapping
    // would crash the process with SIGBUS; a copy can only fail to load.
    if let Ok(artifact) = std::fs::read(&path) {
        // SAFETY: the cache directory holds only artifacts this module wrote
        // from components it validated, keyed by the engine that made them;
        // wasmtime checks the header and engine compatibility before use.
        match unsafe { Component::deserialize(engine, &artifact) } {
            Ok(c) => return Ok((c, true)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "discarding unreadable cached artifact")
            }
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(|e| crate::InstallError::Invalid(format!("{e:#}")))?;
    std::fs::create_dir_all(dir)?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = dir.join(format!(".{wasm_sha}.{}.tmp", uuid::Uuid::new_v4()));
    std::fs::write(&tmp, &compiled)?;
    std::fs::rename(&tmp, &path)?;
    // SAFETY: as above; the bytes were produced by this engine just now.
    let component = unsafe { Component::deserialize(engine, &compiled) }
        .map_err(|e| crate::InstallError::Compile(format!("{e:#}")))?;
    Ok((component, false))
}
