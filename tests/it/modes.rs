//! Issue 14 item 1: `--mode append|upsert|skip-existing|replace`, `--key`,
//! `--duplicates`, `--empty-cells` — on PostgreSQL and SQLite through the
//! CLI with real workbooks, exact counts and table contents; and `mode=`
//! over HTTP on a real socket. MySQL/MariaDB: `mysql_modes.rs`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::api::spawn_app_with;
use crate::helpers::{json_out, run_cli, tempdir, write_xlsx, TestDb, X};

/// `items`: a text primary key, a NOT NULL name, a CHECKed quantity.
pub(crate) const ITEMS: &str = "CREATE TABLE items (code TEXT PRIMARY KEY, name TEXT NOT NULL, \
                     qty INTEGER CHECK (qty >= 0), note TEXT)";

/// A workbook of `items` rows: (code, name, qty, note), `None` = empty.
pub(crate) fn items_xlsx(
    dir: &Path,
    file: &str,
    rows: &[(&'static str, &'static str, f64, Option<&'static str>)],
) -> PathBuf {
    let path = dir.join(file);
    let mut sheet = vec![vec![X::S("code"), X::S("name"), X::S("qty"), X::S("note")]];
    for (code, name, qty, note) in rows {
        sheet.push(vec![
            X::S(code),
            X::S(name),
            X::N(*qty),
            note.map_or(X::E, X::S),
        ]);
    }
    write_xlsx(&path, &sheet);
    path
}

/// A fresh `items` table holding a=1 (note "old"), b=2.
pub(crate) async fn seeded(db: &TestDb) {
    db.execute(ITEMS).await;
    db.execute("INSERT INTO items VALUES ('a', 'Apple', 1, 'old'), ('b', 'Bean', 2, NULL)")
        .await;
}

/// `import FILE --table items --json` plus `extra`, on `db`.
pub(crate) fn import(db: &TestDb, file: &Path, extra: &[&str]) -> (std::process::Output, Value) {
    import_into(db, file, "items", extra)
}

/// `import FILE --table TABLE --json` plus `extra`, on `db`.
pub(crate) fn import_into(
    db: &TestDb,
    file: &Path,
    table: &str,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let dir = file.parent().unwrap();
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--table",
        table,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = run_cli(dir, &args);
    let v = json_out(&out);
    (out, v)
}

/// The table's rows as `code:name:qty:note` (`-` for NULL), by code.
pub(crate) async fn rows(db: &TestDb) -> Vec<String> {
    db.query("SELECT code, name, CAST(qty AS TEXT), note FROM items ORDER BY code")
        .await
        .into_iter()
        .map(|r| {
            r.iter()
                .map(|c| c.clone().unwrap_or_else(|| "-".into()))
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect()
}

/// (inserted, updated, skipped, success_count, error_count) of a report.
pub(crate) fn counts(v: &Value) -> (u64, u64, u64, u64, u64) {
    let s = &v["stats"];
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("stats.{k} in {v}"));
    (
        n("inserted"),
        n("updated"),
        n("skipped"),
        n("success_count"),
        n("error_count"),
    )
}

#[tokio::test]
async fn upsert_updates_the_mapped_columns_inserts_the_rest_and_reruns_safely() {
    for db in TestDb::both().await {
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(
            dir.path(),
            "u.xlsx",
            &[
                ("a", "Apricot", 10.0, Some("new")),
                ("c", "Cherry", 3.0, None),
            ],
        );
        let (out, v) = import(&db, &file, &["--mode", "upsert"]);
        assert!(out.status.success(), "{} {v}", db.backend());
        assert_eq!(counts(&v), (1, 1, 0, 2, 0), "{} {v}", db.backend());
        assert_eq!(v["mode"], "upsert");
        assert!(
            v["import_id"].as_str().is_some_and(|s| !s.is_empty()),
            "{v}"
        );
        assert_eq!(
            rows(&db).await,
            ["a:Apricot:10:new", "b:Bean:2:-", "c:Cherry:3:-"],
            "{}",
            db.backend()
        );
        // The same file again: allowed (no exit 7), every row now updates.
        let (out, v) = import(&db, &file, &["--mode", "upsert"]);
        assert!(out.status.success(), "{} {v}", db.backend());
        assert_eq!(counts(&v), (0, 2, 0, 2, 0), "{} {v}", db.backend());
        // The text output names the counts and the import.
        let text = run_cli(
            dir.path(),
            &[
                "import",
                file.to_str().unwrap(),
                "--database-url",
                &db.url,
                "--table",
                "items",
                "--mode",
                "upsert",
            ],
        );
        let text = String::from_utf8_lossy(&text.stdout).to_string();
        assert!(
            text.contains("0 rows inserted, 2 updated, 0 skipped") && text.contains("(import "),
            "{text}"
        );
    }
}

#[tokio::test]
async fn skip_existing_leaves_stored_rows_alone_and_counts_them() {
    for db in TestDb::both().await {
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(
            dir.path(),
            "s.xlsx",
            &[("a", "Apricot", 10.0, None), ("c", "Cherry", 3.0, None)],
        );
        let (out, v) = import(&db, &file, &["--mode", "skip-existing"]);
        assert!(out.status.success(), "{v}");
        assert_eq!(counts(&v), (1, 0, 1, 1, 0), "{} {v}", db.backend());
        assert_eq!(v["stats"]["unprocessed"], 0, "{v}");
        assert_eq!(
            rows(&db).await,
            ["a:Apple:1:old", "b:Bean:2:-", "c:Cherry:3:-"]
        );
        let (out, v) = import(&db, &file, &["--mode", "skip-existing"]);
        assert!(out.status.success(), "{v}");
        assert_eq!(counts(&v), (0, 0, 2, 0, 0), "{} {v}", db.backend());
    }
}

#[tokio::test]
async fn the_same_key_twice_is_rejected_naming_the_first_row_or_the_last_wins() {
    for db in TestDb::both().await {
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(
            dir.path(),
            "d.xlsx",
            &[
                ("c", "Cherry", 3.0, None),
                ("d", "Date", 4.0, None),
                ("c", "Cress", 5.0, None),
            ],
        );
        let (_, v) = import(&db, &file, &["--mode", "upsert"]);
        assert_eq!(counts(&v), (2, 0, 0, 2, 1), "{} {v}", db.backend());
        let reason = v["rejected"][0]["reason"].as_str().unwrap();
        assert_eq!(v["rejected"][0]["row"], 4, "{v}");
        assert!(
            reason.contains("duplicate key (code) = (c): row 2 has the same key"),
            "{reason}"
        );
        assert!(rows(&db).await.contains(&"c:Cherry:3:-".to_string()));

        db.execute("DELETE FROM items WHERE code IN ('c', 'd')")
            .await;
        let (out, v) = import(&db, &file, &["--mode", "upsert", "--duplicates", "last"]);
        assert!(out.status.success(), "{v}");
        // In file order: c inserted, d inserted, c updated by the last row.
        assert_eq!(counts(&v), (2, 1, 0, 3, 0), "{} {v}", db.backend());
        assert_eq!(
            rows(&db).await,
            ["a:Apple:1:old", "b:Bean:2:-", "c:Cress:5:-", "d:Date:4:-"],
            "{}",
            db.backend()
        );
    }
}

#[tokio::test]
async fn empty_cells_set_null_by_default_or_keep_the_stored_value() {
    for db in TestDb::both().await {
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(dir.path(), "e.xlsx", &[("a", "Apple", 7.0, None)]);
        let (_, v) = import(&db, &file, &["--mode", "upsert", "--empty-cells", "keep"]);
        assert_eq!(counts(&v), (0, 1, 0, 1, 0), "{v}");
        assert_eq!(rows(&db).await[0], "a:Apple:7:old", "{}", db.backend());
        let (_, v) = import(&db, &file, &["--mode", "upsert"]);
        assert_eq!(counts(&v), (0, 1, 0, 1, 0), "{v}");
        assert_eq!(rows(&db).await[0], "a:Apple:7:-", "{}", db.backend());
    }
}

#[tokio::test]
async fn replace_swaps_the_rows_and_a_failed_replace_keeps_the_old_ones() {
    for db in TestDb::both().await {
        let dir = tempdir();
        seeded(&db).await;
        // A row the CHECK refuses is rejected; the others replace the table.
        let file = items_xlsx(
            dir.path(),
            "r.xlsx",
            &[
                ("a", "Avocado", 5.0, None),
                ("x", "Bad", -1.0, None),
                ("c", "Cherry", 3.0, None),
            ],
        );
        let (out, v) = import(&db, &file, &["--mode", "replace"]);
        assert!(out.status.success(), "{v}");
        assert_eq!(counts(&v), (2, 0, 0, 2, 1), "{} {v}", db.backend());
        assert!(
            v["rejected"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("rejected by the database"),
            "{v}"
        );
        assert_eq!(rows(&db).await, ["a:Avocado:5:-", "c:Cherry:3:-"]);

        // Stopped by its error budget: nothing of the file is kept.
        let file = items_xlsx(
            dir.path(),
            "r2.xlsx",
            &[("z", "Zucchini", 1.0, None), ("y", "Bad", -1.0, None)],
        );
        let (out, v) = import(&db, &file, &["--mode", "replace", "--max-errors", "0"]);
        assert_eq!(out.status.code(), Some(6), "{v}");
        assert_eq!(v["stats"]["success_count"], 0, "{} {v}", db.backend());
        assert_eq!(rows(&db).await, ["a:Avocado:5:-", "c:Cherry:3:-"]);
        let staged = match db.backend() {
            "postgres" => "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'sheetpipe_stage_%'",
            _ => "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sheetpipe_stage_%'",
        };
        assert_eq!(db.query(staged).await[0][0].as_deref(), Some("0"));
    }
}

#[tokio::test]
async fn the_key_defaults_to_the_one_unique_constraint_and_a_missing_key_is_an_error() {
    for db in TestDb::both().await {
        let dir = tempdir();
        let pk = match db.backend() {
            "postgres" => "id SERIAL PRIMARY KEY",
            _ => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        };
        db.execute(&format!(
            "CREATE TABLE items ({pk}, code TEXT UNIQUE, name TEXT NOT NULL, qty INTEGER, note TEXT)"
        ))
        .await;
        db.execute("INSERT INTO items (code, name, qty) VALUES ('a', 'Apple', 1)")
            .await;
        let file = items_xlsx(
            dir.path(),
            "k.xlsx",
            &[("a", "Apricot", 2.0, None), ("b", "Bean", 3.0, None)],
        );
        let (out, v) = import(&db, &file, &["--mode", "upsert"]);
        assert!(out.status.success(), "{v}");
        assert_eq!(counts(&v), (1, 1, 0, 2, 0), "{} {v}", db.backend());
        let ids = db.query("SELECT id FROM items WHERE code = 'a'").await;
        assert_eq!(ids[0][0].as_deref(), Some("1"), "the row kept its id");

        let (out, v) = import(&db, &file, &["--mode", "upsert", "--key", "nope"]);
        assert_eq!(out.status.code(), Some(3), "{v}");
        let err = v["error"].as_str().unwrap_or_default().to_string();
        assert!(
            err.contains("--key \"nope\" names no column of table items"),
            "{v}"
        );
        let (out, v) = import(&db, &file, &["--mode", "upsert", "--key", "name"]);
        assert_eq!(out.status.code(), Some(3), "{v}");
        let err = v["error"].as_str().unwrap();
        let hint = &err[err.find("CREATE UNIQUE INDEX").expect("a hint")..];
        assert_eq!(
            hint, "CREATE UNIQUE INDEX items_name_key ON items (name)",
            "{v}"
        );
        assert_eq!(
            db.query("SELECT count(*) FROM items").await[0][0].as_deref(),
            Some("2")
        );
        // The hint runs as written, and the key is then accepted.
        db.execute(hint).await;
        let (out, v) = import(&db, &file, &["--mode", "upsert", "--key", "name"]);
        assert!(out.status.success(), "{} {v}", db.backend());
        assert_eq!(
            db.query("SELECT count(*) FROM items").await[0][0].as_deref(),
            Some("2"),
            "{v}"
        );

        db.execute("CREATE TABLE loose (code TEXT, name TEXT)")
            .await;
        let out = run_cli(
            dir.path(),
            &[
                "import",
                file.to_str().unwrap(),
                "--database-url",
                &db.url,
                "--table",
                "loose",
                "--mode",
                "skip-existing",
            ],
        );
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no key to match rows of table loose"), "{err}");
        assert!(
            err.contains("CREATE UNIQUE INDEX loose_COL_key ON loose (COL)"),
            "{err}"
        );
        assert_eq!(
            db.query("SELECT count(*) FROM loose").await[0][0].as_deref(),
            Some("0")
        );
    }
}

#[tokio::test]
async fn http_mode_upsert_over_a_socket() {
    let app = spawn_app_with(TestDb::sqlite(), |_| {}).await;
    seeded(&app.db).await;
    let dir = tempdir();
    let file = items_xlsx(
        dir.path(),
        "h.xlsx",
        &[("a", "Apricot", 10.0, None), ("c", "Cherry", 3.0, None)],
    );
    let bytes = std::fs::read(&file).unwrap();
    let res = app
        .upload("/upload?table=items&mode=upsert", "h.xlsx", bytes.clone())
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(counts(&body), (1, 1, 0, 2, 0), "{body}");
    assert_eq!(rows(&app.db).await[0], "a:Apricot:10:-");
    // The same file again is allowed in upsert, refused in append.
    let res = app
        .upload("/upload?table=items&mode=upsert", "h.xlsx", bytes.clone())
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .upload("/upload?table=items", "h.xlsx", bytes.clone())
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .upload("/upload?table=items&mode=merge", "h.xlsx", bytes)
        .await;
    assert_eq!(res.status(), 400);
}
