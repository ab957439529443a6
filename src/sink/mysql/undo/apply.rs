//! Undoing an import on MySQL/MariaDB from its entries (see the parent
//! module), in one InnoDB transaction: the import's history row and every
//! row it wrote are locked (`FOR UPDATE`) and checked against their
//! hashes, then its rows are deleted, its updated rows restored and a
//! replace's old rows inserted again; nothing is changed when a check
//! fails without `force`.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};

use super::{between, runs, TableInfo, PACKED};
use crate::sink::ddl::quote_table_mysql;
use crate::sink::mysql::MySqlSink;
use crate::sink::undo::{self, UndoError, UndoOutcome, UndoTarget};
use crate::sink::DbError;

/// Rows (or id ranges) per statement of the row-by-row checks and the
/// deletes.
const CHUNK: usize = 500;

/// Ids per statement of the checks and deletes by id ranges, at most: a
/// million rows' delete in statements of this size took 0.7× the time of
/// one statement over all of them (MariaDB 10.11, docs/BENCHMARKS.md).
const RANGE_ROWS: i128 = 20_000;

pub(super) fn db(e: mysql_async::Error) -> UndoError {
    UndoError::Db(super::super::fatal(e))
}

/// The import's `sheetpipe_undo` row.
pub(super) struct Meta {
    pub(super) table: String,
    mode: String,
    pub(super) locator: Vec<String>,
    pub(super) columns: Vec<String>,
    image_columns: Vec<String>,
    reason: Option<String>,
}

/// A locator: its values as saved text (as `JSON_UNQUOTE` gives them).
pub(super) type Loc = Vec<String>;

/// What one locator needs at undo time.
pub(super) struct Touched {
    /// What undo does with it, from its first entry.
    pub(super) first: First,
    /// The hash of the row as the import left it.
    pub(super) hash: Option<Hash>,
}

/// What undo does with a row the import touched, from the row's first
/// entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum First {
    /// The import inserted it (`w`, `W`): delete it.
    Delete,
    /// The import changed it (`b` with an image): put entry `seq`'s image
    /// back.
    Restore(u64),
    /// Skip-existing met it and left it alone (`b` without an image):
    /// neither checked nor touched.
    Leave,
}

