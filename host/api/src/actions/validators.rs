//! Compiled input-schema validators, kept by schema.
//!
//! What it buys: compiling a JSON Schema (which also checks it against its
//! draft's meta-schema) costs more than checking a run's parameters with
//! the compiled validator, and every ActionKit run, MCP call and trigger
//! configuration used to compile its schema afresh. Schemas are few (one
//! per action, plus one per account for actions with per-account fields),
//! so each compiled validator is kept, keyed by the schema's JSON text:
//! equal text, same validator, never a stale one. Measured by `cargo xtask
//! bench actions` (`run_overhead_p50_ms`). The map is bounded: past
//! [`MAX_KEPT`] schemas it starts over, which costs compiles, not
//! correctness.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// Schemas kept at most before the map starts over.
const MAX_KEPT: usize = 4096;

static KEPT: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The compiled validator of `schema`; `None` when it does not compile
/// (such a schema checks nothing, as before).
pub(crate) fn validator(schema: &Value) -> Option<Arc<jsonschema::Validator>> {
    let key = schema.to_string();
    if let Some(v) = KEPT.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Some(v.clone());
    }
    let compiled = Arc::new(jsonschema::validator_for(schema).ok()?);
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() >= MAX_KEPT {
        kept.clear();
    }
    kept.insert(key, compiled.clone());
    Some(compiled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_schemas_share_a_validator_and_different_ones_do_not() {
        let a = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        let first = validator(&a).unwrap();
        assert!(Arc::ptr_eq(&first, &validator(&a.clone()).unwrap()));
        assert!(first.is_valid(&json!({"n": 1})) && !first.is_valid(&json!({"n": "x"})));
        let b = json!({"type": "object", "properties": {"n": {"type": "string"}}});
        let second = validator(&b).unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(second.is_valid(&json!({"n": "x"})));
        assert!(validator(&json!({"type": 7})).is_none(), "a schema that does not compile");
    }
}
