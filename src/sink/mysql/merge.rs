//! Upsert and skip-existing on MySQL/MariaDB: `INSERT … ON DUPLICATE KEY
//! UPDATE`, counted exactly.
//!
//! A multi-row statement's affected rows are 1 per inserted row, 2 per
//! updated row and 0 per unchanged one, so their sum alone cannot tell the
//! three apart. Each statement of a unit (one InnoDB transaction, READ
//! COMMITTED) is therefore framed by two counts of the stored rows whose
//! key is among the statement's keys: before it, `SELECT COUNT(*) … FOR
//! UPDATE` (which also locks them, so no one deletes or changes them
//! until the unit commits), and after it. Then
//!
//! - inserted = after − before (the rows the statement created);
//! - upsert: updated = rows − inserted, which must equal `before` (every
//!   other row met its stored row), and affected − inserted = 2 × changed
//!   with changed ≤ updated; the unchanged rows (updated − changed) are
//!   counted as updated, as on PostgreSQL and SQLite;
//! - skip-existing (`ON DUPLICATE KEY UPDATE k = k`, affected 0 for an
//!   existing row, never `INSERT IGNORE`, which would turn a bad value
//!   into a warning and a clipped value): inserted = affected (so no
//!   second count is needed), skipped = rows − inserted, which must equal
//!   `before`.
//!
//! When the arithmetic does not hold, a row met a stored row on another
//! unique index than the key (`ON DUPLICATE KEY` reacts to every unique
//! index, PostgreSQL's `ON CONFLICT (key)` to the key only), or two rows
//! of the statement have keys equal under the column's collation (`a` and
//! `A` in a case-insensitive column). The unit is refused as data and
//! rolled back; the pipeline's bisection writes its rows again in smaller
//! units, where the second case adds up (the later row meets the earlier
//! one as a stored row) and the first is rejected naming the key. Any
//! warning refuses the unit too, as for append (`write`).

use mysql_async::prelude::Queryable;
use mysql_async::Params;

use super::values::param;
use super::write::{column_list, parts, Fail, MySqlWriter};
use crate::model::{Record, Target};
use crate::sink::ddl::{quote_ident_mysql, quote_table_mysql};
use crate::sink::merge::{set_list, Duplicates, Merge, Mode};
use crate::sink::WriteResult;

/// How often a unit chosen as a deadlock's victim is written again.
const DEADLOCK_RETRIES: usize = 5;

/// The alias of the new row with MySQL 8.0.19's row alias syntax.
const NEW_ROW: &str = "sheetpipe_new";

/// Whether the server (`SELECT VERSION()`) takes `INSERT … VALUES (…) AS
/// alias`: MySQL from 8.0.19, never MariaDB (whose `VALUES(col)` is not
/// deprecated).
pub fn has_row_alias(version: &str) -> bool {
    if version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    let nums: Vec<u32> = version
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    matches!(nums.as_slice(), [major, minor, patch] if (*major, *minor, *patch) >= (8, 0, 19))
}

/// The `INSERT … ON DUPLICATE KEY UPDATE` of `rows` rows.
fn merge_sql(merge: &Merge, target: &Target, rows: usize, row_alias: bool) -> String {
    let one = format!("({})", vec!["?"; target.columns.len()].join(", "));
    let table = quote_table_mysql(&target.table);
    let mut sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        column_list(target),
        vec![one; rows].join(", ")
    );
    if merge.mode == Mode::SkipExisting {
        let k = merge.key().first().map(|k| quote_ident_mysql(k));
        let k = k.unwrap_or_default();
        sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {k} = {k}"));
        return sql;
    }
    let sets = if row_alias {
        sql.push_str(&format!(" AS {NEW_ROW}"));
        let old = format!("{table}.");
        set_list(
            merge,
            target,
            quote_ident_mysql,
            |c| format!("{NEW_ROW}.{c}"),
            &old,
        )
    } else {
        set_list(
            merge,
            target,
            quote_ident_mysql,
            |c| format!("VALUES({c})"),
            "",
        )
    };
    sql.push_str(" ON DUPLICATE KEY UPDATE ");
    sql.push_str(&sets);
    sql
}

/// `SELECT COUNT(*)` of the stored rows whose key is one of `rows` keys
/// (`lock`: `FOR UPDATE`).
fn count_sql(merge: &Merge, target: &Target, rows: usize, lock: bool) -> String {
    let key: Vec<String> = merge.key().iter().map(|k| quote_ident_mysql(k)).collect();
    let (cols, one) = match key.as_slice() {
        [one] => (one.clone(), "?".to_string()),
        many => (
            format!("({})", many.join(", ")),
            format!("({})", vec!["?"; many.len()].join(", ")),
        ),
    };
    format!(
        "SELECT COUNT(*) FROM {} WHERE {cols} IN ({}){}",
        quote_table_mysql(&target.table),
        vec![one; rows].join(", "),
        if lock { " FOR UPDATE" } else { "" }
    )
}

