//! The MySQL writers. Every unit is one InnoDB transaction: its INSERTs or
//! its `LOAD DATA`, and with a ledger the `import_ledger` row, commit
//! together or not at all.
//!
//! After every statement the warning count is checked. Under the strict
//! `sql_mode` an INSERT with a bad value is an error, but `LOAD DATA LOCAL`
//! turns data errors and duplicate keys into warnings and carries on (it
//! truncates, zeroes, clips or skips the row). Any warning, or fewer rows
//! loaded than sent, rolls the unit back and refuses it as data, so the
//! pipeline's bisect finds the bad rows and nothing changed is ever kept.
//!
//! `LOAD DATA LOCAL` refused by the server (`local_infile` off) makes the
//! writer fall back to multi-row INSERTs for the rest of the import, with
//! a warning in the log.

use bytes::Bytes;
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};

use super::values::{param, push_tsv_row, wire_size};
use super::{fatal, is_data_error};
use crate::model::{Record, Target};
use crate::sink::ddl::{quote_ident_mysql, quote_table_mysql};
use crate::sink::{DbError, WriteKind, WriteResult};

/// Most placeholders in one prepared statement.
pub const MAX_PARAMS: usize = 65_535;

/// Errors from the server that mean `LOAD DATA LOCAL` is disabled.
const INFILE_DISABLED: [u16; 3] = [1148, 3948, 4166];

/// Why a unit did not commit.
pub(super) enum Fail {
    /// The rows' data (the unit is refused; the caller isolates).
    Data(String),
    /// InnoDB chose this transaction as a deadlock's victim and rolled it
    /// back (1213): the unit may be written again.
    Deadlock(DbError),
    /// Anything else (the import stops).
    Fatal(DbError),
}

impl From<mysql_async::Error> for Fail {
    fn from(e: mysql_async::Error) -> Fail {
        match &e {
            _ if is_data_error(&e) => Fail::Data(format!("rejected by the database: {e}")),
            mysql_async::Error::Server(s) if s.code == 1213 => Fail::Deadlock(fatal(e)),
            _ => Fail::Fatal(fatal(e)),
        }
    }
}

/// One writer's own connection.
pub struct MySqlWriter {
    pub(super) conn: Conn,
    pub(super) max_packet: usize,
    pub(super) ledger: Option<std::sync::Arc<str>>,
    /// Set once the server refused `LOAD DATA LOCAL`.
    no_infile: bool,
    /// Upsert or skip-existing (see `merge`): every unit is merged.
    pub(super) merge: Option<std::sync::Arc<crate::sink::merge::Merge>>,
    /// See `MySqlSink::row_alias`.
    pub(super) row_alias: bool,
    /// Rows updated and skipped by committed merge units, not yet taken.
    pub(super) merged: (u64, u64),
    /// How writes into a table are recorded for undo (see `undo`), made
    /// on the first unit into it.
    pub(super) undo: Option<(String, Option<std::sync::Arc<super::undo::Plan>>)>,
}

impl MySqlWriter {
    pub(super) fn new(
        conn: Conn,
        max_packet: usize,
        ledger: Option<std::sync::Arc<str>>,
    ) -> MySqlWriter {
        MySqlWriter {
            conn,
            max_packet,
            ledger,
            no_infile: false,
            merge: None,
            row_alias: false,
            merged: (0, 0),
            undo: None,
        }
    }

    /// The server's id of this connection (`KILL` it to test failures).
    pub fn connection_id(&self) -> u32 {
        self.conn.id()
    }

