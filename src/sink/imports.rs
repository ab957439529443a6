//! The `imports` table: one row per import the HTTP service accepted —
//! id, original filename, sha256, method, status, counts, timestamps and
//! error — on every backend (MySQL's in `sink::mysql::history`), so that history survives a restart.
//!
//! The service writes a row when it accepts an upload (`queued`), updates it
//! when the import starts (`running`) and when it ends (`completed`,
//! `failed`, `cancelled`). Timestamps are produced by the service (RFC 3339,
//! UTC, milliseconds) so both backends read back the same text.

use serde::Serialize;
use tokio_postgres::types::ToSql;

use super::{DbError, Sink};

/// PostgreSQL DDL, idempotent. `seq` orders the listing (newest first).
pub const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS imports (
    id          TEXT PRIMARY KEY,
    seq         BIGSERIAL,
    filename    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    method      TEXT NOT NULL,
    status      TEXT NOT NULL,
    bytes       BIGINT NOT NULL DEFAULT 0,
    rows_read   BIGINT NOT NULL DEFAULT 0,
    inserted    BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS idx_imports_seq ON imports (seq);
CREATE TABLE IF NOT EXISTS import_ledger (
    import_id   TEXT NOT NULL,
    inserted    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_import_ledger_import_id ON import_ledger (import_id);
ALTER TABLE imports ADD COLUMN IF NOT EXISTS rejects_removed_at TIMESTAMPTZ;
ALTER TABLE imports ADD COLUMN IF NOT EXISTS table_name TEXT;
ALTER TABLE imports ADD COLUMN IF NOT EXISTS rejects_files TEXT;
CREATE INDEX IF NOT EXISTS idx_imports_sha256 ON imports (sha256);
ALTER TABLE imports ADD COLUMN IF NOT EXISTS mode TEXT NOT NULL DEFAULT 'append';
ALTER TABLE imports ADD COLUMN IF NOT EXISTS updated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN IF NOT EXISTS skipped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_ledger ADD COLUMN IF NOT EXISTS updated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_ledger ADD COLUMN IF NOT EXISTS skipped BIGINT NOT NULL DEFAULT 0;
";

/// SQLite DDL, idempotent. The rowid orders the listing.
pub const SQLITE: &str = "
CREATE TABLE IF NOT EXISTS imports (
    id          TEXT PRIMARY KEY,
    filename    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    method      TEXT NOT NULL,
    status      TEXT NOT NULL,
    bytes       INTEGER NOT NULL DEFAULT 0,
    rows_read   INTEGER NOT NULL DEFAULT 0,
    inserted    INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    error       TEXT,
    rejects_removed_at TEXT
);
";

/// SQLite: the index the same-file check reads (after the added columns).
pub const SQLITE_INDEXES: &str =
    "CREATE INDEX IF NOT EXISTS idx_imports_sha256 ON imports (sha256);";

/// One row of the `imports` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRow {
    /// The import's id (a UUID).
    pub id: String,
    /// The client's filename: metadata only, never used as a path.
    pub filename: String,
    /// SHA-256 of the uploaded bytes, lowercase hex.
    pub sha256: String,
    /// The strategy.
    pub method: String,
    /// queued, running, completed, failed or cancelled.
    pub status: String,
    /// Size of the upload.
    pub bytes: i64,
    /// Data rows read.
    pub rows_read: i64,
    /// The re-import mode (`append`, `upsert`, `skip-existing`,
    /// `replace`; docs/MODES.md).
    pub mode: String,
    /// Rows inserted (committed; for a replace: the rows the table holds).
    pub inserted: i64,
    /// Rows that updated a stored row (upsert).
    pub updated: i64,
    /// Rows left alone because their key exists (skip-existing).
    pub skipped: i64,
    /// Rows rejected.
    pub rejected: i64,
    /// When the upload was accepted (RFC 3339).
    pub created_at: String,
    /// When the import started running.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// When its reject report was removed (kept for `--keep-rejects-days`).
    pub rejects_removed_at: Option<String>,
    /// The `serve` instance that accepted it, or that claimed it from the
    /// shared queue; `None` while queued for any instance (PostgreSQL; see
    /// [`super::instances`], [`super::queue`]).
    pub instance_id: Option<String>,
    /// The table the rows went to (`None` for imports recorded before the
    /// column existed, which all went to `businesses`).
    pub table_name: Option<String>,
    /// Where the reject reports were to be written, absolute paths (CLI:
    /// `--rejects`; service: its `rejects/ID.csv` and `.xlsx`).
    pub rejects_files: Vec<String>,
    /// The name of the API key that made it (`None`: made without a key,
    /// by the CLI or a service with `--auth off`); see [`super::keys`].
    pub owner: Option<String>,
}

/// The final state of an import, written once when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEnd<'a> {
    /// completed, failed or cancelled.
    pub status: &'a str,
    /// Data rows read.
    pub rows_read: i64,
    /// Rows inserted.
    pub inserted: i64,
    /// Rows that updated a stored row.
    pub updated: i64,
    /// Rows skipped because their key exists.
    pub skipped: i64,
    /// Rows rejected.
    pub rejected: i64,
    /// When it ended (RFC 3339).
    pub finished_at: &'a str,
    /// Why it failed or was cancelled.
    pub error: Option<&'a str>,
}

