//! The Task History API: a project's workflow executions, each with its
//! steps, and one step's input and output, read with a project API key.
//!
//! Shapes follow the reference: times as RFC 3339 in UTC with
//! milliseconds, `runDuration` in milliseconds (until now while the
//! execution runs), sizes as strings of bytes of JSON, pages of 100 with an
//! absolute `nextLink` (null on the last page) built on the server's public
//! URL; a DELAYED execution also says when it `resumesAt`. Step statuses: a
//! step still in the queue is `NOT_STARTED` (the reference's "Not
//! Started"), a running step, a step waiting for its next auto-retry or a
//! provider's rate-limit window, or a fan-out waiting for its instances is
//! `EXECUTING`, then `SUCCEEDED` or `FAILED`; a step that never ran because
//! its execution ended first is `CANCELLED`. `POST …/replay` runs an
//! execution again (see `weft_engine::ReplayFrom`).

use crate::extract::{Json, Path, Query, json_body};
use crate::principal::{AnyRole, ProjectKey, Roles, Staff};
use crate::routes::{Access, Routes};
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use weft_engine::{ReplayError, ReplayFrom};
use weft_store::{
    Execution, ExecutionId, ExecutionQuery, ExecutionStatus, MAX_EXECUTIONS_PAGE, StepRun, StepRunId, StepState,
    WorkflowId,
};

const EXECUTIONS: &str = "/projects/{projectId}/task-history/workflow-executions";
const EXECUTION: &str = "/projects/{projectId}/task-history/workflow-executions/{executionId}";
const REPLAY: &str = "/projects/{projectId}/task-history/workflow-executions/{executionId}/replay";
const STEP: &str =
    "/projects/{projectId}/task-history/workflow-executions/{executionId}/step-executions/{stepExecutionId}";

/// A step's input or output over this many bytes of JSON is flagged large
/// (`isLargeInput`, `isLargeOutput`); it is answered in full all the same.
const LARGE_BYTES: usize = 1 << 20;

pub(crate) fn routes() -> Routes {
    let any = Access::Project(AnyRole::ROLES);
    Routes::new()
        .add(Method::GET, EXECUTIONS, any, "Workflow executions, filtered, 100 per page", list)
        .add(Method::GET, EXECUTION, any, "One workflow execution with its steps", one)
        .add(Method::GET, STEP, any, "One step of a workflow execution: its input and output", step)
        .add(
            Method::POST,
            REPLAY,
            Access::Project(Staff::ROLES),
            "Replays a workflow execution on its version with its trigger's input (`?from=failed`: from its failed step)",
            replay,
        )
}

/// The query of the execution list (every field optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    user_id: Option<String>,
    workflow_id: Option<String>,
    integration: Option<String>,
    status: Option<String>,
    before_date: Option<String>,
    after_date: Option<String>,
    offset: Option<u64>,
    sort_by: Option<String>,
}

pub(crate) fn invalid_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", message)
}

/// An ISO 8601 date or date-time: with an offset, or without one (read as
/// UTC), or a bare date (its midnight, UTC).
pub(crate) fn parse_date(name: &str, raw: &str) -> Result<OffsetDateTime, ApiError> {
    let has_offset = raw.ends_with(['Z', 'z']) || raw.get(10..).is_some_and(|t| t.contains(['+', '-']));
    let candidates = match raw.split_once(['T', 't']) {
        // A date-time: as given, or read as UTC; seconds may be left out.
        Some((_, clock)) if !has_offset => {
            let seconds = if clock.len() == 5 { ":00" } else { "" };
            vec![format!("{raw}{seconds}Z")]
        }
        Some(_) => vec![raw.to_owned()],
        None => vec![format!("{raw}T00:00:00Z")],
    };
    candidates.iter().find_map(|c| OffsetDateTime::parse(c, &Rfc3339).ok()).ok_or_else(|| {
        invalid_query(format!(
            "{name} must be an ISO 8601 date or date-time, for example 2023-02-22 or 2023-02-22T08:30:00Z; \
             got {raw:?}"
        ))
    })
}

fn to_query(q: &ListQuery) -> Result<ExecutionQuery, ApiError> {
    let workflow = match &q.workflow_id {
        Some(w) => {
            Some(w.parse::<WorkflowId>().map_err(|_| invalid_query(format!("workflowId must be a UUID; got {w:?}")))?)
        }
        None => None,
    };
    let status = match q.status.as_deref() {
        Some(s) => Some(s.parse::<ExecutionStatus>().map_err(|_| {
            invalid_query(format!("status must be EXECUTING, FAILED, SUCCEEDED or DELAYED; got {s:?}"))
        })?),
        None => None,
    };
    let ascending = match q.sort_by.as_deref() {
        None | Some("DESC") => false,
        Some("ASC") => true,
        Some(other) => return Err(invalid_query(format!("sortBy must be ASC or DESC; got {other:?}"))),
    };
    Ok(ExecutionQuery {
        user: q.user_id.clone(),
        workflow,
        integration: q.integration.clone(),
        status,
        before: q.before_date.as_deref().map(|d| parse_date("beforeDate", d)).transpose()?,
        after: q.after_date.as_deref().map(|d| parse_date("afterDate", d)).transpose()?,
        ascending,
        offset: q.offset.unwrap_or(0),
        limit: MAX_EXECUTIONS_PAGE,
    })
}

