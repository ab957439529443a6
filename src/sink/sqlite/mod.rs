//! SQLite: one connection in WAL mode, shared by every writer behind a
//! mutex. SQLite allows one writer at a time; serializing here, instead of
//! letting several connections fight over the file lock, is what keeps
//! "database is locked" from ever reaching a user. Work runs on the blocking
//! pool (or in place, on a multi-threaded runtime) so that a large
//! transaction never stalls the async runtime. The copy path is one writer,
//! one prepared INSERT, one transaction per unit, WAL, a 16 MiB page cache.

pub mod introspect;
mod merge;
pub(crate) mod undo;
pub mod values;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params_from_iter, Connection, ErrorCode};

use super::schema::{self, quote_table};
use super::{DbError, WriteKind, WriteResult};
use crate::model::{Record, Target};
use crate::sink::merge::Merge;
use values::SqliteValue;

/// Most parameters in one statement (SQLite's default limit).
pub const MAX_PARAMS: usize = 32_766;

/// Most rows of `target` in one multi-row INSERT.
pub fn max_multi_row(target: &Target) -> usize {
    (MAX_PARAMS / target.columns.len().max(1)).max(1)
}

/// A SQLite database file with the schema ensured.
#[derive(Clone)]
pub struct SqliteSink {
    /// The one connection; the mutex is the single-writer rule.
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// The `imports` row whose `inserted` count each write updates in its
    /// own transaction (see [`super::Sink::with_ledger`]).
    ledger: Option<Arc<str>>,
    /// The upsert or skip-existing import its writers write for.
    merge: Option<Arc<Merge>>,
    /// Set once the `businesses` preset's table is known to exist.
    preset_ready: Arc<tokio::sync::OnceCell<()>>,
}

impl SqliteSink {
    /// Opens (creating) the file, sets WAL and a busy timeout, creates the schema.
    pub async fn open(path: &Path) -> Result<SqliteSink, DbError> {
        let path = path.to_path_buf();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open(&p)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Measured in docs/BENCHMARKS.md: 16 MiB of page cache (default
            // 2 MiB) so the six indexes thrash it less, and a checkpoint every
            // 10,000 WAL pages (~40 MB; default 1,000) — each checkpoint
            // fsyncs, and at the default they dominated a large import.
            conn.pragma_update(None, "cache_size", -16_384)?;
            conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
            conn.execute_batch(super::imports::SQLITE)?;
            super::upkeep::migrate_sqlite(&conn)?;
            conn.execute_batch(super::keys::SQLITE)?;
            conn.execute_batch(super::undo::SQLITE)?;
            Ok(conn)
        })
        .await
        .map_err(|e| DbError::new(format!("sqlite open task failed: {e}")))?
        .map_err(|e| {
            DbError::new(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        })?;
        Ok(SqliteSink {
            conn: Arc::new(Mutex::new(conn)),
            path,
            ledger: None,
            merge: None,
            preset_ready: Default::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle on the shared connection.
    pub fn writer(&self) -> SqliteWriter {
        SqliteWriter {
            conn: self.conn.clone(),
            ledger: self.ledger.clone(),
            merge: self.merge.clone(),
            merged: (0, 0),
        }
    }

    /// Runs `f` on the connection, on the blocking pool.
    pub async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, DbError> {
        with_conn(&self.conn, f)
            .await?
            .map_err(|e| DbError::new(e.to_string()))
    }

    /// Runs `f` on the connection, on the blocking pool, keeping its own
    /// result type.
    pub async fn with_conn_raw<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> Result<T, DbError> {
        with_conn(&self.conn, f).await
    }

    /// `SELECT 1`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.with_conn(|c| c.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    /// Creates the `businesses` preset's table and indexes if missing.
    pub async fn ensure_businesses(&self) -> Result<(), DbError> {
        self.preset_ready
            .get_or_try_init(|| self.with_conn(|c| c.execute_batch(schema::SQLITE)))
            .await
            .map(drop)
    }

    /// Rows in `table`.
    pub async fn count_rows(&self, table: &str) -> Result<i64, DbError> {
        let sql = format!("SELECT count(*) FROM {}", quote_table(table));
        self.with_conn(move |c| c.query_row(&sql, [], |r| r.get(0)))
            .await
    }
}

async fn with_conn<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    f: impl FnOnce(&mut Connection) -> T + Send + 'static,
) -> Result<T, DbError> {
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || {
        // A panic while holding the lock poisons it; the connection itself
        // is still consistent (SQLite rolls back an open transaction).
        let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    .map_err(|e| DbError::new(format!("sqlite task failed: {e}")))
}

/// A writer's handle on the shared connection.
pub struct SqliteWriter {
    conn: Arc<Mutex<Connection>>,
    ledger: Option<Arc<str>>,
    merge: Option<Arc<Merge>>,
    /// Rows updated and skipped by committed merge writes, not yet taken.
    merged: (u64, u64),
}

impl SqliteSink {
    /// Where the rows go, for messages: `sqlite://PATH`.
    pub fn location(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// This sink with every write also counted in `imports.inserted` of
    /// `import_id`, in the same transaction.
    pub fn with_ledger(&self, import_id: &str) -> SqliteSink {
        SqliteSink {
            ledger: Some(import_id.into()),
            ..self.clone()
        }
    }

    /// This sink with its writers upserting or skipping existing rows.
    pub fn with_merge(&self, merge: Arc<Merge>) -> SqliteSink {
        SqliteSink {
            merge: Some(merge),
            ..self.clone()
        }
    }
}

impl SqliteWriter {
    /// Writes `rows` atomically. On a multi-threaded runtime the rows are
    /// written in place (`block_in_place`: no copy of the unit); otherwise
    /// a copy goes to the blocking pool.
    pub async fn write(
        &mut self,
        rows: &[Record],
        kind: WriteKind,
        target: &Target,
    ) -> WriteResult {
        if rows.is_empty() {
            return Ok(Ok(()));
        }
        // A decimal SQLite would round is refused as data, so that the
        // caller isolates and rejects its row instead of storing it changed.
        for r in rows {
            for (v, c) in r.values.iter().zip(&target.columns) {
                if let Err(why) = values::check_exact(v, &c.sql_type) {
                    return Ok(Err(format!("{} ({}): {why}", c.name, c.sql_type)));
                }
            }
        }
        let (ledger, merge) = (self.ledger.clone(), self.merge.clone());
        let result = self
            .on_conn(rows, target, move |conn, rows, target| match &merge {
                Some(m) => merge::write_merged(conn, rows, target, m, ledger.as_deref()),
                None => {
                    write_ledgered(conn, rows, kind, target, ledger.as_deref()).map(|()| (0, 0))
                }
            })
            .await?;
        match result {
            Ok((updated, skipped)) => {
                self.merged.0 += updated;
                self.merged.1 += skipped;
                Ok(Ok(()))
            }
            Err(e) => classify(Err(e)),
        }
    }

    /// Runs `f` on the connection with `rows`: in place on a
    /// multi-threaded runtime (`block_in_place`: no copy of the unit),
    /// otherwise with a copy on the blocking pool.
    async fn on_conn<T: Send + 'static>(
        &self,
        rows: &[Record],
        target: &Target,
        f: impl FnOnce(&mut Connection, &[Record], &Target) -> T + Send + 'static,
    ) -> Result<T, DbError> {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            return Ok(tokio::task::block_in_place(|| {
                let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut guard, rows, target)
            }));
        }
        let (rows, target) = (rows.to_vec(), target.clone());
        with_conn(&self.conn, move |conn| f(conn, &rows, &target)).await
    }

    /// Rows updated and skipped by this writer's merge writes since the
    /// last call (the rest of what it stored was inserted).
    pub fn take_merged(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.merged)
    }
}

