//! SDK routes (user token): the connected user and the project's
//! integrations, in the reference's shapes.

use crate::extract::Json;
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use weft_catalog::resource::is_resource;
use weft_store::{ConnectedUser, Credential, CredentialStatus, Enablement, Integration, ProjectId};

pub(crate) fn routes() -> Routes {
    let me = "/projects/{projectId}/sdk/me";
    Routes::new()
        .add(Method::GET, me, Access::User, "The connected user and their integrations", me_get)
        .add(Method::PATCH, me, Access::User, "Merge metadata into the connected user", patch_me)
        .add(
            Method::GET,
            "/projects/{projectId}/sdk/metadata",
            Access::User,
            "Display metadata of active integrations",
            metadata,
        )
        .add(
            Method::GET,
            "/projects/{projectId}/sdk/integrations",
            Access::User,
            "The project's integrations",
            integrations,
        )
}

/// The project's active integrations; an API resource's hidden integration
/// is not one of them (see [`resources_view`]).
async fn active_integrations(state: &AppState, project: ProjectId) -> Result<Vec<Integration>, ApiError> {
    let all = state.store.list_integrations(project).await.map_err(store_error)?;
    Ok(all.into_iter().filter(|i| i.active && !is_resource(&i.integration_type)).collect())
}

/// The project's API resources with the user's connection of each:
/// `{id, name, level, connected, credentialId, credentialStatus,
/// providerId, providerData}` (an app-level resource is connected for
/// every user once its one credential is set).
async fn resources_view(state: &AppState, project: ProjectId, mine: &[Credential]) -> Result<Value, ApiError> {
    let mut out = Vec::new();
    let mut app_credentials = None;
    for i in state.store.list_integrations(project).await.map_err(store_error)? {
        if !is_resource(&i.integration_type) {
            continue;
        }
        let (_, resource) =
            state.credentials.resource(project, i.id).await.map_err(crate::connect::credential_error)?;
        let connection = match resource.level {
            weft_catalog::resource::ResourceLevel::User => mine.iter().find(|c| c.integration_id == i.id).cloned(),
            weft_catalog::resource::ResourceLevel::App => {
                if app_credentials.is_none() {
                    let app = state.store.list_user_credentials(project, weft_credentials::APP_USER).await;
                    app_credentials = Some(app.unwrap_or_default());
                }
                app_credentials.iter().flatten().find(|c| c.integration_id == i.id).cloned()
            }
        };
        out.push(json!({
            "id": i.id,
            "name": resource.name,
            "slug": weft_catalog::resource::slug(&resource.name),
            "level": resource.level,
            "connected": connection.as_ref().is_some_and(|c| c.status == CredentialStatus::Valid),
            "credentialId": connection.as_ref().map(|c| c.id.to_string()),
            "credentialStatus": connection.as_ref().map(|c| c.status.as_str()),
            "providerId": connection.as_ref().and_then(|c| c.provider_id.clone()),
            "providerData": connection.as_ref().map(|c| c.provider_data.clone()),
        }));
    }
    Ok(Value::Array(out))
}

/// Features of the reference's plans that a Weft project has, as the SDK
/// names them in `project.accessibleFeatures` (it refuses a function whose
/// feature is missing): the headless functions (`installIntegration`,
/// `uninstallIntegration`), user metadata (`setUserMetadata`, `PATCH
/// /sdk/me`), custom integrations (`custom.*`, proxied by id), the Task
/// History API and Workflow Permissions. Weft has no plans, so a project
/// has every feature the server has; the others (dynamic field mapping,
/// monitoring, white-labelling) join this list with the code that serves
/// them.
const ACCESSIBLE_FEATURES: [&str; 5] = ["headless-cp", "user-metadata", "byo", "th-api", "workflow-permissions"];

