//! Undo on PostgreSQL (see [`crate::sink::undo`]): the rows an import
//! wrote are those whose `xmin` is one of its transactions; an upsert's
//! and a replace's earlier rows are json in `sheetpipe_undo_rows`.

use std::borrow::Cow;

use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

use super::{pg_text, PgSink, PgWriter, Pooled};
use crate::model::{Record, Target};
use crate::sink::ddl::quote_ident;
use crate::sink::merge::Merge;
use crate::sink::schema::{base_type, quote_table};
use crate::sink::undo::{self, UndoError, UndoOutcome, UndoTarget};
use crate::sink::DbError;

/// `xmin` as a number, comparable with `txid % 2^32`.
const XMIN: &str = "xmin::text::bigint";

/// Transactions between an import and its undo beyond which the 32-bit
/// `xmin` could name another transaction (wraparound is at 2^31).
const MAX_AGE: i64 = 1_000_000_000;

/// Creates undo's tables and the ledger's `xid` column when missing.
pub(super) async fn ensure(client: &Pooled) -> Result<(), DbError> {
    let present = client
        .query_one(undo::POSTGRES_PRESENT, &[])
        .await
        .map_err(super::fatal)?;
    if present.get::<_, bool>(0) {
        return Ok(());
    }
    client
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock(7158235); {} COMMIT;",
            undo::POSTGRES
        ))
        .await
        .map_err(super::fatal)
}

/// The advisory lock class a CLI import holds while it runs.
pub(crate) const HOLD_CLASS: i32 = 8_158_234;

/// A CLI import's connection of its own holding an advisory lock on its id
/// while it runs: a process killed mid-import loses it, so that undo can
/// tell a dead import from a running one.
pub(crate) async fn hold(s: &PgSink, id: &str) -> Result<crate::sink::undo::ImportHold, DbError> {
    let (client, connection) = s
        .config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(super::fatal)?;
    let task = tokio::spawn(connection);
    client
        .execute(
            "SELECT pg_advisory_lock($1, hashtext($2))",
            &[&HOLD_CLASS, &id],
        )
        .await
        .map_err(super::fatal)?;
    Ok(crate::sink::undo::ImportHold::Postgres(client, task))
}

