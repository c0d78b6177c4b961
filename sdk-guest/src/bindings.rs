//! The wit-bindgen output for the worlds of `weft:plugin@0.1.0` a Rust
//! plugin exports.
//!
//! Plugin authors never touch this module; the SDK's types and the export
//! macros wrap it. It is public only because the export macros expand inside
//! plugin crates and must name the generated items from there.
//!
//! Both worlds are generated in one crate on purpose. With
//! `pub_export_macro`, wit-bindgen puts only the *imports* of a world in the
//! custom section emitted here; the section that also lists the exports is
//! emitted by the export macro, inside the plugin crate. An integration
//! plugin therefore never claims to export `step`, and a step never claims to
//! export `actions`, although both link this crate.

/// World `integration`: third-party integrations.
pub mod integration {
    wit_bindgen::generate!({
        world: "integration",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_integration_world",
        default_bindings_module: "::weft_sdk::bindings::integration",
        runtime_path: "::weft_sdk::__rt",
    });
}

/// World `function-step`: workflow function steps.
pub mod step {
    wit_bindgen::generate!({
        world: "function-step",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_step_world",
        default_bindings_module: "::weft_sdk::bindings::step",
        runtime_path: "::weft_sdk::__rt",
        // One Rust type per WIT type: the step shares `types` and `logging`
        // with the integration world, so the log helpers serve both.
        with: {
            "weft:plugin/types@0.1.0": crate::bindings::integration::weft::plugin::types,
            "weft:plugin/logging@0.1.0": crate::bindings::integration::weft::plugin::logging,
        },
    });
}

/// The `fields` export alone (`wit/fields.wit`), for integrations exported
/// with `export_integration!(T, fields)`. Its world lists that one export,
/// so its export macro defines only `action-fields`, beside the integration
/// world's four interfaces; the component's world is the union of both
/// custom sections, which is `integration-fields`.
pub mod fields {
    wit_bindgen::generate!({
        inline: "
            package weft:sdk;
            world fields-export {
                export weft:plugin/fields@0.1.0;
            }
        ",
        path: "../wit",
        world: "weft:sdk/fields-export",
        pub_export_macro: true,
        export_macro_name: "__export_fields_world",
        default_bindings_module: "::weft_sdk::bindings::fields",
        runtime_path: "::weft_sdk::__rt",
        with: {
            "weft:plugin/types@0.1.0": crate::bindings::integration::weft::plugin::types,
        },
    });
}

pub(crate) use integration::exports::weft::plugin as exports;
pub(crate) use integration::weft::plugin as imports;
