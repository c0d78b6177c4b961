//! Typed, layered configuration: defaults, then an optional `weft.toml`,
//! then `WEFT__SECTION__KEY` environment variables. Nothing else in Weft
//! reads the environment (except `RUST_LOG` for log filtering).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// All settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Listening address.
    pub server: ServerSettings,
    /// Where Weft keeps its files (database, plugins, compiled cache).
    pub data_dir: PathBuf,
    /// The database.
    pub database: DatabaseSettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// Plugin loading.
    pub plugins: PluginSettings,
    /// Per-call sandbox limits.
    pub sandbox: SandboxSettings,
    /// The outbound client.
    pub egress: EgressSettings,
    /// Log output.
    pub log: LogSettings,
}

/// Listening address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Interface to bind.
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
}

/// The database: SQLite in the data directory unless a URL is given.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://...` for PostgreSQL, or `sqlite://path`; default
    /// `<data_dir>/weft.db`.
    pub url: Option<String>,
}

// The URL may carry a password: never print it.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.url.as_ref().map(|u| u.split_once("://").map_or("<set>", |(scheme, _)| scheme));
        f.debug_struct("DatabaseSettings").field("url", &shown).finish()
    }
}

/// Authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Failed authentications one client address may make per minute
    /// before it gets 429.
    pub max_failures_per_minute: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self { max_failures_per_minute: 30 }
    }
}

/// Plugin loading.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Directory of `*.wasm` components installed at start; default `<data_dir>/plugins`.
    pub dir: Option<PathBuf>,
    /// Compiled-artifact cache; default `<data_dir>/cache`.
    pub cache_dir: Option<PathBuf>,
}

/// Per-call sandbox limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// Guest CPU time per call, milliseconds (10 ms granularity).
    pub cpu_budget_ms: u64,
    /// Wall-clock time per call, milliseconds.
    pub wall_timeout_ms: u64,
    /// Linear memory cap per call, MiB.
    pub max_memory_mib: usize,
    /// Calls running at once.
    pub max_concurrent_calls: u32,
}

/// The outbound client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressSettings {
    /// Connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest request, milliseconds.
    pub timeout_ms: u64,
    /// Largest response body, bytes.
    pub max_response_bytes: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty in a terminal, JSON otherwise.
    Auto,
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// Default filter (`RUST_LOG` overrides it), e.g. `info,weft_plugin_host=debug`.
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            data_dir: PathBuf::from("weft-data"),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            plugins: PluginSettings::default(),
            sandbox: SandboxSettings::default(),
            egress: EgressSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { host: "127.0.0.1".into(), port: 8080 }
    }
}

impl Default for SandboxSettings {
    fn default() -> Self {
        let d = weft_plugin_host::HostConfig::default();
        Self {
            cpu_budget_ms: d.cpu_budget.as_millis() as u64,
            wall_timeout_ms: d.wall_timeout.as_millis() as u64,
            max_memory_mib: d.max_memory_bytes >> 20,
            max_concurrent_calls: d.max_concurrent_calls,
        }
    }
}

impl Default for EgressSettings {
    fn default() -> Self {
        let d = weft_egress::EgressConfig::default();
        Self {
            connect_timeout_ms: d.connect_timeout.as_millis() as u64,
            timeout_ms: d.max_timeout.as_millis() as u64,
            max_response_bytes: d.max_response_bytes,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, filter: "info".into() }
    }
}

impl Settings {
    /// Loads defaults, then `file` (required when given explicitly, else
    /// `weft.toml` in the working directory if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None => fig = fig.merge(Toml::file("weft.toml")),
        }
        fig.merge(Env::prefixed("WEFT__").split("__")).extract().map_err(Box::new)
    }

    /// The database location in force.
    pub fn database_location(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| self.data_dir.join("weft.db").display().to_string())
    }

    /// The plugin directory in force.
    pub fn plugin_dir(&self) -> PathBuf {
        self.plugins.dir.clone().unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    /// The sandbox configuration for the plugin host.
    pub fn host_config(&self) -> weft_plugin_host::HostConfig {
        weft_plugin_host::HostConfig {
            cpu_budget: Duration::from_millis(self.sandbox.cpu_budget_ms),
            wall_timeout: Duration::from_millis(self.sandbox.wall_timeout_ms),
            max_memory_bytes: self.sandbox.max_memory_mib << 20,
            max_concurrent_calls: self.sandbox.max_concurrent_calls,
            cache_dir: Some(self.plugins.cache_dir.clone().unwrap_or_else(|| self.data_dir.join("cache"))),
            ..Default::default()
        }
    }

    /// The outbound client configuration.
    pub fn egress_config(&self) -> weft_egress::EgressConfig {
        weft_egress::EgressConfig {
            connect_timeout: Duration::from_millis(self.egress.connect_timeout_ms),
            max_timeout: Duration::from_millis(self.egress.timeout_ms),
            max_response_bytes: self.egress.max_response_bytes,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn file_then_env_override_defaults_and_typos_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("weft.toml", "data_dir = \"/srv/weft\"\n[server]\nport = 9000\n")?;
            jail.set_env("WEFT__SERVER__PORT", "9100");
            jail.set_env("WEFT__SANDBOX__CPU_BUDGET_MS", "250");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.server.port, 9100);
            assert_eq!(s.data_dir, PathBuf::from("/srv/weft"));
            assert_eq!(s.sandbox.cpu_budget_ms, 250);
            assert_eq!(s.server.host, "127.0.0.1");
            assert_eq!(s.database_location(), "/srv/weft/weft.db");
            jail.set_env("WEFT__DATABASE__URL", "postgres://weft:hunter2@db/weft");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.database_location(), "postgres://weft:hunter2@db/weft");
            assert!(!format!("{s:?}").contains("hunter2"), "the database password never prints");
            jail.set_env("WEFT__SERVER__PROT", "1");
            assert!(Settings::load(None).is_err(), "unknown keys must be refused");
            Ok(())
        });
    }
}
