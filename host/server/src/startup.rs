//! Building and running the server.

use crate::config::Settings;
use anyhow::Context;
use secrecy::SecretString;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use weft_api::{AppState, AuthThrottle, Services, UserTokens};
use weft_auth::{Clock, SystemClock, TokenPolicy, UserTokenVerifier};
use weft_catalog::{Catalog, Layered};
use weft_credentials::{CredentialDeps, Credentials, EnvironmentSecrets};
use weft_egress::governor::GovernorConfig;
use weft_egress::{EgressClient, Governor};
use weft_plugin_host::{HostServices, PluginHost, PluginInfo};
use weft_proxy::{Proxy, TaskRecorder};
use weft_store::Store;

/// A bound, ready-to-serve Weft.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: AppState,
    settings: Settings,
    store: Arc<dyn Store>,
    first_operator_key: Option<SecretString>,
    governor: Arc<Governor>,
}

/// Opens the configured database and applies pending migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let location = settings.database_location();
    let store = weft_store::open(&location).await.context("opening the database")?;
    store.migrate().await.context("applying database migrations")?;
    tracing::info!(backend = ?store.backend(), "database ready");
    Ok(store)
}

/// Installs the plugins of `dir`; a refused component is logged, not fatal.
async fn install_plugins(host: &PluginHost, dir: &std::path::Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        tracing::warn!(dir = %dir.display(), "plugin directory does not exist; no plugins installed");
        return Ok(());
    }
    for (path, outcome) in host.install_dir(dir).await.context("reading the plugin directory")? {
        if let Err(e) = outcome {
            tracing::error!(file = %path.display(), error = %e, "plugin refused");
        }
    }
    Ok(())
}

/// The provider definitions Weft ships, then the operator's in `dir` (a
/// refused file is logged with its problems, not fatal).
fn load_definitions(dir: &std::path::Path) -> Catalog {
    let (mut catalog, refused) = Catalog::bundled();
    for e in refused {
        tracing::error!(error = %e, "bundled provider definition refused");
    }
    if dir.is_dir() {
        match catalog.load_dir(dir) {
            Ok(refused) => {
                for (path, e) in refused {
                    tracing::error!(file = %path.display(), error = %e, "provider definition refused");
                }
            }
            Err(e) => tracing::error!(dir = %dir.display(), error = %e, "reading the provider definitions failed"),
        }
    }
    catalog
}

/// Creates the operator key on the very first start; returns it that once.
async fn bootstrap_operator_key(store: &dyn Store) -> anyhow::Result<Option<SecretString>> {
    let key = weft_auth::generate_api_key("weft_op").context("generating the operator key")?;
    let created = store.set_operator_key_hash(&key.hash).await.context("storing the operator key")?;
    Ok(created.then(|| SecretString::from(key.plaintext)))
}

