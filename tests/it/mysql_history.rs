//! sheetpipe's own `imports` table on MySQL/MariaDB: a new database gets
//! it whole at once, and one made by an older sheetpipe (the first
//! version's columns) gains the later columns and indexes before an
//! import writes to it. Skipped when MariaDB is unreachable outside CI.

use crate::helpers::{json_out, tempdir, TestDb};
use crate::history::{import, sheet};

/// The columns and the non-primary indexes of `imports`, by name.
async fn shape(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let names = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
    };
    let cols = db
        .query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = 'imports' ORDER BY column_name",
        )
        .await;
    let idx = db
        .query(
            "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = \
             DATABASE() AND table_name = 'imports' AND index_name LIKE 'idx_%' ORDER BY 1",
        )
        .await;
    (names(cols), names(idx))
}

fn import_one(db: &TestDb) -> serde_json::Value {
    let dir = tempdir();
    sheet(&dir.path().join("one.xlsx"), "one", 1, 0);
    let out = import(dir.path(), db, "one.xlsx", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_history_made_by_an_older_sheetpipe_gains_the_later_columns() {
    let Some(new) = TestDb::mysql().await else {
        return;
    };
    drop(new.bare_sink().await);
    let fresh = shape(&new).await;
    for col in ["table_name", "mode", "updated", "skipped", "owner"] {
        assert!(fresh.0.iter().any(|c| c == col), "{col}: {fresh:?}");
    }
    assert_eq!(fresh.1, ["idx_imports_owner", "idx_imports_sha256"]);

    let Some(old) = TestDb::mysql().await else {
        return;
    };
    old.execute(
        "CREATE TABLE imports (id VARCHAR(64) NOT NULL PRIMARY KEY, \
         seq BIGINT NOT NULL AUTO_INCREMENT UNIQUE, filename TEXT NOT NULL, \
         sha256 VARCHAR(64) NOT NULL, method VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL, \
         bytes BIGINT NOT NULL DEFAULT 0, rows_read BIGINT NOT NULL DEFAULT 0, \
         inserted BIGINT NOT NULL DEFAULT 0, rejected BIGINT NOT NULL DEFAULT 0, \
         created_at VARCHAR(32) NOT NULL, started_at VARCHAR(32), finished_at VARCHAR(32), \
         error TEXT, rejects_removed_at VARCHAR(32)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )
    .await;
    old.execute(
        "INSERT INTO imports (id, filename, sha256, method, status, created_at) \
         VALUES ('before', 'a.xlsx', 'ab', 'copy', 'completed', '2026-01-01T00:00:00Z')",
    )
    .await;
    let v = import_one(&old);
    assert_eq!(v["stats"]["success_count"], 1, "{v}");
    // The same columns and indexes as a new table has, and the earlier
    // row kept, read with the added columns' defaults.
    assert_eq!(shape(&old).await, fresh);
    let rows = old
        .query("SELECT id, mode, updated, table_name FROM imports ORDER BY seq")
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0],
        [
            Some("before".to_string()),
            Some("append".to_string()),
            Some("0".to_string()),
            None
        ]
    );
    assert_eq!(rows[1][3].as_deref(), Some("businesses"));
}