    /// Writes `rows` into `target` atomically.
    pub async fn write(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> WriteResult {
        if rows.is_empty() {
            return Ok(Ok(()));
        }
        if let Some(merge) = self.merge.clone() {
            return self.merge_write(rows, target, &merge).await;
        }
        match self.unit(rows, kind, target).await {
            Ok(()) => Ok(Ok(())),
            Err(fail) => self.rolled_back(fail).await,
        }
    }

    /// Rolls the unit back and says what became of it.
    pub(super) async fn rolled_back(&mut self, fail: Fail) -> WriteResult {
        // A dead connection cannot roll back; the server already has.
        let _ = self.conn.query_drop("ROLLBACK").await;
        match fail {
            Fail::Data(why) => Ok(Err(why)),
            Fail::Deadlock(e) | Fail::Fatal(e) => Err(e),
        }
    }

    async fn unit(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> Result<(), Fail> {
        let plan = self.undo_plan(target, None).await?;
        let plan = plan.as_deref();
        self.conn.query_drop("START TRANSACTION").await?;
        if kind == WriteKind::Copy && !self.no_infile {
            self.load_data(rows, target, plan).await?;
        } else {
            self.insert(rows, target, plan).await?;
        }
        if let Some(id) = self.ledger.clone() {
            self.conn
                .exec_drop(
                    "INSERT INTO import_ledger (import_id, inserted) VALUES (?, ?)",
                    (id.as_ref(), rows.len() as i64),
                )
                .await?;
        }
        self.conn.query_drop("COMMIT").await?;
        Ok(())
    }

    /// Multi-row INSERTs, each within the placeholder limit and half of
    /// `max_allowed_packet`, each recorded for undo by `plan`.
    async fn insert(
        &mut self,
        rows: &[Record],
        target: &Target,
        plan: Option<&super::undo::Plan>,
    ) -> Result<(), Fail> {
        for part in parts(rows, target, self.max_packet) {
            let params: Vec<mysql_async::Value> = part
                .iter()
                .flat_map(|r| r.values.iter().map(param))
                .collect();
            self.conn
                .exec_drop(insert_sql(target, part.len()), Params::Positional(params))
                .await?;
            self.check_warnings(part.len()).await?;
            if let Some(plan) = plan {
                self.record_written(plan, part, target).await?;
            }
        }
        Ok(())
    }

    /// One `LOAD DATA LOCAL INFILE` of the unit, encoded in memory.
    async fn load_data(
        &mut self,
        rows: &[Record],
        target: &Target,
        plan: Option<&super::undo::Plan>,
    ) -> Result<(), Fail> {
        let mut data = Vec::with_capacity(rows.len() * 128);
        for r in rows {
            push_tsv_row(&mut data, &r.values);
        }
        let data = Bytes::from(data);
        self.conn.set_infile_handler(async move {
            Ok(futures::stream::once(async move { Ok(data) }).boxed())
        });
        match self.conn.query_drop(load_sql(target)).await {
            Err(mysql_async::Error::Server(e)) if INFILE_DISABLED.contains(&e.code) => {
                tracing::warn!(
                    "the MySQL server refuses LOAD DATA LOCAL INFILE ({}): copy falls back to \
                     multi-row INSERTs (enable it with SET GLOBAL local_infile = 1)",
                    e.message
                );
                self.no_infile = true;
                self.insert(rows, target, plan).await
            }
            Err(e) => Err(e.into()),
            Ok(()) => {
                self.check_warnings(rows.len()).await?;
                match plan {
                    Some(plan) => self.record_written(plan, rows, target).await,
                    None => Ok(()),
                }
            }
        }
    }

    /// Refuses the unit if the last statement warned or stored fewer rows.
    async fn check_warnings(&mut self, sent: usize) -> Result<(), Fail> {
        let (warnings, stored) = (self.conn.get_warnings(), self.conn.affected_rows());
        if warnings == 0 && stored == sent as u64 {
            return Ok(());
        }
        let said = self.shown_warnings().await?;
        Err(Fail::Data(format!(
            "rejected by the database: {stored} of {sent} rows stored with {warnings} \
             warning(s): {said}"
        )))
    }

    /// Refuses the unit if the last statement warned at all (a merge
    /// statement's affected rows are checked by its caller).
    pub(super) async fn refuse_warnings(&mut self) -> Result<(), Fail> {
        let warnings = self.conn.get_warnings();
        if warnings == 0 {
            return Ok(());
        }
        let said = self.shown_warnings().await?;
        Err(Fail::Data(format!(
            "rejected by the database: {warnings} warning(s): {said}"
        )))
    }

    /// The first three warnings of the last statement, as one line.
    async fn shown_warnings(&mut self) -> Result<String, Fail> {
        let shown: Vec<(String, u32, String)> = self.conn.query("SHOW WARNINGS LIMIT 3").await?;
        let said: Vec<String> = shown
            .into_iter()
            .map(|(level, code, msg)| format!("{level} {code}: {msg}"))
            .collect();
        Ok(said.join("; "))
    }

    /// Rows updated and skipped by this writer's merge units since the
    /// last call.
    pub fn take_merged(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.merged)
    }
}

/// `rows` cut into multi-row statements, each within the placeholder
/// limit and half of `max_packet` (a row larger than that alone).
pub(super) fn parts<'a>(
    rows: &'a [Record],
    target: &Target,
    max_packet: usize,
) -> Vec<&'a [Record]> {
    let width = target.columns.len().max(1);
    let max_rows = (MAX_PARAMS / width).max(1);
    let budget = (max_packet / 2).saturating_sub(1024).max(1024);
    let (mut out, mut start) = (Vec::new(), 0);
    while start < rows.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < rows.len() && end - start < max_rows {
            let size: usize = rows[end].values.iter().map(wire_size).sum();
            if end > start && bytes + size > budget {
                break;
            }
            bytes += size;
            end += 1;
        }
        out.push(&rows[start..end]);
        start = end;
    }
    out
}

/// `INSERT INTO `t` (…) VALUES (?, …), …` for `rows` rows.
pub(super) fn insert_sql(target: &Target, rows: usize) -> String {
    let one = format!("({})", vec!["?"; target.columns.len()].join(", "));
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote_table_mysql(&target.table),
        column_list(target),
        vec![one; rows].join(", ")
    )
}

pub(super) fn column_list(target: &Target) -> String {
    let names: Vec<String> = target
        .columns
        .iter()
        .map(|c| quote_ident_mysql(&c.name))
        .collect();
    names.join(", ")
}

/// The `LOAD DATA` statement for the unit's tab-separated text.
fn load_sql(target: &Target) -> String {
    format!(
        "LOAD DATA LOCAL INFILE 'sheetpipe-unit' INTO TABLE {} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        quote_table_mysql(&target.table),
        column_list(target)
    )
}