impl Application {
    /// Creates the data directory, the plugin host, installs the plugins of
    /// the plugin directory (a refused component is logged, not fatal) and
    /// binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with an injected business clock (tests move
    /// it to expire states and tokens).
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // A setting that is wrong stops start-up before anything is built.
        let cors = Arc::new(settings.cors_policy()?);
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        // A broken crypto backend must fail start-up, not the first request.
        weft_auth::self_test().context("checking the JWT crypto backend")?;
        let store = open_store(&settings).await?;
        // Before anything else touches the store: the wrong key must stop us.
        let vault = crate::vault::open_vault(&settings, store.as_ref()).await.context("opening the vault")?;
        let first_operator_key = bootstrap_operator_key(store.as_ref()).await?;
        let egress_config = settings.egress_config()?;
        // Custom integrations' definitions are checked against the policy
        // the egress client enforces.
        let egress_policy = egress_config.policy.clone();
        let egress = Arc::new(EgressClient::new(egress_config).context("building the egress client")?);
        // One governor for every path to providers: proxy, plugins, workflows.
        // On PostgreSQL several processes may share the database: their
        // budgets and learned pauses are kept in it. SQLite has one process.
        let governor = Arc::new(match store.backend() {
            weft_store::Backend::Postgres => {
                Governor::with_shared(GovernorConfig::default(), Arc::new(crate::wiring::StoreBudget(store.clone())))
            }
            weft_store::Backend::Sqlite => Governor::default(),
        });
        let user_tokens = Arc::new(UserTokens::new(UserTokenVerifier::new(TokenPolicy::default()), egress.clone()));
        // The plugin runtime first: it needs nothing of the credential
        // service (a call that acts for a connection is granted its
        // credentials by that service, per call).
        let secrets = Arc::new(EnvironmentSecrets::new(store.clone(), vault.clone()));
        let services = HostServices {
            egress: egress.clone(),
            state: Arc::new(crate::wiring::StoreState {
                store: store.clone(),
                max_keys: settings.plugins.max_state_keys,
            }),
            secrets: Arc::new(crate::wiring::VaultSecrets(secrets)),
        };
        let host = Arc::new(PluginHost::new(settings.host_config(), services).context("starting the plugin runtime")?);
        install_plugins(&host, &settings.plugin_dir()).await?;
        let providers = Arc::new(Layered::new(host.clone(), load_definitions(&settings.provider_dir())));
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        let public_url = settings.connect.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
        let destinations = weft_events::Destinations::new(weft_events::DestinationDeps {
            store: store.clone(),
            egress: egress.clone(),
            policy: egress_policy.clone(),
            public_url: public_url.clone(),
            settings: settings.events.destination_settings(),
            headers: Arc::new(crate::wiring::SealedHeaders(weft_credentials::DestinationHeaders::new(vault.clone()))),
        });
        let credentials = Credentials::new(CredentialDeps {
            store: store.clone(),
            vault,
            egress: egress.clone(),
            governor: governor.clone(),
            clock,
            providers,
            hooks: Arc::new(crate::wiring::PluginHooks(host.clone())),
            public_url,
            settings: weft_credentials::CredentialSettings { egress_policy, ..settings.credential_settings() },
        });
        let proxy =
            Arc::new(Proxy::new(credentials.clone(), TaskRecorder::start(store.clone()), settings.proxy_settings()));
        let engine = weft_engine::Engine::new(weft_engine::EngineDeps {
            store: store.clone(),
            egress: egress.clone(),
            credentials: credentials.clone(),
            plugins: Some(Arc::new(crate::wiring::WorkflowPlugins {
                host: host.clone(),
                credentials: credentials.clone(),
                functions: crate::wiring::FunctionLimits::of(&settings.workflows),
            })),
            triggers: Some(Arc::new(crate::wiring::TriggerPlugins {
                host: host.clone(),
                credentials: credentials.clone(),
                store: store.clone(),
            })),
            settings: settings.engine_settings(),
        });
        let action_logs = weft_api::ActionLogger::start(store.clone(), credentials.clone());
        let state = AppState::new(Services {
            engine,
            proxy,
            credentials,
            plugins: host,
            ready: Arc::new(AtomicBool::new(false)),
            store: store.clone(),
            user_tokens,
            auth_throttle: Arc::new(AuthThrottle::new(
                settings.auth.max_failures_per_minute,
                std::time::Duration::from_secs(60),
            )),
            cors,
            task_history_quota: Arc::new(weft_api::ProjectQuota::new(
                settings.workflows.task_history_requests,
                std::time::Duration::from_secs(settings.workflows.task_history_window_secs.max(1)),
            )),
            webhook_max_body: settings.workflows.webhook_max_body_bytes.max(1),
            action_logs,
            fields_ttl: settings.actions.fields_ttl(),
            destinations,
            web: weft_api::assets::WebAssets { dir: settings.web.dir.clone(), demo: settings.web.demo },
            demo: Arc::default(),
        });
        Ok(Self { listener, state, settings, store, first_operator_key, governor })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The installed plugins.
    pub fn plugins(&self) -> Vec<Arc<PluginInfo>> {
        self.state.plugins.list()
    }

