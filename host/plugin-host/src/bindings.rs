//! Host bindings of the `weft:plugin@0.1.0` worlds.
//!
//! One `bindgen!` module per world; the step world reuses the integration
//! world's shared interfaces so a single `logging` implementation serves both.
//! A future breaking API version gets its own module beside these (see
//! DESIGN.md, "Versioning"), converted into the domain types of `types.rs`.

pub(crate) mod integration {
    wasmtime::component::bindgen!({
        world: "integration",
        path: "../../wit",
        imports: {
            // Cheap and non-blocking, so synchronous.
            "weft:plugin/logging.log": trappable,
            "weft:plugin/secrets.get": async | trappable,
            default: async | trappable,
        },
        exports: { default: async },
    });
}

pub(crate) mod step {
    wasmtime::component::bindgen!({
        world: "function-step",
        path: "../../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "weft:plugin/types": crate::bindings::integration::weft::plugin::types,
            "weft:plugin/logging": crate::bindings::integration::weft::plugin::logging,
        },
    });
}

pub(crate) mod js {
    wasmtime::component::bindgen!({
        world: "js-function",
        path: "../../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "weft:plugin/types": crate::bindings::integration::weft::plugin::types,
            "weft:plugin/http": crate::bindings::integration::weft::plugin::http,
        },
    });
}

/// World `integration-fields` (`wit/fields.wit`): an integration that also
/// exports `fields`. Only that export is called through these bindings; the
/// integration's own exports keep going through [`integration`], and the
/// imports are the integration world's, so its linker serves both.
pub(crate) mod fields {
    wasmtime::component::bindgen!({
        world: "integration-fields",
        path: "../../wit",
        // Every import comes from the integration world (`with` below).
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "weft:plugin/types": crate::bindings::integration::weft::plugin::types,
            "weft:plugin/http": crate::bindings::integration::weft::plugin::http,
            "weft:plugin/logging": crate::bindings::integration::weft::plugin::logging,
            "weft:plugin/state": crate::bindings::integration::weft::plugin::state,
            "weft:plugin/secrets": crate::bindings::integration::weft::plugin::secrets,
            "weft:plugin/webhook-crypto": crate::bindings::integration::weft::plugin::webhook_crypto,
        },
    });
}

pub(crate) use integration::exports::weft::plugin as exports;
pub(crate) use integration::weft::plugin::{http, logging, secrets, state, types, webhook_crypto};

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// SHA-256 of `wit/{types,host,plugin,step}.wit` as published in 0.1.0.
    /// (`wit/js.wit` and `wit/fields.wit` came later, beside them: each adds
    /// an export interface and a world, and imports nothing new.)
    const PUBLISHED_0_1_0: &str = "c642994c2ff6cd2fc7d822b242185a73793fbfc27d68ba065b394d35c96d522a";

    #[test]
    fn published_wit_is_immutable() {
        let mut h = Sha256::new();
        for text in [
            include_str!("../../../wit/types.wit"),
            include_str!("../../../wit/host.wit"),
            include_str!("../../../wit/plugin.wit"),
            include_str!("../../../wit/step.wit"),
        ] {
            h.update(text.as_bytes());
        }
        assert_eq!(
            hex::encode(h.finalize()),
            PUBLISHED_0_1_0,
            "wit/ changed, but weft:plugin@0.1.0 is published and immutable: add new host imports or \
             export interfaces in a new patch version (see DESIGN.md, Versioning) and update this snapshot \
             in the same reviewed change"
        );
    }
}
