//! Keeping the `imports` history true over time: columns added to tables
//! made by older versions (SQLite has no `ADD COLUMN IF NOT EXISTS`), and
//! noting that an import's reject report was removed by retention.

use tokio_postgres::types::ToSql;

use super::imports::pg_execute;
use super::{DbError, Sink};

/// Columns added to `imports` after its first version, with their SQLite type.
const ADDED_COLUMNS: [(&str, &str); 7] = [
    ("rejects_removed_at", "TEXT"),
    ("table_name", "TEXT"),
    ("rejects_files", "TEXT"),
    ("owner", "TEXT"),
    ("mode", "TEXT NOT NULL DEFAULT 'append'"),
    ("updated", "INTEGER NOT NULL DEFAULT 0"),
    ("skipped", "INTEGER NOT NULL DEFAULT 0"),
];

/// Adds the columns an older `imports` table lacks.
pub(super) fn migrate_sqlite(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('imports')")?;
    let have: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (name, ty) in ADDED_COLUMNS {
        if !have.iter().any(|h| h == name) {
            conn.execute_batch(&format!("ALTER TABLE imports ADD COLUMN {name} {ty}"))?;
        }
    }
    conn.execute_batch(super::imports::SQLITE_INDEXES)
}

impl Sink {
    /// Records that import `id`'s reject report was removed at `at`.
    pub async fn mark_rejects_removed(&self, id: &str, at: &str) -> Result<(), DbError> {
        const PG: &str =
            "UPDATE imports SET rejects_removed_at = $2::text::timestamptz WHERE id = $1";
        const LITE: &str = "UPDATE imports SET rejects_removed_at = ?2 WHERE id = ?1";
        match self {
            Sink::Postgres(s) => {
                let params: [&(dyn ToSql + Sync); 2] = [&id, &at];
                pg_execute(s, PG, &params).await
            }
            Sink::Sqlite(s) => {
                let (id, at) = (id.to_string(), at.to_string());
                s.with_conn(move |c| c.execute(LITE, [id, at]).map(drop))
                    .await
            }
            Sink::Mysql(s) => super::mysql::history::mark_rejects_removed(s, id, at).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_old_sqlite_imports_table_gains_the_new_columns() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE imports (id TEXT PRIMARY KEY, sha256 TEXT)")
            .unwrap();
        super::migrate_sqlite(&conn).unwrap();
        super::migrate_sqlite(&conn).unwrap(); // idempotent
        conn.execute(
            "INSERT INTO imports (id, rejects_removed_at, table_name, rejects_files) \
             VALUES ('a', 'x', 't', '[]')",
            [],
        )
        .unwrap();
        let (mode, updated, skipped): (String, i64, i64) = conn
            .query_row("SELECT mode, updated, skipped FROM imports", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((mode.as_str(), updated, skipped), ("append", 0, 0));
    }
}