    /// The operator key, only on the start that created it (print it once).
    pub fn take_first_operator_key(&mut self) -> Option<SecretString> {
        self.first_operator_key.take()
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Marks `project` as the offline demo's.
    pub fn demo_project(&self, project: weft_store::ProjectId) {
        self.state.demo.set_project(project);
    }

    /// The store (tests inspect rows through it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The plugin host (tests call plugin actions through it).
    pub fn plugin_host(&self) -> Arc<PluginHost> {
        self.state.plugins.clone()
    }

    /// The credential service (tests drive sweeps and read its counters).
    pub fn credentials(&self) -> Arc<Credentials> {
        self.state.credentials.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish for at most `server.shutdown_grace_ms`, closes the
    /// connections still open, and stores the queued task records.
    ///
    /// HTTP is served by `server.io_threads` threads (one per core by
    /// default), each running a single-threaded runtime that serves the
    /// connections handed to it (each new one to the thread with the fewest
    /// open) and keeps them, and the outbound connections they open, to
    /// itself: a request never hops between threads, which on a busy machine
    /// costs more than the request. The acceptor and the background work
    /// (sweeps, key reloads, task records) stay on the calling runtime. The
    /// serving runtimes live until the database is closed, since connections
    /// opened from them are bound to them.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let background = self.start_background();
        // The workflow workers; at shutdown the steps in flight finish and
        // the queue keeps the rest for the next start.
        let (stop_engine, engine_stopped) = tokio::sync::oneshot::channel::<()>();
        let engine = (self.settings.workflows.workers > 0).then(|| {
            let engine = self.state.engine.clone();
            tokio::spawn(engine.run(async move {
                let _ = engine_stopped.await;
            }))
        });
        // The event destinations' delivery worker; what it has not sent
        // stays in the outbox for the next start.
        let (stop_events, events_stopped) = tokio::sync::oneshot::channel::<()>();
        let destinations = self.settings.events.worker.then(|| {
            tokio::spawn(self.state.destinations.clone().run(async move {
                let _ = events_stopped.await;
            }))
        });
        let router = weft_api::service(self.state.clone());
        let addr = self.local_addr();
        let threads = match self.settings.server.io_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let per_address = self.settings.server.max_connections_per_address;
        let (listeners, acceptor) = crate::listener::spread(self.listener, threads, per_address);
        let limits = self.settings.connection_limits();
        let acceptor = tokio::spawn(acceptor);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (release, released) = tokio::sync::watch::channel(false);
        // Each thread reports here when its server has ended.
        let (ended, mut endings) = tokio::sync::mpsc::unbounded_channel();
        let mut servers = Vec::with_capacity(threads);
        for (i, listener) in listeners.into_iter().enumerate() {
            let (router, mut stopped, mut released) = (router.clone(), stopped.clone(), released.clone());
            let done = ended.clone();
            let thread = std::thread::Builder::new()
                .name(format!("weft-http-{i}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => return drop(done.send(Err(anyhow::Error::from(e).context("starting a runtime")))),
                    };
                    runtime.block_on(async move {
                        serve(listener, router, limits, async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        })
                        .await;
                        let _ = done.send(Ok(()));
                        // The main side counts the threads that reported by
                        // the senders left.
                        drop(done);
                        let _ = released.wait_for(|release| *release).await;
                    });
                })
                .context("starting an HTTP thread")?;
            servers.push(thread);
        }
        drop(ended);
        self.state.ready.store(true, Ordering::Release);
        tracing::info!(addr = %addr, threads, "weft serving");
        let mut outcomes = Vec::with_capacity(threads);
        tokio::select! {
            () = shutdown => {}
            // A serving thread that ends by itself (its runtime failed) ends the server.
            Some(outcome) = endings.recv() => outcomes.push(outcome),
        }
        acceptor.abort();
        let _ = stop.send(true);
        while let Some(outcome) = endings.recv().await {
            outcomes.push(outcome);
        }
        for task in background {
            task.abort();
        }
        let _ = stop_engine.send(());
        if let Some(engine) = engine {
            let _ = engine.await;
        }
        let _ = stop_events.send(());
        if let Some(destinations) = destinations {
            let _ = destinations.await;
        }
        // Every finished proxy call's task record and ActionKit call's log
        // entry is stored before the database closes.
        self.state.proxy.recorder().shutdown().await;
        self.state.action_logs.shutdown().await;
        // Lets SQLite checkpoint its WAL and PostgreSQL connections end cleanly.
        self.store.close().await;
        let _ = release.send(true);
        tokio::task::spawn_blocking(move || servers.into_iter().for_each(|t| drop(t.join())))
            .await
            .context("joining the HTTP threads")?;
        outcomes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        tracing::info!("weft stopped");
        Ok(())
    }
}

