//! JSON Schema generation, kept out of the hot paths.
//!
//! Schemas are only built when the host lists actions or triggers, or reads
//! the metadata: all three are cached by the host per plugin version. The
//! definitions therefore hold plain `fn` pointers to these generic functions
//! rather than generated schemas, which keeps `run-action` from paying for
//! schemars on every call.

use schemars::JsonSchema;

/// The JSON Schema of `T`, as JSON text, in draft-07: the dialect ActionKit
/// tools declare (`"$schema": "http://json-schema.org/draft-07/schema#"`)
/// and the one agent frameworks expect of function parameters.
pub(crate) fn of<T: JsonSchema + ?Sized>() -> String {
    schemars::generate::SchemaSettings::draft07().into_generator().into_root_schema_for::<T>().as_value().to_string()
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

    #[test]
    fn schemas_are_draft_07() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Input {
            level: crate::log::Level,
        }
        let schema: serde_json::Value = serde_json::from_str(&of::<Input>()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#", "{schema}");
        assert!(schema.get("$defs").is_none(), "draft-07 keeps shared parts under `definitions`: {schema}");
    }
}
