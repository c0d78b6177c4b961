//! Workflow Permissions: whether a user may have a workflow, decided on the
//! user's id and metadata alone by the workflow's `permissions` condition.
//! A user who does not meet it does not see the workflow, cannot enable
//! it, and it neither starts nor runs for them; a user who stops meeting
//! it (new metadata, a new version) has it turned off.

use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::definition::Workflow;
use crate::template::Context;

/// The user a permission is decided for.
struct UserOnly<'a> {
    id: &'a str,
    meta: Value,
}

impl Context for UserOnly<'_> {
    fn output(&self, _step: &str) -> Option<&Value> {
        None
    }

    fn setting(&self, _key: &str) -> Option<&Value> {
        None
    }

    fn user_id(&self) -> Option<&str> {
        Some(self.id)
    }

    fn user_meta(&self) -> Option<&Value> {
        Some(&self.meta)
    }

    fn secret(&self, _name: &str) -> Option<&SecretString> {
        None
    }
}

/// Whether `workflow` is the user's to have: no permissions, or the user's
/// id and metadata meet them. A condition that cannot be evaluated (a
/// value of the wrong type) is not met.
pub fn permits(workflow: &Workflow, user: &str, metadata: &Map<String, Value>) -> bool {
    let Some(condition) = &workflow.permissions else { return true };
    let cx = UserOnly { id: user, meta: Value::Object(metadata.clone()) };
    condition.evaluate(&cx).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workflow(permissions: Value) -> Workflow {
        serde_json::from_value(json!({
            "name": "W",
            "permissions": permissions,
            "trigger": {"type": "appEvent", "event": "E"},
            "steps": [{"id": "d", "type": "delay", "value": 1}]
        }))
        .unwrap()
    }

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn users_meet_the_condition_on_their_metadata() {
        let w = workflow(json!({"or": [
            {"and": [{"left": "{{user.meta.plan}}", "operator": "stringExactlyMatches", "right": "enterprise"}]},
            {"and": [{"left": "{{user.userId}}", "operator": "stringExactlyMatches", "right": "vip"}]}
        ]}));
        assert!(permits(&w, "u1", &meta(json!({"plan": "enterprise"}))));
        assert!(!permits(&w, "u1", &meta(json!({"plan": "free"}))));
        assert!(!permits(&w, "u1", &Map::new()), "no metadata, no permission");
        assert!(permits(&w, "vip", &Map::new()));
        let open = serde_json::from_value::<Workflow>(json!({
            "name": "W", "trigger": {"type": "appEvent", "event": "E"},
            "steps": [{"id": "d", "type": "delay", "value": 1}]
        }))
        .unwrap();
        assert!(permits(&open, "anyone", &Map::new()), "no permissions: everyone");
    }
}
