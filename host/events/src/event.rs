//! The events as destinations receive them: what the outbox recorded,
//! completed from the store into the reference's shapes.
//!
//! A `workflow_failure` is recorded with its execution's id only (the
//! queue writes it in the transaction that fails the execution); its body
//! is built here from the execution, its failed step, the workflow, the
//! project and the user. A `credentials_failure` is recorded whole by the
//! credential service; here it gains the project's name and the user's
//! metadata. Every event keeps its outbox id as `id`, the receiver's key to
//! drop a repeated delivery.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use weft_store::{ExecutionId, ProjectEvent, ProjectId, StepState, Store};

/// The event types destinations may subscribe to.
pub const EVENT_TYPES: [&str; 2] = [WORKFLOW_FAILURE, CREDENTIALS_FAILURE];

/// A workflow execution ended FAILED.
pub const WORKFLOW_FAILURE: &str = "workflow_failure";

/// A credential was marked INVALID (its refresh cannot succeed).
pub const CREDENTIALS_FAILURE: &str = "credentials_failure";

/// Milliseconds since the Unix epoch.
pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `2024-10-22T20:40:42.607Z`.
pub(crate) fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The body of `event`, ready for the destinations' templates.
pub async fn build(store: &dyn Store, event: &ProjectEvent, public_url: &str) -> Value {
    let mut body = match event.event_type.as_str() {
        WORKFLOW_FAILURE => workflow_failure(store, event, public_url).await,
        _ => Value::Object(event.payload.clone()),
    };
    let Value::Object(fields) = &mut body else { return body };
    fields.entry("type").or_insert_with(|| json!(event.event_type));
    fields.entry("timestamp").or_insert_with(|| json!(millis(event.created_at)));
    fields.entry("timestampISO").or_insert_with(|| json!(iso(event.created_at)));
    fields.insert("id".into(), json!(event.id));
    complete_project(store, event.project_id, fields).await;
    complete_user(store, event.project_id, fields).await;
    body
}

/// `project.name` (and `id`) from the store.
async fn complete_project(store: &dyn Store, project: ProjectId, fields: &mut Map<String, Value>) {
    let name = store.get_project(project).await.map(|p| p.name).ok();
    let entry = fields.entry("project").or_insert_with(|| json!({}));
    if let Value::Object(p) = entry {
        p.entry("id").or_insert_with(|| json!(project));
        if let Some(name) = name {
            p.entry("name").or_insert(json!(name));
        }
    }
}

/// `user.metadata` from the store, when the event names a user.
async fn complete_user(store: &dyn Store, project: ProjectId, fields: &mut Map<String, Value>) {
    let Some(Value::Object(user)) = fields.get_mut("user") else { return };
    let Some(id) = user.get("id").and_then(Value::as_str).map(str::to_owned) else { return };
    if user.contains_key("metadata") {
        return;
    }
    let metadata = store.get_user(project, &id).await.map(|u| u.metadata).unwrap_or_default();
    user.insert("metadata".into(), Value::Object(metadata));
}

