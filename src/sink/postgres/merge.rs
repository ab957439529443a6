//! Upsert and skip-existing writes on PostgreSQL: one transaction per unit
//! of set-based `INSERT … ON CONFLICT (key) DO UPDATE … RETURNING (xmax =
//! 0)` (or `DO NOTHING RETURNING 1`) statements, so inserted, updated and
//! skipped rows are counted exactly from what the statements return.

use std::borrow::Cow;

use tokio_postgres::types::{ToSql, Type};

use super::{classify, fatal, max_multi_row, pg_text, PgWriter};
use crate::model::{Record, Target};
use crate::sink::merge::{self, Duplicates, Merge, Mode};
use crate::sink::schema::{column_list, quote_table, values_placeholders};
use crate::sink::WriteResult;

/// `INSERT INTO t AS cur (…) VALUES … ON CONFLICT …` for `rows` rows.
fn merge_sql(merge: &Merge, target: &Target, rows: usize) -> String {
    format!(
        "INSERT INTO {} AS cur ({}) VALUES {}{}",
        quote_table(&target.table),
        column_list(target),
        values_placeholders(target, rows, true),
        merge::pg_on_conflict(merge, target)
    )
}

/// Rows written by one merge unit.
#[derive(Default)]
struct Counted {
    inserted: u64,
    updated: u64,
    skipped: u64,
}

impl PgWriter {
    /// Writes `rows` with `merge` in one transaction, the ledger's count
    /// (rows inserted) in it too. On success the unit's updated and skipped
    /// rows are added to the writer's [`PgWriter::take_merged`] counts.
    pub(super) async fn merge_write(
        &mut self,
        rows: &[Record],
        target: &Target,
        merge: &Merge,
    ) -> (WriteResult, bool) {
        // A multi-row DO UPDATE may not touch a row twice: with
        // `--duplicates last` only the last of equal keys is written, the
        // others count as updated (applied in file order, each later row
        // would have updated the earlier one).
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
        if let Err(e) = self.client.batch_execute("BEGIN").await {
            return (Err(fatal(e)), false);
        }
        let mut result = match self.merge_rows(todo, target, merge).await {
            Ok(c) => Ok(Ok(c)),
            Err(e) => classify(Err(e)).map(|r| r.map(|()| Counted::default())),
        };
        if let (Ok(Ok(c)), Some(id)) = (&result, &self.ledger) {
            let n = c.inserted as i64;
            if let Err(e) = self
                .client
                .execute(
                    "INSERT INTO import_ledger (import_id, inserted) VALUES ($1, $2)",
                    &[id, &n],
                )
                .await
            {
                result = Err(fatal(e));
            }
        }
        match result {
            Ok(Ok(c)) => {
                let committed = self.client.batch_execute("COMMIT").await;
                let clean = committed.is_ok();
                if clean {
                    self.merged.0 += c.updated + superseded;
                    self.merged.1 += c.skipped;
                }
                (committed.map(Ok).map_err(fatal), clean)
            }
            other => {
                let clean = self.client.batch_execute("ROLLBACK").await.is_ok();
                (other.map(|r| r.map(drop)), clean)
            }
        }
    }

    async fn merge_rows(
        &mut self,
        rows: &[Record],
        target: &Target,
        merge: &Merge,
    ) -> Result<Counted, tokio_postgres::Error> {
        if merge.mode == Mode::Upsert {
            // Undo's earlier values, in this unit's transaction.
            self.save_before(rows, target, merge).await?;
        }
        let mut counted = Counted::default();
        for part in rows.chunks(max_multi_row(target)) {
            let stmt = match self.merges.get(&part.len()) {
                Some(s) => s.clone(),
                None => {
                    let width = part.len() * target.columns.len();
                    let sql = merge_sql(merge, target, part.len());
                    let s = self
                        .client
                        .prepare_typed(&sql, &vec![Type::TEXT; width])
                        .await?;
                    if self.merges.len() > 8 {
                        self.merges.clear();
                    }
                    self.merges.insert(part.len(), s.clone());
                    s
                }
            };
            let texts: Vec<Option<Cow<'_, str>>> = part
                .iter()
                .flat_map(|r| r.values.iter().map(pg_text))
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> = texts.iter().map(|t| t as _).collect();
            let returned = self.client.query(&stmt, &params).await?;
            if merge.mode == Mode::SkipExisting {
                counted.inserted += returned.len() as u64;
                counted.skipped += (part.len() - returned.len()) as u64;
            } else {
                let fresh = returned.iter().filter(|r| r.get::<_, bool>(0)).count();
                counted.inserted += fresh as u64;
                counted.updated += (returned.len() - fresh) as u64;
            }
        }
        Ok(counted)
    }

    /// Rows updated and skipped by this writer's merge writes since the
    /// last call (the rest of what it stored was inserted).
    pub fn take_merged(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.merged)
    }
}
