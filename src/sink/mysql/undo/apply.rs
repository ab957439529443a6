//! Undoing an import on MySQL/MariaDB from its entries (see the parent
//! module), in one InnoDB transaction: the import's history row and every
//! row it wrote are locked (`FOR UPDATE`) and checked against their
//! hashes, then its rows are deleted, its updated rows restored and a
//! replace's old rows inserted again; nothing is changed when a check
//! fails without `force`.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};

use super::TableInfo;
use crate::sink::ddl::quote_table_mysql;
use crate::sink::mysql::MySqlSink;
use crate::sink::undo::{self, UndoError, UndoOutcome, UndoTarget};
use crate::sink::DbError;

/// Rows per statement of the checks and deletes.
const CHUNK: usize = 500;

fn db(e: mysql_async::Error) -> UndoError {
    UndoError::Db(super::super::fatal(e))
}

/// The import's `sheetpipe_undo` row.
struct Meta {
    table: String,
    mode: String,
    locator: Vec<String>,
    columns: Vec<String>,
    image_columns: Vec<String>,
    reason: Option<String>,
}

/// What one locator needs at undo time.
struct Touched {
    /// The locator's values, as saved text.
    parts: Vec<String>,
    /// Its first entry: delete it (`None`), restore entry `seq`
    /// (`Some(Some(seq))`), or leave it (`Some(None)`: skip-existing).
    restore: Option<Option<u64>>,
    /// The hash of the row as the import left it (hex).
    hash: Option<String>,
}

/// Undoes `t` in one transaction.
pub(crate) async fn undo(s: &MySqlSink, t: &UndoTarget) -> Result<UndoOutcome, UndoError> {
    let mut c = s.conn().await?;
    c.query_drop("START TRANSACTION").await.map_err(db)?;
    let result = run(&mut c, t).await;
    match &result {
        Ok(_) => c.query_drop("COMMIT").await.map_err(db)?,
        Err(_) => {
            let _ = c.query_drop("ROLLBACK").await;
        }
    }
    result
}

async fn run(c: &mut Conn, t: &UndoTarget) -> Result<UndoOutcome, UndoError> {
    let id = t.id.as_str();
    let status: String = c
        .exec_first("SELECT status FROM imports WHERE id = ? FOR UPDATE", (id,))
        .await
        .map_err(db)?
        .ok_or_else(|| UndoError::NoImport(id.to_string()))?;
    if !(undo::unfinished(&status) && writer_gone(c, id).await?) {
        undo::check_status(id, &status)?;
    }
    let list = |s: Option<String>| -> Vec<String> {
        s.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    };
    type MetaRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let meta: Option<MetaRow> = c
        .exec_first(
            "SELECT table_name, mode, locator, columns, image_columns, reason \
             FROM sheetpipe_undo WHERE import_id = ? FOR UPDATE",
            (id,),
        )
        .await
        .map_err(db)?;
    let inserted: Option<i64> = c
        .exec_first(
            "SELECT inserted + COALESCE((SELECT sum(l.inserted) FROM import_ledger l \
             WHERE l.import_id = imports.id), 0) FROM imports WHERE id = ?",
            (id,),
        )
        .await
        .map_err(db)?;
    let meta = match meta {
        Some(m) => Meta {
            table: m.0,
            mode: m.1,
            locator: list(m.2),
            columns: list(m.3),
            image_columns: list(m.4),
            reason: m.5,
        },
        None if inserted.unwrap_or(0) > 0 => {
            return Err(UndoError::Unsupported(format!(
                "import {id} was recorded by a sheetpipe that kept no undo data on MySQL; it \
                 cannot be undone"
            )))
        }
        None => Meta {
            table: t.table.clone(),
            mode: "append".into(),
            locator: Vec::new(),
            columns: Vec::new(),
            image_columns: Vec::new(),
            reason: None,
        },
    };
    if let Some(why) = &meta.reason {
        return Err(UndoError::Unsupported(format!(
            "import {id} cannot be undone: {why}"
        )));
    }
    let (mut deleted, mut restored, mut kept) = (0u64, 0u64, 0u64);
    if !meta.locator.is_empty() {
        let info = TableInfo::read(c, &meta.table).await?;
        let (order, touched) = entries(c, id, meta.locator.len()).await?;
        let now = current(c, &info, &meta, &order, &touched).await?;
        let intact = |loc: &String| {
            let t = &touched[loc];
            t.hash.is_some() && now.get(loc) == t.hash.as_ref()
        };
        let mine: Vec<&String> = order
            .iter()
            .filter(|l| touched[*l].restore != Some(None))
            .collect();
        kept = mine.iter().filter(|l| !intact(l)).count() as u64;
        if kept > 0 && !t.force {
            return Err(UndoError::changed(id, &meta.table, kept));
        }
        let gone: Vec<&String> = mine
            .iter()
            .copied()
            .filter(|l| touched[*l].restore.is_none() && intact(l))
            .collect();
        deleted = delete(c, &info, &meta, &gone, &touched).await?;
        for loc in mine.iter().filter(|l| intact(l)) {
            if let Some(Some(seq)) = touched[*loc].restore {
                restore(c, &info, &meta, seq, &touched[*loc].parts).await?;
                restored += 1;
            }
        }
        if meta.mode == "replace" {
            restored += reinsert(c, &info, &meta, id).await?;
        }
    }
    let at = crate::sink::imports::now();
    c.exec_drop(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode, undone_at, deleted, restored, \
         kept) VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE undone_at = VALUES(undone_at), \
         deleted = VALUES(deleted), restored = VALUES(restored), kept = VALUES(kept)",
        (id, &meta.table, &meta.mode, &at, deleted, restored, kept),
    )
    .await
    .map_err(db)?;
    c.exec_drop("UPDATE imports SET status = 'undone' WHERE id = ?", (id,))
        .await
        .map_err(db)?;
    c.exec_drop("DELETE FROM sheetpipe_undo_rows WHERE import_id = ?", (id,))
        .await
        .map_err(db)?;
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

