//! Undo gives back the very values a row held: on SQLite an infinite REAL
//! and TEXT that is not UTF-8; on PostgreSQL a `json` column's document as
//! written (the before-images are json text, not jsonb), also from undo
//! data an earlier sheetpipe saved as jsonb, on a database whose
//! `sheetpipe_undo_rows` it then upgrades; on SQLite it finds rows by
//! `_rowid_` in a table whose own column is named `rowid`, and refuses a
//! table whose columns take all of the rowid's names.

use std::path::Path;

use serde_json::Value;

use crate::helpers::{tempdir, TestDb};
use crate::modes::import_into;
use crate::undo::{id_of, undo, undone};

/// `table` made by `ddl` and filled by `rows` (SQL), and `csv` written
/// beside: the file's path.
async fn table_and_file(
    db: &TestDb,
    dir: &Path,
    ddl: &str,
    rows: &str,
    csv: &str,
) -> std::path::PathBuf {
    db.execute(ddl).await;
    db.execute(rows).await;
    let file = dir.join("file.csv");
    std::fs::write(&file, csv).unwrap();
    file
}

/// Imports `file` into `table` with `mode`, which must succeed and change
/// what `shown` reads from `before`: the import's report.
async fn imported(
    db: &TestDb,
    file: &Path,
    table: &str,
    mode: &str,
    shown: &str,
    before: &[Vec<Option<String>>],
) -> Value {
    let (out, v) = import_into(db, file, table, &["--mode", mode]);
    assert!(out.status.success(), "{mode} {v}");
    assert_ne!(db.query(shown).await, before, "{mode}");
    v
}

/// Undo gives an upserted or replaced row back the very values it held:
/// a REAL of infinity (JSON has no such number) and TEXT that is not valid
/// UTF-8 (stored so by another program) survive the before-image.
#[tokio::test]
async fn sqlite_undo_restores_infinite_reals_and_text_that_is_not_utf8() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let file = table_and_file(
        &db,
        dir.path(),
        "CREATE TABLE m (k TEXT PRIMARY KEY, x REAL, t TEXT)",
        "INSERT INTO m VALUES ('a', 9e999, CAST(x'ff41' AS TEXT)), ('b', -9e999, 'ok'), \
         ('c', 1.5, 'ok')",
        "k,x,t\na,1,new\nb,2,new\n",
    )
    .await;
    let shown = "SELECT k, quote(x), hex(t), typeof(t) FROM m ORDER BY k";
    let before = db.query(shown).await;
    for mode in ["upsert", "replace"] {
        let v = imported(&db, &file, "m", mode, shown, &before).await;
        undone(&db, dir.path(), &id_of(&v));
        assert_eq!(db.query(shown).await, before, "{mode}");
    }
}

/// PostgreSQL: undo gives a `json` column back its document as written —
/// spacing, key order and a repeated key, which jsonb would normalize —
/// through upsert and replace.
#[tokio::test]
async fn postgres_undo_restores_a_json_document_as_written() {
    let db = TestDb::postgres().await;
    let dir = tempdir();
    let file = table_and_file(
        &db,
        dir.path(),
        "CREATE TABLE docs (k TEXT PRIMARY KEY, doc JSON, x FLOAT8)",
        "INSERT INTO docs VALUES ('a', '{\"b\":1,  \"a\":2, \"a\":3}', 'Infinity'), \
         ('b', '[1,   2]', 1.5), ('c', '{}', 0)",
        "k,doc,x\na,\"{\"\"n\"\": 1}\",1\nb,[3],2\n",
    )
    .await;
    let shown = "SELECT k, doc::text, x::text FROM docs ORDER BY k";
    let before = db.query(shown).await;
    for mode in ["upsert", "replace"] {
        let v = imported(&db, &file, "docs", mode, shown, &before).await;
        // `before` holds a JSON string, on which an earlier sheetpipe's
        // undo fails instead of restoring NULLs (a rolling upgrade).
        let kinds = db
            .query("SELECT DISTINCT jsonb_typeof(before) FROM sheetpipe_undo_rows")
            .await;
        assert_eq!(kinds, [[Some("string".to_string())]], "{mode}");
        undone(&db, dir.path(), &id_of(&v));
        assert_eq!(db.query(shown).await, before, "{mode}");
    }
}

