//! Fresh databases for each case, and cleanup even when the case fails.
//!
//! PostgreSQL: the local server, as `postgres` with trust authentication,
//! over the Unix socket first (it keeps working inside network namespaces)
//! and then TCP on 127.0.0.1. Each case gets `CREATE DATABASE
//! weft_test_<uuid>`, dropped afterwards; names never repeat, so a database
//! left behind by a killed run breaks nothing.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::future::Future;
use std::sync::Arc;
use weft_store::{Backend, Store};

/// Where the server is, with `{db}` for the database name.
const POSTGRES: [&str; 2] =
    ["postgres://postgres@localhost/{db}?host=/var/run/postgresql", "postgres://postgres@127.0.0.1:5432/{db}"];

/// A migrated store, and how to open it again.
#[derive(Clone)]
pub struct Db {
    pub store: Arc<dyn Store>,
    /// The backend this run was asked for.
    pub expected: Backend,
    location: String,
}

impl Db {
    /// Opens the same database again (the caller closes the old store).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        weft_store::open(&self.location).await.expect("reopening the store")
    }
}

/// Runs `case` against a fresh SQLite file.
pub async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    // A subdirectory that does not exist yet: `open` must create it.
    let location = format!("sqlite://{}", dir.path().join("data").join("weft.db").display());
    run(Backend::Sqlite, location, case).await;
}

/// Runs `case` against a fresh PostgreSQL database, dropped afterwards.
pub async fn run_postgres<F, Fut>(case: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (mut admin, template) = connect_admin().await;
    let name = format!("weft_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("creating the test database");
    let outcome = tokio::spawn(run(Backend::Postgres, template.replace("{db}", &name), case)).await;
    // FORCE ends connections a failed case may have left open.
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    dropped.expect("dropping the test database");
}

/// Opens, migrates, runs the case (its panic is the test's failure), and
/// closes the store whether or not the case passed.
async fn run<F, Fut>(expected: Backend, location: String, case: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = weft_store::open(&location).await.expect("opening the store");
    store.migrate().await.expect("migrating");
    let db = Db { store: store.clone(), expected, location };
    let outcome = tokio::spawn(case(db)).await;
    store.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

async fn connect_admin() -> (PgConnection, &'static str) {
    let mut errors = Vec::new();
    for template in POSTGRES {
        match PgConnection::connect(&template.replace("{db}", "postgres")).await {
            Ok(conn) => return (conn, template),
            Err(e) => errors.push(format!("{template}: {e}")),
        }
    }
    panic!(
        "PostgreSQL is not reachable, so the PostgreSQL conformance tests cannot run. \
         Start a local server that trusts the `postgres` user (.ci/run installs and starts one). \
         Tried:\n  {}",
        errors.join("\n  ")
    );
}

/// A new development project named `name`.
pub async fn project(store: &dyn Store, name: &str) -> weft_store::Project {
    store
        .create_project(weft_store::NewProject::new(name, weft_store::Environment::Development))
        .await
        .expect("creating a project")
}

/// A random value shaped like what callers pass as a key hash.
pub fn random_hash() -> String {
    format!("{:032x}{:032x}", uuid::Uuid::new_v4().as_u128(), uuid::Uuid::new_v4().as_u128())
}

/// Where a socket exists, it is what the suite uses (a URL sqlx cannot
/// parse would otherwise fall back to TCP unnoticed).
#[tokio::test]
async fn postgres_is_reached_over_the_unix_socket_when_there_is_one() {
    let (mut admin, template) = connect_admin().await;
    let client: Option<String> =
        sqlx::query_scalar("SELECT inet_client_addr()::text").fetch_one(&mut admin).await.expect("query");
    if std::path::Path::new("/var/run/postgresql/.s.PGSQL.5432").exists() {
        assert_eq!((template, client), (POSTGRES[0], None), "socket connections have no client address");
    }
}
