//! Building and running the server.

use crate::config::Settings;
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use weft_api::AppState;
use weft_egress::EgressClient;
use weft_plugin_host::{HostServices, PluginHost, PluginInfo};

/// A bound, ready-to-serve Weft.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: AppState,
    settings: Settings,
}

impl Application {
    /// Creates the data directory, the plugin host, installs the plugins of
    /// the plugin directory (a refused component is logged, not fatal) and
    /// binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        let egress = Arc::new(EgressClient::new(settings.egress_config()).context("building the egress client")?);
        let host = PluginHost::new(settings.host_config(), HostServices::in_memory(egress))
            .context("starting the plugin runtime")?;
        let plugin_dir = settings.plugin_dir();
        if plugin_dir.is_dir() {
            for (path, outcome) in host
                .install_dir(&plugin_dir)
                .await
                .context("reading the plugin directory")?
            {
                if let Err(e) = outcome {
                    tracing::error!(file = %path.display(), error = %e, "plugin refused");
                }
            }
        } else {
            tracing::warn!(dir = %plugin_dir.display(), "plugin directory does not exist; no plugins installed");
        }
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let state = AppState {
            plugins: Arc::new(host),
            ready: Arc::new(AtomicBool::new(false)),
        };
        Ok(Self {
            listener,
            state,
            settings,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The installed plugins.
    pub fn plugins(&self) -> Vec<Arc<PluginInfo>> {
        self.state.plugins.list()
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
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")?;
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
