//! What a running step's dynamic variables read, loaded before it runs:
//! the outputs it references (located through the plan: its own fan-out
//! instance's, an enclosing one's, or the item of a fan-out around it), the
//! connected user's id and metadata, and the environment secrets it names.

use std::collections::{HashMap, HashSet};

use secrecy::SecretString;
use serde_json::{Value, json};
use weft_store::{ClaimedStep, StepState};

use super::Engine;
use crate::plan::{Located, Plan};
use crate::template::{Context, Reference, references};

/// The data one step's templates read.
pub(crate) struct StepContext {
    outputs: HashMap<String, Value>,
    user_id: Option<String>,
    user_meta: Option<Value>,
    secrets: HashMap<String, SecretString>,
}

impl Context for StepContext {
    fn output(&self, step: &str) -> Option<&Value> {
        self.outputs.get(step)
    }

    fn setting(&self, _key: &str) -> Option<&Value> {
        // User settings arrive with the Connect Portal's workflow settings.
        None
    }

    fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn user_meta(&self) -> Option<&Value> {
        self.user_meta.as_ref()
    }

    fn secret(&self, name: &str) -> Option<&SecretString> {
        self.secrets.get(name)
    }
}

/// Loads what `value`'s references need, for `step` as it runs.
pub(crate) async fn load(
    engine: &Engine,
    plan: &Plan,
    step: &ClaimedStep,
    value: &Value,
) -> Result<StepContext, String> {
    let refs = references(value);
    let mut cx =
        StepContext { outputs: HashMap::new(), user_id: step.user.clone(), user_meta: None, secrets: HashMap::new() };
    let store = &engine.deps.store;
    let wanted: HashSet<&str> = refs
        .iter()
        .filter_map(|r| match r {
            Reference::Output { step, .. } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    if !wanted.is_empty() {
        let runs = store
            .execution_steps(step.project, step.execution)
            .await
            .map_err(|e| format!("the execution's steps are unreadable: {e}"))?;
        for target in wanted {
            let located = plan.locate(&step.step, &step.instance, target).map_err(|e| e.to_string())?;
            let (instance, index) = match &located {
                Located::Output { instance } => (instance.as_str(), None),
                Located::Item { instance, index } => (instance.as_str(), Some(*index)),
            };
            let run = runs.iter().find(|r| r.step == target && r.instance == instance);
            let Some(output) =
                run.filter(|r| r.state != StepState::Queued).and_then(|r| r.output.clone().or(r.error.clone()))
            else {
                continue;
            };
            let value = match index {
                Some(i) => json!({ "instance": output.get(i).cloned().unwrap_or(Value::Null) }),
                None => output,
            };
            cx.outputs.insert(target.to_owned(), value);
        }
    }
    if refs.iter().any(|r| matches!(r, Reference::UserMeta { .. }))
        && let Some(user) = &step.user
    {
        cx.user_meta = match store.get_user(step.project, user).await {
            Ok(u) => Some(Value::Object(u.metadata)),
            Err(weft_store::Error::NotFound(_)) => None,
            Err(e) => return Err(format!("the user's metadata is unreadable: {e}")),
        };
    }
    for r in &refs {
        if let Reference::Secret { name } = r
            && !cx.secrets.contains_key(name)
        {
            let value = engine
                .deps
                .credentials
                .environment_secret(step.project, name)
                .await
                .map_err(|e| format!("the environment secret {name} is unreadable: {e}"))?;
            if let Some(v) = value {
                cx.secrets.insert(name.clone(), v);
            }
        }
    }
    Ok(cx)
}
