//! Undo (docs/UNDO.md): `sheetpipe undo ID`, `POST /imports/{id}/undo`
//! return a table to its state before one import — the rows it inserted
//! deleted, the rows it updated given back their earlier values, a replace
//! reverted — refusing, changing nothing, when a row the import wrote was
//! changed since by anyone else (unless forced).
//!
//! What undo needs is written in the same transactions as the rows, so a
//! crash cannot separate them:
//!
//! - **PostgreSQL** finds the rows an import wrote by their `xmin`: every
//!   write records its transaction id (`import_ledger.xid`, a column
//!   default, so the append paths do nothing more); the ids are kept in
//!   `sheetpipe_undo_xids` when the ledger is folded. A row changed by
//!   anyone since carries another transaction's id, so "unchanged" is
//!   "still has one of the import's ids". An upsert saves the earlier value
//!   of each row it is the first to update (`sheetpipe_undo_rows`, json of
//!   the row, taken `FOR UPDATE` in the unit's transaction); a replace
//!   saves the old rows in its swap transaction.
//! - **SQLite** has no row versions: each write records the rowids it
//!   wrote and a hash of each written row (one record per unit), an upsert
//!   each updated row's earlier values, a replace the old rows; a row whose
//!   hash differs at undo time was changed since.
//! - **MySQL/MariaDB** has no row versions a client can read either: each
//!   write records, in the unit's transaction, each written row's locator
//!   (a key, or its AUTO_INCREMENT id from the statement's id range) and a
//!   server-side MD5 of it as stored; an upsert each updated row's earlier
//!   values, a replace the old rows (`sink/mysql/undo/`).
//!
//! An undo runs in one transaction: checks, deletes and restores, marks the
//! import `undone` (it cannot run twice) and drops its undo data.

use serde::Serialize;

use super::{DbError, Sink};

/// PostgreSQL DDL for undo's own tables, idempotent; run after the
/// `import_ledger` table exists.
pub const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS sheetpipe_undo (
    import_id    TEXT PRIMARY KEY,
    table_name   TEXT NOT NULL,
    mode         TEXT NOT NULL,
    columns      TEXT,
    key_columns  TEXT,
    replace_xid  BIGINT,
    replace_rows BIGINT,
    undone_at    TIMESTAMPTZ,
    deleted      BIGINT,
    restored     BIGINT,
    kept         BIGINT
);
CREATE TABLE IF NOT EXISTS sheetpipe_undo_rows (
    import_id   TEXT NOT NULL,
    seq         BIGSERIAL,
    before      JSONB NOT NULL,
    before_json JSON
);
CREATE INDEX IF NOT EXISTS idx_sheetpipe_undo_rows_import ON sheetpipe_undo_rows (import_id);
ALTER TABLE sheetpipe_undo_rows ADD COLUMN IF NOT EXISTS before_json JSON;
CREATE TABLE IF NOT EXISTS sheetpipe_undo_xids (
    import_id TEXT NOT NULL,
    xid       BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_sheetpipe_undo_xids_import ON sheetpipe_undo_xids (import_id);
ALTER TABLE import_ledger ADD COLUMN IF NOT EXISTS xid BIGINT;
ALTER TABLE import_ledger ALTER COLUMN xid SET DEFAULT txid_current();
";

/// True when [`POSTGRES`] has run on this database (its last object).
pub const POSTGRES_PRESENT: &str = "SELECT to_regclass('sheetpipe_undo_xids') IS NOT NULL \
     AND EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
     AND table_name = 'import_ledger' AND column_name = 'xid' AND column_default IS NOT NULL) \
     AND EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
     AND table_name = 'sheetpipe_undo_rows' AND column_name = 'before_json')";

