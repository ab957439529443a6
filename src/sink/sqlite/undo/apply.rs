//! Undoing an import on SQLite from its entries (see the parent module):
//! check every row it wrote against its hash, then delete, re-insert and
//! restore in one transaction.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde_json::Value as Json;

use super::{from_json, hash_row, note, rowid_name, unpack_runs, Saved};
use crate::sink::ddl::quote_ident;
use crate::sink::schema::quote_table;
use crate::sink::sqlite::SqliteSink;
use crate::sink::undo::{self, unpack, UndoError, UndoOutcome, UndoTarget};
use crate::sink::DbError;

/// Records that this process runs import `id` (its pid, for
/// [`writer_gone`]).
pub(crate) fn hold(conn: &Connection, id: &str, table: &str) -> rusqlite::Result<()> {
    note(conn, id, table, "append")?;
    conn.execute(
        "UPDATE sheetpipe_undo SET pid = ?2 WHERE import_id = ?1",
        rusqlite::params![id, i64::from(std::process::id())],
    )
    .map(drop)
}

/// The unfinished imports a live CLI process is running (its pid, recorded
/// by [`hold`], is a running `sheetpipe`): the sweep of a server starting
/// on the same file leaves them alone. None without `sheetpipe_undo` or
/// `/proc`.
pub(crate) fn live_cli_imports(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let present: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'sheetpipe_undo'",
        [],
        |r| r.get(0),
    )?;
    if !present {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT u.import_id, u.pid FROM sheetpipe_undo u JOIN imports i ON i.id = u.import_id \
         WHERE i.status IN ('queued', 'running') AND u.pid IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut live = Vec::new();
    for row in rows {
        let (id, pid) = row?;
        if process_alive(pid) {
            live.push(id);
        }
    }
    Ok(live)
}

/// Whether `pid` is a running sheetpipe process (false without `/proc`).
fn process_alive(pid: i64) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("sheetpipe"))
}

/// Whether an import still `running` has no process writing it: the CLI
/// process that ran it (its pid recorded by [`hold`]) is gone. On systems
/// without `/proc` this cannot be told, and the undo waits for the status.
fn writer_gone(tx: &Connection, id: &str) -> rusqlite::Result<bool> {
    let pid: Option<i64> = tx
        .query_row(
            "SELECT pid FROM sheetpipe_undo WHERE import_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(pid) = pid else {
        return Ok(false);
    };
    if !Path::new("/proc/self").exists() {
        return Ok(false);
    }
    Ok(!process_alive(pid))
}

/// What one rowid needs at undo time.
struct Touched {
    /// Its first entry's kind: `i` (delete it; from an `i` or `r` entry)
    /// or `u` (restore `before`).
    first: char,
    /// The values before (for `u`), of `columns`.
    before: Option<(Vec<Json>, usize)>,
    /// The hash of the row as the import left it.
    hash: i64,
    /// The columns that hash covers (index into the column lists).
    columns: usize,
}

/// Undoes `t` in one transaction.
pub(crate) async fn undo(s: &SqliteSink, t: &UndoTarget) -> Result<UndoOutcome, UndoError> {
    let t = t.clone();
    s.with_conn_raw(move |c| run(c, &t)).await?
}

fn sql(e: rusqlite::Error) -> UndoError {
    UndoError::Db(DbError::new(format!("sqlite: {e}")))
}

