//! `weft`: the Weft server and its operator commands.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use weft_server::config::Settings;
use weft_server::{Application, cli, shutdown_signal, telemetry};

/// mimalloc: the server allocates and frees many small buffers per request,
/// from several threads, where it is markedly cheaper than the system's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "weft", version, about = "Self-hosted integration runtime")]
struct Cli {
    /// Configuration file (default: ./weft.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API with the plugins of the plugin directory.
    Serve {
        /// Also run the offline demo: a "Demo" project with a "Demo CRM"
        /// integration backed by a mock CRM inside this server, and the
        /// address of its catalog page (what `cargo xtask run` does).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage projects.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Manage project API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Development user tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The credential vault.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// Workflow files.
    Workflow {
        #[command(subcommand)]
        command: WorkflowCommand,
    },
    /// Providers an integration can be added for without a plugin.
    Integrations {
        #[command(subcommand)]
        command: IntegrationsCommand,
    },
    /// Check a plugin component the way `serve` installs it and print what it declares.
    Inspect {
        /// Path to a `.wasm` component.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project and a development signing key for `weft token mint`.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// development, staging or production.
        #[arg(long, default_value = "development")]
        environment: String,
    },
}

#[derive(Subcommand)]
enum VaultCommand {
    /// Add a new master key version and re-wrap every stored secret under
    /// it; safe while servers run (they pick the new key up).
    Rotate {
        /// Afterwards rename the older key files to `*.retired`.
        #[arg(long)]
        retire: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key (printed once).
    Create {
        /// Project id.
        #[arg(long)]
        project: String,
        /// admin, member or support.
        #[arg(long, default_value = "admin")]
        role: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Check a workflow file (JSON or YAML) and print every problem with its path.
    Validate {
        /// The file (`.json`, `.yaml` or `.yml`).
        file: PathBuf,
    },
    /// Check a workflow file and deploy it to a project: the project's
    /// workflow of the same name and integration gets a new version, or a
    /// new workflow is created.
    Deploy {
        /// The file (`.json`, `.yaml` or `.yml`).
        file: PathBuf,
        /// Project id.
        #[arg(long)]
        project: String,
    },
}

#[derive(Subcommand)]
enum IntegrationsCommand {
    /// List the provider definitions: those Weft ships and the data directory's.
    List,
    /// Print the definition of a provider id as JSON.
    Show {
        /// The id (the integration type).
        id: String,
    },
    /// Check a provider definition file (JSON or YAML) and print every problem with its path.
    Validate {
        /// The file (`.json`, `.yaml` or `.yml`).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a user token signed with the project's development key.
    Mint {
        /// Project id.
        #[arg(long)]
        project: String,
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { demo } => serve(settings, demo).await,
        Command::Migrate => {
            let store = weft_server::open_store(&settings).await?;
            store.close().await;
            println!("database {} is up to date", settings.database_location().split("://").next().unwrap_or("sqlite"));
            Ok(())
        }
        Command::Project { command: ProjectCommand::Create { name, environment } } => {
            cli::project_create(&settings, &name, &environment).await
        }
        Command::Key { command: KeyCommand::Create { project, role, name } } => {
            cli::key_create(&settings, &project, &role, &name).await
        }
        Command::Workflow { command: WorkflowCommand::Validate { file } } => cli::workflow_validate(&file),
        Command::Workflow { command: WorkflowCommand::Deploy { file, project } } => {
            cli::workflow_deploy(&settings, &file, &project).await
        }
        Command::Token { command: TokenCommand::Mint { project, user, ttl } } => {
            cli::token_mint(&settings, &project, &user, ttl).await
        }
        Command::Vault { command: VaultCommand::Rotate { retire } } => {
            let store = weft_server::open_store(&settings).await?;
            let outcome = weft_server::vault::rotate(&settings, store.as_ref(), retire).await;
            store.close().await;
            outcome
        }
        Command::Integrations { command: IntegrationsCommand::List } => cli::integrations::list(&settings),
        Command::Integrations { command: IntegrationsCommand::Show { id } } => cli::integrations::show(&settings, &id),
        Command::Integrations { command: IntegrationsCommand::Validate { file } } => {
            cli::integrations::validate(&settings, &file)
        }
        Command::Inspect { file } => inspect(settings, file).await,
    }
}

async fn serve(mut settings: Settings, demo: bool) -> anyhow::Result<()> {
    if demo {
        settings.web.demo = true;
        // The demo integration's provider is this server, by this name.
        let host = weft_server::demo::HOST.to_owned();
        if !settings.egress.allow_hosts.contains(&host) {
            settings.egress.allow_hosts.push(host);
        }
    }
    let mut app = Application::build(settings).await?;
    let addr = app.local_addr();
    let demo = match demo {
        true => Some(weft_server::demo::prepare(&app, addr).await.context("preparing the demo")?),
        false => None,
    };
    if let Some(key) = app.take_first_operator_key() {
        use secrecy::ExposeSecret;
        println!("Operator key (shown once, store it safely; it creates projects):");
        println!("  {}", key.expose_secret());
    }
    let plugins = app.plugins();
    println!("Weft {} listening on http://{addr}", env!("CARGO_PKG_VERSION"));
    println!("  data directory: {}", app.settings().data_dir.display());
    println!("  plugins from:   {}", app.settings().plugin_dir().display());
    for p in &plugins {
        let what = match &p.metadata {
            Some(m) => format!("{} {} — {} actions, {} triggers", m.name, m.version, p.actions.len(), p.triggers.len()),
            None => "function step".to_owned(),
        };
        println!("    {:<20} {what}", p.id);
    }
    println!("  try: curl http://{addr}/plugins");
    if let Some(demo) = demo {
        println!();
        println!("Demo (project {}): open this page to connect Demo CRM and run its workflow:", demo.project);
        println!("  {}", demo.url);
    }
    app.run_until(shutdown_signal()).await
}

async fn inspect(settings: Settings, file: PathBuf) -> anyhow::Result<()> {
    let egress = Arc::new(weft_egress::EgressClient::new(settings.egress_config()?)?);
    let mut config = settings.host_config();
    config.cache_dir = None;
    let host = weft_plugin_host::PluginHost::new(config, weft_plugin_host::HostServices::in_memory(egress))?;
    let info = host.install_file(&file).await.with_context(|| format!("{} was refused", file.display()))?;
    println!("{}", serde_json::to_string_pretty(&*info)?);
    Ok(())
}
