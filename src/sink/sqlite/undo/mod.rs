//! Undo on SQLite (see [`crate::sink::undo`]). SQLite keeps no row
//! versions, so every write with a ledger records, in its own transaction,
//! one `sheetpipe_undo_rows` entry per unit and kind:
//!
//! - `r`: the rowids an append unit inserted, as runs of consecutive
//!   rowids (`first, last` pairs), and a hash of each inserted row (the
//!   values of the import's columns, as stored: read back by rowid after
//!   the unit's inserts);
//! - `i`: the rowids an upsert or a replace inserted, one by one (and
//!   older imports' appends), and the hash of each (an upsert's read back
//!   by rowid after the unit, a replace's by `RETURNING`);
//! - `u`: the rowids an upsert updated, the hash of each as the unit left
//!   it (read back likewise), and its values before (JSON in `before`);
//! - `d`: a replace's old rows (rowid and every column), deleted.
//!
//! A row whose hash differs at undo time (or that is gone) was changed
//! since. Per rowid, its first entry says what undo does (`i`, `r`: delete, `u`:
//! restore `before`), its last entry holds the hash to check.

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{params_from_iter, Connection};
use serde_json::{json, Value as Json};

use super::values::SqliteValue;
use super::SqliteSink;
use crate::model::{Record, Target};
use crate::sink::ddl::quote_ident;
use crate::sink::schema::{self, quote_table};
use crate::sink::undo::{pack, unpack, RowHash};

impl SqliteSink {
    /// The import this sink records writes for.
    pub fn ledger_id(&self) -> Option<String> {
        self.ledger.as_deref().map(str::to_string)
    }
}

/// The hash of one row's values (`from..` of `row`).
fn hash_row(row: &rusqlite::Row<'_>, from: usize, n: usize) -> rusqlite::Result<i64> {
    let mut h = RowHash::default();
    for i in from..from + n {
        match row.get_ref(i)? {
            ValueRef::Null => h.write(b"n"),
            ValueRef::Integer(v) => {
                h.write(b"i");
                h.write(&v.to_le_bytes());
            }
            ValueRef::Real(v) => {
                h.write(b"r");
                h.write(&v.to_bits().to_le_bytes());
            }
            ValueRef::Text(t) => {
                h.write(b"t");
                h.write(&(t.len() as u64).to_le_bytes());
                h.write(t);
            }
            ValueRef::Blob(b) => {
                h.write(b"b");
                h.write(&(b.len() as u64).to_le_bytes());
                h.write(b);
            }
        }
    }
    Ok(h.finish() as i64)
}

/// One stored value as JSON that gives it back exactly: integers as
/// numbers; reals tagged so they stay reals (`{"r": 1.5}`, infinities as
/// `{"r": "inf"}`, which JSON has no number for); text as a string, or
/// tagged in hex when its bytes are not UTF-8 (`{"t": "ff41"}`: another
/// program can store such text); blobs in hex (`{"b": …}`).
fn to_json(v: ValueRef<'_>) -> Json {
    match v {
        ValueRef::Null => Json::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) if f.is_finite() => json!({ "r": f }),
        ValueRef::Real(f) => json!({ "r": f.to_string() }),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => json!(s),
            Err(_) => json!({ "t": hex(t) }),
        },
        ValueRef::Blob(b) => json!({ "b": hex(b) }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(v: Option<&Json>) -> Vec<u8> {
    let hex = v.and_then(Json::as_str).unwrap_or_default();
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A saved value as undo binds it back: any SQLite value, or TEXT whose
/// bytes are not UTF-8 (which [`Sql`] cannot hold).
pub(super) enum Saved {
    Value(Sql),
    Text(Vec<u8>),
}

impl rusqlite::ToSql for Saved {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Saved::Value(v) => v.into(),
            Saved::Text(bytes) => ValueRef::Text(bytes),
        }))
    }
}

/// The inverse of [`to_json`].
fn from_json(v: &Json) -> Saved {
    let value = match v {
        Json::Object(o) if o.contains_key("t") => return Saved::Text(unhex(o.get("t"))),
        Json::Null => Sql::Null,
        Json::Number(n) => n
            .as_i64()
            .map(Sql::Integer)
            .unwrap_or_else(|| Sql::Real(n.as_f64().unwrap_or_default())),
        Json::String(s) => Sql::Text(s.clone()),
        Json::Object(o) if o.contains_key("r") => Sql::Real(match &o["r"] {
            Json::String(s) => s.parse().unwrap_or_default(),
            r => r.as_f64().unwrap_or_default(),
        }),
        Json::Object(o) => Sql::Blob(unhex(o.get("b"))),
        other => Sql::Text(other.to_string()),
    };
    Saved::Value(value)
}

