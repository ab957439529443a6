//! SQLite: one connection in WAL mode, shared by every writer behind a
//! mutex. SQLite allows one writer at a time; serializing here, instead of
//! letting several connections fight over the file lock, is what keeps
//! "database is locked" from ever reaching a user. Work runs on the blocking
//! pool (or in place, on a multi-threaded runtime) so that a large
//! transaction never stalls the async runtime. The copy path is one writer,
//! one prepared INSERT, one transaction per unit, WAL, a 16 MiB page cache.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params_from_iter, Connection, ErrorCode};

use super::schema;
use super::{DbError, WriteKind, WriteResult};
use crate::model::Record;

/// Most rows in one multi-row INSERT: SQLite allows 32,766 parameters.
pub const MAX_MULTI_ROW: usize = 32_766 / 9;

/// A SQLite database file with the schema ensured.
#[derive(Clone)]
pub struct SqliteSink {
    /// The one connection; the mutex is the single-writer rule.
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// The `imports` row whose `inserted` count each write updates in its
    /// own transaction (see [`super::Sink::with_ledger`]).
    ledger: Option<Arc<str>>,
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
            conn.execute_batch(schema::SQLITE)?;
            conn.execute_batch(super::imports::SQLITE)?;
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

    /// `SELECT 1`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.with_conn(|c| c.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    /// Rows in `businesses`.
    pub async fn count_rows(&self) -> Result<i64, DbError> {
        self.with_conn(|c| c.query_row("SELECT count(*) FROM businesses", [], |r| r.get(0)))
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
}

impl SqliteWriter {
    /// Writes `rows` atomically. On a multi-threaded runtime the rows are
    /// written in place (`block_in_place`: no copy of the unit); otherwise
    /// a copy goes to the blocking pool.
    pub async fn write(&mut self, rows: &[Record], kind: WriteKind) -> WriteResult {
        if rows.is_empty() {
            return Ok(Ok(()));
        }
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if multi_thread {
            tokio::task::block_in_place(|| {
                let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
                write_ledgered(&mut guard, rows, kind, self.ledger.as_deref())
            })
        } else {
            let rows = rows.to_vec();
            let ledger = self.ledger.clone();
            with_conn(&self.conn, move |conn| {
                write_ledgered(conn, &rows, kind, ledger.as_deref())
            })
            .await?
        };
        classify(result)
    }
}

/// Writes `rows`; with a ledger, the import's count rides in the rows'
/// transaction, so it always equals what the table holds, even if the
/// process dies right after.
fn write_ledgered(
    conn: &mut Connection,
    rows: &[Record],
    kind: WriteKind,
    ledger: Option<&str>,
) -> Result<(), rusqlite::Error> {
    let Some(id) = ledger else {
        return write_blocking(conn, rows, kind);
    };
    let tx = conn.transaction()?;
    insert_rows(&tx, rows, kind)?;
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
) -> Result<(), rusqlite::Error> {
    if one_statement(rows, kind) {
        return insert_rows(conn, rows, kind);
    }
    let tx = conn.transaction()?;
    insert_rows(&tx, rows, kind)?;
    tx.commit()
}

/// Whether `rows` go in one (atomic) INSERT.
fn one_statement(rows: &[Record], kind: WriteKind) -> bool {
    rows.len() == 1
        || (matches!(kind, WriteKind::PerRow | WriteKind::MultiRow) && rows.len() <= MAX_MULTI_ROW)
}

/// The INSERTs for `rows`, without a transaction of their own.
fn insert_rows(conn: &Connection, rows: &[Record], kind: WriteKind) -> Result<(), rusqlite::Error> {
    let insert = |rows: &[Record]| -> Result<(), rusqlite::Error> {
        let mut stmt = conn.prepare_cached(&schema::insert_sql(rows.len(), false))?;
        stmt.execute(params_from_iter(
            rows.iter().flat_map(|r| r.business.fields.iter()),
        ))?;
        Ok(())
    };
    if one_statement(rows, kind) {
        return insert(rows);
    }
    // The copy path: one single-row INSERT prepared once and executed per
    // row (no SQL text built or looked up per row), inside the caller's
    // transaction (one journal commit per unit).
    let mut stmt = conn.prepare_cached(&schema::insert_sql(1, false))?;
    for row in rows {
        stmt.execute(params_from_iter(row.business.fields.iter()))?;
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
