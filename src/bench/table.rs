//! The table under test (`businesses` or the typed `orders`) and the bench's
//! administration of the server it lives on, PostgreSQL or MariaDB/MySQL:
//! the scratch database, emptying, prefilling, settling and counting.

use std::path::Path;

use mysql_async::prelude::Queryable;

use super::orders;
use crate::sink::DbError;

/// Which table the bench imports into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum BenchTable {
    /// The tutorial's table (the `businesses` preset, six indexes).
    Businesses,
    /// A typed table (bigint key, text, date, timestamp, numeric(12,2),
    /// integer, double, boolean, uuid, jsonb; two indexes) imported with
    /// `--table orders`.
    Orders,
}

impl BenchTable {
    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            BenchTable::Businesses => "businesses",
            BenchTable::Orders => "orders",
        }
    }

    /// The loaded columns, comma-separated, in the CSV's order.
    pub fn columns(self) -> &'static str {
        match self {
            BenchTable::Businesses => {
                "name, category, phone, email, address, city, country, website, description"
            }
            BenchTable::Orders => orders::COLUMNS,
        }
    }

    /// What `sheetpipe import` needs beside the file to reach the table.
    pub fn import_args(self) -> Vec<String> {
        match self {
            BenchTable::Businesses => vec![],
            BenchTable::Orders => vec!["--table".into(), "orders".into()],
        }
    }

    /// Creates the table and its indexes in the (empty) scratch database.
    pub async fn create(self, db: &Db, url: &str) -> anyhow::Result<()> {
        match (self, db) {
            (BenchTable::Businesses, _) => {
                crate::sink::Sink::connect(&crate::sink::DatabaseUrl::parse(Some(url))?)
                    .await?
                    .ensure_businesses()
                    .await?
            }
            (BenchTable::Orders, Db::Postgres(_)) => db.execute(orders::POSTGRES_DDL).await?,
            (BenchTable::Orders, Db::MySql(_)) => db.execute(orders::MYSQL_DDL).await?,
        }
        Ok(())
    }
}

/// An administration connection to the scratch database (or the server).
pub enum Db {
    /// PostgreSQL.
    Postgres(tokio_postgres::Client),
    /// MariaDB / MySQL.
    MySql(tokio::sync::Mutex<mysql_async::Conn>),
}

/// `mysql://` or `mariadb://`.
pub fn is_mysql(url: &str) -> bool {
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

fn my(e: mysql_async::Error) -> DbError {
    crate::sink::mysql::fatal(e)
}

impl Db {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if !is_mysql(url) {
            return Ok(Db::Postgres(super::measure::connect(url).await?));
        }
        let conn = mysql_async::Conn::from_url(crate::sink::mysql::driver_url(url))
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to MySQL: {e}"))?;
        Ok(Db::MySql(tokio::sync::Mutex::new(conn)))
    }

    /// The server's version string.
    pub async fn version(&self) -> anyhow::Result<String> {
        match self {
            Db::Postgres(c) => Ok(c.query_one("SELECT version()", &[]).await?.get(0)),
            Db::MySql(c) => {
                let v: Option<String> = c
                    .lock()
                    .await
                    .query_first("SELECT CONCAT(VERSION(), ' ', @@version_comment)")
                    .await
                    .map_err(my)?;
                Ok(v.unwrap_or_default())
            }
        }
    }

    /// Runs `;`-separated statements.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            Db::Postgres(c) => Ok(c.batch_execute(sql).await?),
            Db::MySql(c) => {
                let mut c = c.lock().await;
                for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                    c.query_drop(statement).await.map_err(my)?;
                }
                Ok(())
            }
        }
    }

    /// Drops database `name` if it exists.
    pub async fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        self.execute(&match self {
            Db::Postgres(_) => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            Db::MySql(_) => format!("DROP DATABASE IF EXISTS `{name}`"),
        })
        .await
    }

    /// Creates database `name` (dropping a leftover of the same name).
    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        self.drop_database(name).await?;
        self.execute(&match self {
            Db::Postgres(_) => format!("CREATE DATABASE {name}"),
            Db::MySql(_) => format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"),
        })
        .await
    }

    /// Empties `table` (identities restart).
    pub async fn truncate(&self, table: &str) -> anyhow::Result<()> {
        self.execute(&match self {
            Db::Postgres(_) => format!("TRUNCATE {table} RESTART IDENTITY"),
            Db::MySql(_) => format!("TRUNCATE TABLE {table}"),
        })
        .await
    }

    /// Drops `table` if it exists.
    pub async fn drop_table(&self, table: &str) -> anyhow::Result<()> {
        self.execute(&format!("DROP TABLE IF EXISTS {table}")).await
    }

    /// Refreshes `table`'s statistics after a prefill (PostgreSQL also
    /// vacuums), so the measured import meets a settled table.
    pub async fn settle(&self, table: &str) -> anyhow::Result<()> {
        self.execute(&match self {
            Db::Postgres(_) => format!("VACUUM (ANALYZE) {table}"),
            Db::MySql(_) => format!("ANALYZE TABLE {table}"),
        })
        .await
    }

    /// PostgreSQL: a `CHECKPOINT` (when permitted), so the previous step's
    /// dirty pages are not flushed during the measurement. MariaDB has no
    /// statement for it; nothing.
    pub async fn checkpoint(&self) {
        if let Db::Postgres(c) = self {
            let _ = c.batch_execute("CHECKPOINT").await;
        }
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> anyhow::Result<u64> {
        let sql = format!("SELECT count(*) FROM {table}");
        let n: i64 = match self {
            Db::Postgres(c) => c.query_one(&sql, &[]).await?.get(0),
            Db::MySql(c) => c
                .lock()
                .await
                .query_first(sql)
                .await
                .map_err(my)?
                .unwrap_or(0),
        };
        Ok(n as u64)
    }

    /// Loads `csv` into `table` untimed (the `filled` scenario's prefill):
    /// a text COPY from this process on PostgreSQL, the floor's own
    /// `LOAD DATA LOCAL` on MariaDB.
    pub async fn prefill(&self, url: &str, table: BenchTable, csv: &Path) -> anyhow::Result<()> {
        match self {
            Db::Postgres(c) => super::measure::copy_csv_from_stdin(c, table, csv).await,
            Db::MySql(_) => super::measure::load_data(url, table, csv).await,
        }
    }
}
