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

pub(crate) use integration::exports::weft::plugin as exports;
pub(crate) use integration::weft::plugin::{http, logging, secrets, state, types, webhook_crypto};
