//! Starting executions. An app event starts every deployed workflow that
//! listens to it and that the user enabled, each on its deployed version,
//! with the event's payload as the trigger's output. The payload is not
//! checked against the event's schema (the reference does not either: the
//! schema is example data for building workflows).

use serde_json::Value;
use weft_store::{ExecutionId, NewExecution, ProjectId, TriggerKey};

use super::{Engine, first_steps};
use crate::definition::Workflow;
use crate::load::{DefinitionError, Problem};

/// What triggers `workflow` once deployed, as the store indexes it.
pub fn trigger_key(workflow: &Workflow) -> TriggerKey {
    TriggerKey { kind: workflow.trigger.kind.name().to_owned(), key: workflow.trigger.kind.key().map(str::to_owned) }
}

/// The integration a workflow to store belongs to: beyond what `load`
/// checks, a stored workflow must name one (its users' accounts of it are
/// what it runs for).
pub fn stored_integration<'a>(workflow: &'a Workflow, source_name: &str) -> Result<&'a str, DefinitionError> {
    workflow.integration.as_deref().filter(|i| !i.is_empty()).ok_or_else(|| DefinitionError {
        source_name: source_name.into(),
        problems: vec![Problem {
            path: "/integration".into(),
            reason: "a stored workflow belongs to an integration: name its type (`slack`, `custom.tasklab`)".into(),
        }],
    })
}

/// An app event sent for a user.
#[derive(Debug, Clone)]
pub struct AppEvent {
    /// The project.
    pub project: ProjectId,
    /// The connected user it is sent for.
    pub user: String,
    /// The event's name.
    pub name: String,
    /// Its payload: the trigger's output.
    pub payload: Value,
}

/// The executions a trigger started.
#[derive(Debug, Clone, Default)]
pub struct Started {
    /// One per workflow started.
    pub executions: Vec<ExecutionId>,
}

/// Why a trigger could not start its executions.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] weft_store::Error),
    /// A deployed workflow cannot be read (logged; internal).
    #[error("a deployed workflow cannot be started: {0}")]
    Workflow(String),
}

impl Engine {
    /// Starts the workflows `event` triggers for its user.
    pub async fn app_event(&self, event: AppEvent) -> Result<Started, TriggerError> {
        let store = &self.deps.store;
        let key = TriggerKey { kind: "appEvent".into(), key: Some(event.name.clone()) };
        let workflows = store.deployed_with_trigger(event.project, &key).await?;
        if workflows.is_empty() {
            return Ok(Started::default());
        }
        let enabled = store.user_enablements(event.project, &event.user).await?;
        let mut started = Started::default();
        let mut meta = super::permissions::UserMeta::new(&event.user);
        for w in workflows {
            let Some(version) = w.deployed_version else { continue };
            let mine: Vec<_> = enabled.iter().filter(|e| e.workflow == w.id).collect();
            if mine.is_empty() || !self.permitted_for(event.project, w.id, version, &mut meta).await? {
                continue;
            }
            let plan = self.plan_of(event.project, w.id, version).await.map_err(TriggerError::Workflow)?;
            let trigger = &plan.workflow().trigger;
            // Once per enablement: one per account the user enabled it for.
            for e in mine {
                let first = first_steps(&plan);
                let new = NewExecution {
                    project: event.project,
                    workflow: w.id,
                    version,
                    integration: w.integration.clone(),
                    user: Some(event.user.clone()),
                    credential: e.credential,
                    trigger_step: trigger.id.clone(),
                    trigger_kind: trigger.kind.history_type().to_owned(),
                    trigger_output: event.payload.clone(),
                    first,
                };
                started.executions.push(store.start_execution(new, super::now()).await?);
            }
        }
        if !started.executions.is_empty() {
            self.wake();
        }
        Ok(started)
    }
}

/// A request sent to a Request-triggered workflow's URL for a user.
#[derive(Debug, Clone)]
pub struct WorkflowRequest {
    /// The project.
    pub project: ProjectId,
    /// The connected user it is sent for.
    pub user: String,
    /// The workflow.
    pub workflow: weft_store::WorkflowId,
    /// The account named with `X-Paragon-Credential`, if any (one of the
    /// user's, checked by the caller).
    pub credential: Option<weft_store::CredentialId>,
    /// Headers, names lower-case.
    pub headers: serde_json::Map<String, Value>,
    /// The body: an object for JSON, form and multipart bodies, else text.
    pub body: Value,
    /// Query parameters.
    pub params: serde_json::Map<String, Value>,
    /// The file sent as the multipart part `paragon-file`, as a Paragon
    /// file object (`{name, data (hex), mimeType, dataType: "FILE"}`).
    pub file: Option<Value>,
}

/// A request the workflow accepted.
#[derive(Debug, Clone)]
pub struct RequestStarted {
    /// The execution it started.
    pub execution: ExecutionId,
    /// Whether the workflow answers it with a Response step (wait for it),
    /// or the request is answered 202 at once.
    pub responds: bool,
}

/// Why a request to a workflow was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestRefused {
    /// No such workflow in the project.
    #[error("workflow not found")]
    NotFound,
    /// The workflow is not deployed, not request-triggered, or not enabled
    /// by the user (the message says which).
    #[error("{0}")]
    NotRunnable(String),
    /// The user does not meet the workflow's permissions.
    #[error("the user does not meet this workflow's permissions")]
    NotPermitted,
    /// The request breaks the trigger's validations; each problem listed.
    #[error("the request does not pass the workflow's validations")]
    Invalid(Vec<String>),
    /// Storage or the workflow itself failed (internal).
    #[error(transparent)]
    Trigger(#[from] TriggerError),
}

