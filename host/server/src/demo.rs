//! The offline demo (`weft serve --demo`, which `cargo xtask run` passes):
//! on start, a "Demo" project (created once) with a "Demo CRM" custom
//! integration backed by the server's own mock CRM (`/demo/crm`, reached
//! through the egress client like any provider), a workflow that adds a
//! CRM contact for each "Contact Created" app event, and a user token for
//! the demo user; the demo catalog page's address is printed with them.

use crate::startup::Application;
use anyhow::Context;
use serde_json::{Value, json};
use std::net::SocketAddr;
use weft_store::{
    Environment, IntegrationPatch, NewIntegration, NewProject, NewSigningKey, ProjectId, SigningKeyMaterial,
};

/// The demo project's name.
pub const PROJECT: &str = "Demo";
/// The demo integration's type.
pub const INTEGRATION: &str = "custom.demo-crm";
/// The user the demo signs in as.
pub const USER: &str = "demo-user";
/// The demo token's lifetime: the longest a user token may have (each
/// start prints a new one).
const TOKEN_TTL_SECS: i64 = 24 * 3600;
/// `kid` of the demo project's signing key.
const KID: &str = "demo";

/// The host the demo integration reaches the mock CRM by; `weft serve
/// --demo` lets the egress client reach it.
pub const HOST: &str = "localhost";

const OVERVIEW: &str = "\
**Demo CRM** is a pretend CRM that lives inside this Weft server, so everything here works without internet.

- Connect with the API key `demo-key` (any other key is refused, to show how errors look).
- Its workflow, *Add new contacts to Demo CRM*, is on once you connect: create a contact on the demo page and the \
  workflow adds it to the CRM, owned by the *Contact owner* you set under Configuration.
- The demo page shows each run in the task history.";

const WORKFLOW: &str = r#"
name: Add new contacts to Demo CRM
integration: custom.demo-crm
description: Each contact created in the app is added to the user's Demo CRM, owned by the owner they chose.
portal:
  defaultEnabled: true
trigger: {type: appEvent, event: Contact Created}
steps:
  - id: addContact
    type: integrationRequest
    method: POST
    url: /contacts
    bodyType: json
    body:
      name: "{{trigger.output.name}}"
      email: "{{trigger.output.email}}"
      owner: "{{settings.owner}}"
"#;

/// What the demo printed for the newcomer.
pub struct Prepared {
    /// The demo catalog's address, with the project and a user token.
    pub url: String,
    /// The demo project.
    pub project: ProjectId,
}

/// Creates the demo's project, integration and workflow if missing (and
/// points the integration at this server's address), marks the project as
/// the demo's and mints a token for the demo user.
pub async fn prepare(app: &Application, addr: SocketAddr) -> anyhow::Result<Prepared> {
    let store = app.store();
    let settings = app.settings();
    // The demo's project is the one this data directory's marker names.
    let marker = settings.data_dir.join("demo-project");
    let named: Option<ProjectId> = std::fs::read_to_string(&marker).ok().and_then(|s| s.trim().parse().ok());
    let existing = match named {
        Some(id) => store.list_projects().await?.into_iter().find(|p| p.id == id),
        None => None,
    };
    let project = match existing {
        Some(p) => p.id,
        None => {
            let project = store.create_project(NewProject::new(PROJECT, Environment::Development)).await?;
            let (private_pem, public_pem) = weft_auth::generate_signing_key()?;
            let material = SigningKeyMaterial::Generated { public_key_pem: public_pem };
            store.add_signing_key(project.id, NewSigningKey::new(Some(KID.into()), material)).await?;
            crate::cli::write_private(&crate::cli::key_file(settings, project.id), &private_pem)?;
            std::fs::write(&marker, project.id.to_string()).with_context(|| format!("writing {}", marker.display()))?;
            tracing::info!(project = %project.id, "demo project created");
            project.id
        }
    };
    let base = format!("http://{HOST}:{}/demo/crm", addr.port());
    let definition = json!({
        "id": INTEGRATION,
        "name": "Demo CRM",
        "description": "A pretend CRM inside this server, for trying Weft offline",
        "baseUrl": base,
        "auth": {"type": "api-key", "location": "header", "name": weft_api::demo::DEMO_KEY_HEADER, "field": "apiKey"},
        "connectionTest": {"path": "/me", "accountId": "/id", "accountName": "/name"},
    });
    let provider = app
        .credentials()
        .check_definition(INTEGRATION, definition)
        .map_err(|e| anyhow::anyhow!("the demo integration's definition is refused: {e:?}"))?;
    let Value::Object(definition) = serde_json::to_value(&provider)? else {
        anyhow::bail!("a definition is an object")
    };
    let portal = json!({
        "description": "Keep your contacts in sync with Demo CRM",
        "overview": OVERVIEW,
        "theme": "system",
        "settings": [
            {"id": "owner", "title": "Contact owner", "type": "text", "tooltip": "Who owns the contacts the workflow adds"},
            {"id": "region", "title": "Region", "type": "dropdown",
             "options": [{"label": "Europe", "value": "eu"}, {"label": "Americas", "value": "us"}]},
        ],
    });
    let Value::Object(portal) = portal else { anyhow::bail!("a portal configuration is an object") };
    match store.get_integration_by_type(project, INTEGRATION).await {
        Ok(i) => {
            // The port may differ from the last run's.
            let patch = IntegrationPatch {
                active: Some(true),
                definition: Some(Some(definition)),
                portal_texts: Some(portal),
                ..Default::default()
            };
            store.update_integration(project, i.id, patch).await?;
        }
        Err(weft_store::Error::NotFound(_)) => {
            let new = NewIntegration {
                integration_type: INTEGRATION.into(),
                active: true,
                accent_color: Some("#0B6E4F".into()),
                portal_texts: portal,
                definition: Some(definition),
                ..Default::default()
            };
            store.create_integration(project, new).await?;
        }
        Err(e) => return Err(e.into()),
    }
    let workflow = weft_engine::load::parse(WORKFLOW, weft_engine::Format::Yaml, "demo workflow")
        .map_err(|e| anyhow::anyhow!("the demo workflow is refused: {e}"))?;
    let deployed = store.list_workflows(project, Some(INTEGRATION)).await?.iter().any(|w| w.name == workflow.name);
    if !deployed {
        crate::cli::deploy(store.as_ref(), project, &workflow, "demo workflow").await?;
    }
    app.demo_project(project);
    let path = crate::cli::key_file(settings, project);
    let pem = std::fs::read_to_string(&path)
        .with_context(|| format!("the demo project's signing key {} is missing", path.display()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = weft_auth::mint_user_token(&pem, Some(KID), USER, now, TOKEN_TTL_SECS)?;
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
    let url = format!("http://{host}:{}/demo/?project={project}#token={token}", addr.port());
    Ok(Prepared { url, project })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_workflow_passes_its_checks() {
        let workflow = weft_engine::load::parse(WORKFLOW, weft_engine::Format::Yaml, "demo workflow").unwrap();
        assert!(workflow.portal.default_enabled);
        assert_eq!(workflow.integration.as_deref(), Some(INTEGRATION));
    }
}
