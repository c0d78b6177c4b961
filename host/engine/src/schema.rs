//! The published JSON Schema of a workflow definition, generated from
//! [`Workflow`] and kept in `host/engine/workflow.schema.json` (a test fails
//! when the two differ; `WEFT_UPDATE_SCHEMA=1 cargo test -p weft-engine`
//! rewrites the file).

use serde_json::Value;
use std::sync::OnceLock;

use crate::definition::Workflow;

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://weft.dev/schemas/workflow.schema.json";

/// The JSON Schema (draft 2020-12) every definition file must satisfy.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = serde_json::to_value(schemars::schema_for!(Workflow)).unwrap_or(Value::Null);
        if let Some(o) = schema.as_object_mut() {
            o.insert("$id".into(), SCHEMA_ID.into());
        }
        schema
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_schema_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflow.schema.json");
        let generated = serde_json::to_string_pretty(schema()).unwrap() + "\n";
        if std::env::var_os("WEFT_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{} is out of date: run WEFT_UPDATE_SCHEMA=1 cargo test -p weft-engine",
            path.display()
        );
    }
}
