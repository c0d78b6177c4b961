//! What a queue measurement runs on: a fresh store (a SQLite file, or a
//! PostgreSQL database of its own that is dropped afterwards), a project
//! with the benchmark's workflows deployed and enabled for one user, and a
//! real [`Engine`] over it whose Function steps are answered in process.

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::Connection;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use weft_engine::{AppEvent, Engine, EngineDeps, EngineSettings, StepPlugins};
use weft_store::{NewWorkflow, ProjectId, Store, VersionKind, WorkflowId};

/// The local PostgreSQL server (trust authentication), `{db}` the database.
/// Without TLS: over loopback it protects nothing, and the server's
/// `ssl = on` would otherwise make every round trip pay for encryption on
/// both ends (measured: about 15 % of the batched figure on these cores).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/{db}?sslmode=disable";

/// The user every execution runs for.
const USER: &str = "bench-user";

/// Where a rig keeps its data.
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The benchmark's workflows: `name` is the app event that starts it, and
/// it runs `steps` Function steps one after the other.
#[derive(Clone, Copy)]
pub struct Chain {
    pub name: &'static str,
    pub steps: usize,
}

/// Ten steps: the throughput runs.
pub const TEN: Chain = Chain { name: "Bench Ten", steps: 10 };
/// One step: trigger → first step.
pub const ONE: Chain = Chain { name: "Bench One", steps: 1 };
/// Three steps: a workflow end to end.
pub const THREE: Chain = Chain { name: "Bench Three", steps: 3 };

/// A store, a project with the chains deployed, and an engine.
pub struct Rig {
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub project: ProjectId,
    /// `(idempotency key, when)` of every first step as it starts.
    pub first_steps: mpsc::UnboundedReceiver<(String, Instant)>,
    /// The SQLite file's directory, or the PostgreSQL database's name.
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Rig {
    /// A fresh store on `backend` with the chains, and an engine with
    /// `settings` (not running yet).
    pub async fn new(backend: Backend, settings: EngineSettings) -> anyhow::Result<Self> {
        let (place, location) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().context("a directory for the SQLite file")?;
                let location = dir.path().join("weft.db").display().to_string();
                (Place::Sqlite(dir), location)
            }
            Backend::Postgres => {
                let name = format!("weft_bench_{}", uuid::Uuid::new_v4().simple());
                let mut admin = admin().await?;
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
                (Place::Postgres(name.clone()), POSTGRES.replace("{db}", &name))
            }
        };
        let store = weft_store::open(&location).await.context("opening the store")?;
        store.migrate().await.context("migrating")?;
        let project =
            store.create_project(weft_store::NewProject::new("Bench", weft_store::Environment::Development)).await?.id;
        for chain in [TEN, ONE, THREE] {
            deploy(&*store, project, chain).await?;
        }
        let (started, first_steps) = mpsc::unbounded_channel();
        let engine = Engine::new(EngineDeps {
            store: store.clone(),
            egress: Arc::new(weft_egress::EgressClient::new(Default::default())?),
            credentials: credentials(store.clone())?,
            plugins: Some(Arc::new(Functions { started })),
            triggers: None,
            settings,
        });
        Ok(Self { store, engine, project, first_steps, place })
    }

    /// The app event that starts `chain` for the user.
    pub fn event(&self, chain: Chain) -> AppEvent {
        AppEvent { project: self.project, user: USER.into(), name: chain.name.into(), payload: json!({"n": 1}) }
    }

    /// The directory of the SQLite file.
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        match &self.place {
            Place::Sqlite(dir) => Some(dir.path()),
            Place::Postgres(_) => None,
        }
    }

    /// The URL of the PostgreSQL database.
    pub fn postgres_url(&self) -> Option<String> {
        match &self.place {
            Place::Sqlite(_) => None,
            Place::Postgres(name) => Some(POSTGRES.replace("{db}", name)),
        }
    }

    /// Closes the store; drops the PostgreSQL database.
    pub async fn close(self) -> anyhow::Result<()> {
        self.store.close().await;
        if let Place::Postgres(name) = &self.place {
            let mut admin = admin().await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
        }
        Ok(())
    }
}

/// A connection to the server's `postgres` database.
pub async fn admin() -> anyhow::Result<sqlx::PgConnection> {
    sqlx::PgConnection::connect(&POSTGRES.replace("{db}", "postgres"))
        .await
        .context("PostgreSQL must run on 127.0.0.1:5432 and trust the postgres user")
}

/// Deploys `chain` and enables it for the user.
async fn deploy(store: &dyn Store, project: ProjectId, chain: Chain) -> anyhow::Result<WorkflowId> {
    let steps: Vec<Value> = (1..=chain.steps)
        .map(|n| {
            // The first step tells the benchmark when it starts.
            let function = if n == 1 { FIRST } else { "next" };
            json!({"id": format!("f{n}"), "type": "function", "function": function, "parameters": {"n": n}})
        })
        .collect();
    let definition = json!({
        "name": chain.name,
        "integration": "bench",
        "trigger": {"type": "appEvent", "event": chain.name},
        "steps": steps,
    });
    let workflow = weft_engine::load::from_value(definition.clone(), chain.name)?;
    let new = NewWorkflow { name: chain.name.into(), integration: "bench".into(), definition: definition.clone() };
    let id = store.create_workflow(project, new).await?.id;
    let key = weft_engine::trigger_key(&workflow);
    store.write_version(project, id, VersionKind::Deployed, definition, Some(key)).await?;
    store.enable_workflow(project, id, USER, None).await?;
    Ok(id)
}

/// The credential service the engine needs (no step of the benchmark
/// uses an account).
fn credentials(store: Arc<dyn Store>) -> anyhow::Result<Arc<weft_credentials::Credentials>> {
    let key = weft_vault::LocalMasterKey::generate(weft_vault::KeyId(1))?;
    let vault = Arc::new(weft_vault::Vault::new(weft_vault::Keyring::new(Arc::new(key))));
    Ok(weft_credentials::Credentials::new(weft_credentials::CredentialDeps {
        store,
        vault,
        egress: Arc::new(weft_egress::EgressClient::new(Default::default())?),
        governor: Arc::new(weft_egress::Governor::default()),
        clock: Arc::new(weft_auth::SystemClock),
        providers: Arc::new(weft_catalog::Catalog::default()),
        hooks: Arc::new(weft_credentials::NoHooks),
        public_url: "http://127.0.0.1".into(),
        settings: Default::default(),
    }))
}

/// The function a chain's first step calls.
const FIRST: &str = "first";

/// Function steps answered in process at once, the first of each
/// execution reporting when it started: the cheapest step that still goes
/// through the engine's whole path (plan, templates, the call, the output
/// stored, the successor queued).
struct Functions {
    started: mpsc::UnboundedSender<(String, Instant)>,
}

#[async_trait::async_trait]
impl StepPlugins for Functions {
    async fn run_action(
        &self,
        _: ProjectId,
        _: &str,
        _: weft_store::CredentialId,
        _: &str,
        _: Value,
        _: &str,
    ) -> Result<Value, Value> {
        Err(json!({"message": "the benchmark has no actions"}))
    }

    async fn run_function(
        &self,
        _: ProjectId,
        function: &str,
        _: WorkflowId,
        _: &str,
        parameters: Value,
        idempotency_key: &str,
    ) -> Result<Value, Value> {
        if function == FIRST {
            let _ = self.started.send((idempotency_key.to_owned(), Instant::now()));
        }
        Ok(json!({"n": parameters.get("n").cloned().unwrap_or(Value::Null)}))
    }
}
