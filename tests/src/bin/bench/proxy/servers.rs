//! The systems under test that run as this binary's hidden subcommands, each
//! in a process of its own so none shares a runtime (or a core's run queue)
//! with the load generator: the mock provider and Weft. Each announces what
//! the parent needs on stdout, then serves until stopped.

use super::processes::announce;
use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;
use weft_server::config::Settings;

/// Subcommand serving the mock provider: `bench __mock-provider <api-key>
/// [<ip>]` (127.0.0.1 by default).
pub const MOCK_PROVIDER: &str = "__mock-provider";
/// Subcommand serving Weft: `bench __weft <data-dir> [<setting>=<value>...]`
/// (the settings [`adjust`] knows).
pub const WEFT: &str = "__weft";

/// Worker threads of the mock provider. Two, not one, so that on a 2-core
/// machine the provider is never the cap that hides a proxy's cost: it can
/// take whatever the proxy and the load generator leave.
const MOCK_WORKERS: usize = 2;

const ME: &str = r#"{"id":"acct-1","name":"Bench"}"#;
const ITEMS: &str = r#"{"items":[1,2,3]}"#;

/// The provider's one valid API key.
type ApiKey = Arc<str>;

/// Serves the mock provider on port 0 of its address and prints the port. `GET
/// /api/me` answers the account `test-apikey`'s test-connection reads; any
/// other `GET /api/...` a small list. Both check `X-API-Key` on every call,
/// so a proxy that did not inject the credential gets a 401.
pub fn mock_provider(args: &[String]) -> anyhow::Result<()> {
    let key: ApiKey = args.first().context("usage: bench __mock-provider <api-key> [<ip>]")?.as_str().into();
    let ip: std::net::IpAddr = args.get(1).map_or("127.0.0.1", String::as_str).parse().context("the mock's address")?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(MOCK_WORKERS).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.context("binding the mock provider")?;
        announce(&[listener.local_addr()?.port().to_string()])?;
        let app = Router::new()
            .route("/api/me", get(|s: State<ApiKey>, h: HeaderMap| answer(s, h, ME)))
            .route("/api/{*rest}", get(|s: State<ApiKey>, h: HeaderMap| answer(s, h, ITEMS)))
            .with_state(key);
        // Like nginx: a small answer goes out as soon as it is written.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.context("serving the mock provider")
    })
}

async fn answer(State(key): State<ApiKey>, headers: HeaderMap, body: &'static str) -> Response {
    if headers.get("x-api-key").is_none_or(|sent| sent.as_bytes() != key.as_bytes()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Builds Weft from the `weft-server` library on 127.0.0.1:0 with a fresh
/// `<data-dir>` (holding the plugins to serve in `plugins/`), prints its base URL and
/// the first operator key, and serves until SIGTERM. Everything else is the
/// defaults `weft serve` runs with (unless a `<setting>=<value>` argument
/// changes one), on the same multi-thread runtime.
pub fn weft(args: &[String]) -> anyhow::Result<()> {
    let data_dir = PathBuf::from(args.first().context("usage: bench __weft <data-dir> [<setting>=<value>...]")?);
    let mut settings = Settings::default();
    for arg in &args[1..] {
        adjust(&mut settings, arg)?;
    }
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.data_dir = data_dir;
    // The mock provider lives on loopback, which the default policy refuses.
    settings.egress.allow_loopback = true;
    settings.connect.sweep_interval_secs = 0;
    // Set-up calls all come from one address; nothing here fails on purpose.
    settings.auth.max_failures_per_minute = 1_000_000;
    // Warnings only: per-request logging would be measured too (`RUST_LOG`
    // still overrides this, to look into a failing run).
    settings.log.filter = "warn".into();
    weft_server::telemetry::init(&settings.log);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut app = weft_server::Application::build(settings).await.context("building Weft")?;
        let key = app.take_first_operator_key().context("a fresh data directory yields an operator key")?;
        announce(&[format!("http://{}", app.local_addr()), key.expose_secret().to_owned()])?;
        app.run_until(weft_server::shutdown_signal()).await
    })
}

/// Applies one `<setting>=<value>` argument of `bench __weft`: `workers`
/// (`workflows.workers`), `database` (`database.url`), `history_quota`
/// (`workflows.task_history_requests`: a benchmark that polls the task
/// history is not what it measures).
fn adjust(settings: &mut Settings, arg: &str) -> anyhow::Result<()> {
    let (key, value) = arg.split_once('=').with_context(|| format!("{arg:?} is not <setting>=<value>"))?;
    let number = || value.parse::<u32>().with_context(|| format!("{key} takes a number, not {value:?}"));
    match key {
        "workers" => settings.workflows.workers = usize::try_from(number()?)?,
        "database" => settings.database.url = Some(value.to_owned()),
        "history_quota" => settings.workflows.task_history_requests = number()?,
        other => anyhow::bail!("unknown setting {other:?} (workers, database, history_quota)"),
    }
    Ok(())
}