/// One integration of the user, as `/sdk/me` lists it: `enabled` when an
/// account is VALID, every account (`allCredentials`, empty when none),
/// and the first (VALID first) account's id, status, provider data and
/// configuration at the top.
fn integration_state(mine: &[&Credential], enabled_workflows: &[Enablement], now: time::OffsetDateTime) -> Value {
    let mut all: Vec<Value> = mine.iter().map(|c| crate::connect::credential_view(c, now)).collect();
    let enabled = mine.iter().any(|c| c.status == CredentialStatus::Valid);
    let Some(first) = mine.iter().find(|c| c.status == CredentialStatus::Valid).or(mine.first()) else {
        return json!({ "enabled": false, "configuredWorkflows": {}, "allCredentials": all });
    };
    for (view, c) in all.iter_mut().zip(mine) {
        let Some(settings) = view["configurations"][0]["workflowSettings"].as_object_mut() else { continue };
        for e in enabled_workflows.iter().filter(|e| e.credential.map_or(c.id == first.id, |id| id == c.id)) {
            let entry = settings.entry(e.workflow.to_string()).or_insert_with(|| json!({ "settings": {} }));
            entry["enabled"] = json!(true);
        }
    }
    let config = crate::connect::configuration_view(first);
    // The workflows the user enabled for this account (or for their first
    // one), over what the account's configuration says.
    let mut workflows = config["workflowSettings"].as_object().cloned().unwrap_or_default();
    for e in enabled_workflows.iter().filter(|e| e.credential.is_none_or(|c| c == first.id)) {
        let entry = workflows.entry(e.workflow.to_string()).or_insert_with(|| json!({ "settings": {} }));
        entry["enabled"] = json!(true);
    }
    json!({
        "enabled": enabled,
        "configuredWorkflows": workflows,
        "workflowSettings": workflows,
        "sharedSettings": config["sharedSettings"],
        "configMeta": config["configMeta"],
        "credentialConfigId": config["id"],
        "credentialId": first.id.to_string(),
        "credentialStatus": first.status.as_str(),
        "providerId": first.provider_id,
        "providerData": first.provider_data,
        "allCredentials": all,
    })
}

/// `{authenticated, userId, integrations, meta, resources, project}`: each
/// active integration with the user's accounts of it, and what the SDK
/// needs of the project (its id and [`ACCESSIBLE_FEATURES`]), and the
/// project's API resources with the user's connections of them.
async fn user_view(state: &AppState, project: ProjectId, user: &ConnectedUser) -> Result<Value, ApiError> {
    let credentials = state.store.list_user_credentials(project, &user.user_id).await.map_err(store_error)?;
    let mut enablements = state.store.user_enablements(project, &user.user_id).await.map_err(store_error)?;
    let workflows = state.store.list_workflows(project, None).await.map_err(store_error)?;
    // An enablement the user's metadata no longer permits is not shown,
    // however the version that decided it was deployed (the CLI deploys
    // with the server down; the next trigger or metadata change turns it
    // off for good).
    let mut permitted = std::collections::HashMap::new();
    for w in &workflows {
        if let Some(version) = w.deployed_version
            && enablements.iter().any(|e| e.workflow == w.id)
        {
            let ok = state.engine.permitted(project, w.id, version, &user.user_id).await.map_err(ApiError::internal)?;
            permitted.insert(w.id, ok);
        }
    }
    enablements.retain(|e| permitted.get(&e.workflow).copied().unwrap_or(true));
    let now = time::OffsetDateTime::now_utc();
    let integrations: Map<String, Value> = active_integrations(state, project)
        .await?
        .into_iter()
        .map(|i| {
            let mine: Vec<&Credential> = credentials.iter().filter(|c| c.integration_id == i.id).collect();
            let of_integration: Vec<Enablement> = enablements
                .iter()
                .filter(|e| workflows.iter().any(|w| w.id == e.workflow && w.integration == i.integration_type))
                .cloned()
                .collect();
            (i.integration_type, integration_state(&mine, &of_integration, now))
        })
        .collect();
    Ok(json!({
        "authenticated": true,
        "userId": user.user_id,
        "integrations": integrations,
        "meta": user.metadata,
        "resources": resources_view(state, project, &credentials).await?,
        "project": { "id": project.to_string(), "accessibleFeatures": ACCESSIBLE_FEATURES },
    }))
}

async fn me_get(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    Ok(Json(user_view(&state, user.project, &user.user).await?))
}

#[derive(Deserialize)]
struct PatchMe {
    meta: Option<Value>,
}

