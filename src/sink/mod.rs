//! Where rows go. A [`Sink`] is a database (PostgreSQL, SQLite or
//! MySQL/MariaDB) with the
//! tutorial's `businesses` table ensured; a [`Writer`] is one writer's own
//! connection (confinement: a PostgreSQL writer holds one connection of the
//! bounded [`pool`] for its whole import and shares it with no one;
//! SQLite's single connection is shared behind a mutex because SQLite
//! allows one writer at a time).
//!
//! Every write is atomic: it either stores all the rows given or none, and
//! its result says which of three things happened — stored, refused because
//! of the data (a constraint or a bad value: the caller isolates the bad row),
//! or failed for another reason (connection lost, table missing: fatal).

pub mod ddl;
pub(crate) mod history_columns;
pub mod imports;
pub mod instances;
pub mod introspect;
pub mod keys;
pub mod mappings;
pub mod merge;
pub mod mysql;
pub mod postgres;
pub mod queue;
pub mod replace;
pub mod same_file;
mod schema;
pub mod sqlite;
pub mod tables;
pub mod undo;
pub mod upkeep;

use std::path::PathBuf;

pub use mysql::{MySqlSink, MySqlWriter};
pub use pool::{PoolOptions, Wait};
pub use postgres::pool;
pub use postgres::{PgSink, PgWriter};
pub use sqlite::{SqliteSink, SqliteWriter};

use crate::model::{Record, Target};

/// How a writer stores a unit of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// One INSERT per row, each its own transaction (autocommit).
    PerRow,
    /// One multi-row `INSERT … VALUES (…), (…)` per unit.
    MultiRow,
    /// PostgreSQL binary COPY; on SQLite a prepared INSERT in one transaction.
    Copy,
}

/// The database to import into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A `postgres://` or `postgresql://` URL (or key=value string).
    Postgres(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A `mysql://` or `mariadb://` URL (MySQL or MariaDB).
    Mysql(String),
}

/// The embedded default when no URL is given.
pub const DEFAULT_SQLITE_FILE: &str = "sheetpipe.db";

impl DatabaseUrl {
    /// Parses `--database-url` / `DATABASE_URL`; `None` → `./sheetpipe.db`.
    pub fn parse(url: Option<&str>) -> Result<DatabaseUrl, DbError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(DEFAULT_SQLITE_FILE)));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            return Ok(DatabaseUrl::Mysql(url.to_string()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(DbError::new(
                    "the sqlite URL names no file (sqlite://path/to/file.db)",
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        Err(DbError::new(format!(
            "unsupported database URL {:?}: use postgres://…, mysql://… or sqlite://path",
            redact(url)
        )))
    }

    /// The URL with any password hidden, for logs and messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Postgres(u) | DatabaseUrl::Mysql(u) => redact(u),
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        }
    }
}

/// Hides the password in `scheme://user:password@host`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// A database failure that is not about one row's data: the import stops.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("database error: {message}")]
pub struct DbError {
    /// What the database (or driver) said.
    pub message: String,
}

impl DbError {
    /// A new error with this message.
    pub fn new(message: impl Into<String>) -> DbError {
        DbError {
            message: message.into(),
        }
    }
}

/// The result of one atomic write: `Ok(Ok(()))` stored, `Ok(Err(reason))`
/// refused because of the data, `Err(_)` fatal.
pub type WriteResult = Result<Result<(), String>, DbError>;

/// A database with the schema ensured. Cheap to clone.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // one per import, never in a collection
pub enum Sink {
    /// PostgreSQL: a bounded pool; each writer holds one of its connections.
    Postgres(PgSink),
    /// SQLite: one connection, shared behind a mutex.
    Sqlite(SqliteSink),
    /// MySQL or MariaDB: each writer opens its own connection.
    Mysql(MySqlSink),
}

impl Sink {
    /// Connects and creates sheetpipe's own tables (the import history) if
    /// missing, with the default pool bound ([`PoolOptions::default`]). The
    /// target table is the caller's business ([`Sink::ensure_businesses`]
    /// for the preset).
    pub async fn connect(url: &DatabaseUrl) -> Result<Sink, DbError> {
        Sink::connect_with(url, PoolOptions::default()).await
    }

