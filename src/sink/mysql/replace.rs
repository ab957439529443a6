//! `--mode replace` on MySQL/MariaDB (see `sink::replace`). DDL commits
//! implicitly there, so it cannot share a transaction with the rows: the
//! staging table is made before any row is written (`CREATE TABLE stage
//! LIKE target`: the target's columns, types, defaults, NOT NULL, indexes
//! and so unique keys, and CHECK constraints — not its foreign keys or
//! triggers), the writers load it as they would load the target (LOAD DATA
//! or INSERTs, every warning refused), and once every row is in, one InnoDB
//! transaction runs `DELETE FROM target` and `INSERT INTO target (…)
//! SELECT … FROM stage`. Readers (consistent reads) see the old rows until
//! it commits; a failure inside it rolls it back, and a failed or cancelled
//! import never reaches it. The staging table is dropped afterwards.
//!
//! Chosen over an atomic `RENAME TABLE target TO old, stage TO target`,
//! which is cheaper for large tables but swaps in a table without the
//! target's foreign keys (both those it has and those that reference it),
//! triggers and table grants, and lets referencing rows point at rows
//! that are gone. With DELETE + INSERT the target stays the same table:
//! its triggers fire, its grants hold, and a row another table references
//! by a foreign key makes the DELETE fail (unless the reference cascades
//! or sets NULL), so the whole replace fails with the old rows kept.

use mysql_async::prelude::Queryable;

use super::{fatal, MySqlSink};
use crate::sink::ddl::{quote_ident_mysql, quote_table_mysql};
use crate::sink::DbError;

impl MySqlSink {
    /// `CREATE TABLE staging LIKE table` (an older one of that name
    /// dropped first).
    pub async fn begin_replace(&self, table: &str, staging: &str) -> Result<(), DbError> {
        let mut conn = self.conn().await?;
        let st = quote_table_mysql(staging);
        conn.query_drop(format!("DROP TABLE IF EXISTS {st}"))
            .await
            .map_err(fatal)?;
        conn.query_drop(format!(
            "CREATE TABLE {st} LIKE {}",
            quote_table_mysql(table)
        ))
        .await
        .map_err(fatal)
    }

    /// In one transaction: deletes every row of `table`, inserts the staged
    /// rows' `columns`; then drops the staging table. Returns the rows
    /// inserted.
    pub async fn finish_replace(
        &self,
        table: &str,
        staging: &str,
        columns: &[String],
    ) -> Result<u64, DbError> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident_mysql(c)).collect();
        let cols = cols.join(", ");
        let (t, st) = (quote_table_mysql(table), quote_table_mysql(staging));
        let mut conn = self.conn().await?;
        let swapped: Result<u64, String> = async {
            let e = |e: mysql_async::Error| e.to_string();
            let d = |e: DbError| e.message;
            conn.query_drop("START TRANSACTION").await.map_err(e)?;
            // Undo's copy of the old rows, in the swap's transaction.
            let plan = match self.ledger.as_deref() {
                Some(id) => super::undo::save_replaced(&mut conn, id, table, columns)
                    .await
                    .map_err(d)?,
                None => None,
            };
            conn.query_drop(format!("DELETE FROM {t}"))
                .await
                .map_err(e)?;
            conn.query_drop(format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {st}"))
                .await
                .map_err(e)?;
            let (n, warnings) = (conn.affected_rows(), conn.get_warnings());
            if let (Some(id), Some(plan), 0) = (self.ledger.as_deref(), &plan, warnings) {
                super::undo::record_replaced(&mut conn, id, plan)
                    .await
                    .map_err(d)?;
            }
            if warnings > 0 {
                let shown: Vec<(String, u32, String)> =
                    conn.query("SHOW WARNINGS LIMIT 3").await.map_err(e)?;
                let said: Vec<String> = shown
                    .into_iter()
                    .map(|(l, c, m)| format!("{l} {c}: {m}"))
                    .collect();
                return Err(format!(
                    "copying the staged rows warned ({warnings}): {}",
                    said.join("; ")
                ));
            }
            conn.query_drop("COMMIT").await.map_err(e)?;
            Ok(n)
        }
        .await;
        match swapped {
            Ok(n) => {
                let _ = conn.query_drop(format!("DROP TABLE IF EXISTS {st}")).await;
                Ok(n)
            }
            Err(why) => {
                let _ = conn.query_drop("ROLLBACK").await;
                Err(DbError::new(format!(
                    "replacing the rows of {table} failed, its old rows are kept: mysql: {why}"
                )))
            }
        }
    }

    /// Drops the staging table of a replace that did not finish.
    pub async fn drop_staging(&self, staging: &str) -> Result<(), DbError> {
        self.conn()
            .await?
            .query_drop(format!(
                "DROP TABLE IF EXISTS {}",
                quote_table_mysql(staging)
            ))
            .await
            .map_err(fatal)
    }
}