fn run(c: &mut Connection, t: &UndoTarget) -> Result<UndoOutcome, UndoError> {
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql)?;
    let id = t.id.as_str();
    let status: String = tx
        .query_row("SELECT status FROM imports WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?
        .ok_or_else(|| UndoError::NoImport(id.to_string()))?;
    if !(undo::unfinished(&status) && writer_gone(&tx, id).map_err(sql)?) {
        undo::check_status(id, &status)?;
    }
    let (table, mode) = tx
        .query_row(
            "SELECT table_name, mode FROM sheetpipe_undo WHERE import_id = ?1",
            [id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()
        .map_err(sql)?
        .unwrap_or_else(|| (t.table.clone(), "append".into()));
    let inserted: i64 = tx
        .query_row("SELECT inserted FROM imports WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .map_err(sql)?;
    // Every entry, in order.
    let mut lists: Vec<Vec<String>> = Vec::new();
    let mut touched: HashMap<i64, Touched> = HashMap::new();
    let mut order: Vec<i64> = Vec::new();
    let mut deleted_rows: Vec<(i64, Vec<Json>, usize)> = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT kind, columns, rids, hashes, before FROM sheetpipe_undo_rows \
                 WHERE import_id = ?1 ORDER BY seq",
            )
            .map_err(sql)?;
        let mut rows = stmt.query([id]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let kind: String = r.get(0).map_err(sql)?;
            let cols: Vec<String> =
                serde_json::from_str(&r.get::<_, String>(1).map_err(sql)?).unwrap_or_default();
            let list = match lists.iter().position(|l| *l == cols) {
                Some(i) => i,
                None => {
                    lists.push(cols);
                    lists.len() - 1
                }
            };
            let packed = r.get::<_, Vec<u8>>(2).map_err(sql)?;
            let rids = match kind.as_str() {
                "r" => unpack_runs(&packed),
                _ => unpack(&packed),
            };
            let hashes = unpack(
                &r.get::<_, Option<Vec<u8>>>(3)
                    .map_err(sql)?
                    .unwrap_or_default(),
            );
            let before: Vec<Json> = r
                .get::<_, Option<String>>(4)
                .map_err(sql)?
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or_default();
            let mut before = before.into_iter();
            for (i, rid) in rids.into_iter().enumerate() {
                let old = before.next().and_then(|b| match b {
                    Json::Array(v) => Some(v),
                    _ => None,
                });
                if kind == "d" {
                    deleted_rows.push((rid, old.unwrap_or_default(), list));
                    continue;
                }
                let hash = hashes.get(i).copied().unwrap_or_default();
                match touched.get_mut(&rid) {
                    Some(t) => {
                        t.hash = hash;
                        t.columns = list;
                    }
                    None => {
                        order.push(rid);
                        let first = if kind == "u" { 'u' } else { 'i' };
                        touched.insert(
                            rid,
                            Touched {
                                first,
                                before: old.map(|v| (v, list)),
                                hash,
                                columns: list,
                            },
                        );
                    }
                }
            }
        }
    }
    if touched.is_empty() && deleted_rows.is_empty() && inserted > 0 && mode != "replace" {
        return Err(UndoError::Unsupported(format!(
            "import {id} was recorded without undo data (by an older sheetpipe, or into a \
             WITHOUT ROWID table or one with columns named rowid, _rowid_ and oid); it cannot \
             be undone"
        )));
    }
    let rowid = match rowid_name(&tx, &table).map_err(sql)? {
        Some(name) => name,
        None if touched.is_empty() && deleted_rows.is_empty() => "rowid",
        None => {
            return Err(UndoError::Unsupported(format!(
                "table {table} is gone or no longer has a rowid to find import {id}'s rows by \
                 (it is WITHOUT ROWID, or has columns named rowid, _rowid_ and oid); it cannot \
                 be undone"
            )))
        }
    };
    let tq = quote_table(&table);
    let select = |cols: &[String]| {
        let q: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
        format!("SELECT {} FROM {tq} WHERE {rowid} = ?1", q.join(", "))
    };
    // Which rows are still as the import left them.
    let mut intact: HashMap<i64, bool> = HashMap::with_capacity(touched.len());
    for (i, cols) in lists.iter().enumerate() {
        let mut stmt = tx.prepare(&select(cols)).map_err(sql)?;
        for rid in &order {
            let t = &touched[rid];
            if t.columns != i {
                continue;
            }
            let now = stmt
                .query_row([rid], |r| hash_row(r, 0, cols.len()))
                .optional()
                .map_err(sql)?;
            intact.insert(*rid, now == Some(t.hash));
        }
    }
    let kept = intact.values().filter(|ok| !**ok).count() as u64;
    if kept > 0 && !t.force {
        return Err(UndoError::changed(id, &table, kept));
    }
    let (mut deleted, mut restored) = (0u64, 0u64);
    {
        let mut delete = tx
            .prepare(&format!("DELETE FROM {tq} WHERE {rowid} = ?1"))
            .map_err(sql)?;
        for rid in &order {
            if touched[rid].first == 'i' && intact[rid] {
                deleted += delete.execute([rid]).map_err(sql)? as u64;
            }
        }
    }
    for (rid, values, list) in &deleted_rows {
        let cols: Vec<String> = lists[*list].iter().map(|c| quote_ident(c)).collect();
        let marks: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
        let sql_text = format!(
            "INSERT INTO {tq} ({rowid}, {}) VALUES ({})",
            cols.join(", "),
            marks.join(", ")
        );
        let mut stmt = tx.prepare_cached(&sql_text).map_err(sql)?;
        let params =
            std::iter::once(Saved::Value(Sql::Integer(*rid))).chain(values.iter().map(from_json));
        restored += stmt.execute(params_from_iter(params)).map_err(sql)? as u64;
    }
    for rid in &order {
        let touched = &touched[rid];
        let Some((values, list)) = touched.before.as_ref().filter(|_| touched.first == 'u') else {
            continue;
        };
        if !intact[rid] {
            continue;
        }
        let sets: Vec<String> = lists[*list]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", quote_ident(c), i + 2))
            .collect();
        let sql_text = format!("UPDATE {tq} SET {} WHERE {rowid} = ?1", sets.join(", "));
        let mut stmt = tx.prepare_cached(&sql_text).map_err(sql)?;
        let params =
            std::iter::once(Saved::Value(Sql::Integer(*rid))).chain(values.iter().map(from_json));
        restored += stmt.execute(params_from_iter(params)).map_err(sql)? as u64;
    }
    let at = crate::sink::imports::now();
    tx.execute(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode, undone_at, deleted, restored, kept) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (import_id) DO UPDATE SET \
         undone_at = excluded.undone_at, deleted = excluded.deleted, \
         restored = excluded.restored, kept = excluded.kept",
        rusqlite::params![id, table, mode, at, deleted as i64, restored as i64, kept as i64],
    )
    .map_err(sql)?;
    tx.execute("UPDATE imports SET status = 'undone' WHERE id = ?1", [id])
        .map_err(sql)?;
    tx.execute("DELETE FROM sheetpipe_undo_rows WHERE import_id = ?1", [id])
        .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(UndoOutcome {
        import_id: id.to_string(),
        table,
        mode,
        deleted,
        restored,
        kept,
        undone_at: at,
    })
}