/// Serves `router` on this thread's runtime, the connections `listener`
/// hands over, until `stop` (and then for at most the shutdown grace).
async fn serve(
    listener: crate::listener::HandedListener,
    router: weft_api::Api,
    limits: crate::conn::Limits,
    stop: impl Future<Output = ()>,
) {
    // tokio wakes its own driver (a syscall and a spurious poll) whenever a
    // timer is set while no other one is pending, which would be once per
    // request (each outbound call has a deadline). A timer always pending
    // avoids it.
    let anchor = tokio::spawn(async {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    crate::conn::serve(listener, router, limits, stop).await;
    anchor.abort();
}

impl Application {
    /// The refresh sweep, the plugin state and ActionKit log purges and the
    /// vault's key reload, stopped at shutdown.
    fn start_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        let credentials = self.state.credentials.clone();
        if !credentials.settings().sweep_interval.is_zero() {
            tasks.push(tokio::spawn(credentials.clone().run_sweeper()));
        }
        // Expired plugin state reads as absent already; this frees its rows.
        let store = self.store.clone();
        tasks.push(purge_every("expired plugin state", move |now| {
            let store = store.clone();
            async move { store.purge_expired_plugin_state(now, 10_000).await }
        }));
        // Pauses other processes learned from providers, and the shared
        // budgets' keys that no longer count (PostgreSQL only).
        let governor = self.governor.clone();
        if governor.is_shared() {
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(governor.config().pause_sync).await;
                    governor.sync_pauses().await;
                }
            }));
            let store = self.store.clone();
            tasks.push(purge_every("idle rate budgets", move |now| {
                let store = store.clone();
                async move { store.purge_idle_budgets(now).await }
            }));
        }
        // ActionKit log entries past their retention, at start and hourly.
        if let Some(keep) = self.settings.actions.log_retention() {
            let sweep = weft_api::action_logs::keep_logs(self.store.clone(), keep, weft_api::action_logs::SWEEP_EVERY);
            tasks.push(tokio::spawn(sweep));
        }
        // Picks up a key a `weft vault rotate` in another process added, so
        // new values are sealed under it.
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(VAULT_RELOAD).await;
                if let Err(e) = credentials.reload_vault() {
                    tracing::warn!(error = %e, "re-reading the vault keys failed");
                }
            }
        }));
        tasks
    }
}

/// Runs `purge` (given the time) every [`STATE_PURGE`], logging what it
/// removed of `what`.
fn purge_every<F, Fut>(what: &'static str, purge: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(time::OffsetDateTime) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = weft_store::Result<u64>> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(STATE_PURGE).await;
            match purge(time::OffsetDateTime::now_utc()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, what, "purged"),
                Err(e) => tracing::warn!(error = %e, what, "purging failed"),
            }
        }
    })
}

/// How often expired plugin state, and idle shared rate budgets, are removed.
const STATE_PURGE: std::time::Duration = std::time::Duration::from_secs(600);

/// How often the vault re-reads its key files.
const VAULT_RELOAD: std::time::Duration = std::time::Duration::from_secs(10);

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