/// The current time as the table stores it: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) use super::history_columns::{pg_select, sqlite_select};

impl Sink {
    /// Records a newly accepted import as `queued`.
    pub async fn insert_import(&self, row: &ImportRow) -> Result<(), DbError> {
        let r = row.clone();
        let rejects = encode_files(&r.rejects_files);
        match self {
            Sink::Mysql(s) => super::mysql::history::insert(s, &r).await,
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                pg_insert(&*client, &r).await
            }
            Sink::Sqlite(s) => {
                let sql = super::history_columns::insert_sql(&[], |i| format!("?{i}"), |_| "");
                s.with_conn(move |c| {
                    c.execute(
                        &sql,
                        rusqlite::params![
                            r.id,
                            r.filename,
                            r.sha256,
                            r.method,
                            r.mode,
                            r.status,
                            r.bytes,
                            r.created_at,
                            r.table_name,
                            rejects,
                            r.owner
                        ],
                    )
                    .map(drop)
                })
                .await
            }
        }
    }

    /// Records the SHA-256 of an import's file once it is known (an import
    /// that needs no same-file check hashes its file while it runs).
    pub async fn set_import_sha256(&self, id: &str, sha256: &str) -> Result<(), DbError> {
        const PG: &str = "UPDATE imports SET sha256 = $2 WHERE id = $1";
        const LITE: &str = "UPDATE imports SET sha256 = ?2 WHERE id = ?1";
        match self {
            Sink::Postgres(s) => pg_execute(s, PG, &[&id, &sha256]).await,
            Sink::Mysql(s) => super::mysql::history::set_sha256(s, id, sha256).await,
            Sink::Sqlite(s) => {
                let (id, sha) = (id.to_string(), sha256.to_string());
                s.with_conn(move |c| c.execute(LITE, [id, sha]).map(drop))
                    .await
            }
        }
    }

    /// Marks an import `running` from `started_at`.
    pub async fn start_import(&self, id: &str, started_at: &str) -> Result<(), DbError> {
        const PG: &str = "UPDATE imports SET status = 'running', \
             started_at = $2::text::timestamptz WHERE id = $1";
        const LITE: &str = "UPDATE imports SET status = 'running', started_at = ?2 WHERE id = ?1";
        match self {
            Sink::Postgres(s) => pg_execute(s, PG, &[&id, &started_at]).await,
            Sink::Mysql(s) => super::mysql::history::start(s, id, started_at).await,
            Sink::Sqlite(s) => {
                let (id, at) = (id.to_string(), started_at.to_string());
                s.with_conn(move |c| c.execute(LITE, [id, at]).map(drop))
                    .await
            }
        }
    }

    /// Writes the final status, counts and error of an import.
    pub async fn finish_import(&self, id: &str, end: &ImportEnd<'_>) -> Result<(), DbError> {
        // The exact counts now live in the row: the ledger's entries go.
        const PG: &str = concat!(
            "WITH done AS (DELETE FROM import_ledger WHERE import_id = $1 \
             RETURNING import_id, xid), ",
            // Undo finds the import's rows by these transaction ids.
            "kept AS (INSERT INTO sheetpipe_undo_xids (import_id, xid) \
             SELECT DISTINCT import_id, xid FROM done WHERE xid IS NOT NULL) \
             UPDATE imports SET status = $2, rows_read = $3, inserted = $4, \
             rejected = $5, finished_at = $6::text::timestamptz, error = $7, \
             updated = $8, skipped = $9 WHERE id = $1"
        );
        const LITE: &str = "UPDATE imports SET status = ?2, rows_read = ?3, inserted = ?4, \
             rejected = ?5, finished_at = ?6, error = ?7, updated = ?8, skipped = ?9 \
             WHERE id = ?1";
        let e = end;
        match self {
            Sink::Mysql(s) => super::mysql::history::finish(s, id, e).await,
            Sink::Postgres(s) => {
                let params: [&(dyn ToSql + Sync); 9] = [
                    &id,
                    &e.status,
                    &e.rows_read,
                    &e.inserted,
                    &e.rejected,
                    &e.finished_at,
                    &e.error,
                    &e.updated,
                    &e.skipped,
                ];
                pg_execute(s, PG, &params).await
            }
            Sink::Sqlite(s) => {
                let id = id.to_string();
                let (status, at) = (e.status.to_string(), e.finished_at.to_string());
                let (read, ins, rej) = (e.rows_read, e.inserted, e.rejected);
                let (upd, skip) = (e.updated, e.skipped);
                let error = e.error.map(str::to_string);
                s.with_conn(move |c| {
                    c.execute(
                        LITE,
                        rusqlite::params![id, status, read, ins, rej, at, error, upd, skip],
                    )
                    .map(drop)
                })
                .await
            }
        }
    }

    /// One import by id.
    pub async fn get_import(&self, id: &str) -> Result<Option<ImportRow>, DbError> {
        match self {
            Sink::Mysql(s) => super::mysql::history::get(s, id).await,
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                let sql = format!("{} WHERE id = $1", pg_select());
                let rows = client.query(&sql, &[&id]).await.map_err(pg_error)?;
                Ok(rows.first().map(pg_row))
            }
            Sink::Sqlite(s) => {
                let id = id.to_string();
                let sql = format!("{} WHERE id = ?1", sqlite_select());
                s.with_conn(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let mut rows = stmt.query_map([id], sqlite_row)?;
                    rows.next().transpose()
                })
                .await
            }
        }
    }

    /// Imports newest first: `limit` rows after skipping `offset`, and the
    /// total number of rows in the table.
    pub async fn list_imports(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ImportRow>, i64), DbError> {
        self.list_imports_of(None, limit, offset).await
    }

    /// [`Sink::list_imports`] of the imports `owner` made only (`None`:
    /// every import); the total counts those imports.
    pub async fn list_imports_of(
        &self,
        owner: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ImportRow>, i64), DbError> {
        match self {
            Sink::Mysql(s) => super::mysql::history::list(s, owner, limit, offset).await,
            Sink::Postgres(s) => {
                let client = s.connection().await?;
                let (sql, count) = match owner {
                    None => (
                        format!("{} ORDER BY seq DESC LIMIT $1 OFFSET $2", pg_select()),
                        "SELECT count(*) FROM imports",
                    ),
                    Some(_) => (
                        format!(
                            "{} WHERE owner = $3 ORDER BY seq DESC LIMIT $1 OFFSET $2",
                            pg_select()
                        ),
                        "SELECT count(*) FROM imports WHERE owner = $1",
                    ),
                };
                let (rows, total) = match owner {
                    None => (
                        client.query(&sql, &[&limit, &offset]).await,
                        client.query_one(count, &[]).await,
                    ),
                    Some(o) => (
                        client.query(&sql, &[&limit, &offset, &o]).await,
                        client.query_one(count, &[&o]).await,
                    ),
                };
                let rows = rows.map_err(pg_error)?;
                let total = total.map_err(pg_error)?;
                Ok((rows.iter().map(pg_row).collect(), total.get(0)))
            }
            Sink::Sqlite(s) => {
                // `?3 IS NULL`: every import; otherwise that owner's.
                let sql = format!(
                    "{} WHERE (?3 IS NULL OR owner = ?3) ORDER BY rowid DESC LIMIT ?1 OFFSET ?2",
                    sqlite_select()
                );
                let owner = owner.map(str::to_string);
                s.with_conn(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let rows = stmt
                        .query_map(rusqlite::params![limit, offset, owner], sqlite_row)?
                        .collect::<Result<Vec<_>, _>>()?;
                    let total = c.query_row(
                        "SELECT count(*) FROM imports WHERE (?1 IS NULL OR owner = ?1)",
                        [&owner],
                        |r| r.get(0),
                    )?;
                    Ok((rows, total))
                })
                .await
            }
        }
    }
}

