//! sheetpipe's own `imports` and `import_ledger` tables on MySQL (see
//! `sink::imports` for what they hold). Timestamps are the service's RFC
//! 3339 text in a VARCHAR, so every backend reads back the same text;
//! `seq` orders the listing. Committed counts ride in `import_ledger`, one
//! row per unit, in the unit's own transaction (as on PostgreSQL).

use mysql_async::prelude::Queryable;
use mysql_async::Row;

use super::{fatal, MySqlSink};
use crate::sink::imports::{ImportEnd, ImportRow};
use crate::sink::DbError;

/// The DDL, idempotent (two statements in one text protocol query). A new
/// `imports` table has every column and index at once; [`migrate`] and
/// [`add_owner_column`] bring an older one up to it (on a new database
/// they find nothing to do: six `ALTER TABLE`s there took about 0.13 s).
pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS imports (
    id          VARCHAR(64) NOT NULL PRIMARY KEY,
    seq         BIGINT NOT NULL AUTO_INCREMENT UNIQUE,
    filename    TEXT NOT NULL,
    sha256      VARCHAR(64) NOT NULL,
    method      VARCHAR(32) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    bytes       BIGINT NOT NULL DEFAULT 0,
    rows_read   BIGINT NOT NULL DEFAULT 0,
    inserted    BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    created_at  VARCHAR(32) NOT NULL,
    started_at  VARCHAR(32),
    finished_at VARCHAR(32),
    error       TEXT,
    rejects_removed_at VARCHAR(32),
    table_name  TEXT,
    rejects_files TEXT,
    mode        VARCHAR(16) NOT NULL DEFAULT 'append',
    updated     BIGINT NOT NULL DEFAULT 0,
    skipped     BIGINT NOT NULL DEFAULT 0,
    owner       VARCHAR(64),
    INDEX idx_imports_sha256 (sha256),
    INDEX idx_imports_owner (owner)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS import_ledger (
    import_id   VARCHAR(64) NOT NULL,
    inserted    BIGINT NOT NULL,
    INDEX idx_import_ledger_import_id (import_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
";

/// Columns added to `imports` after its first version (MySQL has no
/// `ADD COLUMN IF NOT EXISTS`; MariaDB has, but both read
/// `information_schema`), then the index the same-file check reads.
const ADDED_COLUMNS: [(&str, &str); 5] = [
    ("table_name", "TEXT"),
    ("rejects_files", "TEXT"),
    ("mode", "VARCHAR(16) NOT NULL DEFAULT 'append'"),
    ("updated", "BIGINT NOT NULL DEFAULT 0"),
    ("skipped", "BIGINT NOT NULL DEFAULT 0"),
];

/// Adds what an older `imports` table lacks (idempotent).
pub async fn migrate(conn: &mut mysql_async::Conn) -> Result<(), DbError> {
    let have: Vec<String> = conn
        .query(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = 'imports'",
        )
        .await
        .map_err(err)?;
    for (name, ty) in ADDED_COLUMNS {
        if !have.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            let sql = format!("ALTER TABLE imports ADD COLUMN {name} {ty}");
            conn.query_drop(sql).await.map_err(err)?;
        }
    }
    let indexed: Option<i64> = conn
        .query_first(
            "SELECT count(*) FROM information_schema.statistics WHERE table_schema = DATABASE() \
             AND table_name = 'imports' AND index_name = 'idx_imports_sha256'",
        )
        .await
        .map_err(err)?;
    if indexed.unwrap_or(0) == 0 {
        conn.query_drop("CREATE INDEX idx_imports_sha256 ON imports (sha256)")
            .await
            .map_err(err)?;
    }
    Ok(())
}

fn err(e: mysql_async::Error) -> DbError {
    DbError::new(format!("imports table: {}", fatal(e).message))
}

/// Records a newly accepted import as `queued`.
pub async fn insert(s: &MySqlSink, r: &ImportRow) -> Result<(), DbError> {
    let sql = crate::sink::history_columns::insert_sql(&[], |_| "?".into(), |_| "");
    let params = (
        &r.id,
        &r.filename,
        &r.sha256,
        &r.method,
        &r.mode,
        &r.status,
        r.bytes,
        &r.created_at,
        &r.table_name,
        crate::sink::imports::encode_files(&r.rejects_files),
        &r.owner,
    );
    s.conn().await?.exec_drop(sql, params).await.map_err(err)
}

/// Marks an import `running`.
pub async fn start(s: &MySqlSink, id: &str, at: &str) -> Result<(), DbError> {
    let sql = "UPDATE imports SET status = 'running', started_at = ? WHERE id = ?";
    s.conn().await?.exec_drop(sql, (at, id)).await.map_err(err)
}

/// Records the SHA-256 of import `id`'s file.
pub async fn set_sha256(s: &MySqlSink, id: &str, sha256: &str) -> Result<(), DbError> {
    let sql = "UPDATE imports SET sha256 = ? WHERE id = ?";
    s.conn()
        .await?
        .exec_drop(sql, (sha256, id))
        .await
        .map_err(err)
}

/// Records that import `id`'s reject report was removed at `at`.
pub async fn mark_rejects_removed(s: &MySqlSink, id: &str, at: &str) -> Result<(), DbError> {
    let sql = "UPDATE imports SET rejects_removed_at = ? WHERE id = ?";
    s.conn().await?.exec_drop(sql, (at, id)).await.map_err(err)
}

/// Folds the ledger into unfinished imports and marks them failed — all but
/// a CLI import whose process still holds its lock
/// ([`super::undo::hold_lock`]): the set is read once, so an import whose
/// process dies meanwhile is either swept whole or left whole.
pub async fn interrupt_unfinished(s: &MySqlSink, at: &str) -> Result<u64, DbError> {
    let mut c = s.conn().await?;
    let mut tx = c.start_transaction(Default::default()).await.map_err(err)?;
    let ids: Vec<String> = tx
        .query(
            "SELECT id FROM imports WHERE status IN ('queued', 'running') AND \
             IS_USED_LOCK(CONCAT('sheetpipe_import_', id)) IS NULL FOR UPDATE",
        )
        .await
        .map_err(err)?;
    if ids.is_empty() {
        tx.commit().await.map_err(err)?;
        return Ok(0);
    }
    let these = vec!["?"; ids.len()].join(", ");
    let params = || mysql_async::Params::Positional(ids.iter().map(|i| i.into()).collect());
    tx.exec_drop(
        format!(
            "UPDATE imports SET inserted = inserted + COALESCE((SELECT sum(l.inserted) \
             FROM import_ledger l WHERE l.import_id = imports.id), 0) WHERE id IN ({these})"
        ),
        params(),
    )
    .await
    .map_err(err)?;
    tx.exec_drop(
        format!("DELETE FROM import_ledger WHERE import_id IN ({these})"),
        params(),
    )
    .await
    .map_err(err)?;
    let mut values: Vec<mysql_async::Value> = vec![at.into()];
    values.extend(ids.iter().map(|i| i.into()));
    tx.exec_drop(
        format!(
            "UPDATE imports SET error = CONCAT('interrupted: the server stopped while this \
             import was ', status, '; ', inserted, ' rows had been committed (counted in \
             inserted); the rest of the file was not imported'), status = 'failed', \
             finished_at = ? WHERE id IN ({these})"
        ),
        mysql_async::Params::Positional(values),
    )
    .await
    .map_err(err)?;
    let marked = tx.affected_rows();
    tx.commit().await.map_err(err)?;
    Ok(marked)
}

/// Writes the final state; the ledger's entries for it go.
pub async fn finish(s: &MySqlSink, id: &str, e: &ImportEnd<'_>) -> Result<(), DbError> {
    let mut c = s.conn().await?;
    let mut tx = c.start_transaction(Default::default()).await.map_err(err)?;
    tx.exec_drop("DELETE FROM import_ledger WHERE import_id = ?", (id,))
        .await
        .map_err(err)?;
    tx.exec_drop(
        "UPDATE imports SET status = ?, rows_read = ?, inserted = ?, rejected = ?, \
         finished_at = ?, error = ?, updated = ?, skipped = ? WHERE id = ?",
        (
            e.status,
            e.rows_read,
            e.inserted,
            e.rejected,
            e.finished_at,
            e.error,
            e.updated,
            e.skipped,
            id,
        ),
    )
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)
}

/// One import by id.
pub async fn get(s: &MySqlSink, id: &str) -> Result<Option<ImportRow>, DbError> {
    let sql = format!("{} WHERE id = ?", select());
    let row: Option<Row> = s.conn().await?.exec_first(sql, (id,)).await.map_err(err)?;
    row.map(from_row).transpose()
}

/// Newest first (of `owner`'s imports only, when given), and the total.
pub async fn list(
    s: &MySqlSink,
    owner: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ImportRow>, i64), DbError> {
    let mut c = s.conn().await?;
    let sql = format!(
        "{} WHERE (? IS NULL OR owner = ?) ORDER BY seq DESC LIMIT ? OFFSET ?",
        select()
    );
    let rows: Vec<Row> = c
        .exec(sql, (owner, owner, limit, offset))
        .await
        .map_err(err)?;
    let total: Option<i64> = c
        .exec_first(
            "SELECT count(*) FROM imports WHERE (? IS NULL OR owner = ?)",
            (owner, owner),
        )
        .await
        .map_err(err)?;
    let rows = rows.into_iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((rows, total.unwrap_or(0)))
}

/// The newest import matching `filter` (a `WHERE` text with `?`s for
/// `params`).
pub async fn newest_where<P>(
    s: &MySqlSink,
    filter: &str,
    params: P,
) -> Result<Option<ImportRow>, DbError>
where
    P: Into<mysql_async::Params> + Send,
{
    let sql = format!("{} WHERE {filter} ORDER BY seq DESC LIMIT 1", select());
    let row: Option<Row> = s.conn().await?.exec_first(sql, params).await.map_err(err)?;
    row.map(from_row).transpose()
}

/// Adds `imports.owner` (the API key's name, see `sink::keys`) to a table
/// made before it, checked in `information_schema` (MySQL has no `ADD
/// COLUMN IF NOT EXISTS`; MariaDB's is not portable).
pub async fn add_owner_column(c: &mut mysql_async::Conn) -> Result<(), DbError> {
    let have: Option<i64> = c
        .query_first(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = 'imports' AND column_name = 'owner'",
        )
        .await
        .map_err(err)?;
    if have.is_none() {
        c.query_drop(
            "ALTER TABLE imports ADD COLUMN owner VARCHAR(64), ADD INDEX idx_imports_owner (owner)",
        )
        .await
        .map_err(err)?;
    }
    Ok(())
}

fn select() -> String {
    crate::sink::history_columns::mysql_select()
}

fn from_row(mut r: Row) -> Result<ImportRow, DbError> {
    crate::sink::history_columns::read_row(MyGet(&mut r))
}

/// MySQL's rows, for [`crate::sink::history_columns::read_row`].
struct MyGet<'a>(&'a mut Row);

impl MyGet<'_> {
    fn take<T: mysql_async::prelude::FromValue>(&mut self, i: usize) -> Result<T, DbError> {
        self.0
            .take_opt(i)
            .ok_or_else(|| DbError::new(format!("imports table: no column {i}")))?
            .map_err(|e| DbError::new(format!("imports table: column {i}: {e}")))
    }
}

impl crate::sink::history_columns::Getter<DbError> for MyGet<'_> {
    fn text(&mut self, i: usize) -> Result<String, DbError> {
        self.take(i)
    }
    fn opt_text(&mut self, i: usize) -> Result<Option<String>, DbError> {
        self.take(i)
    }
    fn int(&mut self, i: usize) -> Result<i64, DbError> {
        self.take(i)
    }
}
