//! Operator commands that act on the database directly: create a project
//! (with a development signing key), create an API key, mint a user token,
//! check and deploy workflow files, list and check provider definitions.

pub mod integrations;

use crate::config::Settings;
use crate::startup::open_store;
use anyhow::{Context, bail};
use std::path::PathBuf;
use weft_store::{Environment, NewApiKey, NewProject, NewSigningKey, ProjectId, Role, SigningKeyMaterial};

/// `kid` of the development signing key `project create` generates.
const DEV_KID: &str = "dev";

pub(crate) fn key_file(settings: &Settings, project: ProjectId) -> PathBuf {
    settings.data_dir.join("keys").join(format!("{project}.pem"))
}

/// Creates a project and its development signing key; the private half is
/// written to the data directory (mode 0600) for `token mint`.
pub async fn project_create(settings: &Settings, name: &str, environment: &str) -> anyhow::Result<()> {
    let environment: Environment = environment.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(settings).await?;
    let project = store.create_project(NewProject::new(name, environment)).await?;
    let (private_pem, public_pem) = weft_auth::generate_signing_key()?;
    let material = SigningKeyMaterial::Generated { public_key_pem: public_pem };
    store.add_signing_key(project.id, NewSigningKey::new(Some(DEV_KID.into()), material)).await?;
    let path = key_file(settings, project.id);
    write_private(&path, &private_pem)?;
    store.close().await;
    println!("Created project {} ({}, {})", project.id, project.name, environment_name(&project.environment));
    println!("Development signing key (kid {DEV_KID}): {}", path.display());
    println!("Mint a user token: weft token mint --project {} --user <user-id>", project.id);
    Ok(())
}

fn environment_name(e: &Environment) -> String {
    serde_json::to_value(e).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

pub(crate) fn write_private(path: &std::path::Path, pem: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, pem.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// Creates a project API key and prints it once.
pub async fn key_create(settings: &Settings, project: &str, role: &str, name: &str) -> anyhow::Result<()> {
    let project: ProjectId = project.parse().map_err(|_| anyhow::anyhow!("{project:?} is not a project id"))?;
    let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = weft_auth::generate_api_key("weft_key")?;
    let store = open_store(settings).await?;
    let prefix: String = key.plaintext.chars().take(12).collect();
    let stored = store
        .create_api_key(project, NewApiKey { name: name.to_owned(), role, key_prefix: prefix, key_hash: key.hash })
        .await?;
    store.close().await;
    println!("API key {} ({:?}) for project {project} — shown once, store it safely:", stored.id, stored.role);
    println!("  {}", key.plaintext);
    Ok(())
}

/// Prints a user token for `user`, signed with the project's development key.
pub async fn token_mint(settings: &Settings, project: &str, user: &str, ttl_seconds: i64) -> anyhow::Result<()> {
    let project: ProjectId = project.parse().map_err(|_| anyhow::anyhow!("{project:?} is not a project id"))?;
    if user.is_empty() {
        bail!("--user must not be empty");
    }
    let path = key_file(settings, project);
    let pem = std::fs::read_to_string(&path).with_context(|| {
        format!("no development signing key at {}; create the project with `weft project create`", path.display())
    })?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    println!("{}", weft_auth::mint_user_token(&pem, Some(DEV_KID), user, now, ttl_seconds)?);
    Ok(())
}

/// A workflow file, checked; every problem printed with its path.
fn checked_workflow(file: &std::path::Path) -> anyhow::Result<weft_engine::Workflow> {
    weft_engine::load::load_file(file).map_err(|e| {
        for p in &e.problems {
            let at = if p.path.is_empty() { String::new() } else { format!(" at {}", p.path) };
            eprintln!("{}{at}: {}", e.source_name, p.reason);
        }
        anyhow::anyhow!("{}: {} problem(s); nothing was changed", e.source_name, e.problems.len())
    })
}

/// Checks a workflow file and says what it holds.
pub fn workflow_validate(file: &std::path::Path) -> anyhow::Result<()> {
    let workflow = checked_workflow(file)?;
    let steps = workflow.all_steps().count();
    let trigger = match workflow.trigger.kind.key() {
        Some(key) => format!("{} {key:?}", workflow.trigger.kind.name()),
        None => workflow.trigger.kind.name().to_owned(),
    };
    println!("{}: a valid workflow, {:?}: {steps} step(s), triggered by {trigger}", file.display(), workflow.name);
    Ok(())
}

/// Deploys a workflow file to a project: a new version of the project's
/// workflow of the same name and integration, or a new workflow.
pub async fn workflow_deploy(settings: &Settings, file: &std::path::Path, project: &str) -> anyhow::Result<()> {
    let project: ProjectId = project.parse().map_err(|_| anyhow::anyhow!("{project:?} is not a project id"))?;
    let workflow = checked_workflow(file)?;
    let store = open_store(settings).await?;
    let outcome = deploy(store.as_ref(), project, &workflow, &file.display().to_string()).await;
    store.close().await;
    let (id, version) = outcome?;
    println!("Deployed {:?} as version {version} of workflow {id}", workflow.name);
    Ok(())
}

/// Deploys `workflow` (checked) to `project`: a new version of the
/// project's workflow of the same name and integration, or a new workflow.
pub(crate) async fn deploy(
    store: &dyn weft_store::Store,
    project: ProjectId,
    workflow: &weft_engine::Workflow,
    source: &str,
) -> anyhow::Result<(weft_store::WorkflowId, u32)> {
    let integration = weft_engine::stored_integration(workflow, source)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?
        .to_owned();
    let document = serde_json::to_value(workflow)?;
    let trigger = weft_engine::trigger_key(workflow);
    let existing =
        store.list_workflows(project, Some(&integration)).await?.into_iter().find(|w| w.name == workflow.name);
    let id = match existing {
        Some(w) => w.id,
        None => {
            let new =
                weft_store::NewWorkflow { name: workflow.name.clone(), integration, definition: document.clone() };
            store.create_workflow(project, new).await?.id
        }
    };
    let version = store.write_version(project, id, weft_store::VersionKind::Deployed, document, Some(trigger)).await?;
    Ok((id, version))
}
