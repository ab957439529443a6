//! `--mode replace`: the table's rows become the file's, atomically. The
//! writers load the rows into a staging table shaped like the target
//! (PostgreSQL: `LIKE … INCLUDING ALL`, so its NOT NULL, CHECK and unique
//! constraints refuse rows as the target would; SQLite: a TEMP table made
//! from the target's own CREATE TABLE). When every row is loaded, one
//! transaction deletes the table's rows and inserts the staged ones;
//! readers see the old contents until it commits. A failed or cancelled
//! import drops the staging table and leaves the table as it was.
//!
//! Counts: the staging writes record nothing ([`Sink::staging_sink`]); the
//! swap's transaction records the rows the table now holds for the import
//! (PostgreSQL: its `import_ledger` entries become that one count; SQLite:
//! `imports.inserted` is set to it), so the history says 0 until the swap
//! commits and the file's rows after it, even if the process is killed.
//!
//! A table other tables reference by foreign key: the DELETE fails when a
//! referencing row exists (unless the reference cascades), the whole
//! replace fails and the old contents stay.
//!
//! MySQL/MariaDB: `CREATE TABLE … LIKE` and the same DELETE + INSERT
//! transaction, in `sink/mysql/replace.rs` (DDL commits implicitly there).

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

/// PostgreSQL: the staging tables in schema `$1` (NULL: the current one)
/// that no live import loads — left by a replace killed before its swap.
/// A staging table is import `id`'s when its name's tag is the id's
/// ([`staging_name`]); the import is live while it is queued or running
/// and not a CLI import whose process is gone (nothing queued for it, its
/// advisory lock free: `sink/instances.rs`). A server's import whose
/// instance died is left to the sweep: resumed, it starts its replace over
/// under the same name.
fn orphans_sql() -> String {
    use super::instances::{NOT_A_LIVE_CLI, NOT_FOR_ANYONE};
    format!(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND c.relname LIKE 'sheetpipe\\_stage\\_%' \
           AND n.nspname = COALESCE($1, current_schema()) \
           AND NOT EXISTS (SELECT 1 FROM imports i WHERE i.status IN ('queued', 'running') \
             AND left(regexp_replace(lower(i.id), '[^a-z0-9]', '', 'g'), 24) = substr(c.relname, 17) \
             AND NOT (i.instance_id IS NULL AND {NOT_FOR_ANYONE} AND {NOT_A_LIVE_CLI}))"
    )
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
    /// The sink a replace's writers load the staging table with: no ledger
    /// (rows in the staging table are not in the table yet).
    pub fn staging_sink(&self) -> Sink {
        match self {
            Sink::Postgres(s) => Sink::Postgres(s.without_ledger()),
            Sink::Sqlite(s) => Sink::Sqlite(s.without_ledger()),
            Sink::Mysql(s) => Sink::Mysql(s.clone()),
        }
    }

    /// Creates the staging table of a replace of `table` by import `id`;
    /// returns its name (the writers' table).
    pub async fn begin_replace(&self, table: &str, id: &str) -> Result<String, DbError> {
        let staging = staging_name(table, id);
        match self {
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                let schema = table.split_once('.').map(|(schema, _)| schema);
                let orphans = client
                    .query(&orphans_sql(), &[&schema])
                    .await
                    .map_err(|e| DbError::new(super::postgres::describe(&e)))?;
                for row in orphans {
                    let orphan: String = row.get(0);
                    tracing::info!(table = %orphan, "dropping the staging table of a replace killed before its swap");
                    client
                        .batch_execute(&format!("DROP TABLE IF EXISTS {orphan}"))
                        .await
                        .map_err(|e| DbError::new(super::postgres::describe(&e)))?;
                }
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
            Sink::Mysql(s) => s.begin_replace(table, &staging).await?,
        }
        Ok(staging)
    }

    /// In one transaction: deletes every row of `table`, inserts the staged
    /// rows' `columns`, records their count for the import of the sink's
    /// ledger, drops the staging table. Returns the rows inserted.
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
                if let Some(id) = &import {
                    let count = n as i64;
                    tx.execute("DELETE FROM import_ledger WHERE import_id = $1", &[id])
                        .await
                        .map_err(pg)?;
                    tx.execute(
                        "INSERT INTO import_ledger (import_id, inserted) VALUES ($1, $2)",
                        &[id, &count],
                    )
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
                    let n = match &import {
                        // With undo's record of the old rows and the new.
                        Some(import) => {
                            super::sqlite::undo::replace_recorded(&tx, import, &t, &st, &cols)?
                        }
                        None => {
                            tx.execute(&delete, [])?;
                            tx.execute(&insert, [])? as u64
                        }
                    };
                    // The swap's count: the rows the table now holds.
                    if let Some(id) = &import {
                        tx.execute(
                            "UPDATE imports SET inserted = ?1 WHERE id = ?2",
                            rusqlite::params![n as i64, id],
                        )?;
                    }
                    tx.commit()?;
                    c.execute(&drop_staging, [])?;
                    Ok(n)
                })
                .await?
                .map_err(|e| failed(e.to_string()))
            }
            Sink::Mysql(s) => s.finish_replace(table, staging, columns).await,
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
            Sink::Mysql(s) => s.drop_staging(staging).await,
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
