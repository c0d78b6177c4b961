//! JSON Schema generation, kept out of the hot paths.
//!
//! Schemas are only built when the host lists actions or triggers, or reads
//! the metadata: all three are cached by the host per plugin version. The
//! definitions therefore hold plain `fn` pointers to these generic functions
//! rather than generated schemas, which keeps `run-action` from paying for
//! schemars on every call.

use schemars::JsonSchema;

/// The JSON Schema (2020-12) of `T`, as JSON text.
pub(crate) fn of<T: JsonSchema + ?Sized>() -> String {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>().as_value().to_string()
}

/// A lazily generated schema: a pointer to [`of`] for some `T`.
pub(crate) type SchemaFn = fn() -> String;

#[cfg(test)]
mod tests {
    use super::of;
    use crate::webhook::{Encoding, HmacAlgorithm};

    #[test]
    fn sdk_types_do_not_leak_doc_examples_into_schemas() {
        let schemas = [
            of::<crate::Empty>(),
            of::<crate::Effect>(),
            of::<crate::log::Level>(),
            of::<HmacAlgorithm>(),
            of::<Encoding>(),
        ];
        for schema in schemas {
            assert!(!schema.contains("```"), "{schema}");
        }
    }
}
