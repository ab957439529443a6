//! Packed `W` entries: the rows one statement wrote, recorded as one
//! `sheetpipe_undo_rows` entry of their locators and digests (see the
//! module docs of [`super`]).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use std::sync::atomic::Ordering::Relaxed;

use super::{between, long_group_concat, runs, Plan, AGREED, DISAGREED, UNCHECKED};
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
        format!(
            "INSERT INTO sheetpipe_undo_rows (seq, import_id, kind, loc, image) \
             SELECT UUID_SHORT(), ?, 'W', COUNT(*), \
             CONCAT('[', GROUP_CONCAT({} SEPARATOR ','), ']') \
             FROM {} AS t WHERE {filter} HAVING COUNT(*) = ?",
            self.pairs(),
            quote_table_mysql(&self.table)
        )
    }

    /// `JSON_ARRAY(locator values…, digest)` of a row `t`, by the server.
    fn pairs(&self) -> String {
        let loc: Vec<String> = self
            .locator
            .iter()
            .map(|c| self.info.saved(c, "t."))
            .collect();
        format!(
            "JSON_ARRAY({}, {})",
            loc.join(", "),
            self.info.digest(&self.columns, "t.")
        )
    }

    /// As [`Plan::packed_sql`], with the image given (the second
    /// parameter): the server only counts the rows of `filter`.
    fn counted_sql(&self, filter: &str) -> String {
        format!(
            "INSERT INTO sheetpipe_undo_rows (seq, import_id, kind, loc, image) \
             SELECT UUID_SHORT(), ?, 'W', COUNT(*), ? \
             FROM {} AS t WHERE {filter} HAVING COUNT(*) = ?",
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
                let part = &rows[done as usize..(done + count) as usize];
                let image = client_image(plan, part, Some((lo, inc)));
                self.pack(plan, &id, &filter, values, count, image).await?;
                done += count;
            }
            return Ok(());
        }
        for part in packs(rows, plan, target) {
            let n = part.len() as u64;
            let image = client_image(plan, part, None);
            if let Some((filter, values)) = plan.runs_filter(part, target) {
                // The keys' runs hold exactly these rows unless others lie
                // between them: then the count differs and nothing was
                // recorded, and the rows are named one by one.
                if self
                    .try_pack(plan, &id, &filter, values, n, image.clone())
                    .await?
                {
                    continue;
                }
            }
            let (filter, values) = plan.keys_filter(part, target);
            self.pack(plan, &id, &filter, values, n, image).await?;
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
        image: Option<String>,
    ) -> Result<(), Fail> {
        if self.try_pack(plan, id, filter, values, n, image).await? {
            return Ok(());
        }
        Err(Fail::Fatal(DbError::new(format!(
            "undo bookkeeping: the {n} rows just written into {} were not all found again; the \
             import stops rather than keep undo data that could name rows it did not write",
            plan.table
        ))))
    }

    /// Records the rows of `filter` as one `W` entry if they are `n`: with
    /// `image` (the client's digests) as the entry once the server agreed
    /// with the plan's first one, else digested by the server.
    async fn try_pack(
        &mut self,
        plan: &Plan,
        id: &str,
        filter: &str,
        mut values: Vec<mysql_async::Value>,
        n: u64,
        image: Option<String>,
    ) -> Result<bool, Fail> {
        let image = match image {
            Some(image) if plan.checked.load(Relaxed) == UNCHECKED => {
                self.check_client(plan, filter, &values, &image).await?
            }
            Some(image) if plan.checked.load(Relaxed) == AGREED => Some(image),
            _ => None,
        };
        let sql = match &image {
            Some(_) => plan.counted_sql(filter),
            None => plan.packed_sql(filter),
        };
        let mut front: Vec<mysql_async::Value> = vec![id.into()];
        front.extend(image.map(mysql_async::Value::from));
        values.splice(0..0, front);
        values.push(n.into());
        self.conn.exec_drop(sql, Params::Positional(values)).await?;
        Ok(self.conn.affected_rows() == 1)
    }

    /// Compares the client's digests of the rows of `filter` with the
    /// server's: the same set of `[locator, digest]` pairs, and the plan
    /// keeps using them (`Some(image)`); else (a trigger or a type that
    /// renders otherwise) the plan stops using them, with a warning.
    async fn check_client(
        &mut self,
        plan: &Plan,
        filter: &str,
        values: &[mysql_async::Value],
        image: &str,
    ) -> Result<Option<String>, Fail> {
        let sql = format!(
            "SELECT CONCAT('[', GROUP_CONCAT({} SEPARATOR ','), ']') FROM {} AS t WHERE {filter}",
            plan.pairs(),
            quote_table_mysql(&plan.table)
        );
        let server: Option<Option<String>> = self
            .conn
            .exec_first(sql, Params::Positional(values.to_vec()))
            .await?;
        let sorted = |json: &str| {
            super::apply::unpack(json).map(|mut v| {
                v.sort();
                v
            })
        };
        let (server, mine) = (server.flatten(), sorted(image));
        let theirs = server.as_deref().and_then(sorted);
        let agreed = mine.is_some() && theirs == mine;
        if agreed {
            plan.checked.store(AGREED, Relaxed);
            tracing::debug!(
                "undo bookkeeping: the server agrees with sheetpipe's digests of the rows \
                 written into {}; from here on it only counts them",
                plan.table
            );
            return Ok(Some(image.to_string()));
        }
        plan.checked.store(DISAGREED, Relaxed);
        let first = mine
            .unwrap_or_default()
            .into_iter()
            .zip(theirs.unwrap_or_default())
            .find(|(a, b)| a != b);
        tracing::debug!(
            "undo bookkeeping: the first row told apart (sheetpipe's, the server's): {first:?}"
        );
        tracing::warn!(
            "undo bookkeeping: the server's digests of the rows written into {} differ from \
             sheetpipe's (a trigger, or a type it renders otherwise); the server digests them \
             for the rest of this import",
            plan.table
        );
        Ok(None)
    }
}

/// The packed image of `rows` by the plan's client digest (`ids`: the
/// first id and the step when rows are found by their id range), if it
/// has one and every value's stored text is certain.
fn client_image(plan: &Plan, rows: &[Record], ids: Option<(u64, u64)>) -> Option<String> {
    let client = plan.client.as_ref()?;
    if plan.checked.load(Relaxed) == DISAGREED {
        return None;
    }
    let mut out = String::with_capacity(rows.len() * 48 + 2);
    let mut scratch = super::digest::Scratch::default();
    out.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let id = ids.map(|(first, inc)| first + i as u64 * inc);
        client.row(&r.values, id, &mut out, &mut scratch)?;
    }
    out.push(']');
    Some(out)
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