/// Whether an import still `running` or `queued` has no process writing
/// it: made by the CLI (no instance, nothing queued) whose lock is free.
/// A killed process's session ends as soon as the server notices its
/// socket closed: the lock is tried for up to two seconds.
async fn writer_gone(tx: &Transaction<'_>, id: &str) -> Result<bool, UndoError> {
    let cli = tx
        .query_one(
            "SELECT i.instance_id IS NULL AND NOT EXISTS \
               (SELECT 1 FROM sheetpipe_queue q WHERE q.import_id = i.id) \
             FROM imports i WHERE i.id = $1",
            &[&id],
        )
        .await
        .map_err(db)?
        .get::<_, Option<bool>>(0)
        .unwrap_or(false);
    for _ in 0..10 {
        if !cli {
            break;
        }
        let free: bool = tx
            .query_one(
                "SELECT pg_try_advisory_xact_lock($1, hashtext($2))",
                &[&HOLD_CLASS, &id],
            )
            .await
            .map_err(db)?
            .get(0);
        if free {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(false)
}

impl PgSink {
    /// The import this sink records writes for.
    pub fn ledger_id(&self) -> Option<String> {
        self.ledger.as_deref().map(str::to_string)
    }
}

fn json_list(cols: &[String]) -> String {
    serde_json::to_string(cols).unwrap_or_default()
}

/// What a before-image's `before` (jsonb, NOT NULL) holds now that the
/// row is in `before_json`: a JSON string, on which an earlier sheetpipe's
/// undo (`jsonb_populate_record(…, before)`) fails and changes nothing,
/// rather than restore every column as NULL, should it run during a
/// rolling upgrade.
const MOVED: &str = "'\"in before_json\"'::jsonb";

/// Saves, as json in `sheetpipe_undo_rows` (`before_json`: text, so that
/// a `json` column's document comes back as written, where jsonb would
/// reorder its keys and drop a repeated one), the current value of every
/// row of `table` that `keys` (a condition on `cur`) selects and import
/// `$1` has not written yet, locking it (`FOR UPDATE`) so that nobody
/// changes it before the unit's `INSERT … ON CONFLICT` does.
fn save_sql(table: &str, keys: &str) -> String {
    format!(
        "WITH old AS (SELECT to_json(cur) AS j FROM {} AS cur \
           WHERE {keys} \
           AND NOT EXISTS (SELECT 1 FROM import_ledger l WHERE l.import_id = $1 \
             AND l.xid % 4294967296 = cur.{XMIN}) \
           FOR UPDATE OF cur) \
         INSERT INTO sheetpipe_undo_rows (import_id, before, before_json) \
         SELECT $1, {MOVED}, j FROM old",
        quote_table(table)
    )
}

impl PgWriter {
    /// In an upsert unit's transaction, before its multi-row INSERT … ON
    /// CONFLICT: saves the earlier value of every row of `rows`' keys (sent
    /// as text arrays) that this import has not written yet ([`save_sql`]).
    pub(super) async fn save_before(
        &mut self,
        rows: &[Record],
        target: &Target,
        merge: &Merge,
    ) -> Result<(), tokio_postgres::Error> {
        let Some(id) = self.ledger.clone() else {
            return Ok(());
        };
        let slots = merge.key_slots(target);
        let keys: Vec<Vec<Option<String>>> = slots
            .iter()
            .map(|&s| {
                rows.iter()
                    .map(|r| pg_text(&r.values[s]).map(Cow::into_owned))
                    .collect()
            })
            .collect();
        let cols: Vec<String> = slots
            .iter()
            .map(|&s| format!("cur.{}", quote_ident(&target.columns[s].name)))
            .collect();
        let arrays: Vec<String> = slots
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                format!(
                    "${}::text[]::{}[]",
                    i + 2,
                    base_type(&target.columns[s].sql_type)
                )
            })
            .collect();
        let filter = format!(
            "({}) IN (SELECT * FROM unnest({}))",
            cols.join(", "),
            arrays.join(", ")
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id];
        params.extend(keys.iter().map(|k| k as &(dyn ToSql + Sync)));
        self.client
            .execute(&save_sql(&target.table, &filter), &params)
            .await?;
        self.note_upsert(&id, target, merge).await
    }

    /// In a staged upsert unit's transaction, after its COPY into `stage`
    /// and before its `INSERT … SELECT … ON CONFLICT`: the same as
    /// [`PgWriter::save_before`], the keys joined from the staging table
    /// (nothing sent again).
    pub(super) async fn save_before_staged(
        &mut self,
        target: &Target,
        merge: &Merge,
        stage: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let Some(id) = self.ledger.clone() else {
            return Ok(());
        };
        let key: Vec<String> = merge.key().iter().map(|k| quote_ident(k)).collect();
        let filter = format!(
            "({}) IN (SELECT {} FROM {})",
            key.iter()
                .map(|k| format!("cur.{k}"))
                .collect::<Vec<_>>()
                .join(", "),
            key.join(", "),
            quote_table(stage)
        );
        self.client
            .execute(&save_sql(&target.table, &filter), &[&id])
            .await?;
        self.note_upsert(&id, target, merge).await
    }

    /// The import's table, mode, columns and key (once).
    async fn note_upsert(
        &mut self,
        id: &str,
        target: &Target,
        merge: &Merge,
    ) -> Result<(), tokio_postgres::Error> {
        let columns: Vec<String> = target.columns.iter().map(|c| c.name.clone()).collect();
        let (columns, key) = (json_list(&columns), json_list(merge.key()));
        let mode = merge.mode.as_str();
        self.client
            .execute(
                "INSERT INTO sheetpipe_undo (import_id, table_name, mode, columns, key_columns) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (import_id) DO NOTHING",
                &[&id, &target.table, &mode, &columns, &key],
            )
            .await?;
        Ok(())
    }
}

/// In a replace's swap transaction, before its DELETE: saves every row of
/// `table` for import `id`.
pub(crate) async fn save_replaced(
    tx: &Transaction<'_>,
    id: &str,
    table: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO sheetpipe_undo_rows (import_id, before, before_json) \
         SELECT $1, {MOVED}, to_json(cur) FROM {} AS cur",
        quote_table(table)
    );
    tx.execute(&sql, &[&id]).await.map(drop)
}

