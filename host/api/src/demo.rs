//! The offline demo's server side (`weft serve --demo`): a mock CRM that
//! the demo's "Demo CRM" integration connects to through the egress client
//! like any provider, and the demo user's task history for the demo page.
//! Neither answers unless the server runs the demo.

use crate::extract::Json;
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use weft_store::{ExecutionQuery, ProjectId};

/// The one API key the mock CRM accepts.
pub const DEMO_API_KEY: &str = "demo-key";
/// The header it reads the key from.
pub const DEMO_KEY_HEADER: &str = "x-demo-key";
/// Contacts the mock keeps per key; the oldest go first.
const MAX_CONTACTS: usize = 100;

/// The demo's state: its project, once prepared, and the mock CRM's contacts.
#[derive(Debug, Default)]
pub struct Demo {
    project: std::sync::OnceLock<ProjectId>,
    contacts: Mutex<HashMap<String, Vec<Value>>>,
}

impl Demo {
    /// Marks `project` as the demo's (its task history is shown to its users).
    pub fn set_project(&self, project: ProjectId) {
        let _ = self.project.set(project);
    }
}

pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/demo/crm/me", Access::Public, "The demo's mock CRM: the account of an API key", crm_me)
        .add(Method::GET, "/demo/crm/contacts", Access::Public, "The demo's mock CRM: contacts", crm_contacts)
        .add(Method::POST, "/demo/crm/contacts", Access::Public, "The demo's mock CRM: add a contact", crm_add)
        .add(
            Method::GET,
            "/projects/{projectId}/sdk/demo/task-history",
            Access::User,
            "The demo user's latest workflow executions and their steps (weft serve --demo)",
            history,
        )
}

/// The answer of every demo route while the server runs no demo.
pub(crate) fn off() -> ApiError {
    ApiError::not_found("The demo runs only with `weft serve --demo` (`cargo xtask run`)")
}

/// The caller's key, if it is the demo's; 401 otherwise, as a provider would.
fn key(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    if !state.web.demo {
        return Err(off());
    }
    match headers.get(DEMO_KEY_HEADER).and_then(|v| v.to_str().ok()) {
        Some(k) if k == DEMO_API_KEY => Ok(k.to_owned()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEY",
            format!("Demo CRM: that API key is not valid (the demo's key is `{DEMO_API_KEY}`)"),
        )),
    }
}

async fn crm_me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    key(&state, &headers)?;
    Ok(Json(json!({ "id": "demo-account", "name": "Demo CRM account" })))
}

async fn crm_contacts(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let key = key(&state, &headers)?;
    let contacts = state.demo.contacts.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Json(json!({ "data": contacts.get(&key).cloned().unwrap_or_default() })))
}

async fn crm_add(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = key(&state, &headers)?;
    let Some(Json(Value::Object(mut contact))) = body else {
        return Err(ApiError::bad_request(
            r#"Demo CRM: send a contact, e.g. {"name": "Ada", "email": "ada@example.com"}"#,
        ));
    };
    let mut all = state.demo.contacts.lock().unwrap_or_else(|p| p.into_inner());
    let list = all.entry(key).or_default();
    contact.insert("id".into(), json!(format!("contact-{}", uuid::Uuid::new_v4().simple())));
    list.push(Value::Object(contact.clone()));
    if list.len() > MAX_CONTACTS {
        list.remove(0);
    }
    Ok((StatusCode::CREATED, Json(Value::Object(contact))))
}

/// The signed-in demo user's ten latest executions, each with its steps.
async fn history(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    if !state.web.demo || state.demo.project.get() != Some(&user.project) {
        return Err(off());
    }
    let query = ExecutionQuery { user: Some(user.user.user_id.clone()), limit: 10, ..Default::default() };
    let page = state.store.list_executions(user.project, &query).await.map_err(store_error)?;
    let now = time::OffsetDateTime::now_utc();
    // The names of the user's workflows, read once (a page repeats them).
    let names: HashMap<_, _> = state
        .store
        .list_workflows(user.project, None)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect();
    let mut out = Vec::with_capacity(page.executions.len());
    for e in &page.executions {
        let steps = state.store.execution_steps(user.project, e.id).await.map_err(store_error)?;
        let mut view = crate::task_history::execution_json(e, now);
        view["workflowName"] = json!(names.get(&e.workflow));
        view["steps"] =
            steps.iter().map(|s| json!({ "step": s.step, "status": crate::task_history::step_status(s) })).collect();
        out.push(view);
    }
    Ok(Json(json!({ "executions": out, "total": page.total })))
}