/// An earlier sheetpipe's database: `sheetpipe_undo_rows` without
/// `before_json`, the rows in its `before` (jsonb). The next sheetpipe adds
/// the column and undoes from the jsonb entries (whose values jsonb kept:
/// no `json` column here).
#[tokio::test]
async fn postgres_undo_reads_before_images_an_earlier_sheetpipe_saved_as_jsonb() {
    let db = TestDb::postgres().await;
    let dir = tempdir();
    let file = table_and_file(
        &db,
        dir.path(),
        "CREATE TABLE old (k TEXT PRIMARY KEY, n INT, t TEXT)",
        "INSERT INTO old VALUES ('a', 1, 'x'), ('b', 2, NULL)",
        "k,n,t\na,10,y\nc,3,z\n",
    )
    .await;
    let shown = "SELECT k, n::text, t FROM old ORDER BY k";
    let before = db.query(shown).await;
    let v = imported(&db, &file, "old", "upsert", shown, &before).await;
    db.execute(
        "UPDATE sheetpipe_undo_rows SET before = before_json::jsonb; \
         ALTER TABLE sheetpipe_undo_rows DROP COLUMN before_json",
    )
    .await;
    assert_eq!(undone(&db, dir.path(), &id_of(&v)), (1, 1));
    assert_eq!(db.query(shown).await, before);
    let upgraded = db
        .query(
            "SELECT count(*)::text FROM information_schema.columns \
             WHERE table_name = 'sheetpipe_undo_rows' AND column_name = 'before_json'",
        )
        .await;
    assert_eq!(upgraded[0][0].as_deref(), Some("1"));
}

/// SQLite: in a table with a column of its own named `rowid` that name is
/// the column, not the rowid; undo finds rows by `_rowid_` instead. Each
/// mode's import is undone exactly — here the column's values are other
/// rows' rowids, so checking or deleting by them would refuse the undo or
/// delete the wrong row.
#[tokio::test]
async fn sqlite_undo_finds_rows_by_another_name_when_a_column_is_named_rowid() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    table_and_file(
        &db,
        dir.path(),
        "CREATE TABLE shadow (rowid INTEGER, k TEXT PRIMARY KEY, name TEXT)",
        "INSERT INTO shadow VALUES (2, 'a', 'keep me'), (1, 'z', 'and me')",
        "",
    )
    .await;
    let shown = "SELECT _rowid_, rowid, k, name FROM shadow ORDER BY k";
    let before = db.query(shown).await;
    for (mode, csv, expected) in [
        ("append", "rowid,k,name\n7,b,x\n1,c,y\n", (2, 0)),
        ("upsert", "rowid,k,name\n7,b,x\n1,a,y\n", (1, 1)),
        ("replace", "rowid,k,name\n2,b,x\n1,c,y\n", (2, 2)),
    ] {
        let file = dir.path().join(format!("{mode}.csv"));
        std::fs::write(&file, csv).unwrap();
        let v = imported(&db, &file, "shadow", mode, shown, &before).await;
        assert_eq!(undone(&db, dir.path(), &id_of(&v)), expected, "{mode}");
        assert_eq!(db.query(shown).await, before, "{mode}");
    }
}

/// SQLite: a table with columns named `rowid`, `_rowid_` and `oid` leaves
/// no name for its rowid: its imports work (an upsert finds rows by key)
/// and keep no undo data, and undo refuses them clearly, changing nothing.
#[tokio::test]
async fn sqlite_undo_refuses_a_table_whose_columns_take_every_rowid_name() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let file = table_and_file(
        &db,
        dir.path(),
        "CREATE TABLE shadow (rowid INTEGER, _rowid_ INTEGER, oid INTEGER, \
         k TEXT PRIMARY KEY, name TEXT)",
        "INSERT INTO shadow VALUES (2, 2, 2, 'a', 'keep me')",
        "k,name\nb,x\na,y\n",
    )
    .await;
    let shown = "SELECT rowid, k, name FROM shadow ORDER BY k";
    let before = db.query(shown).await;
    let v = imported(&db, &file, "shadow", "upsert", shown, &before).await;
    assert_eq!(
        (&v["stats"]["inserted"], &v["stats"]["updated"]),
        (&1.into(), &1.into()),
        "{v}"
    );
    let after = db.query(shown).await;
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 9, "{u}");
    assert!(
        u["error"]
            .as_str()
            .unwrap()
            .contains("columns named rowid, _rowid_ and oid"),
        "{u}"
    );
    assert_eq!(db.query(shown).await, after);
}