/// RFC 3339 in UTC with milliseconds, as the reference writes times.
pub(crate) fn date(t: OffsetDateTime) -> Value {
    let t = t.to_offset(time::UtcOffset::UTC);
    json!(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

pub(crate) fn execution_json(e: &Execution, now: OffsetDateTime) -> Value {
    let end = e.ended_at.unwrap_or(now);
    json!({
        "id": e.id,
        "userId": e.user,
        "taskCount": e.tasks,
        "runDuration": (end - e.created_at).whole_milliseconds().max(0),
        "workflowId": e.workflow,
        "status": e.status.as_str(),
        "dateEnded": e.ended_at.map(date),
        "dateStarted": date(e.created_at),
    })
}

pub(crate) fn step_status(s: &StepRun) -> &'static str {
    match s.state {
        // Waiting for its next auto-retry, or for a provider's rate-limit
        // window (its error says so): the reference shows it running.
        StepState::Queued if s.attempt > 0 || s.error.is_some() => "EXECUTING",
        StepState::Queued => "NOT_STARTED",
        StepState::Running | StepState::Waiting => "EXECUTING",
        StepState::Succeeded => "SUCCEEDED",
        StepState::Failed => "FAILED",
        StepState::Cancelled => "CANCELLED",
    }
}

/// Bytes of JSON of a stored value (0 when absent).
fn size(v: Option<&Value>) -> usize {
    v.map(|v| serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)).unwrap_or(0)
}

/// What a step put out: its output, or its error once it failed.
fn step_output(s: &StepRun) -> Option<&Value> {
    match s.state {
        StepState::Failed => s.error.as_ref(),
        _ => s.output.as_ref(),
    }
}

/// Counts a request against the project's Task History quota (the
/// reference's 1,000 per 10 minutes, `workflows.task_history_requests`):
/// 429 with `Retry-After` past it.
fn within_quota(state: &AppState, key: &ProjectKey<AnyRole>) -> Result<(), ApiError> {
    state.task_history_quota.take(key.project).map_err(|retry_after| {
        ApiError::too_many_requests(
            "This project is over its Task History API quota for the current window; retry later",
            retry_after,
        )
    })
}

async fn list(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    within_quota(&state, &key)?;
    let query = to_query(&q)?;
    let page = state.store.list_executions(key.project, &query).await.map_err(store_error)?;
    let now = OffsetDateTime::now_utc();
    let next_offset = query.offset + page.executions.len() as u64;
    let next_link =
        (next_offset < page.total && !page.executions.is_empty()).then(|| next_link(&state, &key, &q, next_offset));
    Ok(Json(json!({
        "workflowExecutions": page.executions.iter().map(|e| execution_json(e, now)).collect::<Vec<_>>(),
        "nextLink": next_link,
        "total": page.total,
    })))
}

/// The absolute URL of the next page: the same filters, the order made
/// explicit, the offset moved on.
fn next_link(state: &AppState, key: &ProjectKey<AnyRole>, q: &ListQuery, offset: u64) -> String {
    let mut url = url::Url::parse(state.credentials.public_url()).expect("the public URL is a URL");
    url.set_path(&EXECUTIONS.replace("{projectId}", &key.project.to_string()));
    {
        let mut pairs = url.query_pairs_mut();
        let optional = [
            ("userId", &q.user_id),
            ("workflowId", &q.workflow_id),
            ("integration", &q.integration),
            ("status", &q.status),
            ("beforeDate", &q.before_date),
            ("afterDate", &q.after_date),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                pairs.append_pair(name, v);
            }
        }
        pairs.append_pair("sortBy", q.sort_by.as_deref().unwrap_or("DESC"));
        pairs.append_pair("offset", &offset.to_string());
    }
    url.to_string()
}

fn execution_id(raw: &str) -> Result<ExecutionId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("execution not found"))
}

