//! Packed `W` entries: the rows one statement wrote, recorded as one
//! `sheetpipe_undo_rows` entry of their locators and digests (see the
//! module docs of [`super`]).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use super::{between, long_group_concat, runs, Plan};
use crate::model::{Record, Target, Value};
use crate::sink::ddl::{quote_ident_mysql, quote_table_mysql};
use crate::sink::mysql::write::{Fail, MySqlWriter};
use crate::sink::DbError;

/// Rows per packed `W` entry at most.
const PACK_ROWS: usize = 2000;

/// Bytes of locator values per packed `W` entry, about, at most (so that
/// an entry stays far below `max_allowed_packet` when undo reads it).
const PACK_BYTES: usize = 1 << 19;

/// Rows per packed `W` entry of a replace whose locator is not a single
/// integer: its keys may be long (up to InnoDB's 3,072 bytes), and an
/// entry must stay far below `max_allowed_packet` when undo reads it.
const PACK_ROWS_LONG_KEYS: usize = 200;

/// Runs of consecutive keys a unit's rows are found by, at most, before
/// they are named one by one.
const MAX_RUNS: usize = 64;

/// `rows` cut into the parts one `W` entry each records.
fn packs<'r>(rows: &'r [Record], plan: &Plan, target: &Target) -> Vec<&'r [Record]> {
    let slots: Vec<usize> = plan
        .locator
        .iter()
        .filter_map(|k| target.columns.iter().position(|c| &c.name == k))
        .collect();
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in rows.iter().enumerate() {
        let size: usize = slots.iter().map(|&s| r.values[s].size_bytes()).sum();
        if i > start && (i - start == PACK_ROWS || bytes + size > PACK_BYTES) {
            out.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

impl Plan {
    /// `INSERT INTO sheetpipe_undo_rows … SELECT` of the `W` entry of the
    /// rows of `filter` (a `WHERE` text), if they are as many as the last
    /// parameter says: their count in `loc`, and in `image` the JSON array
    /// of one `[locator values…, digest]` per row.
    fn packed_sql(&self, filter: &str) -> String {
        let loc: Vec<String> = self
            .locator
            .iter()
            .map(|c| self.info.saved(c, "t."))
            .collect();
        format!(
            "INSERT INTO sheetpipe_undo_rows (seq, import_id, kind, loc, image) \
             SELECT UUID_SHORT(), ?, 'W', COUNT(*), \
             CONCAT('[', GROUP_CONCAT(JSON_ARRAY({}, {}) SEPARATOR ','), ']') \
             FROM {} AS t WHERE {filter} HAVING COUNT(*) = ?",
            loc.join(", "),
            self.info.digest(&self.columns, "t."),
            quote_table_mysql(&self.table)
        )
    }

    /// `k BETWEEN ? AND ? OR …` of the runs of consecutive values of a
    /// single integer locator in `rows` (at most [`MAX_RUNS`] of them), or
    /// `None` (another locator, or keys too scattered for it to pay).
    fn runs_filter(
        &self,
        rows: &[Record],
        target: &Target,
    ) -> Option<(String, Vec<mysql_async::Value>)> {
        let [key] = self.locator.as_slice() else {
            return None;
        };
        if !self.info.integer(key) {
            return None;
        }
        let slot = target.columns.iter().position(|c| &c.name == key)?;
        let mut ids: Vec<i128> = rows
            .iter()
            .map(|r| match r.values[slot] {
                Value::Int(i) => Some(i128::from(i)),
                _ => None,
            })
            .collect::<Option<_>>()?;
        ids.sort_unstable();
        let runs = runs(&ids);
        if runs.len() > MAX_RUNS {
            return None;
        }
        let col = format!("t.{}", quote_ident_mysql(key));
        Some(between(&col, &runs))
    }
}

impl MySqlWriter {
    /// After a statement stored `rows` (append: every one of them; merge:
    /// inserted or updated), records them as packed `W` entries of at most
    /// [`PACK_ROWS`] rows (and about [`PACK_BYTES`] of locators) each.
    pub(in crate::sink::mysql) async fn record_written(
        &mut self,
        plan: &Plan,
        rows: &[Record],
        target: &Target,
    ) -> Result<(), Fail> {
        let id = self.ledger.clone().unwrap_or_default();
        if let Some(inc) = plan.range {
            let n = rows.len() as u64;
            let first = match self.conn.last_insert_id().filter(|&f| f > 0) {
                Some(f) => f,
                None => self
                    .conn
                    .query_first::<u64, _>("SELECT LAST_INSERT_ID()")
                    .await?
                    .unwrap_or(0),
            };
            let col = format!(
                "t.{}",
                crate::sink::ddl::quote_ident_mysql(&plan.locator[0])
            );
            let mut done = 0;
            while done < n {
                let count = (n - done).min(PACK_ROWS as u64);
                let lo = first + done * inc;
                let mut values = vec![lo.into(), (lo + (count - 1) * inc).into()];
                let mut filter = format!("{col} BETWEEN ? AND ?");
                if inc > 1 {
                    filter.push_str(&format!(" AND ({col} - ?) % {inc} = 0"));
                    values.push(lo.into());
                }
                self.pack(plan, &id, &filter, values, count).await?;
                done += count;
            }
            return Ok(());
        }
        for part in packs(rows, plan, target) {
            let n = part.len() as u64;
            if let Some((filter, values)) = plan.runs_filter(part, target) {
                // The keys' runs hold exactly these rows unless others lie
                // between them: then the count differs and nothing was
                // recorded, and the rows are named one by one.
                if self.try_pack(plan, &id, &filter, values, n).await? {
                    continue;
                }
            }
            let (filter, values) = plan.keys_filter(part, target);
            self.pack(plan, &id, &filter, values, n).await?;
        }
        Ok(())
    }

    /// Records the `n` rows of `filter` as one `W` entry, or fails the import.
    async fn pack(
        &mut self,
        plan: &Plan,
        id: &str,
        filter: &str,
        values: Vec<mysql_async::Value>,
        n: u64,
    ) -> Result<(), Fail> {
        if self.try_pack(plan, id, filter, values, n).await? {
            return Ok(());
        }
        Err(Fail::Fatal(DbError::new(format!(
            "undo bookkeeping: the {n} rows just written into {} were not all found again; the \
             import stops rather than keep undo data that could name rows it did not write",
            plan.table
        ))))
    }

    /// Records the rows of `filter` as one `W` entry if they are `n`.
    async fn try_pack(
        &mut self,
        plan: &Plan,
        id: &str,
        filter: &str,
        mut values: Vec<mysql_async::Value>,
        n: u64,
    ) -> Result<bool, Fail> {
        values.insert(0, id.into());
        values.push(n.into());
        self.conn
            .exec_drop(plan.packed_sql(filter), Params::Positional(values))
            .await?;
        Ok(self.conn.affected_rows() == 1)
    }
}

/// In a replace's swap transaction, after its INSERT: records every row
/// the table now holds (all of them the import's) as packed `W` entries,
/// numbered in locator order and cut every [`PACK_ROWS`] rows
/// ([`PACK_ROWS_LONG_KEYS`] when the locator is not a single integer), by
/// one `INSERT … SELECT`.
pub(crate) async fn record_replaced(conn: &mut Conn, id: &str, plan: &Plan) -> Result<(), DbError> {
    let fatal = crate::sink::mysql::fatal;
    long_group_concat(conn).await.map_err(fatal)?;
    let per = match plan.locator.as_slice() {
        [one] if plan.info.integer(one) => PACK_ROWS,
        _ => PACK_ROWS_LONG_KEYS,
    };
    let loc: Vec<String> = plan
        .locator
        .iter()
        .map(|c| plan.info.saved(c, "t."))
        .collect();
    let order: Vec<String> = plan.locator.iter().map(|c| quote_ident_mysql(c)).collect();
    let sql = format!(
        "INSERT INTO sheetpipe_undo_rows (seq, import_id, kind, loc, image) \
         SELECT UUID_SHORT(), ?, 'W', COUNT(*), \
         CONCAT('[', GROUP_CONCAT(JSON_ARRAY({}, {}) SEPARATOR ','), ']') \
         FROM (SELECT *, (ROW_NUMBER() OVER (ORDER BY {}) - 1) DIV {per} AS sheetpipe_part \
         FROM {}) AS t GROUP BY t.sheetpipe_part",
        loc.join(", "),
        plan.info.digest(&plan.columns, "t."),
        order.join(", "),
        quote_table_mysql(&plan.table)
    );
    conn.exec_drop(sql, (id,)).await.map_err(fatal)
}