/// SQLite DDL for undo's own tables, idempotent.
pub const SQLITE: &str = "
CREATE TABLE IF NOT EXISTS sheetpipe_undo (
    import_id  TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    mode       TEXT NOT NULL,
    pid        INTEGER,
    undone_at  TEXT,
    deleted    INTEGER,
    restored   INTEGER,
    kept       INTEGER
);
CREATE TABLE IF NOT EXISTS sheetpipe_undo_rows (
    seq       INTEGER PRIMARY KEY,
    import_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    columns   TEXT NOT NULL,
    rids      BLOB NOT NULL,
    hashes    BLOB,
    before    TEXT
);
CREATE INDEX IF NOT EXISTS idx_sheetpipe_undo_rows_import ON sheetpipe_undo_rows (import_id);
";

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UndoOutcome {
    /// The import undone.
    pub import_id: String,
    /// Its table.
    pub table: String,
    /// Its mode (append, upsert, skip-existing, replace).
    pub mode: String,
    /// Rows it had inserted, now deleted.
    pub deleted: u64,
    /// Rows given back their values from before the import (rows it had
    /// updated, or a replace's old rows).
    pub restored: u64,
    /// Rows it wrote that were changed since by someone else and are left
    /// as they are now (only with `force`; else the undo is refused).
    pub kept: u64,
    /// When (RFC 3339).
    pub undone_at: String,
}

