//! The published JSON Schema of a provider definition, generated from
//! [`Provider`] and kept in `host/catalog/provider.schema.json` (a test fails
//! when the two differ; `WEFT_UPDATE_SCHEMA=1 cargo test -p weft-catalog`
//! rewrites the file).

use serde_json::Value;
use std::sync::OnceLock;

use crate::provider::Provider;

/// The JSON Schema (draft 2020-12) every definition file must satisfy.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = serde_json::to_value(schemars::schema_for!(Provider)).unwrap_or(Value::Null);
        if let Some(o) = schema.as_object_mut() {
            o.insert("$id".into(), "https://weft.dev/schemas/provider.schema.json".into());
        }
        schema
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_schema_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("provider.schema.json");
        let generated = serde_json::to_string_pretty(schema()).unwrap() + "\n";
        if std::env::var_os("WEFT_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{} is out of date: run WEFT_UPDATE_SCHEMA=1 cargo test -p weft-catalog",
            path.display()
        );
    }
}