/// In a replace's swap transaction, after its INSERT: records the
/// transaction (whose id the new rows carry) and their count.
pub(crate) async fn record_replace(
    tx: &Transaction<'_>,
    id: &str,
    table: &str,
    rows: u64,
) -> Result<(), tokio_postgres::Error> {
    let rows = rows as i64;
    tx.execute(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode, replace_xid, replace_rows) \
         VALUES ($1, $2, 'replace', txid_current(), $3) ON CONFLICT (import_id) DO UPDATE \
         SET replace_xid = EXCLUDED.replace_xid, replace_rows = EXCLUDED.replace_rows",
        &[&id, &table, &rows],
    )
    .await
    .map(drop)
}

/// A replace that has begun: noted so that an undo of it, should it never
/// swap, changes nothing.
pub(crate) async fn note_replace(s: &PgSink, id: &str, table: &str) -> Result<(), DbError> {
    let client = s.connection().await?;
    client
        .execute(
            "INSERT INTO sheetpipe_undo (import_id, table_name, mode) VALUES ($1, $2, 'replace') \
             ON CONFLICT (import_id) DO NOTHING",
            &[&id, &table],
        )
        .await
        .map_err(super::fatal)
        .map(drop)
}

/// The import's undo record.
struct Meta {
    table: String,
    mode: String,
    columns: Vec<String>,
    key: Vec<String>,
    replace_xid: Option<i64>,
    replace_rows: i64,
}

fn db(e: tokio_postgres::Error) -> UndoError {
    UndoError::Db(super::fatal(e))
}

