//! [`PluginHost`]: install components and call them, one fresh store per call.

mod calls;
mod execute;
mod fields;
mod js;

pub use calls::{
    ActionCall, ActionOutput, CallOptions, Event, PollOutcome, RefreshedCredentials, StepCall, WebhookDelivery,
    WebhookOutcome, WebhookReply,
};
pub use js::{JS_FUNCTION_PLUGIN, JsCall, JsError, JsErrorKind, JsLimits, JsLogLevel, JsLogLine, JsOutcome};

use crate::bindings::fields::IntegrationFieldsPre;
use crate::bindings::{exports, integration::IntegrationPre, js::JsFunctionPre, step::FunctionStepPre};
use crate::cache;
use crate::call_state::{CallState, Phase};
use crate::config::HostConfig;
use crate::error::{InstallError, Result};
use crate::inspect::inspect;
use crate::services::HostServices;
use crate::types::{ActionDefinition, PluginInfo, TriggerDefinition, World};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use weft_catalog::Provider;

/// The pre-instantiated component of one plugin version.
pub(crate) enum Pre {
    Integration(IntegrationPre<CallState>),
    Step(FunctionStepPre<CallState>),
    Js(JsFunctionPre<CallState>),
}

/// An installed plugin version, ready to be called.
pub(crate) struct Installed {
    pub info: Arc<PluginInfo>,
    pub metadata: Option<Arc<Provider>>,
    pub pre: Pre,
    /// The same component seen as world `integration-fields`, when it
    /// exports `fields`.
    pub fields: Option<IntegrationFieldsPre<CallState>>,
}

/// Installs, lists and calls plugins. One per process; cheap to share in an
/// `Arc`.
pub struct PluginHost {
    engine: Engine,
    integration_linker: Linker<CallState>,
    step_linker: Linker<CallState>,
    js_linker: Linker<CallState>,
    config: Arc<HostConfig>,
    services: HostServices,
    plugins: RwLock<HashMap<String, Arc<Installed>>>,
    permits: Arc<Semaphore>,
}

