//! The export macros and the API version they embed.

/// The version of the `weft:plugin` WIT package this SDK implements.
///
/// The export macros embed it in every plugin as the custom section
/// `weft:api-version`, so the host can report what a component was built
/// against before instantiating it.
///
/// ```no_run
/// weft_sdk::info!("built against weft:plugin"; version = weft_sdk::API_VERSION);
/// ```
pub const API_VERSION: &str = "0.1.0";

/// Copies `version` into an array; the export macros size the array with
/// `version.len()`, so the section holds exactly the UTF-8 text.
#[doc(hidden)]
pub const fn version_bytes<const N: usize>(version: &str) -> [u8; N] {
    let bytes = version.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Emits the `weft:api-version` custom section in the calling crate.
///
/// It must expand in the plugin crate rather than live in the SDK: a
/// `#[used]` static of the final crate is always linked, whatever the linker
/// decides about the SDK's objects.
#[doc(hidden)]
#[macro_export]
macro_rules! __api_version_section {
    ($version:expr) => {
        const _: () = {
            const VERSION: &str = $version;
            #[cfg_attr(target_arch = "wasm32", unsafe(link_section = "weft:api-version"))]
            #[used]
            static WEFT_API_VERSION: [u8; VERSION.len()] = $crate::__version_bytes(VERSION);
        };
    };
}

/// Exports a type implementing [`Integration`](crate::Integration) as the
/// plugin's `integration` world. Invoke it once, in the plugin's `lib.rs`.
///
/// ```no_run
/// struct Echo;
/// impl weft_sdk::Integration for Echo {
///     fn metadata() -> weft_sdk::Metadata {
///         weft_sdk::Metadata::new("echo", "Echo", "0.1.0")
///     }
/// }
/// weft_sdk::export_integration!(Echo);
/// ```
///
/// An integration with actions marked
/// [`dynamic_fields`](crate::Action::dynamic_fields) also exports the
/// `fields` interface (world `integration-fields`), which answers
/// [`Integration::fields`](crate::Integration::fields):
/// `export_integration!(Echo, fields)`.
///
/// For host tests only, `export_integration!(Echo, api_version = "9.0.0")`
/// embeds another API version than [`API_VERSION`](crate::API_VERSION), to
/// check that the host refuses it. Never use it in a real plugin.
#[macro_export]
macro_rules! export_integration {
    (@export $t:ty, $version:expr) => {
        const _: () = {
            type WeftIntegrationAdapter = $crate::__IntegrationAdapter<$t>;
            $crate::bindings::integration::__export_integration_world!(
                WeftIntegrationAdapter with_types_in $crate::bindings::integration
            );
        };
        $crate::__api_version_section!($version);
    };
    ($t:ty, api_version = $version:literal $(,)?) => {
        $crate::export_integration!(@export $t, $version);
    };
    ($t:ty, fields $(,)?) => {
        $crate::export_integration!(@export $t, $crate::API_VERSION);
        const _: () = {
            type WeftFieldsAdapter = $crate::__IntegrationAdapter<$t>;
            $crate::bindings::fields::__export_fields_world!(WeftFieldsAdapter with_types_in $crate::bindings::fields);
        };
    };
    ($t:ty $(,)?) => {
        $crate::export_integration!(@export $t, $crate::API_VERSION);
    };
}

/// Exports a function as the plugin's `function-step` world.
///
/// The function takes a [`StepCtx`](crate::step::StepCtx) and any
/// `Deserialize` input, and returns any `Serialize` output or a
/// [`StepError`](crate::step::StepError). Input that does not deserialize is
/// answered with `invalid-input` carrying serde's message.
///
/// ```no_run
/// use weft_sdk::step::{StepCtx, StepError};
///
/// fn upper(_cx: &StepCtx, input: String) -> Result<String, StepError> {
///     Ok(input.to_uppercase())
/// }
///
/// weft_sdk::export_function_step!(upper);
/// ```
///
/// `api_version = "…"` is accepted for host tests, as in
/// [`export_integration!`](crate::export_integration).
#[macro_export]
macro_rules! export_function_step {
    (@export $f:path, $version:expr) => {
        const _: () = {
            struct WeftStepEntry;
            impl $crate::step::StepEntry for WeftStepEntry {
                fn run(
                    input: &str,
                    cx: &$crate::step::StepCtx,
                ) -> ::core::result::Result<::std::string::String, $crate::step::StepError> {
                    $crate::step::run_typed(input, cx, $f)
                }
            }
            type WeftStepAdapter = $crate::step::StepAdapter<WeftStepEntry>;
            $crate::bindings::step::__export_step_world!(
                WeftStepAdapter with_types_in $crate::bindings::step
            );
        };
        $crate::__api_version_section!($version);
    };
    ($f:path, api_version = $version:literal $(,)?) => {
        $crate::export_function_step!(@export $f, $version);
    };
    ($f:path $(,)?) => {
        $crate::export_function_step!(@export $f, $crate::API_VERSION);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_matches_the_wit_package() {
        let wit = include_str!("../../wit/plugin.wit");
        let package = format!("package weft:plugin@{API_VERSION};");
        assert!(wit.lines().any(|l| l.trim() == package), "{package} not in plugin.wit");
    }

    #[test]
    fn version_bytes_copy_the_text() {
        const V: &str = API_VERSION;
        const BYTES: [u8; V.len()] = version_bytes(V);
        assert_eq!(&BYTES, API_VERSION.as_bytes());
    }
}