async fn one(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    within_quota(&state, &key)?;
    let id = execution_id(&id)?;
    let execution = state.store.get_execution(key.project, id).await.map_err(store_error)?;
    let steps = state.store.execution_steps(key.project, id).await.map_err(store_error)?;
    let mut out = execution_json(&execution, OffsetDateTime::now_utc());
    if execution.status == ExecutionStatus::Delayed {
        // When it runs again: its earliest parked step (a Delay step, or a
        // step waiting for a provider's rate-limit window).
        let resumes = steps.iter().filter(|s| s.state == StepState::Queued).map(|s| s.run_after).min();
        out["resumesAt"] = resumes.map(date).unwrap_or(Value::Null);
    }
    out["stepExecutions"] = steps
        .iter()
        .map(|s| {
            let next: Vec<StepRunId> = steps.iter().filter(|n| n.prev == Some(s.id)).map(|n| n.id).collect();
            json!({
                "id": s.id,
                "stepId": s.step,
                "workflowExecutionId": s.execution,
                "status": step_status(s),
                "type": s.kind,
                "start": s.started_at.map(date),
                "end": s.ended_at.map(date),
                "next": next,
                "prev": s.prev,
                "inputSize": size(s.input.as_ref()).to_string(),
                "outputSize": size(step_output(s)).to_string(),
            })
        })
        .collect();
    Ok(Json(out))
}

async fn step(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Path((_, execution, step)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    within_quota(&state, &key)?;
    let execution = execution_id(&execution)?;
    let step: StepRunId = step.parse().map_err(|_| ApiError::not_found("step execution not found"))?;
    let run = state.store.get_step_run(key.project, execution, step).await.map_err(store_error)?;
    let output = step_output(&run);
    Ok(Json(json!({
        "isLargeInput": size(run.input.as_ref()) > LARGE_BYTES,
        "isLargeOutput": size(output) > LARGE_BYTES,
        "input": run.input.clone().unwrap_or_else(|| json!({})),
        "output": output.cloned(),
    })))
}

/// The replay's query, or its JSON body (either may say it):
/// `from=failed` takes up the execution at its failed step (Weft's
/// extension); without it the whole execution runs again.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayFromQuery {
    from: Option<String>,
}

/// Answers 201 with no body, as the reference does; `Location` names the
/// new execution.
async fn replay(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<ReplayFromQuery>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, [(http::header::HeaderName, String); 1]), ApiError> {
    let id = execution_id(&id)?;
    let body: Option<ReplayFromQuery> = match body {
        Some(raw) => Some(json_body(Some(raw), r#"no body, or {"from": "failed"}"#)?),
        None => None,
    };
    let from = q.from.or(body.and_then(|b| b.from));
    let from = match from.as_deref() {
        None => ReplayFrom::Start,
        Some("failed") => ReplayFrom::Failed,
        Some(other) => {
            return Err(invalid_query(format!(
                "from must be `failed` (resume at the failed step) or absent (replay the whole execution); got {other:?}"
            )));
        }
    };
    let new = state.engine.replay(key.project, id, from).await.map_err(|e| match e {
        ReplayError::Store(e) => store_error(e),
        e @ ReplayError::Workflow(_) => ApiError::internal(e),
    })?;
    let location = format!("/projects/{}/task-history/workflow-executions/{new}", key.project);
    Ok((StatusCode::CREATED, [(http::header::LOCATION, location)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_the_reference_writes_them() {
        let t = |s: &str| parse_date("d", s).unwrap().unix_timestamp();
        assert_eq!(t("2023-02-22"), 1_677_024_000);
        assert_eq!(t("2023-02-16T00:00:00"), 1_676_505_600);
        assert_eq!(t("2023-02-16T00:00"), 1_676_505_600);
        assert_eq!(t("2023-02-16T01:00:00+01:00"), 1_676_505_600);
        assert_eq!(t("2023-02-16T00:00:00.500Z"), 1_676_505_600);
        assert!(parse_date("beforeDate", "last tuesday").is_err());
        assert!(parse_date("beforeDate", "2023-13-01").is_err());
    }

    #[test]
    fn times_are_written_with_milliseconds_in_utc() {
        let t = OffsetDateTime::parse("2023-02-20T07:21:43.751234+01:00", &Rfc3339).unwrap();
        assert_eq!(date(t), json!("2023-02-20T06:21:43.751Z"));
    }

    #[test]
    fn bad_filters_are_refused_with_the_reason() {
        let q = |status: Option<&str>, sort: Option<&str>, workflow: Option<&str>| ListQuery {
            user_id: None,
            workflow_id: workflow.map(Into::into),
            integration: None,
            status: status.map(Into::into),
            before_date: None,
            after_date: None,
            offset: None,
            sort_by: sort.map(Into::into),
        };
        assert!(to_query(&q(Some("DONE"), None, None)).is_err());
        assert!(to_query(&q(None, Some("up"), None)).is_err());
        assert!(to_query(&q(None, None, Some("not-a-uuid"))).is_err());
        let ok = to_query(&q(Some("FAILED"), Some("ASC"), None)).unwrap();
        assert_eq!((ok.status, ok.ascending, ok.limit), (Some(ExecutionStatus::Failed), true, 100));
    }
}
