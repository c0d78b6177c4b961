//! Admin routes for a project's workflows: create and replace drafts,
//! deploy (which freezes the draft into a new immutable version), undeploy,
//! read and restore versions. Every definition is checked by the engine's
//! loader first; a refused one is answered 400 `INVALID_WORKFLOW` with each
//! problem (JSON Pointer and reason) in `meta.problems`.
//!
//! A definition comes as the request body: JSON, or YAML with a YAML
//! content type (`application/yaml`, `application/x-yaml`, `text/yaml`).
//! Deploy, undeploy and restore take no body (an empty JSON object is
//! accepted, as on every POST route).

use crate::error::Problem;
use crate::extract::{Json, Path};
use crate::principal::{AnyRole, ProjectKey, Staff};
use crate::{ApiError, AppState, store_error};
use axum::body::Bytes;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use weft_engine::{Format, Workflow as Definition};
use weft_store::{VersionKind, Workflow, WorkflowId, WorkflowVersion};

/// The request body as a checked definition, and the JSON document to store.
fn definition(headers: &HeaderMap, body: &Bytes) -> Result<(Definition, Value), ApiError> {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let format = match essence.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Format::Yaml,
        "application/json" | "" => Format::Json,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("send the workflow as application/json or application/yaml, not {other}"),
            ));
        }
    };
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the workflow is not UTF-8 text"))?;
    let checked = match format {
        // Malformed JSON is refused as on every route that reads JSON.
        Format::Json => {
            let document: Value = serde_json::from_str(text).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", format!("the body is not valid JSON: {e}"))
            })?;
            weft_engine::load::from_value(document, "workflow")
        }
        Format::Yaml => weft_engine::load::parse(text, format, "workflow"),
    }
    .map_err(refused)?;
    weft_engine::stored_integration(&checked, "workflow").map_err(refused)?;
    let document = serde_json::to_value(&checked).map_err(ApiError::internal)?;
    Ok((checked, document))
}

/// An Integration trigger must name a trigger the integration's plugin
/// lists, with a config its schema accepts, or a webhook trigger of the
/// integration's definition in the project.
async fn check_integration_trigger(
    state: &AppState,
    project: weft_store::ProjectId,
    w: &weft_engine::Workflow,
) -> Result<(), ApiError> {
    let weft_engine::TriggerKind::Integration(t) = &w.trigger.kind else { return Ok(()) };
    let integration = w.integration.as_deref().unwrap_or_default();
    let refuse = |path: String, reason: String| {
        refused(weft_engine::DefinitionError {
            source_name: "workflow".into(),
            problems: vec![weft_engine::Problem { path, reason }],
        })
    };
    let Some(plugin) = state.plugins.get(integration) else {
        let row = match state.store.get_integration_by_type(project, integration).await {
            Ok(row) => Some(row),
            Err(weft_store::Error::NotFound(_)) => None,
            Err(e) => return Err(ApiError::internal(e)),
        };
        let hooks = match &row {
            Some(row) => state.credentials.webhook_triggers(row).map_err(ApiError::internal)?,
            None => Vec::new(),
        };
        if hooks.iter().any(|h| h.key == t.event) {
            return Ok(());
        }
        if hooks.is_empty() {
            return Err(refuse(
                "/trigger/type".into(),
                format!(
                    "`{integration}` has no plugin installed and its definition has no webhook triggers: nothing serves Integration triggers"
                ),
            ));
        }
        let known: Vec<&str> = hooks.iter().map(|h| h.key.as_str()).collect();
        return Err(refuse(
            "/trigger/event".into(),
            format!("`{integration}` has no trigger `{}`; its webhook triggers: {}", t.event, known.join(", ")),
        ));
    };
    let Some(trigger) = plugin.triggers.iter().find(|d| d.key == t.event) else {
        let known: Vec<&str> = plugin.triggers.iter().map(|d| d.key.as_str()).collect();
        return Err(refuse(
            "/trigger/event".into(),
            format!("`{integration}` has no trigger `{}`; its triggers: {}", t.event, known.join(", ")),
        ));
    };
    let problems = crate::actions::invalid_parameters(&trigger.config_schema, &t.config);
    if problems.is_empty() {
        return Ok(());
    }
    Err(refused(weft_engine::DefinitionError {
        source_name: "workflow".into(),
        problems: problems
            .into_iter()
            .map(|p| weft_engine::Problem { path: format!("/trigger/config{}", p.path), reason: p.reason })
            .collect(),
    }))
}