/// What one merge unit did.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counted {
    inserted: u64,
    updated: u64,
    skipped: u64,
    unchanged: u64,
}

/// The counts of one statement of `rows` rows from the key counts `before`
/// and `after` it and its affected rows; `None` when they do not add up
/// (see the module's documentation).
fn counted(mode: Mode, rows: u64, before: u64, after: u64, affected: u64) -> Option<Counted> {
    let inserted = after.checked_sub(before)?;
    let rest = rows.checked_sub(inserted)?;
    if rest != before {
        return None;
    }
    if mode == Mode::SkipExisting {
        return (affected == inserted).then_some(Counted {
            inserted,
            skipped: rest,
            ..Counted::default()
        });
    }
    let twice_changed = affected.checked_sub(inserted)?;
    let changed = twice_changed / 2;
    if twice_changed % 2 != 0 || changed > rest {
        return None;
    }
    Some(Counted {
        inserted,
        updated: rest,
        unchanged: rest - changed,
        ..Counted::default()
    })
}

impl MySqlWriter {
    /// Writes `rows` with `merge` in one transaction (with the ledger's
    /// count, rows inserted); on commit adds the updated and skipped rows
    /// to [`MySqlWriter::take_merged`]. A deadlock victim is written again.
    pub(super) async fn merge_write(
        &mut self,
        rows: &[Record],
        target: &Target,
        merge: &Merge,
    ) -> WriteResult {
        // A statement may not meet its own rows as stored ones (the counts
        // would not add up): with `--duplicates last` only the last of
        // equal keys is written, the others count as updated (applied in
        // file order, each later row would have updated the earlier one).
        let deduped: Option<Vec<Record>> =
            (merge.mode == Mode::Upsert && merge.duplicates == Duplicates::Last).then(|| {
                let slots = merge.key_slots(target);
                let keys = rows.iter().map(|r| {
                    slots
                        .iter()
                        .map(|&s| r.values[s].display())
                        .collect::<Vec<_>>()
                });
                Merge::last_of_each(keys)
                    .into_iter()
                    .map(|i| rows[i].clone())
                    .collect()
            });
        let todo = deduped.as_deref().unwrap_or(rows);
        let superseded = (rows.len() - todo.len()) as u64;
        let mut attempt = 0;
        loop {
            match self.merge_unit(todo, target, merge).await {
                Ok(c) => {
                    tracing::debug!(
                        inserted = c.inserted,
                        updated = c.updated,
                        unchanged = c.unchanged,
                        skipped = c.skipped,
                        "mysql merge unit committed"
                    );
                    self.merged.0 += c.updated + superseded;
                    self.merged.1 += c.skipped;
                    return Ok(Ok(()));
                }
                Err(Fail::Deadlock(e)) if attempt < DEADLOCK_RETRIES => {
                    attempt += 1;
                    tracing::debug!("mysql merge unit was a deadlock's victim, again: {e}");
                    let _ = self.conn.query_drop("ROLLBACK").await;
                }
                Err(fail) => return self.rolled_back(fail).await,
            }
        }
    }