    /// [`Sink::connect`] with the PostgreSQL pool bounded by `pool`
    /// (`--max-connections`, `--pool-timeout`); SQLite ignores it.
    pub async fn connect_with(url: &DatabaseUrl, pool: PoolOptions) -> Result<Sink, DbError> {
        match url {
            DatabaseUrl::Postgres(u) => Ok(Sink::Postgres(PgSink::connect(u, pool).await?)),
            DatabaseUrl::Sqlite(p) => Ok(Sink::Sqlite(SqliteSink::open(p).await?)),
            DatabaseUrl::Mysql(u) => Ok(Sink::Mysql(MySqlSink::connect(u).await?)),
        }
    }

    /// This sink with every committed write's count also recorded for
    /// `import_id` atomically with the rows (PostgreSQL: appended to
    /// `import_ledger`; SQLite: added to `imports.inserted`), so the count
    /// survives a crash of this process exactly (the HTTP service uses it;
    /// see docs/ROBUSTNESS.md).
    pub fn with_ledger(&self, import_id: &str) -> Sink {
        match self {
            Sink::Postgres(s) => Sink::Postgres(s.with_ledger(import_id)),
            Sink::Sqlite(s) => Sink::Sqlite(s.with_ledger(import_id)),
            Sink::Mysql(s) => Sink::Mysql(s.with_ledger(import_id)),
        }
    }

    /// This sink with its writers upserting or skipping rows whose key
    /// exists (`merge`'s mode).
    pub fn with_merge(&self, merge: std::sync::Arc<merge::Merge>) -> Sink {
        match self {
            Sink::Postgres(s) => Sink::Postgres(s.with_merge(merge)),
            Sink::Sqlite(s) => Sink::Sqlite(s.with_merge(merge)),
            Sink::Mysql(s) => Sink::Mysql(s.with_merge(merge)),
        }
    }

    /// Refuses, naming the backend, a mode this database cannot run. Every
    /// backend runs every mode today (MySQL/MariaDB since issue 15 item
    /// 3; docs/MODES.md); the CLI and the service still ask, before any
    /// row is read.
    pub fn supports_mode(&self, mode: merge::Mode) -> Result<(), String> {
        let _ = (self, mode);
        Ok(())
    }

    /// A writer holding a pooled connection until dropped (PostgreSQL;
    /// `wait` says how long to wait for one) or a handle on the shared one
    /// (SQLite).
    pub async fn writer(&self, wait: Wait) -> Result<Writer, DbError> {
        match self {
            Sink::Postgres(s) => Ok(Writer::Postgres(s.writer(wait).await?)),
            Sink::Sqlite(s) => Ok(Writer::Sqlite(s.writer())),
            Sink::Mysql(s) => Ok(Writer::Mysql(s.writer().await?)),
        }
    }

    /// Most writers that can hold a connection at once (PostgreSQL: the
    /// pool's writer slots, shared by all imports); `None` for SQLite.
    pub fn writer_slots(&self) -> Option<usize> {
        match self {
            Sink::Postgres(s) => Some(s.writer_slots()),
            Sink::Sqlite(_) | Sink::Mysql(_) => None,
        }
    }

    /// Most writers worth running at once for `kind`, or `None` for no
    /// limit: SQLite's copy path has one (a single writer holding the
    /// connection beats two taking turns on it); PostgreSQL its pool's
    /// writer slots; MySQL none (each writer has its own connection).
    pub fn max_writers(&self, kind: WriteKind) -> Option<usize> {
        match self {
            Sink::Sqlite(_) if kind == WriteKind::Copy => Some(1),
            _ => self.writer_slots(),
        }
    }