/// Checks the JavaScript of every Function step with the runtime that will
/// run it: a syntax error is refused with its line and column, at the
/// step's `code`.
async fn check_function_code(state: &AppState, w: &weft_engine::Workflow) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    for (path, code) in w.function_code() {
        match state.plugins.check_js(code).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let at = match (e.line, e.column) {
                    (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
                    (Some(line), None) => format!(" at line {line}"),
                    _ => String::new(),
                };
                problems
                    .push(weft_engine::Problem { path, reason: format!("the code does not parse{at}: {}", e.message) });
            }
            Err(weft_plugin_host::CallError::UnknownPlugin(_)) => problems.push(weft_engine::Problem {
                path,
                reason: "JavaScript function steps need the bundled `js-function` plugin, which is not installed"
                    .into(),
            }),
            Err(e) => return Err(ApiError::internal(format!("checking a function step's code failed: {e}"))),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(refused(weft_engine::DefinitionError { source_name: "workflow".into(), problems }))
}

/// Integration Request steps that page by their integration's
/// pre-configured pagination need an integration that has one.
async fn check_preset_pagination(
    state: &AppState,
    project: weft_store::ProjectId,
    w: &weft_engine::Workflow,
) -> Result<(), ApiError> {
    let steps: Vec<String> =
        w.steps_at().into_iter().filter(|(_, s)| s.kind.preset_pagination().is_some()).map(|(at, _)| at).collect();
    if steps.is_empty() {
        return Ok(());
    }
    let integration = w.integration.as_deref().unwrap_or_default();
    let provider = match state.store.get_integration_by_type(project, integration).await {
        Ok(row) => state.credentials.provider_of(&row).map_err(ApiError::internal)?,
        Err(weft_store::Error::NotFound(_)) => state.credentials.providers().provider(integration),
        Err(e) => return Err(ApiError::internal(e)),
    };
    if provider.is_some_and(|p| p.provider.pagination.is_some()) {
        return Ok(());
    }
    let problems = steps
        .into_iter()
        .map(|at| weft_engine::Problem {
            path: format!("{at}/pagination"),
            reason: weft_engine::definition::PresetPagination::unavailable(integration),
        })
        .collect();
    Err(refused(weft_engine::DefinitionError { source_name: "workflow".into(), problems }))
}

/// A refused definition: 400 with every problem.
fn refused(e: weft_engine::DefinitionError) -> ApiError {
    let count = e.problems.len();
    let first =
        e.problems.first().map(|p| format!("at {}: {}", if p.path.is_empty() { "/" } else { &p.path }, p.reason));
    let message = match (count, first) {
        (1, Some(first)) => format!("The workflow is invalid {first}"),
        (n, Some(first)) => format!("The workflow has {n} problems (see meta.problems), the first {first}"),
        _ => "The workflow is invalid".to_owned(),
    };
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_WORKFLOW", message)
        .with_problems(e.problems.into_iter().map(|p| Problem { path: p.path, reason: p.reason }).collect())
}

fn workflow_json(w: &Workflow) -> Value {
    json!({
        "id": w.id,
        "name": w.name,
        "integration": w.integration,
        "versions": w.versions,
        "deployedVersion": w.deployed_version,
        "trigger": w.trigger.as_ref().map(|t| json!({"type": t.kind, "key": t.key})),
        "createdAt": rfc3339(w.created_at),
        "updatedAt": rfc3339(w.updated_at),
        "definition": w.definition,
    })
}

fn version_json(v: &WorkflowVersion, with_definition: bool) -> Value {
    let mut out = json!({
        "workflowId": v.workflow,
        "version": v.version,
        "kind": v.kind.as_str(),
        "createdAt": rfc3339(v.created_at),
    });
    if with_definition {
        out["definition"] = v.definition.clone();
    }
    out
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn workflow_id(raw: &str) -> Result<WorkflowId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("workflow not found"))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (checked, document) = definition(&headers, &body)?;
    let new = weft_store::NewWorkflow {
        name: checked.name.clone(),
        integration: checked.integration.clone().unwrap_or_default(),
        definition: document,
    };
    let created = state.store.create_workflow(key.project, new).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(workflow_json(&created))))
}

pub(crate) async fn list(State(state): State<AppState>, key: ProjectKey<AnyRole>) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_workflows(key.project, None).await.map_err(store_error)?;
    Ok(Json(json!(all.iter().map(workflow_json).collect::<Vec<_>>())))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let w = state.store.get_workflow(key.project, workflow_id(&id)?).await.map_err(store_error)?;
    Ok(Json(workflow_json(&w)))
}

