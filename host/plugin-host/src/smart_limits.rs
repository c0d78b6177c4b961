//! Smart Rate Limits: which of a plugin's actions a workflow step waits
//! out when the provider (or the governor, with the limits the plugin
//! declares) says the budget is spent, instead of failing.
//!
//! A plugin opts in with its metadata's `extra.smartRateLimits`: `true`
//! for every action, or `{"except": [...]}` naming the actions left out
//! (a key, or a prefix ending in `*`), for the endpoints whose limits the
//! plugin does not know (HubSpot's search has a budget of its own). A
//! plugin that says nothing keeps the plain behaviour: a rate-limited
//! action fails its step (an `autoRetry` may try it again).

use crate::types::ActionDefinition;
use serde_json::Value;

/// The metadata `extra` key of the declaration.
pub const SMART_RATE_LIMITS_KEY: &str = "smartRateLimits";

/// The keys of the actions whose rate limits pause a workflow step, read
/// from a plugin's metadata `extra` and checked against its actions.
pub(crate) fn declared(extra: &Value, actions: &[ActionDefinition]) -> Result<Vec<String>, String> {
    let key = SMART_RATE_LIMITS_KEY;
    let except: Vec<&str> = match extra.get(key) {
        None | Some(Value::Bool(false)) => return Ok(Vec::new()),
        Some(Value::Bool(true)) => Vec::new(),
        Some(Value::Object(o)) => {
            if let Some(other) = o.keys().find(|k| *k != "except") {
                return Err(format!("extra.{key} has an unknown field {other:?}; it takes only `except`"));
            }
            o.get("except")
                .map(|list| {
                    list.as_array()
                        .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
                        .ok_or_else(|| format!("extra.{key}.except must be a list of action keys or `PREFIX_*`"))
                })
                .transpose()?
                .unwrap_or_default()
        }
        Some(_) => return Err(format!("extra.{key} must be true, false or {{\"except\": [action keys]}}")),
    };
    if let Some(unmatched) = except.iter().find(|p| !actions.iter().any(|a| matches(p, &a.key))) {
        return Err(format!("extra.{key}.except names {unmatched:?}, which matches none of the plugin's actions"));
    }
    Ok(actions.iter().filter(|a| !except.iter().any(|p| matches(p, &a.key))).map(|a| a.key.clone()).collect())
}

/// Whether `pattern` (a key, or a prefix ending in `*`) names `key`.
fn matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => pattern == key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actions(keys: &[&str]) -> Vec<ActionDefinition> {
        keys.iter().map(|k| ActionDefinition::sample(k)).collect()
    }

    #[test]
    fn a_plugin_opts_in_for_all_or_all_but_some_actions() {
        let all = actions(&["CREATE_A", "SEARCH_A", "SEARCH_B"]);
        assert!(declared(&json!({}), &all).unwrap().is_empty(), "nothing said: no pauses");
        assert!(declared(&json!({"smartRateLimits": false}), &all).unwrap().is_empty());
        assert_eq!(declared(&json!({"smartRateLimits": true}), &all).unwrap(), ["CREATE_A", "SEARCH_A", "SEARCH_B"]);
        let except = json!({"smartRateLimits": {"except": ["SEARCH_*"]}});
        assert_eq!(declared(&except, &all).unwrap(), ["CREATE_A"]);
        let one = json!({"smartRateLimits": {"except": ["SEARCH_B"]}});
        assert_eq!(declared(&one, &all).unwrap(), ["CREATE_A", "SEARCH_A"]);
    }

    #[test]
    fn a_mistaken_declaration_is_refused_with_what_is_wrong() {
        let all = actions(&["CREATE_A"]);
        let refused = |extra: Value| declared(&extra, &all).unwrap_err();
        assert!(refused(json!({"smartRateLimits": {"except": ["SEARCH_*"]}})).contains("\"SEARCH_*\""));
        assert!(refused(json!({"smartRateLimits": {"except": "CREATE_A"}})).contains("must be a list"));
        assert!(refused(json!({"smartRateLimits": {"only": []}})).contains("\"only\""));
        assert!(refused(json!({"smartRateLimits": "yes"})).contains("must be true"));
    }
}
