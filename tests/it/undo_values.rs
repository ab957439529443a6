//! Undo gives back the very values a row held: on PostgreSQL a `json`
//! column's document as written (the before-images are json text, not
//! jsonb), also from undo data an earlier sheetpipe saved as jsonb, on a
//! database whose `sheetpipe_undo_rows` it then upgrades; on SQLite it
//! refuses a table whose own column is named `rowid` rather than find rows
//! by that column.

use crate::helpers::{json_out, run_cli, tempdir, TestDb};
use crate::undo::{id_of, undo};

/// PostgreSQL: undo gives a `json` column back its document as written —
/// spacing, key order and a repeated key, which jsonb would normalize —
/// through upsert and replace.
#[tokio::test]
async fn postgres_undo_restores_a_json_document_as_written() {
    let db = TestDb::postgres().await;
    let dir = tempdir();
    db.execute("CREATE TABLE docs (k TEXT PRIMARY KEY, doc JSON, x FLOAT8)")
        .await;
    db.execute(
        "INSERT INTO docs VALUES ('a', '{\"b\":1,  \"a\":2, \"a\":3}', 'Infinity'), \
         ('b', '[1,   2]', 1.5), ('c', '{}', 0)",
    )
    .await;
    let shown = "SELECT k, doc::text, x::text FROM docs ORDER BY k";
    let before = db.query(shown).await;
    let file = dir.path().join("docs.csv");
    std::fs::write(&file, "k,doc,x\na,\"{\"\"n\"\": 1}\",1\nb,[3],2\n").unwrap();
    for mode in ["upsert", "replace"] {
        let args = [
            "import",
            file.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--table",
            "docs",
            "--mode",
            mode,
            "--json",
        ];
        let out = run_cli(dir.path(), &args);
        let v = json_out(&out);
        assert!(out.status.success(), "{mode} {v}");
        assert_ne!(db.query(shown).await, before, "{mode}");
        // `before` holds a JSON string, on which an earlier sheetpipe's
        // undo fails instead of restoring NULLs (a rolling upgrade).
        let kinds = db
            .query("SELECT DISTINCT jsonb_typeof(before) FROM sheetpipe_undo_rows")
            .await;
        assert_eq!(kinds, [[Some("string".to_string())]], "{mode}");
        let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
        assert_eq!(code, 0, "{mode} {u}");
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
    db.execute("CREATE TABLE old (k TEXT PRIMARY KEY, n INT, t TEXT)")
        .await;
    db.execute("INSERT INTO old VALUES ('a', 1, 'x'), ('b', 2, NULL)")
        .await;
    let shown = "SELECT k, n::text, t FROM old ORDER BY k";
    let before = db.query(shown).await;
    let file = dir.path().join("old.csv");
    std::fs::write(&file, "k,n,t\na,10,y\nc,3,z\n").unwrap();
    let args = [
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--table",
        "old",
        "--mode",
        "upsert",
        "--json",
    ];
    let out = run_cli(dir.path(), &args);
    let v = json_out(&out);
    assert!(out.status.success(), "{v}");
    db.execute(
        "UPDATE sheetpipe_undo_rows SET before = before_json::jsonb; \
         ALTER TABLE sheetpipe_undo_rows DROP COLUMN before_json",
    )
    .await;
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (u["deleted"].as_u64(), u["restored"].as_u64()),
        (Some(1), Some(1)),
        "{u}"
    );
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
/// the column, not the rowid undo finds rows by: its imports work (an
/// upsert finds rows by key) and keep no undo data, and undo refuses them
/// clearly, changing nothing, instead of checking and deleting by the
/// column's values.
#[tokio::test]
async fn sqlite_undo_refuses_a_table_whose_column_is_named_rowid() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    db.execute("CREATE TABLE shadow (rowid INTEGER, k TEXT PRIMARY KEY, name TEXT)")
        .await;
    db.execute("INSERT INTO shadow VALUES (2, 'a', 'keep me')")
        .await;
    let file = dir.path().join("shadow.csv");
    std::fs::write(&file, "rowid,k,name\n7,b,x\n8,a,y\n").unwrap();
    let args = [
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--table",
        "shadow",
        "--mode",
        "upsert",
        "--json",
    ];
    let out = run_cli(dir.path(), &args);
    let v = json_out(&out);
    assert!(out.status.success(), "{v}");
    assert_eq!(
        (&v["stats"]["inserted"], &v["stats"]["updated"]),
        (&1.into(), &1.into()),
        "{v}"
    );
    let shown = "SELECT rowid, k, name FROM shadow ORDER BY k";
    let after = db.query(shown).await;
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 9, "{u}");
    assert!(
        u["error"].as_str().unwrap().contains("column named rowid"),
        "{u}"
    );
    assert_eq!(db.query(shown).await, after);
}
