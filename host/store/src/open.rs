//! Choosing and opening a backend from the configured database location.

use crate::{Error, PgStore, Result, SqliteStore, Store};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The SQLite file's name in the data directory when no database is
/// configured.
pub const DEFAULT_SQLITE_FILE: &str = "weft.db";

/// The storage implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Where the database is, as understood from the configured string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    SqliteFile(PathBuf),
    Postgres(String),
}

/// Opens the store at `location`: a `postgres://` (or `postgresql://`) URL
/// selects PostgreSQL; `sqlite://path`, `sqlite:path` or a plain file path
/// selects SQLite (the file and its directory are created if missing).
///
/// It connects but does not migrate: call [`Store::migrate`] before use.
pub async fn open(location: &str) -> Result<Arc<dyn Store>> {
    Ok(match parse(location)? {
        Location::SqliteFile(path) => Arc::new(SqliteStore::open(&path).await?),
        Location::Postgres(url) => Arc::new(PgStore::connect(&url).await?),
    })
}

fn parse(location: &str) -> Result<Location> {
    let location = location.trim();
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Ok(Location::Postgres(location.to_owned()));
    }
    let path = match location.strip_prefix("sqlite:") {
        // `sqlite://relative` and `sqlite:///absolute` both keep what
        // follows the two slashes, as sqlx itself reads them.
        Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
        None if location.contains("://") => {
            return Err(Error::invalid(format!(
                "unsupported database URL scheme in {:?}: use postgres://..., sqlite://<path> or a file path",
                location.split("://").next().unwrap_or_default()
            )));
        }
        None => location,
    };
    if path.is_empty() || path == ":memory:" || path.starts_with(":memory:") {
        // An in-memory database would be a different one on every pooled
        // connection, and would lose accepted work on exit.
        return Err(Error::invalid("the SQLite database must be a file path"));
    }
    if path.contains('?') {
        return Err(Error::invalid("SQLite URL options are not supported: Weft sets the connection options itself"));
    }
    Ok(Location::SqliteFile(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(p: &str) -> Option<Location> {
        Some(Location::SqliteFile(PathBuf::from(p)))
    }

    #[test]
    fn postgres_urls_select_postgres() {
        for url in ["postgres://u@h/db", "postgresql://u@h:5432/db?sslmode=require"] {
            assert_eq!(parse(url).ok(), Some(Location::Postgres(url.into())));
        }
    }

    #[test]
    fn sqlite_urls_and_paths_select_sqlite() {
        assert_eq!(parse("data/weft.db").ok(), sqlite("data/weft.db"));
        assert_eq!(parse("/var/lib/weft/weft.db").ok(), sqlite("/var/lib/weft/weft.db"));
        assert_eq!(parse("sqlite://data/weft.db").ok(), sqlite("data/weft.db"));
        assert_eq!(parse("sqlite:///var/lib/weft.db").ok(), sqlite("/var/lib/weft.db"));
        assert_eq!(parse("sqlite:weft.db").ok(), sqlite("weft.db"));
        assert_eq!(parse(" weft.db ").ok(), sqlite("weft.db"));
    }

    #[test]
    fn unusable_locations_are_invalid() {
        for bad in ["", "sqlite::memory:", ":memory:", "sqlite://", "sqlite://x.db?mode=ro", "mysql://h/db"] {
            assert!(matches!(parse(bad), Err(Error::Invalid(_))), "{bad}");
        }
    }
}