/// A row's hash as an entry recorded it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Hash {
    /// A `w` entry's: [`TableInfo::hash`], in upper-case hex.
    Json(String),
    /// A packed `W` entry's: [`TableInfo::digest`], in lower-case hex.
    Digest(String),
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
    if let Some(why) = meta.reason.as_ref().filter(|why| *why != PACKED) {
        return Err(UndoError::Unsupported(format!(
            "import {id} cannot be undone: {why}"
        )));
    }
    let (mut deleted, mut restored, mut kept) = (0u64, 0u64, 0u64);
    if !meta.locator.is_empty() {
        let info = TableInfo::read(c, &meta.table).await?;
        let (order, touched) = entries(c, id).await?;
        let ok = super::check::intact(c, &info, &meta, &order, &touched).await?;
        let mine: Vec<usize> = (0..order.len())
            .filter(|&i| touched[&order[i]].first != First::Leave)
            .collect();
        kept = mine.iter().filter(|&&i| !ok[i]).count() as u64;
        if kept > 0 && !t.force {
            return Err(UndoError::changed(id, &meta.table, kept));
        }
        let gone: Vec<&Loc> = mine
            .iter()
            .filter(|&&i| touched[&order[i]].first == First::Delete && ok[i])
            .map(|&i| &order[i])
            .collect();
        deleted = delete(c, &info, &meta, &gone).await?;
        for &i in mine.iter().filter(|&&i| ok[i]) {
            if let First::Restore(seq) = touched[&order[i]].first {
                restore(c, &info, &meta, seq, &order[i]).await?;
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

/// The values of a saved locator, a JSON array as the server wrote it:
/// each as `JSON_UNQUOTE` gives it (strings unescaped, numbers as written).
pub(super) fn parts(json: &str) -> Option<Loc> {
    let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(json).ok()?;
    raw.iter().map(|r| scalar(r.get())).collect()
}

fn scalar(text: &str) -> Option<String> {
    if text.starts_with('"') {
        serde_json::from_str(text).ok()
    } else {
        Some(text.to_string())
    }
}

/// The `[locator values…, digest]` arrays of a packed `W` entry.
pub(super) fn unpack(json: &str) -> Option<Vec<(Loc, String)>> {
    let rows: Vec<Vec<&serde_json::value::RawValue>> = serde_json::from_str(json).ok()?;
    rows.iter()
        .map(|r| {
            let (hash, loc) = r.split_last()?;
            let loc = loc.iter().map(|v| scalar(v.get())).collect::<Option<_>>()?;
            Some((loc, scalar(hash.get())?))
        })
        .collect()
}

fn damaged(id: &str, seq: u64) -> UndoError {
    UndoError::Db(DbError::new(format!(
        "undo: entry {seq} of import {id} in sheetpipe_undo_rows cannot be read; nothing was \
         changed"
    )))
}

/// Every `w`, `W` and `b` entry of import `id`, by locator in first-seen
/// order (a `W` entry's rows in its own order, at its place).
async fn entries(c: &mut Conn, id: &str) -> Result<(Vec<Loc>, HashMap<Loc, Touched>), UndoError> {
    let sql = "SELECT seq, kind, loc, HEX(hash), image IS NOT NULL, IF(kind = 'W', image, NULL) \
               FROM sheetpipe_undo_rows WHERE import_id = ? AND kind IN ('w', 'W', 'b') \
               ORDER BY seq FOR UPDATE";
    let rows: Vec<Row> = c.exec(sql, (id,)).await.map_err(db)?;
    let mut order = Vec::new();
    let mut touched: HashMap<Loc, Touched> = HashMap::new();
    let mut note = |loc: Loc, first: First, hash: Option<Hash>| {
        let t = touched.entry(loc).or_insert_with_key(|loc| {
            order.push(loc.clone());
            Touched { first, hash: None }
        });
        if hash.is_some() {
            t.hash = hash;
        }
    };
    for mut r in rows {
        let seq: u64 = r.take(0).unwrap_or_default();
        let kind: String = r.take(1).unwrap_or_default();
        let loc: Option<String> = r.take(2).flatten();
        let hash: Option<String> = r.take(3).flatten();
        let image: bool = r.take(4).unwrap_or_default();
        let pack: Option<String> = r.take(5).flatten();
        match kind.as_str() {
            "W" => {
                let rows = pack.as_deref().and_then(unpack);
                let rows = rows.ok_or_else(|| damaged(id, seq))?;
                if loc.and_then(|n| n.parse::<usize>().ok()) != Some(rows.len()) {
                    return Err(damaged(id, seq));
                }
                for (loc, digest) in rows {
                    note(loc, First::Delete, Some(Hash::Digest(digest)));
                }
            }
            _ => {
                let loc = loc.as_deref().and_then(parts);
                let loc = loc.ok_or_else(|| damaged(id, seq))?;
                let first = match (kind.as_str(), image) {
                    ("b", true) => First::Restore(seq),
                    ("b", false) => First::Leave,
                    _ => First::Delete,
                };
                note(
                    loc,
                    first,
                    (kind == "w").then_some(hash.map(Hash::Json)).flatten(),
                );
            }
        }
    }
    Ok((order, touched))
}

/// `runs` (sorted id ranges) cut into the ranges of one statement each:
/// at most [`CHUNK`] ranges and [`RANGE_ROWS`] ids, a longer run split.
fn ranges(runs: &[(i128, i128)]) -> Vec<Vec<(i128, i128)>> {
    let mut out: Vec<Vec<(i128, i128)>> = vec![Vec::new()];
    let mut ids = 0;
    for &(mut lo, hi) in runs {
        while lo <= hi {
            let last = out.last_mut().expect("never empty");
            if last.len() == CHUNK || ids == RANGE_ROWS {
                out.push(Vec::new());
                ids = 0;
                continue;
            }
            let take = (hi - lo + 1).min(RANGE_ROWS - ids);
            last.push((lo, lo + take - 1));
            ids += take;
            lo += take;
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// The `WHERE` texts (with their values) that find the rows of `locs`,
/// each for one statement: an integer locator's ids as ranges of
/// consecutive ids (`BETWEEN`: an AUTO_INCREMENT import's rows are a few
/// runs; [`ranges`] per statement), any other locator as
/// `(match) OR (match) …` of [`CHUNK`] rows.
pub(super) fn located(info: &TableInfo, meta: &Meta, locs: &[&Loc]) -> Vec<(String, Vec<Value>)> {
    let ids: Option<Vec<i128>> = match meta.locator.as_slice() {
        [one] if info.integer(one) => locs.iter().map(|l| l[0].parse().ok()).collect(),
        _ => None,
    };
    if let Some(mut ids) = ids {
        ids.sort_unstable();
        let col = format!(
            "t.{}",
            crate::sink::ddl::quote_ident_mysql(&meta.locator[0])
        );
        return ranges(&runs(&ids))
            .iter()
            .map(|chunk| between(&col, chunk))
            .collect();
    }
    let one: Vec<String> = meta.locator.iter().map(|k| info.matches(k)).collect();
    let one = format!("({})", one.join(" AND "));
    locs.chunks(CHUNK)
        .map(|chunk| {
            let values = chunk
                .iter()
                .flat_map(|l| l.iter().map(|p| Value::from(p.as_str())))
                .collect();
            (vec![one.clone(); chunk.len()].join(" OR "), values)
        })
        .collect()
}

/// Deletes the rows of `locs`.
async fn delete(
    c: &mut Conn,
    info: &TableInfo,
    meta: &Meta,
    locs: &[&Loc],
) -> Result<u64, UndoError> {
    let mut deleted = 0;
    for (filter, values) in located(info, meta, locs) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_runs_are_cut_into_statements_of_bounded_ranges_and_ids() {
        let n = RANGE_ROWS;
        // One long run: split at every RANGE_ROWS ids, nothing lost.
        let cut = ranges(&[(1, 2 * n + 5)]);
        assert_eq!(
            cut,
            vec![
                vec![(1, n)],
                vec![(n + 1, 2 * n)],
                vec![(2 * n + 1, 2 * n + 5)]
            ]
        );
        // Short runs: at most CHUNK of them per statement.
        let short: Vec<(i128, i128)> = (0..CHUNK as i128 + 1).map(|i| (3 * i, 3 * i)).collect();
        let cut = ranges(&short);
        assert_eq!(cut.len(), 2);
        assert_eq!(cut[0].len(), CHUNK);
        assert_eq!(cut[1], vec![short[CHUNK]]);
        // A run that crosses the bound: its rest starts the next statement.
        let cut = ranges(&[(1, n - 1), (n + 10, n + 19)]);
        assert_eq!(
            cut,
            vec![vec![(1, n - 1), (n + 10, n + 10)], vec![(n + 11, n + 19)]]
        );
        assert!(ranges(&[]).is_empty());
    }
}