/// Writes `rows`; with a ledger, the import's count rides in the rows'
/// transaction, so it always equals what the table holds, even if the
/// process dies right after.
fn write_ledgered(
    conn: &mut Connection,
    rows: &[Record],
    kind: WriteKind,
    target: &Target,
    ledger: Option<&str>,
) -> Result<(), rusqlite::Error> {
    let Some(id) = ledger else {
        return write_blocking(conn, rows, kind, target);
    };
    let tx = conn.transaction()?;
    // With the rows, undo's record of them (rowids and hashes).
    undo::insert_recorded(&tx, rows, kind, target, id)?;
    tx.execute(
        "UPDATE imports SET inserted = inserted + ?1 WHERE id = ?2",
        rusqlite::params![rows.len() as i64, id],
    )?;
    tx.commit()
}

fn write_blocking(
    conn: &mut Connection,
    rows: &[Record],
    kind: WriteKind,
    target: &Target,
) -> Result<(), rusqlite::Error> {
    if one_statement(rows, kind, target) {
        return insert_rows(conn, rows, kind, target);
    }
    let tx = conn.transaction()?;
    insert_rows(&tx, rows, kind, target)?;
    tx.commit()
}

/// Whether `rows` go in one (atomic) INSERT.
fn one_statement(rows: &[Record], kind: WriteKind, target: &Target) -> bool {
    rows.len() == 1
        || (matches!(kind, WriteKind::PerRow | WriteKind::MultiRow)
            && rows.len() <= max_multi_row(target))
}

/// The INSERTs for `rows`, without a transaction of their own.
fn insert_rows(
    conn: &Connection,
    rows: &[Record],
    kind: WriteKind,
    target: &Target,
) -> Result<(), rusqlite::Error> {
    if kind != WriteKind::Copy {
        for part in rows.chunks(max_multi_row(target)) {
            let mut stmt = conn.prepare_cached(&schema::insert_sql(target, part.len(), false))?;
            stmt.execute(params_from_iter(
                part.iter().flat_map(|r| r.values.iter().map(SqliteValue)),
            ))?;
        }
        return Ok(());
    }
    // The copy path: one single-row INSERT prepared once and executed per
    // row (no SQL text built or looked up per row), inside the caller's
    // transaction (one journal commit per unit).
    let mut stmt = conn.prepare_cached(&schema::insert_sql(target, 1, false))?;
    for row in rows {
        stmt.execute(params_from_iter(row.values.iter().map(SqliteValue)))?;
    }
    Ok(())
}

/// Constraint and type errors are about rows; anything else is fatal.
fn classify(result: Result<(), rusqlite::Error>) -> WriteResult {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(rusqlite::Error::SqliteFailure(e, msg))
            if matches!(
                e.code,
                ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch | ErrorCode::TooBig
            ) =>
        {
            Ok(Err(format!(
                "rejected by the database: {}",
                msg.unwrap_or_else(|| e.to_string())
            )))
        }
        Err(e) => Err(DbError::new(format!("sqlite: {e}"))),
    }
}