    /// Rows per copy unit of a `mode` import when none was asked for, if
    /// this sink wants other than the method's default: MySQL/MariaDB's
    /// `LOAD DATA` units of an append or a replace's staging are larger
    /// ([`crate::pipeline::MYSQL_COPY_CHUNK`]); an upsert's or
    /// skip-existing's, which lock and record the stored rows they meet,
    /// keep the default, where they were measured no faster with larger
    /// ones.
    pub fn copy_rows(&self, mode: merge::Mode) -> Option<usize> {
        match (self, mode) {
            (Sink::Mysql(_), merge::Mode::Append | merge::Mode::Replace) => {
                Some(crate::pipeline::MYSQL_COPY_CHUNK)
            }
            _ => None,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        match self {
            Sink::Postgres(s) => s.ping().await,
            Sink::Sqlite(s) => s.ping().await,
            Sink::Mysql(s) => s.ping().await,
        }
    }

    /// Where the rows go, without any password: `postgres://user@host:port/db`
    /// or `sqlite://PATH`, for reports and messages.
    pub fn location(&self) -> String {
        match self {
            Sink::Postgres(s) => s.location(),
            Sink::Sqlite(s) => s.location(),
            Sink::Mysql(s) => s.location(),
        }
    }

    /// "postgres", "sqlite" or "mysql".
    pub fn backend(&self) -> &'static str {
        match self {
            Sink::Postgres(_) => "postgres",
            Sink::Sqlite(_) => "sqlite",
            Sink::Mysql(_) => "mysql",
        }
    }

    /// Creates the `businesses` preset's table and its six indexes if
    /// missing.
    pub async fn ensure_businesses(&self) -> Result<(), DbError> {
        match self {
            Sink::Postgres(s) => s.ensure_businesses().await,
            Sink::Sqlite(s) => s.ensure_businesses().await,
            Sink::Mysql(s) => s.ensure_businesses().await,
        }
    }

    /// Number of rows in `table` (for tests, benchmarks and checks).
    pub async fn count_rows(&self, table: &str) -> Result<i64, DbError> {
        match self {
            Sink::Postgres(s) => s.count_rows(table).await,
            Sink::Sqlite(s) => s.count_rows(table).await,
            Sink::Mysql(s) => s.count_rows(table).await,
        }
    }
}

/// One writer's connection.
#[allow(clippy::large_enum_variant)] // one per writer task
pub enum Writer {
    /// A PostgreSQL connection owned by this writer.
    Postgres(PgWriter),
    /// A handle on the shared SQLite connection.
    Sqlite(SqliteWriter),
    /// A MySQL connection owned by this writer.
    Mysql(MySqlWriter),
}

impl Writer {
    /// Writes `rows` into `target` atomically with `kind`.
    pub async fn write(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> WriteResult {
        match self {
            Writer::Postgres(w) => w.write(rows, kind, target).await,
            Writer::Sqlite(w) => w.write(rows, kind, target).await,
            Writer::Mysql(w) => w.write(rows, kind, target).await,
        }
    }

    /// Rows updated and skipped by this writer's upsert or skip-existing
    /// writes since the last call (the rest of what it stored was
    /// inserted); `(0, 0)` for append.
    pub fn take_merged(&mut self) -> (u64, u64) {
        match self {
            Writer::Postgres(w) => w.take_merged(),
            Writer::Sqlite(w) => w.take_merged(),
            Writer::Mysql(w) => w.take_merged(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_means_the_embedded_sqlite_file() {
        assert_eq!(
            DatabaseUrl::parse(None).unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("sheetpipe.db"))
        );
        assert_eq!(
            DatabaseUrl::parse(Some("sqlite:///tmp/x.db")).unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert!(matches!(
            DatabaseUrl::parse(Some("postgres://u@h/db")).unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse(Some("oracle://x")).is_err());
    }

    #[test]
    fn passwords_never_reach_messages() {
        let url = DatabaseUrl::Postgres("postgres://bob:secret@db:5432/x".into());
        assert_eq!(url.redacted(), "postgres://bob:***@db:5432/x");
        let url = DatabaseUrl::parse(Some("mariadb://bob:secret@db:3306/x")).unwrap();
        assert_eq!(url.redacted(), "mariadb://bob:***@db:3306/x");
    }

    #[test]
    fn mysql_and_mariadb_urls_name_the_mysql_backend() {
        for u in ["mysql://root@127.0.0.1:3306/test", "mariadb://root@h/db"] {
            assert_eq!(
                DatabaseUrl::parse(Some(u)).unwrap(),
                DatabaseUrl::Mysql(u.to_string())
            );
        }
        assert_eq!(
            mysql::driver_url("mariadb://root@h/db"),
            "mysql://root@h/db"
        );
    }
}
