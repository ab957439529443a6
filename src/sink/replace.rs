//! `--mode replace`: the table's rows become the file's, atomically. The
//! writers load the rows into a staging table shaped like the target
//! (PostgreSQL: `LIKE … INCLUDING ALL`, so its NOT NULL, CHECK and unique
//! constraints refuse rows as the target would; SQLite: a TEMP table made
//! from the target's own CREATE TABLE). When every row is loaded, one
//! transaction deletes the table's rows and inserts the staged ones;
//! readers see the old contents until it commits. A failed or cancelled
//! import drops the staging table and leaves the table as it was.
//!
//! A table other tables reference by foreign key: the DELETE fails when a
//! referencing row exists (unless the reference cascades), the whole
//! replace fails and the old contents stay.

use super::schema::{quote_ident, quote_table};
use super::{DbError, Sink};

/// The staging table's name for import `id` (beside the target, in its
/// PostgreSQL schema).
fn staging_name(table: &str, id: &str) -> String {
    let tag: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect::<String>()
        .to_lowercase();
    let name = format!("sheetpipe_stage_{tag}");
    match table.split_once('.') {
        Some((schema, _)) => format!("{schema}.{name}"),
        None => name,
    }
}

/// SQLite: `CREATE TEMP TABLE "stage" (…)` from the target's own CREATE
/// TABLE statement (its columns and constraints).
fn sqlite_staging_ddl(create: &str, staging: &str) -> Option<String> {
    let open = create.find('(')?;
    Some(format!(
        "CREATE TEMP TABLE {} {}",
        quote_ident(staging),
        &create[open..]
    ))
}

impl Sink {
    /// Creates the staging table of a replace of `table` by import `id`;
    /// returns its name (the writers' table).
    pub async fn begin_replace(&self, table: &str, id: &str) -> Result<String, DbError> {
        let staging = staging_name(table, id);
        match self {
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                let sql = format!(
                    "DROP TABLE IF EXISTS {0}; CREATE UNLOGGED TABLE {0} (LIKE {1} INCLUDING ALL)",
                    quote_table(&staging),
                    quote_table(table)
                );
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| DbError::new(super::postgres::describe(&e)))?;
                if let Some(import) = self.ledger_id() {
                    super::postgres::undo::note_replace(s, &import, table).await?;
                }
            }
            Sink::Sqlite(s) => {
                let (t, st) = (table.to_string(), staging.clone());
                let import = self.ledger_id();
                let created = s
                    .with_conn_raw(move |c| -> Result<bool, rusqlite::Error> {
                        let create: String = c.query_row(
                            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                            [&t],
                            |r| r.get(0),
                        )?;
                        let Some(ddl) = sqlite_staging_ddl(&create, &st) else {
                            return Ok(false);
                        };
                        c.execute_batch(&format!(
                            "DROP TABLE IF EXISTS temp.{0}; {ddl}",
                            quote_ident(&st)
                        ))?;
                        if let Some(import) = import {
                            super::sqlite::undo::note(c, &import, &t, "replace")?;
                        }
                        Ok(true)
                    })
                    .await?
                    .map_err(|e| DbError::new(format!("sqlite: {e}")))?;
                if !created {
                    return Err(DbError::new(format!(
                        "cannot replace {table}: its CREATE TABLE statement could not be read"
                    )));
                }
            }
            Sink::Mysql(_) => return Err(DbError::new("replace is not supported on MySQL")),
        }
        Ok(staging)
    }

    /// In one transaction: deletes every row of `table`, inserts the staged
    /// rows' `columns`, drops the staging table. Returns the rows inserted.
    pub async fn finish_replace(
        &self,
        table: &str,
        staging: &str,
        columns: &[String],
    ) -> Result<u64, DbError> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let cols = cols.join(", ");
        let (t, st) = (quote_table(table), quote_table(staging));
        let delete = format!("DELETE FROM {t}");
        let insert = format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM {st}");
        let drop_staging = format!("DROP TABLE {st}");
        let failed = |e: String| {
            DbError::new(format!(
                "replacing the rows of {table} failed, its old rows are kept: {e}"
            ))
        };
        match self {
            Sink::Postgres(s) => {
                let mut client = s.connection().await?;
                let pg = |e: tokio_postgres::Error| failed(super::postgres::describe(&e));
                let tx = client.transaction().await.map_err(pg)?;
                let import = self.ledger_id();
                // Undo's copy of the old rows, and the swap's transaction id.
                if let Some(import) = &import {
                    super::postgres::undo::save_replaced(&tx, import, table)
                        .await
                        .map_err(pg)?;
                }
                tx.execute(&delete, &[]).await.map_err(pg)?;
                let n = tx.execute(&insert, &[]).await.map_err(pg)?;
                if let Some(import) = &import {
                    super::postgres::undo::record_replace(&tx, import, table, n)
                        .await
                        .map_err(pg)?;
                }
                tx.execute(&drop_staging, &[]).await.map_err(pg)?;
                tx.commit().await.map_err(pg)?;
                Ok(n)
            }
            Sink::Sqlite(s) => {
                let import = self.ledger_id();
                let (t, st, cols) = (table.to_string(), staging.to_string(), columns.to_vec());
                s.with_conn_raw(move |c| -> Result<u64, rusqlite::Error> {
                    let tx = c.transaction()?;
                    let n = match import {
                        // With undo's record of the old rows and the new.
                        Some(import) => {
                            super::sqlite::undo::replace_recorded(&tx, &import, &t, &st, &cols)?
                        }
                        None => {
                            tx.execute(&delete, [])?;
                            tx.execute(&insert, [])? as u64
                        }
                    };
                    tx.commit()?;
                    c.execute(&drop_staging, [])?;
                    Ok(n)
                })
                .await?
                .map_err(|e| failed(e.to_string()))
            }
            Sink::Mysql(_) => Err(DbError::new("replace is not supported on MySQL")),
        }
    }

    /// Drops the staging table of a replace that did not finish.
    pub async fn drop_staging(&self, staging: &str) -> Result<(), DbError> {
        let sql = format!("DROP TABLE IF EXISTS {}", quote_table(staging));
        match self {
            Sink::Postgres(s) => s
                .connection()
                .await?
                .batch_execute(&sql)
                .await
                .map_err(|e| DbError::new(super::postgres::describe(&e))),
            Sink::Sqlite(s) => s.with_conn(move |c| c.execute_batch(&sql)).await,
            Sink::Mysql(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staging_table_sits_beside_the_target_with_its_constraints() {
        assert_eq!(
            staging_name("s.t", "ab-C9"),
            "s.sheetpipe_stage_abc9".to_string()
        );
        assert_eq!(
            sqlite_staging_ddl("CREATE TABLE \"t\" (a INTEGER CHECK (a > 0))", "st").unwrap(),
            "CREATE TEMP TABLE \"st\" (a INTEGER CHECK (a > 0))"
        );
    }
}
