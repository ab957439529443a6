//! Upsert and skip-existing writes on SQLite: per row, an INSERT that does
//! nothing when the key exists (`changes()` says whether it inserted),
//! then for an upsert the UPDATE of the existing row — all in the unit's
//! one transaction, so the counts are exact and the unit atomic. Undo's
//! record of the unit (`undo::MergeLog`) takes the rowids as they come and
//! the rows' hashes once the unit is written.

use rusqlite::{params_from_iter, Connection};

use super::undo;
use super::values::SqliteValue;
use crate::model::{Record, Target};
use crate::sink::merge::{self, Merge, Mode};

/// Writes `rows` with `merge` in one transaction (with the ledger's counts,
/// rows inserted, updated and skipped, added to the import's row in it);
/// returns the rows updated and skipped.
pub(super) fn write_merged(
    conn: &mut Connection,
    rows: &[Record],
    target: &Target,
    merge: &Merge,
    ledger: Option<&str>,
) -> Result<(u64, u64), rusqlite::Error> {
    let tx = conn.transaction()?;
    let (mut inserted, mut updated, mut skipped) = (0u64, 0u64, 0u64);
    // Undo's record of the unit (rowids, hashes, earlier values).
    let mut log = undo::MergeLog::new(&tx, target, ledger)?;
    let n = target.columns.len();
    {
        // No `RETURNING`: SQLite runs every statement that has one through
        // an ephemeral table of its own (a B-tree and page cache opened
        // and closed per row — most of an upsert's time, docs/BENCHMARKS.md).
        // Rowids come from `last_insert_rowid()` and the before-image's
        // `SELECT`; the rows' hashes are read back once the unit is written.
        let mut insert = tx.prepare_cached(&merge::sqlite_insert_new(merge, target))?;
        let mut before = match (merge.mode, log.rowid()) {
            (Mode::Upsert, Some(rowid)) => {
                Some(tx.prepare_cached(&undo::select_by_key(target, merge.key(), rowid))?)
            }
            _ => None,
        };
        // With the before-image the row's rowid is known (a recorded table
        // has rowids): the UPDATE names it by that.
        let mut update = match merge.mode {
            Mode::Upsert => Some(tx.prepare_cached(&merge::sqlite_update(
                merge,
                target,
                before.as_ref().and(log.rowid()),
            ))?),
            _ => None,
        };
        let slots = merge.key_slots(target);
        for row in rows {
            let values = || params_from_iter(row.values.iter().map(SqliteValue));
            let fresh = insert.execute(values())? == 1;
            if fresh {
                if log.rowid().is_some() {
                    log.inserted_rowid(tx.last_insert_rowid());
                }
                inserted += 1;
            } else if let Some(update) = update.as_mut() {
                match before.as_mut() {
                    Some(before) => {
                        let key =
                            params_from_iter(slots.iter().map(|&s| SqliteValue(&row.values[s])));
                        let (rid, old) = before.query_row(key, |r| {
                            Ok((r.get::<_, i64>(0)?, undo::values_of(r, n)?))
                        })?;
                        for (i, v) in row.values.iter().enumerate() {
                            update.raw_bind_parameter(i + 1, SqliteValue(v))?;
                        }
                        update.raw_bind_parameter(n + 1, rid)?;
                        update.raw_execute()?;
                        log.updated_rowid(old, rid);
                    }
                    None => {
                        update.execute(values())?;
                    }
                }
                updated += 1;
            } else {
                skipped += 1;
            }
        }
    }
    log.hash_rows(&tx, target)?;
    if let Some(id) = ledger {
        log.write(&tx, id, target, merge.mode.as_str())?;
    }
    if let Some(id) = ledger {
        tx.execute(
            "UPDATE imports SET inserted = inserted + ?1, updated = updated + ?2, \
             skipped = skipped + ?3 WHERE id = ?4",
            rusqlite::params![inserted as i64, updated as i64, skipped as i64, id],
        )?;
    }
    tx.commit()?;
    Ok((updated, skipped))
}
