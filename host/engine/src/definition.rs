//! The workflow definition: what a workflow file (JSON or YAML) says, as
//! Rust types. A workflow has a name, the integration it belongs to, one
//! trigger and its steps as nested sequences: a conditional holds a `then`
//! and an `else` sequence, a fan-out a body that runs once per item.
//!
//! Serialised in camelCase; [`crate::schema`] publishes the JSON Schema
//! generated from these types and [`crate::load`] checks files against it
//! and against what a schema cannot say.

mod settings;
mod step;
mod trigger;

pub use settings::{
    IntegrationObject, IntegrationPortal, MAX_SETTINGS, SettingKind, SettingOption, Theme, UserSetting, WorkflowPortal,
    setting_problems,
};

pub use step::{
    Authorization, BodyType, DelayUnit, FunctionStep, HttpFields, IntegrationActionStep, IntegrationPagination,
    IntegrationRequestStep, Method, Pagination, PresetPagination, RequestStep, ResourceRequestStep, ResponseStep,
    ResponseType, Step, StepKind,
};
pub use trigger::{
    BodyValidation, DataType, HeaderValidation, ParamValidation, RequestTrigger, SchedulerTrigger, Trigger, TriggerKind,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workflow {
    /// Display name.
    pub name: String,
    /// The integration type the workflow belongs to (`salesforce`,
    /// `custom.tasklab`); Integration Request and Integration Action steps
    /// act as the user's account of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    /// Workflow Permissions: the condition a user's metadata must meet for
    /// the workflow to be listed, enabled and run for them (its operands
    /// read `{{user.meta.…}}` and `{{user.userId}}` only). No condition:
    /// every user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<crate::condition::Condition>,
    /// What the workflow does, as the Connect Portal's workflow list shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the Connect Portal shows it: enabled by default, hidden,
    /// workflow-level User Settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub portal: WorkflowPortal,
    /// What starts an execution.
    pub trigger: Trigger,
    /// What runs after the trigger, in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

fn is_default(portal: &WorkflowPortal) -> bool {
    *portal == WorkflowPortal::default()
}

impl Workflow {
    /// Every step, depth first in document order (a conditional before its
    /// `then` and `else` steps, a fan-out before its body).
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        let mut stack: Vec<&Step> = self.steps.iter().rev().collect();
        std::iter::from_fn(move || {
            let step = stack.pop()?;
            for child in step.children().rev() {
                stack.push(child);
            }
            Some(step)
        })
    }

    /// The step with id `id`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.all_steps().find(|s| s.id == id)
    }

    /// Every step with its JSON pointer (`/steps/2/then/0`), depth first in
    /// document order.
    pub fn steps_at(&self) -> Vec<(String, &Step)> {
        fn walk<'w>(steps: &'w [Step], at: &str, found: &mut Vec<(String, &'w Step)>) {
            for (i, step) in steps.iter().enumerate() {
                let here = format!("{at}/{i}");
                found.push((here.clone(), step));
                match &step.kind {
                    StepKind::Conditional { then, otherwise, .. } => {
                        walk(then, &format!("{here}/then"), found);
                        walk(otherwise, &format!("{here}/else"), found);
                    }
                    StepKind::FanOut { steps, .. } => walk(steps, &format!("{here}/steps"), found),
                    _ => {}
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.steps, "/steps", &mut found);
        found
    }

    /// The JavaScript of every Function step that has some, with the JSON
    /// pointer of its `code` field (`/steps/2/then/0/code`): what a deploy
    /// has checked by the JavaScript runtime.
    pub fn function_code(&self) -> Vec<(String, &str)> {
        self.steps_at()
            .into_iter()
            .filter_map(|(at, step)| match &step.kind {
                StepKind::Function(f) => f.code.as_deref().map(|code| (format!("{at}/code"), code)),
                _ => None,
            })
            .collect()
    }
}

/// Keeps a tagged union's variants closed: serde flattens the common
/// fields (`id`, ...) beside the variant's own, which schemars renders as
/// shared `properties` next to a `oneOf`. Each variant then gets the shared
/// properties and `unevaluatedProperties: false` (not `additionalProperties`,
/// which would not see the fields of a variant given as a `$ref`), so a
/// misspelt field is reported instead of ignored.
fn close_variants(schema: &mut schemars::Schema) {
    let Some(object) = schema.as_object_mut() else { return };
    let shared = object.remove("properties");
    let required = object.remove("required");
    let Some(serde_json::Value::Array(variants)) = object.get_mut("oneOf") else { return };
    for variant in variants.iter_mut().filter_map(|v| v.as_object_mut()) {
        if let Some(serde_json::Value::Object(shared)) = &shared {
            let own = variant.entry("properties").or_insert_with(|| serde_json::json!({}));
            if let Some(own) = own.as_object_mut() {
                for (k, v) in shared {
                    own.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        if let Some(serde_json::Value::Array(required)) = &required {
            let own = variant.entry("required").or_insert_with(|| serde_json::json!([]));
            if let Some(own) = own.as_array_mut() {
                own.extend(required.iter().cloned());
            }
        }
        variant.insert("unevaluatedProperties".into(), false.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Workflow {
        serde_json::from_value(json!({
            "name": "Sync",
            "trigger": {"type": "appEvent", "event": "Contact Created"},
            "steps": [
                {"id": "a", "type": "delay", "value": 5},
                {"id": "b", "type": "conditional", "if": {"left": "x", "operator": "isTrue"},
                 "then": [{"id": "c", "type": "delay", "value": 1}],
                 "else": [{"id": "d", "type": "fanOut", "iterator": [1, 2],
                           "steps": [{"id": "e", "type": "delay", "value": 1}]}]},
                {"id": "f", "type": "delay", "value": 1}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn all_steps_walks_depth_first_in_document_order() {
        let w = sample();
        let ids: Vec<&str> = w.all_steps().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e", "f"]);
        assert!(w.step("e").is_some());
        assert!(w.step("z").is_none());
    }

    #[test]
    fn defaults_fill_in_and_round_trip() {
        let w = sample();
        assert_eq!(w.trigger.id, "trigger");
        let StepKind::Delay { unit, .. } = &w.steps[0].kind else { panic!("a delay") };
        assert_eq!(*unit, DelayUnit::Minutes);
        let again: Workflow = serde_json::from_value(serde_json::to_value(&w).unwrap()).unwrap();
        assert_eq!(again, w);
    }

    #[test]
    fn variants_are_closed_and_carry_the_shared_fields() {
        let schema = serde_json::to_value(schemars::schema_for!(Workflow)).unwrap();
        let step = &schema["$defs"]["Step"];
        assert!(step.get("properties").is_none());
        for variant in step["oneOf"].as_array().unwrap() {
            assert_eq!(variant["unevaluatedProperties"], false, "{variant}");
            assert!(variant["properties"]["id"].is_object(), "{variant}");
            assert!(variant["required"].as_array().unwrap().contains(&json!("id")), "{variant}");
        }
    }
}