/// The names SQLite gives the rowid, in the order undo tries them.
const ROWID_NAMES: [&str; 3] = ["rowid", "_rowid_", "oid"];

/// How undo's SQL names `table`'s rowid: the first of `rowid`, `_rowid_`,
/// `oid` that is not also the name of one of its columns (a column so
/// named takes the name over). `None` when writes to `table` are not
/// recorded: a replace's staging table, a WITHOUT ROWID table (no rowid
/// to find rows by), a table with columns of all three names, or one that
/// is not there.
pub(super) fn rowid_name(conn: &Connection, table: &str) -> rusqlite::Result<Option<&'static str>> {
    if table.starts_with("sheetpipe_stage_") {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT l.wr, lower(i.name) FROM pragma_table_list l, pragma_table_info(?1) i \
         WHERE l.schema = 'main' AND l.name = ?1",
    )?;
    let mut rows = stmt.query([table])?;
    let (mut found, mut without_rowid, mut columns) = (false, false, Vec::new());
    while let Some(r) = rows.next()? {
        found = true;
        without_rowid |= r.get::<_, bool>(0)?;
        columns.push(r.get::<_, String>(1)?);
    }
    if !found || without_rowid {
        return Ok(None);
    }
    Ok(ROWID_NAMES
        .into_iter()
        .find(|n| !columns.iter().any(|c| c == n)))
}

/// One entry of `sheetpipe_undo_rows`.
#[derive(Default)]
pub(super) struct Entry {
    rids: Vec<i64>,
    hashes: Vec<i64>,
    before: Vec<Json>,
}

impl Entry {
    fn write(
        self,
        conn: &Connection,
        id: &str,
        kind: &str,
        columns: &[String],
    ) -> rusqlite::Result<()> {
        if self.rids.is_empty() {
            return Ok(());
        }
        let hashes = (!self.hashes.is_empty()).then(|| pack(&self.hashes));
        let before = (!self.before.is_empty()).then(|| Json::Array(self.before).to_string());
        conn.execute(
            "INSERT INTO sheetpipe_undo_rows (import_id, kind, columns, rids, hashes, before) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                id,
                kind,
                serde_json::to_string(columns).unwrap_or_default(),
                pack(&self.rids),
                hashes,
                before
            ],
        )
        .map(drop)
    }
}

fn names(target: &Target) -> Vec<String> {
    target.columns.iter().map(|c| c.name.clone()).collect()
}

/// Rowids in the order they were inserted, runs of consecutive ones kept
/// as one `(first, last)` pair (a unit's rowids are usually one run).
#[derive(Default)]
pub(super) struct Runs(Vec<(i64, i64)>);

impl Runs {
    fn push(&mut self, rid: i64) {
        match self.0.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(rid) => *last = rid,
            _ => self.0.push((rid, rid)),
        }
    }

    /// As stored: each run's first and last rowid ([`pack`]ed).
    fn pack(&self) -> Vec<u8> {
        pack(&self.0.iter().flat_map(|&(a, b)| [a, b]).collect::<Vec<_>>())
    }
}

/// The inverse of [`Runs::pack`]: every rowid of the runs, in order.
pub(super) fn unpack_runs(bytes: &[u8]) -> Vec<i64> {
    unpack(bytes)
        .chunks_exact(2)
        .flat_map(|r| r[0]..=r[1])
        .collect()
}

