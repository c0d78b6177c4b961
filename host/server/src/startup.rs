//! Building and running the server.

use crate::config::Settings;
use anyhow::Context;
use secrecy::SecretString;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use weft_api::{AppState, AuthThrottle, UserTokens};
use weft_auth::{TokenPolicy, UserTokenVerifier};
use weft_egress::EgressClient;
use weft_plugin_host::{HostServices, PluginHost, PluginInfo};
use weft_store::Store;

/// A bound, ready-to-serve Weft.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: AppState,
    settings: Settings,
    store: Arc<dyn Store>,
    first_operator_key: Option<SecretString>,
}

/// Opens the configured database and applies pending migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let location = settings.database_location();
    let store = weft_store::open(&location).await.context("opening the database")?;
    store.migrate().await.context("applying database migrations")?;
    tracing::info!(backend = ?store.backend(), "database ready");
    Ok(store)
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
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        // A broken crypto backend must fail start-up, not the first request.
        weft_auth::self_test().context("checking the JWT crypto backend")?;
        let store = open_store(&settings).await?;
        let first_operator_key = bootstrap_operator_key(store.as_ref()).await?;
        let egress = Arc::new(EgressClient::new(settings.egress_config()).context("building the egress client")?);
        let user_tokens = Arc::new(UserTokens::new(UserTokenVerifier::new(TokenPolicy::default()), egress.clone()));
        let host = PluginHost::new(settings.host_config(), HostServices::in_memory(egress))
            .context("starting the plugin runtime")?;
        let plugin_dir = settings.plugin_dir();
        if plugin_dir.is_dir() {
            for (path, outcome) in host.install_dir(&plugin_dir).await.context("reading the plugin directory")? {
                if let Err(e) = outcome {
                    tracing::error!(file = %path.display(), error = %e, "plugin refused");
                }
            }
        } else {
            tracing::warn!(dir = %plugin_dir.display(), "plugin directory does not exist; no plugins installed");
        }
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
        let state = AppState {
            plugins: Arc::new(host),
            ready: Arc::new(AtomicBool::new(false)),
            store: store.clone(),
            user_tokens,
            auth_throttle: Arc::new(AuthThrottle::new(
                settings.auth.max_failures_per_minute,
                std::time::Duration::from_secs(60),
            )),
        };
        Ok(Self { listener, state, settings, store, first_operator_key })
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

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let router = weft_api::router(self.state.clone());
        self.state.ready.store(true, Ordering::Release);
        tracing::info!(addr = %self.local_addr(), "weft serving");
        // Connection info gives handlers the client address (auth throttling).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await.context("serving HTTP")?;
        // Lets SQLite checkpoint its WAL and PostgreSQL connections end cleanly.
        self.store.close().await;
        tracing::info!("weft stopped");
        Ok(())
    }
}

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