/// A failed execution's event, from what the store holds of it.
async fn workflow_failure(store: &dyn Store, event: &ProjectEvent, public_url: &str) -> Value {
    let project = event.project_id;
    let id = event.payload.get("workflowExecution").and_then(|e| e.get("id")).and_then(Value::as_str);
    let Some(execution_id) = id.and_then(|id| id.parse::<ExecutionId>().ok()) else {
        return Value::Object(event.payload.clone());
    };
    let execution = match store.get_execution(project, execution_id).await {
        Ok(e) => e,
        // Purged from the history meanwhile: what the outbox recorded.
        Err(_) => return json!({"data": event.payload.clone()}),
    };
    let steps = store.execution_steps(project, execution_id).await.unwrap_or_default();
    let failed = steps.iter().filter(|s| s.state == StepState::Failed).max_by_key(|s| s.ended_at);
    let workflow = store.get_workflow(project, execution.workflow).await.ok();
    let name = workflow.as_ref().map_or_else(|| execution.workflow.to_string(), |w| w.name.clone());
    let integration = store.get_integration_by_type(project, &execution.integration).await.ok();
    let user = execution.user.clone().unwrap_or_default();
    let error = failed.and_then(|s| s.error.as_ref()).map(error_text).unwrap_or_default();
    let ended = execution.ended_at.unwrap_or(event.created_at);
    let step = failed.map(|s| {
        json!({
            "stepId": s.step,
            "instanceId": s.id,
            "startTime": s.started_at.map(millis),
            "endTime": s.ended_at.map(millis),
        })
    });
    let url = format!(
        "{}/projects/{project}/task-history/workflow-executions/{execution_id}",
        public_url.trim_end_matches('/')
    );
    json!({
        "type": WORKFLOW_FAILURE,
        "timestamp": millis(event.created_at),
        "timestampISO": iso(event.created_at),
        "message": format!("Workflow \u{201c}{name}\u{201d} failed for User {user}"),
        "user": {"id": user},
        "project": {"id": project},
        "integration": {"id": integration.map(|i| i.id.to_string()), "type": execution.integration},
        "workflow": {"id": execution.workflow, "name": name},
        "data": {
            "type": WORKFLOW_FAILURE,
            "projectId": project,
            "workflowId": execution.workflow,
            "workflowExecution": {"id": execution_id},
            "stepExecution": step,
            "timestamp": millis(ended),
            "error": error,
            "executionUrl": url,
        },
    })
}

/// A step's error as one line: its message, or the error as JSON text.
fn error_text(error: &Value) -> String {
    match error.get("message").and_then(Value::as_str) {
        Some(m) => m.to_owned(),
        None => match error {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

/// The event a "send a test event" request delivers: a `workflow_failure`
/// (or the first type the destination receives) with sample values,
/// marked `"test": true`.
pub fn sample(kind: &str, project: ProjectId, project_name: &str, now: OffsetDateTime) -> Value {
    let mut body = json!({
        "id": uuid::Uuid::new_v4(),
        "type": kind,
        "test": true,
        "timestamp": millis(now),
        "timestampISO": iso(now),
        "user": {"id": "test-user", "metadata": {}},
        "project": {"id": project, "name": project_name},
        "integration": {"id": null, "type": "test"},
    });
    if kind == CREDENTIALS_FAILURE {
        body["message"] = json!("A test credentials_failure event from Weft.");
        body["data"] = json!({"userId": "test-user", "error": "invalid_grant"});
    } else {
        body["message"] = json!("A test workflow_failure event from Weft.");
        body["workflow"] = json!({"id": null, "name": "Test workflow"});
        body["data"] = json!({"type": kind, "projectId": project, "error": "Test error message"});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_milliseconds_and_iso_in_utc() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_729_629_642_607_123_000).unwrap();
        assert_eq!(millis(t), 1_729_629_642_607);
        assert_eq!(iso(t), "2024-10-22T20:40:42.607Z");
    }

    #[test]
    fn errors_read_as_one_line() {
        assert_eq!(error_text(&json!({"message": "boom", "code": 1})), "boom");
        assert_eq!(error_text(&json!("plain")), "plain");
        assert_eq!(error_text(&json!({"status": 500})), r#"{"status":500}"#);
    }

    #[test]
    fn samples_have_the_types_shape() {
        let p = ProjectId::new();
        let wf = sample(WORKFLOW_FAILURE, p, "Demo", OffsetDateTime::UNIX_EPOCH);
        assert_eq!((wf["type"].as_str(), wf["test"].as_bool()), (Some(WORKFLOW_FAILURE), Some(true)));
        assert_eq!(wf["project"]["name"], "Demo");
        let cf = sample(CREDENTIALS_FAILURE, p, "Demo", OffsetDateTime::UNIX_EPOCH);
        assert_eq!(cf["data"]["error"], "invalid_grant");
    }
}
