//! The column matchings people chose on the importer page, kept in
//! `sheetpipe_mappings` on every backend and offered again by `POST
//! /preview` for the same table and the same set of headers.
//!
//! A matching is keyed by the table's name and the SHA-256 of the file's
//! headers, normalized ([`normalize_header`]) and sorted, so the order of
//! the columns and their case or spacing do not matter. It is kept as the
//! JSON text of `{header: column or "-"}` (the `map=` words). The table is
//! created by the first save (`CREATE TABLE IF NOT EXISTS`, on PostgreSQL
//! under an advisory lock); reading before any save finds nothing.

use mysql_async::prelude::Queryable;
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

use super::imports::{pg_error, pg_execute};
use super::{DbError, Sink};
use crate::record::normalize_header;

const POSTGRES: &str = "CREATE TABLE IF NOT EXISTS sheetpipe_mappings (
    table_name      TEXT NOT NULL,
    headers_sha256  TEXT NOT NULL,
    mapping         TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (table_name, headers_sha256)
)";

const MYSQL: &str = "CREATE TABLE IF NOT EXISTS sheetpipe_mappings (
    table_name      VARCHAR(255) NOT NULL,
    headers_sha256  CHAR(64) NOT NULL,
    mapping         MEDIUMTEXT NOT NULL,
    updated_at      VARCHAR(32) NOT NULL,
    PRIMARY KEY (table_name, headers_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/// The key of a set of headers: SHA-256 (hex) of the non-empty normalized
/// headers, sorted, one per line.
pub fn headers_key(headers: &[String]) -> String {
    let mut keys: Vec<String> = headers
        .iter()
        .map(|h| normalize_header(h))
        .filter(|h| !h.is_empty())
        .collect();
    keys.sort();
    crate::source::digest::hex(&Sha256::digest(keys.join("\n").as_bytes()))
}

fn my_err(e: mysql_async::Error) -> DbError {
    DbError::new(format!(
        "sheetpipe_mappings table: {}",
        super::mysql::fatal(e).message
    ))
}

impl Sink {
    /// Saves (or replaces) the matching `mapping` (JSON text) of `table`
    /// for the headers whose [`headers_key`] is `key`.
    pub async fn save_mapping(
        &self,
        table: &str,
        key: &str,
        mapping: &str,
        at: &str,
    ) -> Result<(), DbError> {
        match self {
            Sink::Postgres(s) => {
                let c = s.connection().await?;
                c.batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock(7158235); {POSTGRES}; COMMIT;"
                ))
                .await
                .map_err(pg_error)?;
                drop(c);
                const UPSERT: &str = "INSERT INTO sheetpipe_mappings \
                     (table_name, headers_sha256, mapping, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (table_name, headers_sha256) \
                     DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at";
                let params: [&(dyn ToSql + Sync); 4] = [&table, &key, &mapping, &at];
                pg_execute(s, UPSERT, &params).await
            }
            Sink::Sqlite(s) => {
                let p = [table, key, mapping, at].map(str::to_string);
                s.with_conn(move |c| {
                    c.execute_batch(POSTGRES)?;
                    c.execute(
                        "INSERT INTO sheetpipe_mappings \
                         (table_name, headers_sha256, mapping, updated_at) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (table_name, headers_sha256) \
                         DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at",
                        p,
                    )
                    .map(drop)
                })
                .await
            }
            Sink::Mysql(s) => {
                let mut c = s.conn().await?;
                c.query_drop(MYSQL).await.map_err(my_err)?;
                c.exec_drop(
                    "INSERT INTO sheetpipe_mappings \
                     (table_name, headers_sha256, mapping, updated_at) VALUES (?, ?, ?, ?) \
                     ON DUPLICATE KEY UPDATE mapping = VALUES(mapping), updated_at = VALUES(updated_at)",
                    (table, key, mapping, at),
                )
                .await
                .map_err(my_err)
            }
        }
    }

    /// The matching saved for `table` and the headers keyed `key`, if any
    /// (none before the first save made the table).
    pub async fn saved_mapping(&self, table: &str, key: &str) -> Result<Option<String>, DbError> {
        match self {
            Sink::Postgres(s) => {
                let c = s.connection().await?;
                let sql = "SELECT mapping FROM sheetpipe_mappings \
                           WHERE table_name = $1 AND headers_sha256 = $2";
                let present = c
                    .query_one("SELECT to_regclass('sheetpipe_mappings') IS NOT NULL", &[])
                    .await
                    .map_err(pg_error)?;
                if !present.get::<_, bool>(0) {
                    return Ok(None);
                }
                let rows = c.query(sql, &[&table, &key]).await.map_err(pg_error)?;
                Ok(rows.first().map(|r| r.get(0)))
            }
            Sink::Sqlite(s) => {
                let p = [table, key].map(str::to_string);
                s.with_conn(move |c| {
                    let present: bool = c.query_row(
                        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sheetpipe_mappings'",
                        [],
                        |r| r.get(0),
                    )?;
                    if !present {
                        return Ok(None);
                    }
                    let mut stmt = c.prepare(
                        "SELECT mapping FROM sheetpipe_mappings \
                         WHERE table_name = ?1 AND headers_sha256 = ?2",
                    )?;
                    let mut rows = stmt.query_map(p, |r| r.get(0))?;
                    rows.next().transpose()
                })
                .await
            }
            Sink::Mysql(s) => {
                let mut c = s.conn().await?;
                let present: Option<i64> = c
                    .query_first(
                        "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() \
                         AND table_name = 'sheetpipe_mappings'",
                    )
                    .await
                    .map_err(my_err)?;
                if present.is_none() {
                    return Ok(None);
                }
                c.exec_first(
                    "SELECT mapping FROM sheetpipe_mappings \
                     WHERE table_name = ? AND headers_sha256 = ?",
                    (table, key),
                )
                .await
                .map_err(my_err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::DatabaseUrl;

    #[test]
    fn the_key_ignores_order_case_and_spacing_but_not_the_headers() {
        let a = headers_key(&["Name".into(), "E-Mail".into(), "".into()]);
        assert_eq!(a, headers_key(&["e mail".into(), " name ".into()]));
        assert_ne!(a, headers_key(&["Name".into(), "Phone".into()]));
    }

    #[tokio::test]
    async fn sqlite_mappings_are_saved_replaced_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Sink::connect(&DatabaseUrl::Sqlite(dir.path().join("m.db")))
            .await
            .unwrap();
        assert_eq!(sink.saved_mapping("t", "k").await.unwrap(), None);
        let at = crate::sink::imports::now();
        sink.save_mapping("t", "k", r#"{"A":"a"}"#, &at)
            .await
            .unwrap();
        sink.save_mapping("t", "k", r#"{"A":"-"}"#, &at)
            .await
            .unwrap();
        let found = sink.saved_mapping("t", "k").await.unwrap();
        assert_eq!(found.as_deref(), Some(r#"{"A":"-"}"#));
        assert_eq!(sink.saved_mapping("u", "k").await.unwrap(), None);
    }
}