/// Why an undo did not happen (nothing was changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    /// No import has this id.
    #[error("no import with id {0}")]
    NoImport(String),
    /// The import cannot be undone now: already undone, still running, or
    /// it changed nothing.
    #[error("{0}")]
    Refused(String),
    /// Rows the import wrote were changed since by someone else.
    #[error("{message}")]
    Changed {
        /// How many rows.
        rows: u64,
        /// The whole explanation.
        message: String,
    },
    /// This database or this import has no undo data.
    #[error("{0}")]
    Unsupported(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl UndoError {
    /// The refusal for `rows` rows of `table` changed since import `id`.
    pub fn changed(id: &str, table: &str, rows: u64) -> UndoError {
        UndoError::Changed {
            rows,
            message: format!(
                "cannot undo import {id}: {rows} row(s) of {table} that it wrote were changed or \
                 deleted since by someone else; nothing was changed. Undo with force \
                 (--force, force=true) to undo the other rows and leave those as they are now"
            ),
        }
    }
}

/// The import's rows as undo sees them: its id, table and mode.
#[derive(Debug, Clone)]
pub struct UndoTarget {
    /// The import.
    pub id: String,
    /// Its table, as given.
    pub table: String,
    /// Undo anyway when rows changed since (they are left as they are).
    pub force: bool,
}

impl Sink {
    /// Undoes import `id` (see the module docs): `force` undoes the rows
    /// still as the import left them when others were changed since.
    pub async fn undo_import(&self, id: &str, force: bool) -> Result<UndoOutcome, UndoError> {
        let row = self
            .get_import(id)
            .await?
            .ok_or_else(|| UndoError::NoImport(id.to_string()))?;
        // The status is checked by the backend, under its lock.
        let target = UndoTarget {
            id: row.id.clone(),
            table: row
                .table_name
                .clone()
                .unwrap_or_else(|| crate::model::BUSINESSES.to_string()),
            force,
        };
        match self {
            Sink::Postgres(s) => super::postgres::undo::undo(s, &target).await,
            Sink::Sqlite(s) => super::sqlite::undo::undo(s, &target).await,
            Sink::Mysql(s) => super::mysql::undo::undo(s, &target).await,
        }
    }

    /// The id of the import this sink's writes are recorded for.
    pub fn ledger_id(&self) -> Option<String> {
        match self {
            Sink::Postgres(s) => s.ledger_id(),
            Sink::Sqlite(s) => s.ledger_id(),
            Sink::Mysql(s) => s.ledger_id(),
        }
    }
}

/// A CLI import's hold on its id while it runs (dropped when it ends; a
/// killed process loses it): how undo tells a dead import, still
/// `running` in the history, from a live one.
pub enum ImportHold {
    /// A connection of its own holding an advisory lock.
    Postgres(
        tokio_postgres::Client,
        tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
    ),
    /// The process id recorded beside the import.
    Sqlite,
    /// A connection of its own holding a named lock (`GET_LOCK`).
    Mysql(Option<mysql_async::Conn>),
}

impl Drop for ImportHold {
    fn drop(&mut self) {
        match self {
            ImportHold::Postgres(_, task) => task.abort(),
            ImportHold::Mysql(conn) => {
                // Closing the connection frees the lock (so does the
                // process's exit, should the runtime be gone already).
                if let (Some(conn), Ok(rt)) = (conn.take(), tokio::runtime::Handle::try_current()) {
                    rt.spawn(async move {
                        let _ = conn.disconnect().await;
                    });
                }
            }
            ImportHold::Sqlite => {}
        }
    }
}

impl Sink {
    /// Holds import `id` (into `table`) for this process while it runs.
    pub async fn hold_import(&self, id: &str, table: &str) -> Result<ImportHold, DbError> {
        match self {
            Sink::Postgres(s) => super::postgres::undo::hold(s, id).await,
            Sink::Sqlite(s) => {
                let (id, table) = (id.to_string(), table.to_string());
                s.with_conn(move |c| super::sqlite::undo::hold(c, &id, &table))
                    .await?;
                Ok(ImportHold::Sqlite)
            }
            Sink::Mysql(s) => super::mysql::undo::hold(s, id).await,
        }
    }

    /// The hold of an import the service runs, where the backend needs one
    /// to tell it alive: MySQL, where every import holds its named lock
    /// (PostgreSQL's instances and queue, and SQLite's one server, say it
    /// otherwise). A hold that cannot be taken is a warning.
    pub async fn hold_service_import(&self, id: &str) -> Option<ImportHold> {
        let Sink::Mysql(s) = self else {
            return None;
        };
        match super::mysql::undo::hold(s, id).await {
            Ok(hold) => Some(hold),
            Err(e) => {
                tracing::warn!(error = %e, "cannot hold the import");
                None
            }
        }
    }
}

/// A status whose import may still be writing.
pub fn unfinished(status: &str) -> bool {
    matches!(status, "queued" | "running")
}

/// Refuses an import that is undone already or not finished.
pub fn check_status(id: &str, status: &str) -> Result<(), UndoError> {
    match status {
        "undone" => Err(UndoError::Refused(format!(
            "import {id} was already undone; an undo cannot run twice"
        ))),
        "queued" | "running" => Err(UndoError::Refused(format!(
            "import {id} is still {status}: cancel it or wait for it to end, then undo it"
        ))),
        _ => Ok(()),
    }
}

/// FNV-1a, 64 bits: the hash SQLite's undo data keeps of each written row
/// (fixed here, so that another build of sheetpipe computes the same).
#[derive(Debug, Clone, Copy)]
pub struct RowHash(u64);

impl Default for RowHash {
    fn default() -> Self {
        RowHash(0xcbf2_9ce4_8422_2325)
    }
}

impl RowHash {
    /// Adds `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// Numbers packed as 8 little-endian bytes each (rowids and hashes).
pub fn pack(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The inverse of [`pack`].
pub fn unpack(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_ids_come_back_and_the_hash_is_fixed() {
        let ids = [1, -2, i64::MAX, 0];
        assert_eq!(unpack(&pack(&ids)), ids);
        let mut h = RowHash::default();
        h.write(b"a");
        // The published FNV-1a 64 value of "a".
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn an_undone_or_unfinished_import_is_refused() {
        assert!(check_status("x", "completed").is_ok());
        assert!(check_status("x", "failed").is_ok());
        let e = check_status("x", "undone").unwrap_err().to_string();
        assert!(e.contains("already undone"), "{e}");
        let e = check_status("x", "running").unwrap_err().to_string();
        assert!(e.contains("still running"), "{e}");
    }
}
