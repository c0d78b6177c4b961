//! What a running step's dynamic variables read, loaded before it runs:
//! the outputs it references (located through the plan: its own fan-out
//! instance's, an enclosing one's, or the item of a fan-out around it), the
//! connected user's id and metadata, the user settings it reads (from the
//! configuration of the account the execution runs with), and the
//! environment secrets it names.

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
    settings: serde_json::Map<String, Value>,
    secrets: HashMap<String, SecretString>,
}

impl Context for StepContext {
    fn output(&self, step: &str) -> Option<&Value> {
        self.outputs.get(step)
    }

    fn setting(&self, key: &str) -> Option<&Value> {
        self.settings.get(key)
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
    let mut cx = StepContext {
        outputs: HashMap::new(),
        user_id: step.user.clone(),
        user_meta: None,
        settings: serde_json::Map::new(),
        secrets: HashMap::new(),
    };
    let store = &engine.deps.store;
    let wanted: HashSet<&str> = refs
        .iter()
        .filter_map(|r| match r {
            Reference::Output { step, .. } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    // One read per referenced step, by the queue's unique key: a step
    // costs what it references, not the size of its execution (a fan-out's
    // thousandth instance reads as fast as its first).
    for target in wanted {
        let located = plan.locate(&step.step, &step.instance, target).map_err(|e| e.to_string())?;
        let (instance, index) = match &located {
            Located::Output { instance } => (instance.as_str(), None),
            Located::Item { instance, index } => (instance.as_str(), Some(*index)),
        };
        let run = store
            .find_step_run(step.project, step.execution, target, instance)
            .await
            .map_err(|e| format!("the execution's steps are unreadable: {e}"))?;
        let Some(output) = run.filter(|r| r.state != StepState::Queued).and_then(|r| r.output.or(r.error)) else {
            continue;
        };
        let value = match index {
            Some(i) => json!({ "instance": output.get(i).cloned().unwrap_or(Value::Null) }),
            None => output,
        };
        cx.outputs.insert(target.to_owned(), value);
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
    if refs.iter().any(|r| matches!(r, Reference::Setting { .. })) {
        cx.settings = settings(engine, plan, step).await?;
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

/// The user settings a step reads: those the user saved for the workflow
/// over those saved for the integration, in the configuration of the
/// account the execution runs with (or the user's first usable account of
/// the workflow's integration). Empty when there is no such account.
async fn settings(engine: &Engine, plan: &Plan, step: &ClaimedStep) -> Result<serde_json::Map<String, Value>, String> {
    let store = &engine.deps.store;
    let unreadable = |e: weft_store::Error| format!("the user's settings are unreadable: {e}");
    let account = match (step.credential, &step.user) {
        (Some(id), _) => match store.get_credential(step.project, id).await {
            Ok(c) => Some(c),
            Err(weft_store::Error::NotFound(_)) => None,
            Err(e) => return Err(unreadable(e)),
        },
        (None, Some(user)) => {
            let integration = plan.workflow().integration.as_deref().unwrap_or_default();
            match store.get_integration_by_type(step.project, integration).await {
                Ok(i) => {
                    let mut mine: Vec<_> = store
                        .list_user_credentials(step.project, user)
                        .await
                        .map_err(unreadable)?
                        .into_iter()
                        .filter(|c| c.integration_id == i.id)
                        .collect();
                    mine.sort_by_key(|c| (c.status != weft_store::CredentialStatus::Valid, c.created_at));
                    mine.into_iter().next()
                }
                Err(weft_store::Error::NotFound(_)) => None,
                Err(e) => return Err(unreadable(e)),
            }
        }
        (None, None) => None,
    };
    let Some(account) = account else { return Ok(serde_json::Map::new()) };
    let object = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
    let mut merged = object(account.config.get("sharedSettings"));
    let workflow = step.workflow.to_string();
    // `configuredWorkflows` is the older name of `workflowSettings`.
    let per_workflow = account.config.get("workflowSettings").or_else(|| account.config.get("configuredWorkflows"));
    merged.extend(object(per_workflow.and_then(|w| w.get(&workflow)).and_then(|w| w.get("settings"))));
    Ok(merged)
}