/// Replaces the draft (and the name, from the definition); the deployed
/// version keeps running until the next deploy.
pub(crate) async fn replace(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = workflow_id(&id)?;
    let (checked, document) = definition(&headers, &body)?;
    let current = state.store.get_workflow(key.project, id).await.map_err(store_error)?;
    if checked.integration.as_deref() != Some(current.integration.as_str()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "INTEGRATION_CHANGED",
            format!(
                "this workflow belongs to {:?}; a workflow cannot move to another integration, create a new one",
                current.integration
            ),
        ));
    }
    let updated =
        state.store.update_workflow(key.project, id, Some(checked.name), Some(document)).await.map_err(store_error)?;
    Ok(Json(workflow_json(&updated)))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = workflow_id(&id)?;
    // Its trigger subscriptions go first, while it can still unsubscribe.
    let users = match state.engine.drop_workflow_subscriptions(key.project, id).await {
        Ok(users) => users,
        Err(e) => {
            tracing::warn!(project = %key.project, workflow = %id, error = %e, "trigger subscriptions could not be dropped before the workflow's deletion");
            Vec::new()
        }
    };
    state.store.delete_workflow(key.project, id).await.map_err(store_error)?;
    // The subscriptions its users shared with it follow their other workflows.
    for user in users {
        crate::workflows::sync_subscriptions(&state, key.project, &user).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Deploys the draft: checked again (the engine's rules may have grown since
/// it was saved), frozen into a new version that new executions run.
pub(crate) async fn deploy(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = workflow_id(&id)?;
    let current = state.store.get_workflow(key.project, id).await.map_err(store_error)?;
    let checked = weft_engine::load::from_value(current.definition.clone(), "workflow").map_err(refused)?;
    check_integration_trigger(&state, key.project, &checked).await?;
    check_function_code(&state, &checked).await?;
    check_preset_pagination(&state, key.project, &checked).await?;
    let version = state
        .store
        .write_version(
            key.project,
            id,
            VersionKind::Deployed,
            current.definition,
            Some(weft_engine::trigger_key(&checked)),
        )
        .await
        .map_err(store_error)?;
    // Users who do not meet the new version's permissions have it no more.
    state.engine.enforce_permissions_of_workflow(key.project, id).await.map_err(ApiError::internal)?;
    // Its users' Integration trigger subscriptions follow the new version.
    if let Err(e) = state.engine.sync_workflow(key.project, id).await {
        tracing::warn!(project = %key.project, workflow = %id, error = %e, "trigger subscriptions could not be synced after deploy; the reconcile retries");
    }
    let deployed = state.store.get_workflow(key.project, id).await.map_err(store_error)?;
    let mut out = workflow_json(&deployed);
    out["deployedVersion"] = json!(version);
    Ok(Json(out))
}

pub(crate) async fn undeploy(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
    _empty: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let w = state.store.undeploy_workflow(key.project, workflow_id(&id)?).await.map_err(store_error)?;
    if let Err(e) = state.engine.sync_workflow(key.project, w.id).await {
        tracing::warn!(project = %key.project, workflow = %w.id, error = %e, "trigger subscriptions could not be dropped after undeploy; the reconcile retries");
    }
    Ok(Json(workflow_json(&w)))
}

pub(crate) async fn versions(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_workflow_versions(key.project, workflow_id(&id)?).await.map_err(store_error)?;
    Ok(Json(json!(all.iter().map(|v| version_json(v, false)).collect::<Vec<_>>())))
}

fn version_number(raw: &str) -> Result<u32, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("workflow version not found"))
}

pub(crate) async fn version(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Path((_, id, version)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let v = state
        .store
        .get_workflow_version(key.project, workflow_id(&id)?, version_number(&version)?)
        .await
        .map_err(store_error)?;
    Ok(Json(version_json(&v, true)))
}

/// Restores an old version: written again as a new version, which becomes
/// the draft (deploy it to run it).
pub(crate) async fn restore(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id, version)): Path<(String, String, String)>,
    _empty: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = workflow_id(&id)?;
    let old =
        state.store.get_workflow_version(key.project, id, version_number(&version)?).await.map_err(store_error)?;
    let written = state
        .store
        .write_version(key.project, id, VersionKind::Restored, old.definition, None)
        .await
        .map_err(store_error)?;
    let restored = state.store.get_workflow_version(key.project, id, written).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(version_json(&restored, true))))
}

/// The published JSON Schema of workflow files.
pub(crate) async fn schema() -> Json<Value> {
    Json(weft_engine::schema::schema().clone())
}
