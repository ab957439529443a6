//! Upsert and skip-existing writes on SQLite: per row, an INSERT that does
//! nothing when the key exists (`changes()` says whether it inserted),
//! then for an upsert the UPDATE of the existing row — all in the unit's
//! one transaction, so the counts are exact and the unit atomic.

use rusqlite::{params_from_iter, Connection};

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
    {
        let mut insert = tx.prepare_cached(&merge::sqlite_insert_new(merge, target))?;
        let mut update = match merge.mode {
            Mode::Upsert => Some(tx.prepare_cached(&merge::sqlite_update(merge, target))?),
            _ => None,
        };
        for row in rows {
            let values = || params_from_iter(row.values.iter().map(SqliteValue));
            if insert.execute(values())? == 1 {
                inserted += 1;
            } else if let Some(update) = update.as_mut() {
                update.execute(values())?;
                updated += 1;
            } else {
                skipped += 1;
            }
        }
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
