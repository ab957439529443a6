//! The service's API keys on MySQL/MariaDB (see `sink::keys` for what they
//! hold and why only their SHA-256 is kept). Timestamps are the service's
//! RFC 3339 text, as in the `imports` table.

use mysql_async::prelude::Queryable;

use super::{fatal, MySqlSink};
use crate::sink::DbError;

/// The DDL, idempotent.
pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
    name        VARCHAR(64) NOT NULL PRIMARY KEY,
    role        VARCHAR(16) NOT NULL,
    key_sha256  CHAR(64) NOT NULL UNIQUE,
    created_at  VARCHAR(32) NOT NULL,
    revoked_at  VARCHAR(32)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

fn err(e: mysql_async::Error) -> DbError {
    DbError::new(format!("api_keys table: {}", fatal(e).message))
}

/// Stores a new key; false when the name is taken.
pub async fn create(
    s: &MySqlSink,
    name: &str,
    role: &str,
    hash: &str,
    at: &str,
) -> Result<bool, DbError> {
    let mut c = s.conn().await?;
    // Not INSERT IGNORE: that would also turn a real error into a warning.
    let taken: Option<i64> = c
        .exec_first("SELECT 1 FROM api_keys WHERE name = ?", (name,))
        .await
        .map_err(err)?;
    if taken.is_some() {
        return Ok(false);
    }
    let sql = "INSERT INTO api_keys (name, role, key_sha256, created_at) VALUES (?, ?, ?, ?)";
    match c.exec_drop(sql, (name, role, hash, at)).await {
        Ok(()) => Ok(true),
        // Another process created the same name just now.
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => Ok(false),
        Err(e) => Err(err(e)),
    }
}

/// Every key by name: name, role, created, revoked.
pub async fn list(s: &MySqlSink) -> Result<Vec<(String, String, String, Option<String>)>, DbError> {
    let mut c = s.conn().await?;
    c.query("SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY name")
        .await
        .map_err(err)
}

/// Revokes a live key; false when there is none of that name.
pub async fn revoke(s: &MySqlSink, name: &str, at: &str) -> Result<bool, DbError> {
    let mut c = s.conn().await?;
    let sql = "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL";
    c.exec_drop(sql, (at, name)).await.map_err(err)?;
    Ok(c.affected_rows() == 1)
}

/// The live key with this hash: name and role.
pub async fn find(s: &MySqlSink, hash: &str) -> Result<Option<(String, String)>, DbError> {
    let mut c = s.conn().await?;
    let sql = "SELECT name, role FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL";
    c.exec_first(sql, (hash,)).await.map_err(err)
}

/// The owner of import `id` (`None`: no such import).
pub async fn owner(s: &MySqlSink, id: &str) -> Result<Option<Option<String>>, DbError> {
    let mut c = s.conn().await?;
    c.exec_first("SELECT owner FROM imports WHERE id = ?", (id,))
        .await
        .map_err(err)
}
