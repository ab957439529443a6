//! Upsert and skip-existing writes on PostgreSQL: one transaction per unit.
//! With `--method copy` (the default) the unit is a binary COPY into a
//! TEMP staging table of the mapped columns (`ON COMMIT DELETE ROWS`, made
//! once per connection and target), then one set-based `INSERT … SELECT …
//! ON CONFLICT (key) DO UPDATE … RETURNING (xmax = 0)` (or `DO NOTHING`)
//! whose returned rows are counted in the same statement; with the other
//! methods (and for single rows) multi-row `INSERT … VALUES … ON
//! CONFLICT` statements with text parameters. Either way inserted, updated
//! and skipped rows are counted exactly from what the statements return.

use std::borrow::Cow;

use tokio_postgres::types::{ToSql, Type};

use super::{classify, fatal, max_multi_row, pg_text, PgWriter};
use crate::model::{Record, Target};
use crate::sink::merge::{self, Duplicates, Merge, Mode};
use crate::sink::schema::{column_list, quote_table, values_placeholders};
use crate::sink::{WriteKind, WriteResult};

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
    /// Writes `rows` with `merge` in one transaction, the ledger's entry
    /// (rows inserted, updated, skipped; the first and last source row) in
    /// it too. On success the unit's updated and skipped
    /// rows are added to the writer's [`PgWriter::take_merged`] counts.
    pub(super) async fn merge_write(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
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
        let staged = kind == WriteKind::Copy && todo.len() > 1;
        if staged && self.stage.is_none() {
            let (name, ddl) = stage_ddl(target);
            if let Err(e) = self.client.batch_execute(&ddl).await {
                return (Err(fatal(e)), true);
            }
            self.stage = Some(name);
        }
        if let Err(e) = self.client.batch_execute("BEGIN").await {
            return (Err(fatal(e)), false);
        }
        let counted = match (staged, self.stage.clone()) {
            (true, Some(stage)) => self.merge_staged(todo, target, merge, &stage).await,
            _ => self.merge_rows(todo, target, merge).await.map(Ok),
        };
        let mut result = match counted {
            Ok(Ok(c)) => Ok(Ok(c)),
            Ok(Err(why)) => Ok(Err(why)),
            Err(e) => classify(Err(e)).map(|r| r.map(|()| Counted::default())),
        };
        if let (Ok(Ok(c)), Some(id)) = (&result, &self.ledger) {
            // Every count of the unit and its source rows, in its own
            // transaction: exact if the process dies the next instant, and
            // a resumed import skips the rows of the span.
            let (n, u, k) = (
                c.inserted as i64,
                (c.updated + superseded) as i64,
                c.skipped as i64,
            );
            let (first, last) = super::row_span(rows);
            if let Err(e) = self
                .client
                .execute(
                    "INSERT INTO import_ledger \
                     (import_id, inserted, updated, skipped, first_row, last_row) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[id, &n, &u, &k, &first, &last],
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
                if !clean {
                    self.stage = None;
                }
                (other.map(|r| r.map(drop)), clean)
            }
        }
    }

    /// The unit COPYed into `stage`, then merged into the target by one
    /// `INSERT … SELECT … ON CONFLICT` that counts what it did.
    async fn merge_staged(
        &mut self,
        rows: &[Record],
        target: &Target,
        merge: &Merge,
        stage: &str,
    ) -> Result<Result<Counted, String>, tokio_postgres::Error> {
        let staging = Target {
            table: stage.to_string(),
            columns: target.columns.clone(),
        };
        if let Err(why) = self.copy(rows, &staging).await? {
            return Ok(Err(why));
        }
        if merge.mode == Mode::Upsert {
            // Undo's earlier values, in this unit's transaction, of the
            // staged keys.
            self.save_before_staged(target, merge, stage).await?;
        }
        let cols = column_list(target);
        let fresh = match merge.mode {
            Mode::SkipExisting => "count(*)",
            _ => "count(*) FILTER (WHERE fresh)",
        };
        let sql = format!(
            "WITH m AS (INSERT INTO {} AS cur ({cols}) SELECT {cols} FROM {}{} AS fresh) \
             SELECT count(*)::bigint, ({fresh})::bigint FROM m",
            quote_table(&target.table),
            quote_table(stage),
            merge::pg_on_conflict(merge, target)
        );
        let row = self.client.query_one(&sql, &[]).await?;
        let (returned, inserted) = (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64);
        Ok(Ok(match merge.mode {
            Mode::SkipExisting => Counted {
                inserted,
                updated: 0,
                skipped: rows.len() as u64 - inserted,
            },
            _ => Counted {
                inserted,
                updated: returned - inserted,
                skipped: 0,
            },
        }))
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

/// The TEMP staging table of `target`'s merge units on one connection: its
/// name (from the table and columns, so one per target per session) and
/// the DDL that (re)makes it with the mapped columns' types and no
/// constraints (the target's refuse rows when they are merged in).
fn stage_ddl(target: &Target) -> (String, String) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.table.hash(&mut h);
    for c in &target.columns {
        c.name.hash(&mut h);
    }
    let name = format!("sheetpipe_merge_{:016x}", h.finish());
    let ddl = format!(
        "DROP TABLE IF EXISTS pg_temp.{name}; CREATE TEMP TABLE {name} ON COMMIT DELETE ROWS AS \
         SELECT {} FROM {} WITH NO DATA",
        column_list(target),
        quote_table(&target.table)
    );
    (name, ddl)
}
