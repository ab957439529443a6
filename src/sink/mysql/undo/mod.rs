//! Undo on MySQL/MariaDB (see [`crate::sink::undo`], docs/UNDO.md). InnoDB
//! keeps no row versions a client can read, so every write with a ledger
//! records, in the unit's own transaction, `sheetpipe_undo_rows` entries
//! computed by the server from the rows as stored:
//!
//! - `W` ([`pack`]): the rows one statement wrote, up to 2,000 of them in
//!   one entry: their count (`loc`) and the JSON array of one
//!   `[locator values…, digest]` per row (`image`), the digest being 128
//!   bits of the SHA-1 of the written columns, their lengths and NULL
//!   flags ([`TableInfo::digest`]); written by an `INSERT … SELECT … HAVING
//!   COUNT(*) = n` that finds the rows by their id range, their keys' runs
//!   or their keys, so a statement whose rows are not all found again
//!   fails the import instead of recording fewer;
//!   a replace's new rows are packed by one statement after its INSERT,
//!   numbered in locator order;
//! - `w`: one row an earlier sheetpipe recorded: its locator
//!   (`loc`, the JSON array of the values that find it again) and the MD5
//!   of the JSON array of the columns it wrote (`hash`);
//! - `b`: an upsert's row as it was before the unit changed it (`image`,
//!   the JSON array of the written columns; taken under the unit's
//!   `FOR UPDATE` count, so nobody changes it in between), or a row that
//!   skip-existing left alone (`image` NULL: undo does not touch it);
//! - `d`: a replace's old rows (`image` of every column), saved in the
//!   swap's transaction before its DELETE.
//!
//! Entries are ordered by `seq`, the server's `UUID_SHORT()` (increasing
//! across the server, not an AUTO_INCREMENT, whose table lock for
//! `INSERT … SELECT` would make concurrent writers fail), taken after the
//! unit holds its rows' locks, so the entries of one row follow the order
//! in which units wrote it. Per locator, its first entry says what undo
//! does (`w`/`W`: delete, `b`: restore the image or leave alone) and its
//! last `w` or `W` the hash or digest to check: a row whose hash differs at
//! undo time, or that is gone, was changed since. An import with `W`
//! entries is noted with the reason [`PACKED`], which this sheetpipe
//! ignores and an earlier one, reading only `w`, refuses by.
//!
//! **The locator** ([`Plan`]): an upsert's or skip-existing's key; else
//! the table's AUTO_INCREMENT key when the file does not map it, found per
//! statement as the range from `LAST_INSERT_ID()` over the rows it stored
//! — consecutive only when `@@innodb_autoinc_lock_mode` is 0 or 1, so with
//! 2 (MySQL 8's default) it is not used; else a primary or unique key of
//! NOT NULL columns the file maps. A table with none of these gets no
//! undo data, and its imports are recorded as not undoable with the
//! reason (`sheetpipe_undo.reason`).

mod apply;
mod check;
mod digest;
mod pack;
mod table;

pub(crate) use apply::undo;
pub(crate) use pack::record_replaced;
pub(crate) use table::TableInfo;

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use super::values::param;
use super::write::{Fail, MySqlWriter};
use crate::model::{Record, Target};
use crate::sink::ddl::quote_table_mysql;
use crate::sink::merge::{Merge, Mode};
use crate::sink::DbError;

/// The named lock a CLI import holds while it runs, on a connection of its
/// own (`GET_LOCK`; the server frees it when that connection closes, so
/// also when the process is killed): how undo and a starting `serve` tell
/// a live CLI import from a dead one still `running` in the history, as
/// PostgreSQL's advisory lock does (at most 64 characters: 17 + a UUID).
pub(crate) fn hold_lock(id: &str) -> String {
    format!("sheetpipe_import_{id}")
}

/// Takes import `id`'s [`hold_lock`].
pub(crate) async fn hold(
    s: &super::MySqlSink,
    id: &str,
) -> Result<crate::sink::undo::ImportHold, DbError> {
    let mut conn = s.conn().await?;
    let got: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, 0)", (hold_lock(id),))
        .await
        .map_err(super::fatal)?;
    if got.flatten() != Some(1) {
        return Err(DbError::new(format!(
            "cannot hold import {id}: its lock is taken"
        )));
    }
    Ok(crate::sink::undo::ImportHold::Mysql(Some(conn)))
}