impl PluginHost {
    /// Builds the engine (and its epoch ticker) and the linkers.
    pub fn new(config: HostConfig, services: HostServices) -> Result<Self> {
        let engine = crate::engine::build_engine(&config).map_err(|e| InstallError::Compile(format!("{e:#}")))?;
        crate::engine::spawn_epoch_ticker(&engine)
            .map_err(|e| InstallError::Compile(format!("starting the epoch ticker: {e}")))?;
        let integration_linker =
            crate::engine::integration_linker(&engine).map_err(|e| InstallError::Compile(format!("{e:#}")))?;
        let step_linker = crate::engine::step_linker(&engine).map_err(|e| InstallError::Compile(format!("{e:#}")))?;
        let js_linker = crate::engine::js_linker(&engine).map_err(|e| InstallError::Compile(format!("{e:#}")))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent_calls as usize)),
            engine,
            integration_linker,
            step_linker,
            js_linker,
            config: Arc::new(config),
            services,
            plugins: RwLock::default(),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Every installed plugin, sorted by id.
    pub fn list(&self) -> Vec<Arc<PluginInfo>> {
        let mut all: Vec<_> = self.read().values().map(|p| p.info.clone()).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// One installed plugin.
    pub fn get(&self, id: &str) -> Option<Arc<PluginInfo>> {
        self.read().get(id).map(|p| p.info.clone())
    }

    /// Removes a plugin; calls already running finish on their own instance.
    pub fn uninstall(&self, id: &str) -> bool {
        self.plugins.write().unwrap_or_else(|p| p.into_inner()).remove(id).is_some()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Installed>>> {
        self.plugins.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn installed(&self, id: &str) -> Option<Arc<Installed>> {
        self.read().get(id).cloned()
    }

    /// Installs every `*.wasm` file of `dir` (sorted by name), returning each
    /// file's outcome; one bad file does not stop the others.
    pub async fn install_dir(&self, dir: &Path) -> std::io::Result<Vec<(PathBuf, Result<Arc<PluginInfo>>)>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for path in files {
            let result = self.install_file(&path).await;
            out.push((path, result));
        }
        Ok(out)
    }

    /// Installs one component file; function steps are named after the file.
    pub async fn install_file(&self, path: &Path) -> Result<Arc<PluginInfo>> {
        let bytes = std::fs::read(path)?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin").replace('_', "-");
        self.install(&name, bytes).await
    }

    /// Validates, compiles (or loads from the cache), inspects and describes a
    /// component, then makes it callable. Installing an id again replaces the
    /// previous version.
    #[tracing::instrument(name = "weft_plugin_host.install", skip_all, fields(name))]
    pub async fn install(&self, name: &str, bytes: Vec<u8>) -> Result<Arc<PluginInfo>> {
        let sha = cache::sha256_hex(&bytes);
        let (component, bytes) = self.compile(sha.clone(), bytes).await?;
        let inspection = inspect(&self.engine, &bytes, &component)?;
        let link_err = |e: wasmtime::Error| InstallError::Compile(format!("{e:#}"));
        let installed = match inspection.world {
            World::Integration => {
                let pre = IntegrationPre::new(self.integration_linker.instantiate_pre(&component).map_err(link_err)?)
                    .map_err(link_err)?;
                let (metadata, actions, triggers) = self.describe(name, &pre).await?;
                let dynamic_fields = crate::fields::declared(&metadata.extra, &actions, inspection.fields)
                    .map_err(InstallError::Declarations)?;
                let smart_rate_limits =
                    crate::smart_limits::declared(&metadata.extra, &actions).map_err(InstallError::Declarations)?;
                let fields = match inspection.fields {
                    true => Some(
                        IntegrationFieldsPre::new(
                            self.integration_linker.instantiate_pre(&component).map_err(link_err)?,
                        )
                        .map_err(link_err)?,
                    ),
                    false => None,
                };
                let info = PluginInfo {
                    id: metadata.id.clone(),
                    world: World::Integration,
                    api_version: inspection.api_version,
                    sha256: sha,
                    capabilities: inspection.capabilities,
                    metadata: Some(metadata.clone()),
                    actions,
                    triggers,
                    dynamic_fields,
                    smart_rate_limits,
                };
                let metadata = Some(Arc::new(metadata));
                Installed { info: Arc::new(info), metadata, pre: Pre::Integration(pre), fields }
            }
            World::FunctionStep => {
                let pre = FunctionStepPre::new(self.step_linker.instantiate_pre(&component).map_err(link_err)?)
                    .map_err(link_err)?;
                Installed {
                    info: bare_info(name, World::FunctionStep, sha, inspection),
                    metadata: None,
                    pre: Pre::Step(pre),
                    fields: None,
                }
            }
            World::JsFunction => {
                let pre = JsFunctionPre::new(self.js_linker.instantiate_pre(&component).map_err(link_err)?)
                    .map_err(link_err)?;
                Installed {
                    info: bare_info(name, World::JsFunction, sha, inspection),
                    metadata: None,
                    pre: Pre::Js(pre),
                    fields: None,
                }
            }
        };
        let info = installed.info.clone();
        tracing::info!(plugin = %info.id, world = ?info.world, api = %info.api_version, actions = info.actions.len(), "plugin installed");
        self.plugins.write().unwrap_or_else(|p| p.into_inner()).insert(info.id.clone(), Arc::new(installed));
        Ok(info)
    }

    /// Compiles off the async workers (cranelift is CPU-bound), through the
    /// on-disk cache when one is configured.
    async fn compile(&self, sha: String, bytes: Vec<u8>) -> Result<(Component, Vec<u8>)> {
        let engine = self.engine.clone();
        let dir = self.config.cache_dir.clone();
        tokio::task::spawn_blocking(move || {
            let component = match &dir {
                Some(dir) => cache::load_or_compile(&engine, dir, &sha, &bytes)?.0,
                None => Component::new(&engine, &bytes).map_err(|e| InstallError::Invalid(format!("{e:#}")))?,
            };
            Ok((component, bytes))
        })
        .await
        .map_err(|e| InstallError::Compile(format!("compile task failed: {e}")))?
    }

    /// Calls `metadata`, `list-actions` and `list-triggers` once, in the
    /// describe phase (no I/O), and checks what they declare.
    async fn describe(
        &self,
        name: &str,
        pre: &IntegrationPre<CallState>,
    ) -> Result<(Provider, Vec<ActionDefinition>, Vec<TriggerDefinition>)> {
        let opts = CallOptions::new("_install");
        type Described = (
            exports::plugin::PluginMetadata,
            Vec<exports::actions::ActionDefinition>,
            Vec<exports::triggers::TriggerDefinition>,
        );
        let raw: Described = self
            .execute_integration(name, None, pre, &opts, Phase::Describe, |store, inst| {
                Box::pin(async move {
                    let m = inst.weft_plugin_plugin().call_metadata(&mut *store).await?;
                    let a = inst.weft_plugin_actions().call_list_actions(&mut *store).await?;
                    let t = inst.weft_plugin_triggers().call_list_triggers(&mut *store).await?;
                    Ok((m, a, t))
                })
            })
            .await
            .map_err(InstallError::Describe)?;
        let metadata = crate::types::provider_from(raw.0).map_err(InstallError::Declarations)?;
        let actions = collect_unique(raw.1, "action", |a| a.key.clone())?;
        let triggers = collect_unique(raw.2, "trigger", |t| t.key.clone())?;
        Ok((metadata, actions, triggers))
    }
}

/// What a component of a world without metadata (a function step, the
/// JavaScript runtime) is listed as: no actions, no triggers.
fn bare_info(name: &str, world: World, sha256: String, inspection: crate::inspect::Inspection) -> Arc<PluginInfo> {
    Arc::new(PluginInfo {
        id: name.to_owned(),
        world,
        api_version: inspection.api_version,
        sha256,
        capabilities: inspection.capabilities,
        metadata: None,
        actions: Vec::new(),
        triggers: Vec::new(),
        dynamic_fields: Vec::new(),
        smart_rate_limits: Vec::new(),
    })
}

/// Converts declarations, refusing duplicate keys and unusable schemas.
fn collect_unique<W, D: TryFrom<W, Error = String>>(
    items: Vec<W>,
    what: &str,
    key: impl Fn(&W) -> String,
) -> Result<Vec<D>> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .map(|w| {
            let k = key(&w);
            if !seen.insert(k.clone()) {
                return Err(InstallError::Declarations(format!("{what} key {k:?} is declared twice")));
            }
            D::try_from(w).map_err(InstallError::Declarations)
        })
        .collect()
}

/// Installed integration plugins are providers; their hooks test
/// connections and may refresh credentials.
impl weft_catalog::Providers for PluginHost {
    fn provider(&self, id: &str) -> Option<weft_catalog::Entry> {
        let provider = self.read().get(id)?.metadata.clone()?;
        Some(weft_catalog::Entry { provider, origin: weft_catalog::Origin::Plugin })
    }
}
