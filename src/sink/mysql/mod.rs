//! MySQL and MariaDB on mysql_async: per-row INSERT, multi-row INSERT
//! (bounded by the 65,535 placeholders of a prepared statement and by the
//! server's `max_allowed_packet`, read at connect) and copy as
//! `LOAD DATA LOCAL INFILE` streamed from memory ([`write`]).
//!
//! Every connection speaks utf8mb4, runs a strict `sql_mode` (no zero
//! dates, division by zero an error) and `time_zone = '+00:00'`, so that a
//! bad value is an error, never a silently changed one.

pub mod history;
pub mod introspect;
pub mod keys;
mod merge;
mod replace;
pub(crate) mod undo;
pub mod values;
mod write;

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

use super::ddl::quote_table_mysql;
use super::merge::Merge;
use super::DbError;
pub use write::MySqlWriter;

/// The session's `sql_mode`: strict for every table, no zero dates.
pub const SQL_MODE: &str = "STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,\
ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

/// The `businesses` preset for MySQL, idempotent. TEXT columns keep
/// PostgreSQL's semantics (no length limit short of 64 KiB); MySQL indexes
/// TEXT only by a prefix, so the five text indexes cover the first 191
/// characters (764 bytes of utf8mb4: within every InnoDB row format).
pub const BUSINESSES: &str = "
CREATE TABLE IF NOT EXISTS businesses (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        TEXT NOT NULL,
    category    TEXT,
    phone       TEXT,
    email       TEXT,
    address     TEXT,
    city        TEXT,
    country     TEXT,
    website     TEXT,
    description TEXT,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    deleted_at  DATETIME(6) NULL,
    INDEX idx_businesses_name (name(191)),
    INDEX idx_businesses_category (category(191)),
    INDEX idx_businesses_email (email(191)),
    INDEX idx_businesses_city (city(191)),
    INDEX idx_businesses_country (country(191)),
    INDEX idx_businesses_deleted_at (deleted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
";

/// A MySQL/MariaDB database with sheetpipe's history tables ensured.
#[derive(Clone)]
pub struct MySqlSink {
    opts: Opts,
    /// The server's `max_allowed_packet`, in bytes.
    max_packet: usize,
    /// See [`super::Sink::with_ledger`].
    ledger: Option<Arc<str>>,
    /// See [`super::Sink::with_merge`].
    merge: Option<Arc<Merge>>,
    /// The server takes MySQL 8.0.19's row alias (`VALUES (…) AS new`)
    /// instead of the `VALUES(col)` function MySQL 8.0.20 deprecates
    /// (MariaDB: never; it has no row alias and keeps `VALUES()`).
    row_alias: bool,
    preset_ready: Arc<tokio::sync::OnceCell<()>>,
}

impl MySqlSink {
    /// Where the rows go, for messages: `mysql://user@host:port/db` (no
    /// password).
    pub fn location(&self) -> String {
        let user = self.opts.user().unwrap_or_default();
        let at = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        let db = self.opts.db_name().unwrap_or_default();
        format!(
            "mysql://{at}{}:{}/{db}",
            self.opts.ip_or_hostname(),
            self.opts.tcp_port()
        )
    }
}

/// The URL as mysql_async reads it: `mariadb://` is `mysql://`.
pub fn driver_url(url: &str) -> String {
    match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    }
}

impl MySqlSink {
    /// Connects once: reads `max_allowed_packet`, creates the history tables.
    pub async fn connect(url: &str) -> Result<MySqlSink, DbError> {
        let opts = Opts::from_url(&driver_url(url))
            .map_err(|e| DbError::new(format!("invalid MySQL URL: {e}")))?;
        // Affected rows must count changed rows only (an upsert's unchanged
        // row 0, see `merge`), whatever the URL says.
        let opts: Opts = OptsBuilder::from_opts(opts)
            .client_found_rows(false)
            .init(vec![
                "SET NAMES utf8mb4".to_string(),
                format!("SET SESSION sql_mode = '{SQL_MODE}'"),
                "SET SESSION time_zone = '+00:00'".to_string(),
            ])
            .into();
        let mut sink = MySqlSink {
            opts,
            max_packet: 4 << 20,
            ledger: None,
            merge: None,
            row_alias: false,
            preset_ready: Default::default(),
        };
        let mut conn = sink.conn().await?;
        let settings: Option<(u64, String)> = conn
            .query_first("SELECT @@max_allowed_packet, VERSION()")
            .await
            .map_err(fatal)?;
        let (packet, version) = settings.unwrap_or((4 << 20, String::new()));
        sink.max_packet = packet as usize;
        sink.row_alias = merge::has_row_alias(&version);
        for ddl in history::DDL.split(';').filter(|d| !d.trim().is_empty()) {
            conn.query_drop(ddl).await.map_err(fatal)?;
        }
        history::migrate(&mut conn).await?;
        conn.query_drop(keys::DDL).await.map_err(fatal)?;
        for ddl in undo::DDL.split(';').filter(|d| !d.trim().is_empty()) {
            conn.query_drop(ddl).await.map_err(fatal)?;
        }
        history::add_owner_column(&mut conn).await?;
        Ok(sink)
    }

    /// A fresh connection with the session settings.
    pub async fn conn(&self) -> Result<Conn, DbError> {
        Conn::new(self.opts.clone())
            .await
            .map_err(|e| DbError::new(format!("cannot connect to MySQL: {e}")))
    }

    /// This sink with every write's count appended to `import_ledger`.
    pub fn with_ledger(&self, import_id: &str) -> MySqlSink {
        MySqlSink {
            ledger: Some(import_id.into()),
            ..self.clone()
        }
    }

    /// The import this sink records writes for.
    pub fn ledger_id(&self) -> Option<String> {
        self.ledger.as_deref().map(str::to_string)
    }

    /// This sink with its writers upserting or skipping rows whose key
    /// exists (see [`merge`]).
    pub fn with_merge(&self, merge: Arc<Merge>) -> MySqlSink {
        MySqlSink {
            merge: Some(merge),
            ..self.clone()
        }
    }

    /// A writer with its own connection.
    pub async fn writer(&self) -> Result<MySqlWriter, DbError> {
        let mut w = MySqlWriter::new(self.conn().await?, self.max_packet, self.ledger.clone());
        w.merge = self.merge.clone();
        w.row_alias = self.row_alias;
        Ok(w)
    }

    /// `SELECT 1` on a fresh connection.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.conn()
            .await?
            .query_drop("SELECT 1")
            .await
            .map_err(fatal)
    }

    /// Creates the `businesses` preset's table and indexes if missing.
    pub async fn ensure_businesses(&self) -> Result<(), DbError> {
        self.preset_ready
            .get_or_try_init(|| async {
                self.conn()
                    .await?
                    .query_drop(BUSINESSES)
                    .await
                    .map_err(fatal)
            })
            .await
            .map(drop)
    }

    /// Rows in `table`.
    pub async fn count_rows(&self, table: &str) -> Result<i64, DbError> {
        let sql = format!("SELECT count(*) FROM {}", quote_table_mysql(table));
        let n: Option<i64> = self.conn().await?.query_first(sql).await.map_err(fatal)?;
        Ok(n.unwrap_or(0))
    }
}

/// A failure not about one row's data.
pub fn fatal(e: mysql_async::Error) -> DbError {
    DbError::new(format!("mysql: {e}"))
}

/// MySQL errors about the data of a row (they refuse the unit; the
/// pipeline isolates the row): SQLSTATE classes 22 (data exception) and 23
/// (integrity constraint), and the codes the server reports with the
/// generic state HY000 for bad values.
pub fn is_data_error(e: &mysql_async::Error) -> bool {
    const CODES: [u16; 12] = [
        1048, // column cannot be null
        1062, // duplicate entry
        1264, // out of range
        1265, // data truncated
        1292, // incorrect date/time value
        1366, // incorrect integer/decimal/string value
        1367, // illegal value
        1406, // data too long
        1451, // foreign key (parent)
        1452, // foreign key (child)
        3140, // invalid JSON text (MySQL)
        4025, // CHECK constraint failed (MariaDB; JSON_VALID)
    ];
    match e {
        mysql_async::Error::Server(s) => {
            s.state.starts_with("22") || s.state.starts_with("23") || CODES.contains(&s.code)
        }
        _ => false,
    }
}