/// Undoes `t` in one transaction.
pub(crate) async fn undo(s: &PgSink, t: &UndoTarget) -> Result<UndoOutcome, UndoError> {
    let mut client = s.connection().await?;
    let tx = client.transaction().await.map_err(db)?;
    let id = t.id.as_str();
    let status: String = tx
        .query_opt(
            "SELECT status FROM imports WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| UndoError::NoImport(id.to_string()))?
        .get(0);
    if !(undo::unfinished(&status) && writer_gone(&tx, id).await?) {
        undo::check_status(id, &status)?;
    }
    let list = |s: Option<String>| -> Vec<String> {
        s.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    };
    let meta = tx
        .query_opt(
            "SELECT table_name, mode, columns, key_columns, replace_xid, replace_rows \
             FROM sheetpipe_undo WHERE import_id = $1",
            &[&id],
        )
        .await
        .map_err(db)?
        .map(|r| Meta {
            table: r.get(0),
            mode: r.get(1),
            columns: list(r.get(2)),
            key: list(r.get(3)),
            replace_xid: r.get(4),
            replace_rows: r.get::<_, Option<i64>>(5).unwrap_or(0),
        })
        .unwrap_or(Meta {
            table: t.table.clone(),
            mode: "append".into(),
            columns: Vec::new(),
            key: Vec::new(),
            replace_xid: None,
            replace_rows: 0,
        });
    let inserted: i64 = tx
        .query_one(
            "SELECT inserted + COALESCE((SELECT sum(l.inserted) FROM import_ledger l \
             WHERE l.import_id = $1), 0)::bigint FROM imports WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(db)?
        .get(0);
    let replace = meta.mode == "replace";
    let xids: Vec<Option<i64>> = if replace {
        meta.replace_xid.into_iter().map(Some).collect()
    } else {
        tx.query(
            "SELECT xid FROM import_ledger WHERE import_id = $1 \
             UNION SELECT xid FROM sheetpipe_undo_xids WHERE import_id = $1",
            &[&id],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let befores: i64 = tx
        .query_one(
            "SELECT count(*) FROM sheetpipe_undo_rows WHERE import_id = $1",
            &[&id],
        )
        .await
        .map_err(db)?
        .get(0);
    let expected = match meta.mode.as_str() {
        "replace" => meta.replace_rows,
        "upsert" => inserted + befores,
        _ => inserted,
    };
    if xids.iter().any(Option::is_none) || (xids.is_empty() && expected > 0) {
        return Err(UndoError::Unsupported(format!(
            "import {id} was recorded by a sheetpipe that kept no undo data; it cannot be undone"
        )));
    }
    let xids: Vec<i64> = xids.into_iter().flatten().collect();
    if let Some(oldest) = xids.iter().min() {
        let age: i64 = tx
            .query_one("SELECT txid_current() - $1::bigint", &[oldest])
            .await
            .map_err(db)?
            .get(0);
        if age > MAX_AGE {
            return Err(UndoError::Unsupported(format!(
                "import {id} is too old to undo: {age} transactions ran since \
                 (undo works within {MAX_AGE}; see docs/UNDO.md)"
            )));
        }
    }
    let ours: Vec<i64> = xids.iter().map(|x| x.rem_euclid(1 << 32)).collect();
    let table = quote_table(&meta.table);
    let (mut deleted, mut restored) = (0u64, 0u64);
    let mut kept = 0u64;
    if !ours.is_empty() || befores > 0 {
        tx.batch_execute(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            .await
            .map_err(db)?;
        let still: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {XMIN} = ANY($1)"),
                &[&ours],
            )
            .await
            .map_err(db)?
            .get(0);
        kept = (expected - still).max(0) as u64;
        if kept > 0 && !t.force {
            return Err(UndoError::changed(id, &meta.table, kept));
        }
        if meta.mode == "upsert" && befores > 0 {
            restored = restore_updated(&tx, id, &table, &meta, &ours).await?;
        }
        deleted = tx
            .execute(
                &format!("DELETE FROM {table} WHERE {XMIN} = ANY($1)"),
                &[&ours],
            )
            .await
            .map_err(db)?;
        if replace {
            restored = reinsert(&tx, id, &meta.table).await?;
        }
    }
    let at = crate::sink::imports::now();
    let (d, r, k) = (deleted as i64, restored as i64, kept as i64);
    tx.execute(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode, undone_at, deleted, restored, kept) \
         VALUES ($1, $2, $3, $4::text::timestamptz, $5, $6, $7) ON CONFLICT (import_id) DO UPDATE \
         SET undone_at = EXCLUDED.undone_at, deleted = EXCLUDED.deleted, \
         restored = EXCLUDED.restored, kept = EXCLUDED.kept",
        &[&id, &meta.table, &meta.mode, &at, &d, &r, &k],
    )
    .await
    .map_err(db)?;
    tx.execute("UPDATE imports SET status = 'undone' WHERE id = $1", &[&id])
        .await
        .map_err(db)?;
    tx.execute(
        "DELETE FROM sheetpipe_undo_rows WHERE import_id = $1",
        &[&id],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(UndoOutcome {
        import_id: id.to_string(),
        table: meta.table,
        mode: meta.mode,
        deleted,
        restored,
        kept,
        undone_at: at,
    })
}

/// The saved rows of import `id` as rows of `table` (its typed columns):
/// `before_json`, or `before` (jsonb) as an earlier sheetpipe saved them.
fn saved(table: &str) -> String {
    format!(
        "(SELECT (json_populate_record(NULL::{table}, coalesce(before_json, before::json))).* \
         FROM sheetpipe_undo_rows WHERE import_id = $1)"
    )
}

/// Upsert: gives the rows it updated, still as it left them, their
/// earlier values of the columns it wrote.
async fn restore_updated(
    tx: &Transaction<'_>,
    id: &str,
    table: &str,
    meta: &Meta,
    ours: &[i64],
) -> Result<u64, UndoError> {
    let q = |c: &String| quote_ident(c);
    let sets: Vec<String> = meta
        .columns
        .iter()
        .filter(|c| !meta.key.contains(c))
        .map(|c| format!("{0} = b.{0}", q(c)))
        .collect();
    if sets.is_empty() {
        return Ok(0);
    }
    let matches: Vec<String> = meta
        .key
        .iter()
        .map(|k| format!("cur.{0} = b.{0}", q(k)))
        .collect();
    let sql = format!(
        "UPDATE {table} AS cur SET {} FROM {} AS b WHERE {} AND cur.{XMIN} = ANY($2)",
        sets.join(", "),
        saved(table),
        matches.join(" AND ")
    );
    tx.execute(&sql, &[&id, &ours]).await.map_err(db)
}

/// Replace: inserts the rows the table held before it.
async fn reinsert(tx: &Transaction<'_>, id: &str, table: &str) -> Result<u64, UndoError> {
    let quoted = quote_table(table);
    let cols: Vec<String> = tx
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass \
             AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            &[&quoted],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| quote_ident(&r.get::<_, String>(0)))
        .collect();
    let cols = cols.join(", ");
    let sql = format!(
        "INSERT INTO {quoted} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {} AS b",
        saved(&quoted)
    );
    tx.execute(&sql, &[&id]).await.map_err(db)
}
