//! Reading a component before trusting it: the API version it was built
//! against, the world it implements and what it imports.

use crate::error::InstallError;
use crate::types::World;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Name of the custom section the guest SDK embeds its API version in.
pub const API_VERSION_SECTION: &str = "weft:api-version";

/// The plugin API this host serves (the WIT package version).
pub const HOST_API_VERSION: &str = "0.1.0";

/// Import namespaces a plugin may use; everything else (filesystem, sockets,
/// `wasi:http`, unknown packages) is refused at install.
const ALLOWED_IMPORTS: &[&str] = &["wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:cli/", "weft:plugin/"];

/// What inspection found.
#[derive(Debug)]
pub(crate) struct Inspection {
    pub world: World,
    pub api_version: String,
    pub capabilities: Vec<String>,
    /// The component exports `weft:plugin/fields` (world
    /// `integration-fields`): its actions may have per-connection fields.
    pub fields: bool,
}

/// Reads the `weft:api-version` custom section, wherever the component
/// nests the core module that carries it.
pub(crate) fn embedded_api_version(bytes: &[u8]) -> Result<Option<String>, InstallError> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| InstallError::Invalid(format!("not a WebAssembly binary: {e}")))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == API_VERSION_SECTION
        {
            let text = std::str::from_utf8(section.data())
                .map_err(|_| InstallError::Invalid("the weft:api-version section is not UTF-8".into()))?;
            return Ok(Some(text.trim().to_owned()));
        }
    }
    Ok(None)
}

/// True when a plugin built against `plugin` can run on this host: the same
/// major (and, before 1.0, the same minor) and no newer than the host.
pub(crate) fn api_version_supported(plugin: &str) -> bool {
    let (Ok(p), Ok(h)) = (semver::Version::parse(plugin), semver::Version::parse(HOST_API_VERSION)) else {
        return false;
    };
    p.major == h.major && (h.major > 0 || p.minor == h.minor) && p <= h
}

fn check_version(version: &str) -> Result<(), InstallError> {
    if api_version_supported(version) {
        Ok(())
    } else {
        Err(InstallError::UnsupportedApiVersion { plugin: version.to_owned(), host: HOST_API_VERSION.to_owned() })
    }
}

/// Checks the embedded version, the imports and the exported world.
pub(crate) fn inspect(engine: &Engine, bytes: &[u8], component: &Component) -> Result<Inspection, InstallError> {
    let embedded = embedded_api_version(bytes)?;
    if let Some(v) = &embedded {
        check_version(v)?;
    }
    let ty = component.component_type();
    let mut capabilities = Vec::new();
    for (name, _) in ty.imports(engine) {
        if !ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p)) {
            return Err(InstallError::ForbiddenImport { import: name.to_owned(), reason: forbidden_reason(name) });
        }
        if let Some(rest) = name.strip_prefix("weft:plugin/") {
            let iface = rest.split('@').next().unwrap_or(rest);
            if iface != "types" {
                capabilities.push(iface.to_owned());
            }
        }
    }
    capabilities.sort();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let find = |iface: &str| exports.iter().find(|e| e.starts_with(&format!("weft:plugin/{iface}@"))).cloned();
    let (world, export) = match (find("actions"), find("step"), find("js")) {
        (Some(e), _, _) => (World::Integration, e),
        (None, Some(e), _) => (World::FunctionStep, e),
        (None, None, Some(e)) => (World::JsFunction, e),
        (None, None, None) => {
            return Err(InstallError::Invalid(format!(
                "the component exports none of weft:plugin/actions, weft:plugin/step and weft:plugin/js (exports: {})",
                if exports.is_empty() { "none".to_owned() } else { exports.join(", ") }
            )));
        }
    };
    let world_version = export.rsplit_once('@').map(|(_, v)| v.to_owned()).unwrap_or_default();
    check_version(&world_version)?;
    let fields = world == World::Integration && find("fields").is_some();
    Ok(Inspection { world, api_version: embedded.unwrap_or(world_version), capabilities, fields })
}

fn forbidden_reason(import: &str) -> String {
    let what = if import.starts_with("wasi:filesystem/") {
        "plugins may not use the filesystem; keep data in the `state` interface"
    } else if import.starts_with("wasi:sockets/") {
        "plugins may not open sockets; use the `http` interface"
    } else if import.starts_with("wasi:http/") {
        "plugins may not use wasi:http; use weft:plugin/http so the host can apply allowed hosts and credentials"
    } else {
        "the host does not provide this interface"
    };
    what.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_compatibility() {
        assert!(api_version_supported("0.1.0"));
        assert!(!api_version_supported("0.1.1"), "newer patch may import what the host lacks");
        assert!(!api_version_supported("0.2.0"));
        assert!(!api_version_supported("9.0.0"));
        assert!(!api_version_supported("garbage"));
    }
}