/// The DDL, idempotent.
pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS sheetpipe_undo (
    import_id     VARCHAR(64) NOT NULL PRIMARY KEY,
    table_name    TEXT NOT NULL,
    mode          VARCHAR(16) NOT NULL,
    locator       TEXT,
    columns       MEDIUMTEXT,
    image_columns MEDIUMTEXT,
    reason        TEXT,
    undone_at     VARCHAR(32),
    deleted       BIGINT,
    restored      BIGINT,
    kept          BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS sheetpipe_undo_rows (
    seq       BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    import_id VARCHAR(64) NOT NULL,
    kind      CHAR(1) NOT NULL,
    loc       MEDIUMTEXT,
    hash      BINARY(16),
    image     LONGTEXT,
    INDEX idx_sheetpipe_undo_rows_import (import_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
";

/// `sheetpipe_undo.reason` of an import recorded in packed `W` entries:
/// no reason to this sheetpipe, which undoes it, but an earlier one, which
/// reads only `w` entries and would undo none of its rows, refuses with
/// these words instead.
pub(crate) const PACKED: &str = "its undo data was written by a newer sheetpipe (packed \
     entries); undo it with that version or a later one";

/// An id as a parameter of its exact integer type.
fn int(v: i128) -> mysql_async::Value {
    match i64::try_from(v) {
        Ok(i) => mysql_async::Value::Int(i),
        Err(_) => mysql_async::Value::UInt(u64::try_from(v).unwrap_or(u64::MAX)),
    }
}

/// Sorted ids as runs of consecutive ones, `(first, last)`.
fn runs(ids: &[i128]) -> Vec<(i128, i128)> {
    let mut out: Vec<(i128, i128)> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == id => *hi = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// `col BETWEEN ? AND ? OR …` of `runs`, and its values.
fn between(col: &str, runs: &[(i128, i128)]) -> (String, Vec<mysql_async::Value>) {
    let one = format!("{col} BETWEEN ? AND ?");
    let values = runs
        .iter()
        .flat_map(|&(lo, hi)| [int(lo), int(hi)])
        .collect();
    (vec![one; runs.len()].join(" OR "), values)
}

/// Lifts the session's `GROUP_CONCAT` bound from the server's default of
/// 1 MiB to 64 MiB, far above what a packed entry or a summed check
/// concatenates (they bound themselves by rows and bytes).
async fn long_group_concat(conn: &mut Conn) -> Result<(), mysql_async::Error> {
    conn.query_drop("SET SESSION group_concat_max_len = 67108864")
        .await
}

/// How one import's writes into one table are recorded.
pub(crate) struct Plan {
    table: String,
    info: TableInfo,
    /// The locator's columns.
    locator: Vec<String>,
    /// The locator is the AUTO_INCREMENT column, found by id range with
    /// this `@@auto_increment_increment`.
    range: Option<u64>,
    /// The columns the import writes (hashed).
    columns: Vec<String>,
    /// An append's digests computed by sheetpipe ([`digest`]), when the
    /// table's types allow it.
    client: Option<digest::ClientDigest>,
    /// Whether the server agreed with [`Plan::client`] on the first part:
    /// [`UNCHECKED`], [`AGREED`] or [`DISAGREED`] (then no longer used).
    checked: std::sync::atomic::AtomicU8,
}

const UNCHECKED: u8 = 0;
const AGREED: u8 = 1;
const DISAGREED: u8 = 2;

/// Whether writes to `table` are recorded: not a replace's staging table.
fn recorded(table: &str) -> bool {
    let name = table.rsplit('.').next().unwrap_or(table);
    !name.starts_with("sheetpipe_stage_")
}

impl Plan {
    /// `(k) IN ((?), …)` of `rows` rows' locator values, and the values.
    fn keys_filter(&self, rows: &[Record], target: &Target) -> (String, Vec<mysql_async::Value>) {
        let slots: Vec<usize> = self
            .locator
            .iter()
            .filter_map(|k| target.columns.iter().position(|c| &c.name == k))
            .collect();
        let cols: Vec<String> = self
            .locator
            .iter()
            .map(|k| format!("t.{}", crate::sink::ddl::quote_ident_mysql(k)))
            .collect();
        let one = format!("({})", vec!["?"; cols.len()].join(", "));
        let sql = format!(
            "({}) IN ({})",
            cols.join(", "),
            vec![one; rows.len()].join(", ")
        );
        let values = rows
            .iter()
            .flat_map(|r| slots.iter().map(|&s| param(&r.values[s])))
            .collect();
        (sql, values)
    }
}

/// The locator of `info`'s rows an import writing `written` columns can
/// use (see the module docs), or why there is none.
fn choose(
    info: &TableInfo,
    written: &[String],
    merge_key: Option<&[String]>,
    autoinc_mode: Option<(u64, u64)>,
) -> Result<(Vec<String>, Option<u64>), String> {
    if let Some(key) = merge_key {
        return Ok((key.to_vec(), None));
    }
    let table = &info.name;
    let mut why = format!(
        "table {table} has no primary key or unique key of NOT NULL columns that the file \
         fills, and no AUTO_INCREMENT key that sheetpipe can follow: the rows of an import \
         into it cannot be found again"
    );
    if let Some(id) = info.autoinc.as_ref().filter(|a| !written.contains(a)) {
        if info.is_unique(std::slice::from_ref(id)) {
            match autoinc_mode {
                Some((mode, inc)) if mode <= 1 => return Ok((vec![id.clone()], Some(inc.max(1)))),
                Some((mode, _)) => {
                    why = format!(
                        "table {table}'s rows are found by their AUTO_INCREMENT {id}, but the \
                         server's innodb_autoinc_lock_mode is {mode}: the ids of one statement \
                         need not be consecutive, so the rows an import inserted cannot be told \
                         from others (set innodb_autoinc_lock_mode = 1, or map a unique key)"
                    )
                }
                None => {}
            }
        }
    }
    match info
        .not_null_uniques()
        .find(|u| u.iter().all(|c| written.contains(c)))
    {
        Some(key) => Ok((key.clone(), None)),
        None => Err(why),
    }
}

/// Notes import `id`'s table, mode, columns and locator (or the reason it
/// has none) once, outside any unit's transaction (writers would queue on
/// the row lock otherwise).
async fn note(
    conn: &mut Conn,
    id: &str,
    plan: &Result<Plan, (String, String)>,
    mode: &str,
) -> Result<(), mysql_async::Error> {
    let list = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let (table, locator, columns, reason) = match plan {
        Ok(p) => (
            p.table.clone(),
            Some(list(&p.locator)),
            Some(list(&p.columns)),
            Some(PACKED.to_string()),
        ),
        Err((table, why)) => (table.clone(), None, None, Some(why.clone())),
    };
    // Not ON DUPLICATE KEY UPDATE (nor INSERT IGNORE): two writers noting
    // at once would deadlock on the duplicate's lock. The first one wins.
    let noted: Option<i64> = conn
        .exec_first("SELECT 1 FROM sheetpipe_undo WHERE import_id = ?", (id,))
        .await?;
    if noted.is_some() {
        return Ok(());
    }
    match conn
        .exec_drop(
            "INSERT INTO sheetpipe_undo (import_id, table_name, mode, locator, columns, \
             image_columns, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (id, table, mode, &locator, &columns, &columns, reason),
        )
        .await
    {
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => Ok(()),
        other => other,
    }
}

impl MySqlWriter {
    /// The recording plan of this writer's writes into `target` (made and
    /// noted on its first unit); `None` when they are not recorded.
    pub(super) async fn undo_plan(
        &mut self,
        target: &Target,
        merge: Option<&Merge>,
    ) -> Result<Option<Arc<Plan>>, Fail> {
        let Some(id) = self.ledger.clone() else {
            return Ok(None);
        };
        if !recorded(&target.table) {
            return Ok(None);
        }
        if let Some((table, plan)) = &self.undo {
            if *table == target.table {
                return Ok(plan.clone());
            }
        }
        let info = TableInfo::read(&mut self.conn, &target.table)
            .await
            .map_err(Fail::Fatal)?;
        let modes: Option<(u64, u64)> = self
            .conn
            .query_first("SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment")
            .await?;
        let columns: Vec<String> = target.columns.iter().map(|c| c.name.clone()).collect();
        let key = merge.map(|m| m.key().to_vec());
        let plan = match choose(&info, &columns, key.as_deref(), modes) {
            Ok((locator, range)) => Ok(Plan {
                client: match merge {
                    None => digest::ClientDigest::plan(
                        &info,
                        target,
                        &columns,
                        &locator,
                        range.is_some(),
                    ),
                    Some(_) => None,
                },
                checked: UNCHECKED.into(),
                table: target.table.clone(),
                info,
                locator,
                range,
                columns,
            }),
            Err(why) => Err((target.table.clone(), why)),
        };
        let mode = merge.map_or("append", |m| m.mode.as_str());
        note(&mut self.conn, &id, &plan, mode).await?;
        // READ COMMITTED: the `INSERT … SELECT` of a unit's own rows is then
        // a consistent read taking no (next-key) locks, which under
        // REPEATABLE READ make concurrent writers deadlock on the gaps.
        self.conn
            .query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .await?;
        long_group_concat(&mut self.conn).await?;
        let plan = plan.ok().map(Arc::new);
        self.undo = Some((target.table.clone(), plan.clone()));
        Ok(plan)
    }
    /// Before a merge statement of `rows` (their stored rows locked by
    /// its count): records the `b` entry of each stored row of their keys,
    /// with its image (upsert) or without (skip-existing).
    pub(super) async fn record_before(
        &mut self,
        plan: &Plan,
        rows: &[Record],
        target: &Target,
        mode: Mode,
    ) -> Result<(), Fail> {
        let id = self.ledger.clone().unwrap_or_default();
        let (filter, mut params) = plan.keys_filter(rows, target);
        let image = match mode {
            Mode::SkipExisting => "NULL".to_string(),
            _ => plan.info.json(&plan.columns, "t."),
        };
        let sql = format!(
            "INSERT INTO sheetpipe_undo_rows (seq, import_id, kind, loc, image) SELECT UUID_SHORT(), ?, 'b', {}, \
             {image} FROM {} AS t WHERE {filter}",
            plan.info.json(&plan.locator, "t."),
            quote_table_mysql(&plan.table)
        );
        params.insert(0, id.as_ref().into());
        self.conn.exec_drop(sql, Params::Positional(params)).await?;
        Ok(())
    }
}

/// In a replace's swap transaction, before its DELETE: notes the import
/// and saves every row of `table` (`d`); returns the plan to record the
/// new rows with after the INSERT ([`record_replaced`], packed), or `None` when the
/// table has no key to find them by (noted as the reason).
pub(crate) async fn save_replaced(
    conn: &mut Conn,
    id: &str,
    table: &str,
    columns: &[String],
) -> Result<Option<Plan>, DbError> {
    let info = TableInfo::read(conn, table).await?;
    let all = info.stored_columns();
    let locator = info.not_null_uniques().next().cloned();
    let plan = match locator {
        Some(locator) => Ok(Plan {
            table: table.to_string(),
            info,
            locator,
            range: None,
            columns: columns.to_vec(),
            client: None,
            checked: UNCHECKED.into(),
        }),
        None => Err((
            table.to_string(),
            choose(&info, &[], None, None).unwrap_err(),
        )),
    };
    let list = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let (locator, cols, reason) = match &plan {
        Ok(p) => (
            Some(list(&p.locator)),
            Some(list(columns)),
            Some(PACKED.to_string()),
        ),
        Err((_, why)) => (None, None, Some(why.clone())),
    };
    let e = super::fatal;
    conn.exec_drop(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode, locator, columns, image_columns, \
         reason) VALUES (?, ?, 'replace', ?, ?, ?, ?) ON DUPLICATE KEY UPDATE mode = 'replace', \
         locator = VALUES(locator), columns = VALUES(columns), \
         image_columns = VALUES(image_columns), reason = VALUES(reason)",
        (id, table, &locator, &cols, list(&all), &reason),
    )
    .await
    .map_err(e)?;
    let Ok(plan) = plan else {
        return Ok(None);
    };
    let sql = format!(
        "INSERT INTO sheetpipe_undo_rows (seq, import_id, kind, image) SELECT UUID_SHORT(), ?, 'd', {} FROM {} AS t",
        plan.info.json(&all, "t."),
        quote_table_mysql(table)
    );
    conn.exec_drop(sql, (id,)).await.map_err(e)?;
    Ok(Some(plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use table::ColInfo;

    fn info(autoinc: bool) -> TableInfo {
        let col = |name: &str, nullable| ColInfo {
            name: name.into(),
            data_type: "int".into(),
            column_type: "int(11)".into(),
            nullable,
            generated: false,
            precision: None,
            scale: None,
            datetime_precision: None,
            charset: None,
        };
        TableInfo {
            name: "t".into(),
            columns: vec![col("id", false), col("code", false), col("note", true)],
            uniques: vec![vec!["id".into()], vec!["code".into()], vec!["note".into()]],
            autoinc: autoinc.then(|| "id".to_string()),
        }
    }

    #[test]
    fn rows_are_found_by_the_merge_key_the_id_range_or_a_mapped_key() {
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let i = info(true);
        let written = s(&["code", "note"]);
        assert_eq!(
            choose(&i, &written, None, Some((1, 1))).unwrap(),
            (s(&["id"]), Some(1))
        );
        // Lock mode 2: the mapped NOT NULL unique key instead.
        assert_eq!(
            choose(&i, &written, None, Some((2, 1))).unwrap(),
            (s(&["code"]), None)
        );
        let why = choose(&i, &s(&["note"]), None, Some((2, 1))).unwrap_err();
        assert!(why.contains("innodb_autoinc_lock_mode is 2"), "{why}");
        // A nullable unique column does not find a row.
        let why = choose(&info(false), &s(&["note"]), None, None).unwrap_err();
        assert!(why.contains("cannot be found again"), "{why}");
        assert_eq!(
            choose(&i, &written, Some(&s(&["code"])), None).unwrap(),
            (s(&["code"]), None)
        );
        assert!(!recorded("db.sheetpipe_stage_ab12"));
        assert!(recorded("orders"));
    }
}