/// Shallow-merges `meta` into the user's metadata and answers the user.
async fn patch_me(
    State(state): State<AppState>,
    user: User,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let Some(Json(body)) = body else {
        return Err(ApiError::bad_request("Send a JSON body like {\"meta\": {\"Email\": \"a@b.c\"}}"));
    };
    let patch: PatchMe =
        serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("Invalid body: {e}")))?;
    let Some(Value::Object(meta)) = patch.meta else {
        return Err(ApiError::bad_request("`meta` must be a JSON object, e.g. {\"meta\": {\"Email\": \"a@b.c\"}}"));
    };
    let updated = state.store.merge_metadata(user.project, &user.user.user_id, meta).await.map_err(store_error)?;
    // Workflows whose permissions the new metadata no longer meets go off.
    state.engine.enforce_permissions_of_user(user.project, &user.user.user_id).await.map_err(ApiError::internal)?;
    Ok(Json(user_view(&state, user.project, &updated).await?))
}

/// Display metadata of the project's active integrations.
async fn metadata(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = active_integrations(&state, user.project)
        .await?
        .into_iter()
        .map(|i| {
            let provider = state.credentials.provider_of(&i).ok().flatten().map(|e| e.provider);
            json!({
                "type": i.integration_type,
                "name": provider.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| i.integration_type.clone()),
                "brandColor": i.accent_color,
                "icon": provider.as_ref().and_then(|p| p.icon_url.clone()),
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

fn rfc3339(t: time::OffsetDateTime) -> Value {
    t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
}

/// The project's integrations with their Connect Portal configuration,
/// display name (the provider's) and brand colour (the integration's
/// accent colour): the SDK's `getIntegrationMetadata` reads both here.
async fn integrations(State(state): State<AppState>, user: User) -> Result<Json<Value>, ApiError> {
    let mut all = state.store.list_integrations(user.project).await.map_err(store_error)?;
    all.retain(|i| !is_resource(&i.integration_type));
    let mut workflows = state.store.list_workflows(user.project, None).await.map_err(store_error)?;
    // A workflow whose permissions the user does not meet is not theirs to see.
    let mut visible = Vec::with_capacity(workflows.len());
    for w in workflows.drain(..) {
        let permitted = match w.deployed_version {
            Some(v) => {
                state.engine.permitted(user.project, w.id, v, &user.user.user_id).await.map_err(ApiError::internal)?
            }
            None => false,
        };
        if permitted {
            visible.push(w);
        }
    }
    let workflows = visible;
    let list: Vec<Value> = all
        .into_iter()
        .map(|i| {
            let custom = i.integration_type.strip_prefix("custom.").map(str::to_owned);
            let name = state.credentials.provider_of(&i).ok().flatten().map(|e| e.provider.name.clone());
            json!({
                "name": name.unwrap_or_else(|| i.integration_type.clone()),
                "brandColor": i.accent_color,
                "id": i.id.to_string(),
                "dateCreated": rfc3339(i.created_at),
                "dateUpdated": rfc3339(i.created_at),
                "projectId": i.project_id.to_string(),
                "customIntegrationId": custom,
                "type": i.integration_type,
                "isActive": i.active,
                "configs": [{ "integrationId": i.id.to_string(), "values": {
                    "accentColor": i.accent_color,
                    "portal": i.portal_texts,
                    "workflowMeta": workflows
                        .iter()
                        .filter(|w| w.integration == i.integration_type && w.deployed_version.is_some())
                        .map(|w| (w.id.to_string(), json!({ "id": w.id, "description": w.name })))
                        .collect::<Map<String, Value>>(),
                } }],
                // The integration's deployed workflows, which users may enable.
                "workflows": workflows
                    .iter()
                    .filter(|w| w.integration == i.integration_type && w.deployed_version.is_some())
                    .map(|w| json!({
                        "id": w.id,
                        "description": w.name,
                        "integrationId": i.id.to_string(),
                        "projectId": i.project_id.to_string(),
                        "dateCreated": rfc3339(w.created_at),
                        "dateUpdated": rfc3339(w.updated_at),
                    }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}