/// The INSERTs of an append unit (as `super::insert_rows`: the copy path's
/// one prepared single-row INSERT, each row's rowid then read by
/// `last_insert_rowid()`; the other kinds' multi-row INSERTs `RETURNING
/// rowid`), recording the rows for undo when the table is recorded: one
/// `r` entry, the rowids as runs and each row's hash read back in one pass
/// over the runs after the inserts, in the unit's transaction.
pub(super) fn insert_recorded(
    conn: &Connection,
    rows: &[Record],
    kind: super::WriteKind,
    target: &Target,
    id: &str,
) -> rusqlite::Result<()> {
    let Some(rowid) = rowid_name(conn, &target.table)? else {
        return super::insert_rows(conn, rows, kind, target);
    };
    let mut runs = Runs::default();
    if kind == super::WriteKind::Copy {
        let mut stmt = conn.prepare_cached(&schema::insert_sql(target, 1, false))?;
        for row in rows {
            stmt.execute(params_from_iter(row.values.iter().map(SqliteValue)))?;
            runs.push(conn.last_insert_rowid());
        }
    } else {
        for part in rows.chunks(super::max_multi_row(target)) {
            let sql = format!(
                "{} RETURNING {rowid}",
                schema::insert_sql(target, part.len(), false)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut out = stmt.query(params_from_iter(
                part.iter().flat_map(|r| r.values.iter().map(SqliteValue)),
            ))?;
            while let Some(r) = out.next()? {
                runs.push(r.get(0)?);
            }
        }
    }
    let hashes = hash_runs(conn, target, rowid, &runs)?;
    conn.execute(
        "INSERT INTO sheetpipe_undo_rows (import_id, kind, columns, rids, hashes) \
         VALUES (?1, 'r', ?2, ?3, ?4)",
        rusqlite::params![
            id,
            serde_json::to_string(&names(target)).unwrap_or_default(),
            runs.pack(),
            pack(&hashes)
        ],
    )
    .map(drop)
}

/// The hash of every row of `runs` as stored now, in their order (`rowid`:
/// [`rowid_name`]).
fn hash_runs(
    conn: &Connection,
    target: &Target,
    rowid: &str,
    runs: &Runs,
) -> rusqlite::Result<Vec<i64>> {
    let n = target.columns.len();
    let sql = format!(
        "SELECT {} FROM {} WHERE {rowid} BETWEEN ?1 AND ?2 ORDER BY {rowid}",
        schema::column_list(target),
        quote_table(&target.table)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut hashes = Vec::new();
    for &(first, last) in &runs.0 {
        let mut out = stmt.query([first, last])?;
        while let Some(r) = out.next()? {
            hashes.push(hash_row(r, 0, n)?);
        }
    }
    Ok(hashes)
}

/// What an upsert unit records: rows inserted, rows updated.
#[derive(Default)]
pub(super) struct MergeLog {
    inserted: Entry,
    updated: Entry,
    /// The rowid's name ([`rowid_name`]); `None`: not recorded.
    rowid: Option<&'static str>,
}

impl MergeLog {
    /// A log for a unit into `target` (off when not recorded).
    pub(super) fn new(
        conn: &Connection,
        target: &Target,
        id: Option<&str>,
    ) -> rusqlite::Result<Self> {
        let rowid = match id {
            Some(_) => rowid_name(conn, &target.table)?,
            None => None,
        };
        Ok(MergeLog {
            rowid,
            ..Default::default()
        })
    }

    /// How the unit's SQL names the rowid when rows are recorded.
    pub(super) fn rowid(&self) -> Option<&'static str> {
        self.rowid
    }

    /// The rowid of a row the INSERT … DO NOTHING inserted.
    pub(super) fn inserted_rowid(&mut self, rid: i64) {
        self.inserted.rids.push(rid);
    }

    /// An updated row: its rowid and its values `before` ([`values_of`]).
    pub(super) fn updated_rowid(&mut self, before: Vec<Json>, rid: i64) {
        self.updated.before.push(Json::Array(before));
        self.updated.rids.push(rid);
    }

    /// The hash of every row logged, as the unit left it, read back once
    /// the unit's statements ran: one range scan per run of consecutive
    /// rowids (each row of a run was just written, so the range holds
    /// exactly them), not a lookup per row.
    pub(super) fn hash_rows(&mut self, conn: &Connection, target: &Target) -> rusqlite::Result<()> {
        let Some(rowid) = self.rowid else {
            return Ok(());
        };
        for entry in [&mut self.inserted, &mut self.updated] {
            let mut runs = Runs::default();
            for &rid in &entry.rids {
                runs.push(rid);
            }
            entry.hashes = hash_runs(conn, target, rowid, &runs)?;
            if entry.hashes.len() != entry.rids.len() {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
        }
        Ok(())
    }

    /// Writes the unit's entries.
    pub(super) fn write(
        self,
        conn: &Connection,
        id: &str,
        target: &Target,
        mode: &str,
    ) -> rusqlite::Result<()> {
        if self.rowid.is_none() {
            return Ok(());
        }
        let cols = names(target);
        self.inserted.write(conn, id, "i", &cols)?;
        self.updated.write(conn, id, "u", &cols)?;
        note(conn, id, &target.table, mode)
    }
}

/// Columns `1..=n` of `r`, owned, as undo keeps them.
pub(super) fn values_of(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Vec<Json>> {
    (1..=n).map(|i| r.get_ref(i).map(to_json)).collect()
}

/// `SELECT rowid, cols FROM t WHERE key = ?…`: the row an upsert is about
/// to update (parameters: the key's values; `rowid`: [`rowid_name`]).
pub(super) fn select_by_key(target: &Target, key: &[String], rowid: &str) -> String {
    let wheres: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} = ?{}", quote_ident(k), i + 1))
        .collect();
    format!(
        "SELECT {rowid}, {} FROM {} WHERE {}",
        schema::column_list(target),
        quote_table(&target.table),
        wheres.join(" AND ")
    )
}

/// Notes import `id`'s table and mode (once).
pub(crate) fn note(conn: &Connection, id: &str, table: &str, mode: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode) VALUES (?1, ?2, ?3) \
         ON CONFLICT (import_id) DO UPDATE SET table_name = excluded.table_name, mode = excluded.mode \
         WHERE excluded.mode <> 'append'",
        [id, table, mode],
    )
    .map(drop)
}