/// Whether an import still `running` or `queued` has no process writing
/// it: every import on MySQL (the CLI's and the service's) holds its
/// [`super::hold_lock`] while it runs, so a free lock means its process is
/// gone. A killed process's connection ends as soon as the server reads its
/// closed socket: the lock is asked for up to two seconds.
async fn writer_gone(c: &mut Conn, id: &str) -> Result<bool, UndoError> {
    for _ in 0..10 {
        let free: Option<Option<i64>> = c
            .exec_first("SELECT IS_FREE_LOCK(?)", (super::hold_lock(id),))
            .await
            .map_err(db)?;
        if free.flatten() == Some(1) {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(false)
}

/// Every `w` and `b` entry of import `id`, by locator in first-seen order.
async fn entries(
    c: &mut Conn,
    id: &str,
    width: usize,
) -> Result<(Vec<String>, HashMap<String, Touched>), UndoError> {
    let parts: Vec<String> = (0..width)
        .map(|i| format!("JSON_UNQUOTE(JSON_EXTRACT(loc, '$[{i}]'))"))
        .collect();
    let sql = format!(
        "SELECT seq, kind, loc, HEX(hash), image IS NOT NULL, {} FROM sheetpipe_undo_rows \
         WHERE import_id = ? AND kind IN ('w', 'b') ORDER BY seq FOR UPDATE",
        parts.join(", ")
    );
    let rows: Vec<Row> = c.exec(sql, (id,)).await.map_err(db)?;
    let mut order = Vec::new();
    let mut touched: HashMap<String, Touched> = HashMap::new();
    for mut r in rows {
        let seq: u64 = r.take(0).unwrap_or_default();
        let kind: String = r.take(1).unwrap_or_default();
        let loc: String = r.take(2).unwrap_or_default();
        let hash: Option<String> = r.take(3).flatten();
        let image: bool = r.take(4).unwrap_or_default();
        let t = touched.entry(loc.clone()).or_insert_with(|| {
            order.push(loc.clone());
            Touched {
                parts: (0..width)
                    .map(|i| {
                        r.take::<Option<String>, _>(5 + i)
                            .flatten()
                            .unwrap_or_default()
                    })
                    .collect(),
                restore: (kind == "b").then_some(image.then_some(seq)),
                hash: None,
            }
        });
        if kind == "w" {
            t.hash = hash;
        }
    }
    Ok((order, touched))
}

/// The `WHERE` texts (with their values) that find the rows of `locs`,
/// each for one statement: an integer locator's ids as ranges of
/// consecutive ids (`BETWEEN`: an AUTO_INCREMENT import's rows are a few
/// runs), any other locator as `(match) OR (match) …` of [`CHUNK`] rows.
fn located(
    info: &TableInfo,
    meta: &Meta,
    locs: &[&String],
    touched: &HashMap<String, Touched>,
) -> Vec<(String, Vec<Value>)> {
    let ids: Option<Vec<i128>> = match meta.locator.as_slice() {
        [one] if info.integer(one) => locs
            .iter()
            .map(|l| touched[*l].parts[0].parse().ok())
            .collect(),
        _ => None,
    };
    if let Some(mut ids) = ids {
        ids.sort_unstable();
        let mut runs: Vec<(i128, i128)> = Vec::new();
        for id in ids {
            match runs.last_mut() {
                Some((_, hi)) if *hi + 1 == id => *hi = id,
                _ => runs.push((id, id)),
            }
        }
        let col = format!(
            "t.{}",
            crate::sink::ddl::quote_ident_mysql(&meta.locator[0])
        );
        return runs
            .chunks(CHUNK)
            .map(|chunk| {
                let one = format!("{col} BETWEEN ? AND ?");
                let values = chunk
                    .iter()
                    .flat_map(|&(lo, hi)| [int(lo), int(hi)])
                    .collect();
                (vec![one; chunk.len()].join(" OR "), values)
            })
            .collect();
    }
    let one: Vec<String> = meta.locator.iter().map(|k| info.matches(k)).collect();
    let one = format!("({})", one.join(" AND "));
    locs.chunks(CHUNK)
        .map(|chunk| {
            let values = chunk
                .iter()
                .flat_map(|l| touched[*l].parts.iter().map(|p| Value::from(p.as_str())))
                .collect();
            (vec![one.clone(); chunk.len()].join(" OR "), values)
        })
        .collect()
}

/// An id as a parameter of its exact integer type.
fn int(v: i128) -> Value {
    match i64::try_from(v) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::UInt(u64::try_from(v).unwrap_or(u64::MAX)),
    }
}

/// The hash (hex) of each locator's row as it is now, locked.
async fn current(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    order: &[String],
    touched: &HashMap<String, Touched>,
) -> Result<HashMap<String, String>, UndoError> {
    let mut now = HashMap::with_capacity(order.len());
    let locs: Vec<&String> = order.iter().collect();
    for (filter, values) in located(info, meta, &locs, touched) {
        let sql = format!(
            "SELECT {}, HEX({}) FROM {} AS t WHERE {filter} FOR UPDATE",
            info.json(&meta.locator, "t."),
            info.hash(&meta.columns, "t."),
            quote_table_mysql(&meta.table)
        );
        let rows: Vec<(String, String)> =
            c.exec(sql, Params::Positional(values)).await.map_err(db)?;
        now.extend(rows);
    }
    Ok(now)
}

/// Deletes the rows of `locs`.
async fn delete(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    locs: &[&String],
    touched: &HashMap<String, Touched>,
) -> Result<u64, UndoError> {
    let mut deleted = 0;
    for (filter, values) in located(info, meta, locs, touched) {
        let sql = format!(
            "DELETE t FROM {} AS t WHERE {filter}",
            quote_table_mysql(&meta.table)
        );
        c.exec_drop(sql, Params::Positional(values))
            .await
            .map_err(db)?;
        deleted += c.affected_rows();
    }
    Ok(deleted)
}

/// Gives the row at `parts` the written columns' values of entry `seq`.
async fn restore(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    seq: u64,
    parts: &[String],
) -> Result<(), UndoError> {
    let sets: Vec<String> = meta
        .image_columns
        .iter()
        .enumerate()
        .filter(|(_, col)| !meta.locator.contains(col))
        .map(|(i, col)| {
            format!(
                "t.{} = {}",
                crate::sink::ddl::quote_ident_mysql(col),
                info.restored(col, "u.image", i)
            )
        })
        .collect();
    if sets.is_empty() {
        return Ok(());
    }
    let matches: Vec<String> = meta.locator.iter().map(|k| info.matches(k)).collect();
    let sql = format!(
        "UPDATE {} AS t JOIN sheetpipe_undo_rows u ON u.seq = ? SET {} WHERE {}",
        quote_table_mysql(&meta.table),
        sets.join(", "),
        matches.join(" AND ")
    );
    let mut values: Vec<Value> = vec![seq.into()];
    values.extend(parts.iter().map(|p| Value::from(p.as_str())));
    c.exec_drop(sql, Params::Positional(values))
        .await
        .map_err(db)?;
    refuse_warnings(c).await
}

/// Replace: inserts the rows the table held before it.
async fn reinsert(c: &mut Conn, info: &TableInfo, meta: &Meta, id: &str) -> Result<u64, UndoError> {
    let cols: Vec<String> = meta
        .image_columns
        .iter()
        .map(|c| crate::sink::ddl::quote_ident_mysql(c))
        .collect();
    let values: Vec<String> = meta
        .image_columns
        .iter()
        .enumerate()
        .map(|(i, col)| info.restored(col, "u.image", i))
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) SELECT {} FROM sheetpipe_undo_rows u WHERE u.import_id = ? \
         AND u.kind = 'd' ORDER BY u.seq",
        quote_table_mysql(&meta.table),
        cols.join(", "),
        values.join(", ")
    );
    c.exec_drop(sql, (id,)).await.map_err(db)?;
    let n = c.affected_rows();
    refuse_warnings(c).await?;
    Ok(n)
}

/// A restore that warned would not give back the exact values: refused.
async fn refuse_warnings(c: &mut Conn) -> Result<(), UndoError> {
    if c.get_warnings() == 0 {
        return Ok(());
    }
    let shown: Vec<(String, u32, String)> = c.query("SHOW WARNINGS LIMIT 3").await.map_err(db)?;
    let said: Vec<String> = shown
        .into_iter()
        .map(|(l, code, m)| format!("{l} {code}: {m}"))
        .collect();
    Err(UndoError::Db(DbError::new(format!(
        "undo: restoring the saved rows warned, nothing was changed: {}",
        said.join("; ")
    ))))
}