/// Inserts `r` into PostgreSQL's `imports` on `client` (inside the
/// caller's transaction, if any).
pub(super) async fn pg_insert(
    client: &impl tokio_postgres::GenericClient,
    r: &ImportRow,
) -> Result<(), DbError> {
    let sql = super::history_columns::insert_sql(
        &["instance_id"],
        |i| format!("${i}"),
        |c| match c {
            "created_at" => "::text::timestamptz",
            _ => "",
        },
    );
    let rejects = encode_files(&r.rejects_files);
    let params: [&(dyn ToSql + Sync); 12] = [
        &r.id,
        &r.filename,
        &r.sha256,
        &r.method,
        &r.mode,
        &r.status,
        &r.bytes,
        &r.created_at,
        &r.table_name,
        &rejects,
        &r.owner,
        &r.instance_id,
    ];
    client.execute(&sql, &params).await.map_err(pg_error)?;
    Ok(())
}

pub(super) async fn pg_execute(
    sink: &super::PgSink,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(), DbError> {
    let client = sink.connection().await?;
    client.execute(sql, params).await.map_err(pg_error)?;
    Ok(())
}

pub(super) fn pg_error(e: tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) => DbError::new(format!(
            "imports table: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => DbError::new(format!("imports table: {e}")),
    }
}

pub(super) fn pg_row(r: &tokio_postgres::Row) -> ImportRow {
    match super::history_columns::read_row(super::history_columns::PgGet(r)) {
        Ok(row) => row,
        Err(never) => match never {},
    }
}

pub(super) fn sqlite_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImportRow> {
    super::history_columns::read_row(super::history_columns::SqliteGet(r))
}

/// The reject report paths as the `rejects_files` column keeps them: a
/// JSON array of strings (`NULL` when there are none).
pub(crate) fn encode_files(files: &[String]) -> Option<String> {
    (!files.is_empty()).then(|| serde_json::to_string(files).unwrap_or_default())
}

/// The paths of a `rejects_files` column (`NULL` or unreadable: none).
pub(crate) fn decode_files(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::DatabaseUrl;

    fn row(id: &str) -> ImportRow {
        ImportRow {
            id: id.into(),
            filename: "../../etc/passwd.xlsx".into(),
            sha256: "ab".repeat(32),
            method: "batch".into(),
            status: "queued".into(),
            bytes: 1234,
            mode: "upsert".into(),
            rows_read: 0,
            inserted: 0,
            updated: 0,
            skipped: 0,
            rejected: 0,
            created_at: now(),
            started_at: None,
            finished_at: None,
            error: None,
            rejects_removed_at: None,
            instance_id: None,
            table_name: Some("businesses".into()),
            rejects_files: vec!["/tmp/r.csv".into()],
            owner: None,
        }
    }

    #[tokio::test]
    async fn sqlite_history_is_written_updated_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("h.db"));
        let sink = Sink::connect(&url).await.unwrap();
        sink.insert_import(&row("a")).await.unwrap();
        sink.insert_import(&row("b")).await.unwrap();
        let started = now();
        sink.start_import("a", &started).await.unwrap();
        let end = ImportEnd {
            status: "failed",
            rows_read: 10,
            inserted: 4,
            updated: 2,
            skipped: 1,
            rejected: 2,
            finished_at: &now(),
            error: Some("boom"),
        };
        sink.finish_import("a", &end).await.unwrap();
        let a = sink.get_import("a").await.unwrap().unwrap();
        assert_eq!(
            (a.status.as_str(), a.rows_read, a.inserted, a.rejected),
            ("failed", 10, 4, 2)
        );
        assert_eq!((a.mode.as_str(), a.updated, a.skipped), ("upsert", 2, 1));
        assert_eq!(a.started_at.as_deref(), Some(started.as_str()));
        assert_eq!(a.error.as_deref(), Some("boom"));
        assert_eq!(a.filename, "../../etc/passwd.xlsx");
        assert_eq!(a.table_name.as_deref(), Some("businesses"));
        assert_eq!(a.rejects_files, ["/tmp/r.csv"]);
        let (page, total) = sink.list_imports(1, 0).await.unwrap();
        assert_eq!(total, 2);
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id, "b", "newest first");
        assert!(sink.get_import("zzz").await.unwrap().is_none());
        // Reopening keeps the history (the schema creation is idempotent).
        drop(sink);
        let again = Sink::connect(&url).await.unwrap();
        assert_eq!(again.list_imports(10, 0).await.unwrap().1, 2);
    }
}
