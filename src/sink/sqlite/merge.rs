//! Upsert and skip-existing writes on SQLite: per row, an INSERT that does
//! nothing when the key exists (`changes()` says whether it inserted),
//! then for an upsert the UPDATE of the existing row — all in the unit's
//! one transaction, so the counts are exact and the unit atomic.

use rusqlite::{params_from_iter, Connection};

use super::undo;
use super::values::SqliteValue;
use crate::model::{Record, Target};
use crate::sink::merge::{self, Merge, Mode};

/// Writes `rows` with `merge` in one transaction (with the ledger's count,
/// rows inserted, in it); returns the rows updated and skipped.
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
        let insert_sql = merge::sqlite_insert_new(merge, target) + &log.returning(target);
        let mut insert = tx.prepare_cached(&insert_sql)?;
        let mut update = match merge.mode {
            Mode::Upsert => Some(
                tx.prepare_cached(&(merge::sqlite_update(merge, target) + &log.returning(target)))?,
            ),
            _ => None,
        };
        let mut before = match (merge.mode, log.on()) {
            (Mode::Upsert, true) => {
                Some(tx.prepare_cached(&undo::select_by_key(target, merge.key()))?)
            }
            _ => None,
        };
        let slots = merge.key_slots(target);
        for row in rows {
            let values = || params_from_iter(row.values.iter().map(SqliteValue));
            let fresh = if log.on() {
                let mut out = insert.query(values())?;
                match out.next()? {
                    Some(r) => log.inserted(r, n).map(|()| true)?,
                    None => false,
                }
            } else {
                insert.execute(values())? == 1
            };
            if fresh {
                inserted += 1;
            } else if let Some(update) = update.as_mut() {
                match before.as_mut() {
                    Some(before) => {
                        let key =
                            params_from_iter(slots.iter().map(|&s| SqliteValue(&row.values[s])));
                        let old = before.query_row(key, |r| undo::values_of(r, n))?;
                        let mut out = update.query(values())?;
                        if let Some(r) = out.next()? {
                            log.updated(old, r, n)?;
                        }
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
    if let Some(id) = ledger {
        log.write(&tx, id, target, merge.mode.as_str())?;
    }
    if let Some(id) = ledger {
        tx.execute(
            "UPDATE imports SET inserted = inserted + ?1 WHERE id = ?2",
            rusqlite::params![inserted as i64, id],
        )?;
    }
    tx.commit()?;
    Ok((updated, skipped))
}