/// A replace's swap, inside its transaction: records the old rows (`d`)
/// before they are deleted and the new ones (`i`) as they are inserted
/// from `staging`; returns the rows inserted.
pub(crate) fn replace_recorded(
    tx: &Connection,
    id: &str,
    table: &str,
    staging: &str,
    columns: &[String],
) -> rusqlite::Result<u64> {
    let t = quote_table(table);
    let rowid = rowid_name(tx, table)?;
    if let Some(rowid) = rowid {
        let mut stmt = tx.prepare(&format!("SELECT {rowid}, * FROM {t}"))?;
        let all: Vec<String> = stmt.column_names()[1..]
            .iter()
            .map(|c| c.to_string())
            .collect();
        let n = all.len();
        let mut rows = stmt.query([])?;
        let mut entry = Entry::default();
        while let Some(r) = rows.next()? {
            entry.rids.push(r.get(0)?);
            entry.before.push(Json::Array(values_of(r, n)?));
            if entry.rids.len() == 10_000 {
                std::mem::take(&mut entry).write(tx, id, "d", &all)?;
            }
        }
        entry.write(tx, id, "d", &all)?;
    }
    tx.execute(&format!("DELETE FROM {t}"), [])?;
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let cols = cols.join(", ");
    let insert = format!(
        "INSERT INTO {t} ({cols}) SELECT {cols} FROM {}",
        quote_table(staging)
    );
    let Some(rowid) = rowid else {
        return tx.execute(&insert, []).map(|n| n as u64);
    };
    let mut stmt = tx.prepare(&format!("{insert} RETURNING {rowid}, {cols}"))?;
    let mut rows = stmt.query([])?;
    let (mut entry, mut total) = (Entry::default(), 0u64);
    while let Some(r) = rows.next()? {
        entry.rids.push(r.get(0)?);
        entry.hashes.push(hash_row(r, 1, columns.len())?);
        total += 1;
        if entry.rids.len() == 10_000 {
            std::mem::take(&mut entry).write(tx, id, "i", columns)?;
        }
    }
    drop(rows);
    entry.write(tx, id, "i", columns)?;
    tx.execute(
        "INSERT INTO sheetpipe_undo (import_id, table_name, mode) VALUES (?1, ?2, 'replace') \
         ON CONFLICT (import_id) DO UPDATE SET mode = 'replace'",
        [id, table],
    )?;
    Ok(total)
}

mod apply;
pub(crate) use apply::{hold, live_cli_imports, undo};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rowids_come_back_from_their_runs_in_order() {
        let mut runs = Runs::default();
        for rid in [3, 1, 2, 10, 11, 12, i64::MAX, -4, -3] {
            runs.push(rid);
        }
        assert_eq!(
            runs.0,
            [(3, 3), (1, 2), (10, 12), (i64::MAX, i64::MAX), (-4, -3)]
        );
        assert_eq!(
            unpack_runs(&runs.pack()),
            [3, 1, 2, 10, 11, 12, i64::MAX, -4, -3]
        );
    }
}