impl Engine {
    /// Starts an execution of a Request-triggered workflow.
    pub async fn request(&self, r: WorkflowRequest) -> Result<RequestStarted, RequestRefused> {
        let store = &self.deps.store;
        let w = match store.get_workflow(r.project, r.workflow).await {
            Ok(w) => w,
            Err(weft_store::Error::NotFound(_)) => return Err(RequestRefused::NotFound),
            Err(e) => return Err(TriggerError::from(e).into()),
        };
        let Some(version) = w.deployed_version else {
            return Err(RequestRefused::NotRunnable("this workflow is not deployed".into()));
        };
        let plan = self.plan_of(r.project, w.id, version).await.map_err(TriggerError::Workflow)?;
        let trigger = &plan.workflow().trigger;
        let crate::definition::TriggerKind::Request(rules) = &trigger.kind else {
            return Err(RequestRefused::NotRunnable(format!(
                "this workflow is triggered by {}, not by requests",
                trigger.kind.name()
            )));
        };
        let enabled = store
            .workflow_enablements(r.project, w.id, Some(std::slice::from_ref(&r.user)))
            .await
            .map_err(TriggerError::from)?;
        let Some(enablement) =
            enabled.iter().find(|e| r.credential.is_none() || e.credential == r.credential || e.credential.is_none())
        else {
            return Err(RequestRefused::NotRunnable("the user has not enabled this workflow; enable it first".into()));
        };
        if !self.permitted(r.project, w.id, version, &r.user).await? {
            return Err(RequestRefused::NotPermitted);
        }
        let problems = validate(rules, &r);
        if !problems.is_empty() {
            return Err(RequestRefused::Invalid(problems));
        }
        let first = first_steps(&plan);
        let responds = plan.workflow().all_steps().any(|s| matches!(s.kind, crate::definition::StepKind::Response(_)));
        let new = NewExecution {
            project: r.project,
            workflow: w.id,
            version,
            integration: w.integration.clone(),
            user: Some(r.user.clone()),
            credential: r.credential.or(enablement.credential),
            trigger_step: trigger.id.clone(),
            trigger_kind: trigger.kind.history_type().to_owned(),
            trigger_output: {
                let mut request = serde_json::json!({ "headers": r.headers, "body": r.body, "params": r.params });
                if let Some(file) = r.file {
                    request["file"] = file;
                }
                serde_json::json!({ "request": request })
            },
            first,
        };
        let execution = store.start_execution(new, super::now()).await.map_err(TriggerError::from)?;
        self.wake();
        Ok(RequestStarted { execution, responds })
    }
}

/// What a request breaks of the trigger's validations (none when it
/// accepts any payload).
fn validate(rules: &crate::definition::RequestTrigger, r: &WorkflowRequest) -> Vec<String> {
    use crate::definition::DataType;
    let mut problems = Vec::new();
    if rules.allow_arbitrary_payload {
        return problems;
    }
    for h in &rules.header_validations {
        let sent = r.headers.get(&h.key.to_ascii_lowercase()).and_then(Value::as_str);
        match (sent, &h.value) {
            (None, _) if h.required || h.value.is_some() => problems.push(format!("the header {} is required", h.key)),
            (Some(v), Some(want)) if v != want => problems.push(format!("the header {} must be {want:?}", h.key)),
            _ => {}
        }
    }
    for p in &rules.param_validations {
        if p.required && !r.params.contains_key(&p.key) {
            problems.push(format!("the query parameter {} is required", p.key));
        }
    }
    for b in &rules.body_validations {
        match r.body.get(&b.key) {
            None | Some(Value::Null) if b.required => problems.push(format!("the body field {} is required", b.key)),
            Some(v) if !v.is_null() => {
                let ok = match b.data_type {
                    None => true,
                    Some(DataType::String) => v.is_string(),
                    Some(DataType::Number) => v.is_number(),
                    Some(DataType::Boolean) => v.is_boolean(),
                    Some(DataType::Object) => v.is_object(),
                    Some(DataType::Array) => v.is_array(),
                    Some(DataType::File) => v.get("dataType").and_then(Value::as_str) == Some("FILE"),
                };
                if !ok {
                    let want = serde_json::to_value(b.data_type).ok().and_then(|v| v.as_str().map(str::to_owned));
                    problems.push(format!("the body field {} must be {}", b.key, want.unwrap_or_default()));
                }
            }
            _ => {}
        }
    }
    problems
}

/// What became of the Response step a request waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Awaited {
    /// It answered: `{statusCode, responseType, body}`.
    Response(Value),
    /// The execution ended without reaching it.
    Ended(weft_store::ExecutionStatus),
    /// It was not reached within the response timeout (the execution goes
    /// on).
    TimedOut,
}

impl Engine {
    /// Waits for execution `id`'s Response step, for at most the response
    /// timeout. Reads the store, so it sees a step run by any process.
    pub async fn await_response(&self, project: ProjectId, id: ExecutionId) -> Result<Awaited, TriggerError> {
        let deadline = tokio::time::Instant::now() + self.deps.settings.response_timeout;
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            let execution = self.deps.store.get_execution(project, id).await?;
            if let Some(response) = execution.response {
                return Ok(Awaited::Response(response));
            }
            if execution.status.is_final() {
                return Ok(Awaited::Ended(execution.status));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Awaited::TimedOut);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
        }
    }
}