    async fn merge_unit(
        &mut self,
        rows: &[Record],
        target: &Target,
        merge: &Merge,
    ) -> Result<Counted, Fail> {
        // READ COMMITTED: the counts' locking reads take no gap locks, so
        // two writers inserting new keys into one gap do not deadlock.
        let plan = self.undo_plan(target, Some(merge)).await?;
        let plan = plan.as_deref();
        self.conn
            .query_drop("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .await?;
        self.conn.query_drop("START TRANSACTION").await?;
        let slots = merge.key_slots(target);
        let mut total = Counted::default();
        for part in parts(rows, target, self.max_packet) {
            let keys = || -> Params {
                Params::Positional(
                    part.iter()
                        .flat_map(|r| slots.iter().map(|&s| param(&r.values[s])))
                        .collect(),
                )
            };
            let before = self
                .count(count_sql(merge, target, part.len(), true), keys())
                .await?;
            if let (Some(plan), true) = (plan, before > 0) {
                self.record_before(plan, part, target, merge.mode).await?;
            }
            let values: Vec<mysql_async::Value> = part
                .iter()
                .flat_map(|r| r.values.iter().map(param))
                .collect();
            let sql = merge_sql(merge, target, part.len(), self.row_alias);
            self.conn.exec_drop(sql, Params::Positional(values)).await?;
            self.refuse_warnings().await?;
            let affected = self.conn.affected_rows();
            // skip-existing: every row inserted is one affected row.
            let after = match merge.mode {
                Mode::SkipExisting => before + affected,
                _ => {
                    let sql = count_sql(merge, target, part.len(), false);
                    self.count(sql, keys()).await?
                }
            };
            let Some(c) = counted(merge.mode, part.len() as u64, before, after, affected) else {
                return Err(Fail::Data(format!(
                    "rejected by the database: the row meets a stored row on a unique index \
                     other than the key ({}); on MySQL ON DUPLICATE KEY reacts to every unique \
                     index, so the row is refused rather than merged into that other row",
                    merge.key().join(", ")
                )));
            };
            if let Some(plan) = plan {
                let written = c.inserted + c.updated;
                if written > 0 {
                    self.record_written(plan, part, target).await?;
                }
            }
            total.inserted += c.inserted;
            total.updated += c.updated;
            total.skipped += c.skipped;
            total.unchanged += c.unchanged;
        }
        if let Some(id) = self.ledger.clone() {
            self.conn
                .exec_drop(
                    "INSERT INTO import_ledger (import_id, inserted) VALUES (?, ?)",
                    (id.as_ref(), total.inserted as i64),
                )
                .await?;
        }
        self.conn.query_drop("COMMIT").await?;
        Ok(total)
    }

    async fn count(&mut self, sql: String, keys: Params) -> Result<u64, Fail> {
        let n: Option<u64> = self.conn.exec_first(sql, keys).await?;
        Ok(n.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, SqlType};
    use crate::sink::merge::{EmptyCells, ModeOptions};

    fn merge(mode: &str, empty: &str, key: &[&str]) -> Merge {
        let opts = ModeOptions::from_words(Some(mode), None, None, Some(empty)).unwrap();
        let m = Merge::new(&opts);
        m.key
            .set(key.iter().map(|k| k.to_string()).collect())
            .unwrap();
        m
    }

    fn target() -> Target {
        Target {
            table: "items".into(),
            columns: ["code", "name", "note"]
                .map(|n| Column::new(n, SqlType::Text))
                .to_vec(),
        }
    }

    #[test]
    fn upsert_statements_spell_the_new_values_as_each_server_takes_them() {
        let m = merge("upsert", "null", &["code"]);
        assert_eq!(
            merge_sql(&m, &target(), 2, false),
            "INSERT INTO `items` (`code`, `name`, `note`) VALUES (?, ?, ?), (?, ?, ?) \
             ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `note` = VALUES(`note`)"
        );
        let m = merge("upsert", "keep", &["code"]);
        assert_eq!(m.empty_cells, EmptyCells::Keep);
        assert_eq!(
            merge_sql(&m, &target(), 1, true),
            "INSERT INTO `items` (`code`, `name`, `note`) VALUES (?, ?, ?) AS sheetpipe_new \
             ON DUPLICATE KEY UPDATE `name` = COALESCE(sheetpipe_new.`name`, `items`.`name`), \
             `note` = COALESCE(sheetpipe_new.`note`, `items`.`note`)"
        );
        let m = merge("skip-existing", "null", &["code", "name"]);
        assert!(merge_sql(&m, &target(), 1, false)
            .ends_with("VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `code` = `code`"));
        assert_eq!(
            count_sql(&m, &target(), 2, true),
            "SELECT COUNT(*) FROM `items` WHERE (`code`, `name`) IN ((?, ?), (?, ?)) FOR UPDATE"
        );
    }

    #[test]
    fn the_row_alias_is_used_from_mysql_8_0_19_and_never_on_mariadb() {
        assert!(!has_row_alias("10.11.19-MariaDB-0+deb12u1"));
        assert!(!has_row_alias("5.5.5-10.6.4-MariaDB"));
        assert!(!has_row_alias("8.0.18"));
        assert!(has_row_alias("8.0.19"));
        assert!(has_row_alias("8.4.3-log"));
    }

    #[test]
    fn counts_come_from_the_key_counts_and_affected_rows_or_are_refused() {
        let up =
            |rows, before, after, affected| counted(Mode::Upsert, rows, before, after, affected);
        // 3 rows: 1 new, 2 existing of which 1 changed (1 + 2 = 3 affected).
        let c = up(3, 2, 3, 3).unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (1, 2, 1));
        // A row met another unique index: 2 rows, no key stored, 1 inserted.
        assert_eq!(up(2, 0, 1, 3), None);
        // Two new rows equal under the collation: 1 inserted, 1 updated it.
        assert_eq!(up(2, 0, 1, 1), None);
        let skip = |rows, before, after, affected| {
            counted(Mode::SkipExisting, rows, before, after, affected)
        };
        let c = skip(3, 1, 3, 2).unwrap();
        assert_eq!((c.inserted, c.skipped), (2, 1));
        assert_eq!(skip(2, 0, 1, 1), None);
    }
}
