//! Issue 15 item 3: upsert and skip-existing on MySQL/MariaDB, against the
//! real server — through the CLI with every method, exact counts and
//! contents (and upsert over HTTP on a real socket), duplicate keys and
//! empty cells both ways, the key's errors before any row is written, bad values rejected naming the cell and never clipped, a
//! row meeting another unique index, keys equal under a case-insensitive
//! collation, and two writers upserting thousands of rows. Replace:
//! `mysql_replace.rs`.
//! Skipped (one line each) when MariaDB is unreachable outside CI.

use std::sync::Arc;

use serde_json::Value;
use sheetpipe::model::{Column, SqlType, TableSchema};
use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};
use sheetpipe::sink::merge::ModeOptions;

use crate::api::spawn_app_with;
use crate::helpers::{run_cli, tempdir, write_xlsx, TestDb, X};
use crate::modes::{counts, import, items_xlsx};

/// `items` as on the other backends: a text primary key, a NOT NULL name,
/// a CHECKed quantity.
pub(crate) const ITEMS: &str =
    "CREATE TABLE items (code VARCHAR(20) PRIMARY KEY, name TEXT NOT NULL, \
     qty INT CHECK (qty >= 0), note TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 \
     COLLATE=utf8mb4_bin";

/// A fresh MariaDB database with `items` holding a=1 (note "old"), b=2.
pub(crate) async fn seeded() -> Option<TestDb> {
    let db = TestDb::mysql().await?;
    db.execute(ITEMS).await;
    db.execute("INSERT INTO items VALUES ('a', 'Apple', 1, 'old'), ('b', 'Bean', 2, NULL)")
        .await;
    Some(db)
}

/// The table's rows as `code:name:qty:note` (`-` for NULL), by code.
pub(crate) async fn rows(db: &TestDb) -> Vec<String> {
    db.query("SELECT code, name, qty, note FROM items ORDER BY code")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_on_mysql_updates_the_mapped_columns_inserts_the_rest_with_every_method() {
    for method in ["sequential", "concurrent", "batch", "copy"] {
        let Some(db) = seeded().await else { return };
        let dir = tempdir();
        let file = items_xlsx(
            dir.path(),
            "u.xlsx",
            &[
                ("a", "Apricot", 10.0, Some("new")),
                ("c", "Cherry", 3.0, None),
            ],
        );
        let m = ["--mode", "upsert", "--method", method];
        let (out, v) = import(&db, &file, &m);
        assert!(out.status.success(), "{method} {v}");
        assert_eq!(counts(&v), (1, 1, 0, 2, 0), "{method} {v}");
        assert_eq!(v["mode"], "upsert");
        assert_eq!(
            rows(&db).await,
            ["a:Apricot:10:new", "b:Bean:2:-", "c:Cherry:3:-"],
            "{method}"
        );
        // The same file again: allowed, and the rows whose values did not
        // change count as updated (as on PostgreSQL and SQLite).
        let (out, v) = import(&db, &file, &m);
        assert!(out.status.success(), "{method} {v}");
        assert_eq!(counts(&v), (0, 2, 0, 2, 0), "{method} {v}");
        assert_eq!(rows(&db).await.len(), 3);
        let ledger = db
            .query("SELECT SUM(inserted) FROM imports WHERE status = 'completed'")
            .await;
        assert_eq!(ledger[0][0].as_deref(), Some("1"), "{method}: {ledger:?}");
    }
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(dir.path(), "t.xlsx", &[("a", "Apple", 1.0, Some("old"))]);
    let file = file.to_str().unwrap();
    let args = [
        "import",
        file,
        "--database-url",
        &db.url,
        "--table",
        "items",
    ];
    let out = run_cli(dir.path(), &[&args[..], &["--mode", "upsert"]].concat());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("0 rows inserted, 1 updated, 0 skipped") && text.contains("(import "),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_existing_on_mysql_leaves_stored_rows_alone_and_counts_them() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(
        dir.path(),
        "s.xlsx",
        &[("a", "Apricot", 10.0, None), ("c", "Cherry", 3.0, None)],
    );
    let (out, v) = import(&db, &file, &["--mode", "skip-existing"]);
    assert!(out.status.success(), "{v}");
    assert_eq!(counts(&v), (1, 0, 1, 1, 0), "{v}");
    assert_eq!(v["stats"]["unprocessed"], 0, "{v}");
    assert_eq!(
        rows(&db).await,
        ["a:Apple:1:old", "b:Bean:2:-", "c:Cherry:3:-"]
    );
    let (out, v) = import(&db, &file, &["--mode", "skip-existing"]);
    assert!(out.status.success(), "{v}");
    assert_eq!(counts(&v), (0, 0, 2, 0, 0), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_the_same_key_twice_is_rejected_naming_the_first_row_or_the_last_wins() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
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
    assert_eq!(counts(&v), (2, 0, 0, 2, 1), "{v}");
    assert_eq!(v["rejected"][0]["row"], 4, "{v}");
    let reason = v["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("duplicate key (code) = (c): row 2 has the same key"),
        "{reason}"
    );
    assert!(rows(&db).await.contains(&"c:Cherry:3:-".to_string()));

    db.execute("DELETE FROM items WHERE code IN ('c', 'd')")
        .await;
    let (out, v) = import(&db, &file, &["--mode", "upsert", "--duplicates", "last"]);
    assert!(out.status.success(), "{v}");
    assert_eq!(counts(&v), (2, 1, 0, 3, 0), "{v}");
    assert_eq!(
        rows(&db).await,
        ["a:Apple:1:old", "b:Bean:2:-", "c:Cress:5:-", "d:Date:4:-"]
    );
    // skip-existing, last: the later row of a key is skipped.
    db.execute("DELETE FROM items WHERE code IN ('c', 'd')")
        .await;
    let (_, v) = import(
        &db,
        &file,
        &["--mode", "skip-existing", "--duplicates", "last"],
    );
    assert_eq!(counts(&v), (2, 0, 1, 2, 0), "{v}");
    assert!(rows(&db).await.contains(&"c:Cherry:3:-".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_empty_cells_set_null_by_default_or_keep_the_stored_value() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(dir.path(), "e.xlsx", &[("a", "Apple", 7.0, None)]);
    let (_, v) = import(&db, &file, &["--mode", "upsert", "--empty-cells", "keep"]);
    assert_eq!(counts(&v), (0, 1, 0, 1, 0), "{v}");
    assert_eq!(rows(&db).await[0], "a:Apple:7:old");
    let (_, v) = import(&db, &file, &["--mode", "upsert"]);
    assert_eq!(counts(&v), (0, 1, 0, 1, 0), "{v}");
    assert_eq!(rows(&db).await[0], "a:Apple:7:-");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_the_key_defaults_to_the_one_unique_index_and_a_missing_key_is_an_error() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let dir = tempdir();
    db.execute(
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(20) UNIQUE, \
         name TEXT NOT NULL, qty INT, note TEXT)",
    )
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
    assert_eq!(counts(&v), (1, 1, 0, 2, 0), "{v}");
    let ids = db
        .query("SELECT id, name FROM items WHERE code = 'a'")
        .await;
    assert_eq!(ids[0][0].as_deref(), Some("1"), "the row kept its id");
    assert_eq!(ids[0][1].as_deref(), Some("Apricot"));

    let (out, v) = import(&db, &file, &["--mode", "upsert", "--key", "nope"]);
    assert_eq!(out.status.code(), Some(3), "{v}");
    let err = v["error"].as_str().unwrap_or_default().to_string();
    assert!(
        err.contains("--key \"nope\" names no column of table items"),
        "{v}"
    );
    let (out, v) = import(&db, &file, &["--mode", "upsert", "--key", "name"]);
    assert_eq!(out.status.code(), Some(3), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .ends_with("add one with CREATE UNIQUE INDEX items_name_key ON items (name)"),
        "{v}"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM items").await[0][0].as_deref(),
        Some("2")
    );

    db.execute("CREATE TABLE loose (code TEXT, name TEXT)")
        .await;
    for mode in ["upsert", "skip-existing"] {
        let f = file.to_str().unwrap();
        let out = run_cli(
            dir.path(),
            &[
                "import",
                f,
                "--database-url",
                &db.url,
                "--table",
                "loose",
                "--mode",
                mode,
            ],
        );
        assert_eq!(out.status.code(), Some(3), "{mode}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no key to match rows of table loose"), "{err}");
        assert_eq!(
            db.query("SELECT count(*) FROM loose").await[0][0].as_deref(),
            Some("0")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_meeting_another_unique_index_is_rejected_not_merged_into_that_row() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.execute(
        "CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(40) NOT NULL UNIQUE, \
         name TEXT) ENGINE=InnoDB COLLATE=utf8mb4_bin",
    )
    .await;
    db.execute("INSERT INTO people VALUES (1, 'ann@x.org', 'Ann'), (2, 'bob@x.org', 'Bob')")
        .await;
    let dir = tempdir();
    let file = dir.path().join("p.xlsx");
    let row =
        |id: f64, email: &'static str, name: &'static str| vec![X::N(id), X::S(email), X::S(name)];
    write_xlsx(
        &file,
        &[
            vec![X::S("id"), X::S("email"), X::S("name")],
            row(1.0, "ann@x.org", "Anne"),
            // id 3 is new, but bob's email is taken by id 2.
            row(3.0, "bob@x.org", "Robert"),
            row(4.0, "cy@x.org", "Cy"),
        ],
    );
    for mode in ["upsert", "skip-existing"] {
        let f = file.to_str().unwrap();
        let out = run_cli(
            dir.path(),
            &[
                "import",
                f,
                "--database-url",
                &db.url,
                "--table",
                "people",
                "--mode",
                mode,
                "--json",
            ],
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let want = if mode == "upsert" {
            (1, 1, 0, 2, 1)
        } else {
            (0, 0, 2, 0, 1)
        };
        // upsert inserts cy; skip-existing finds cy already there.
        assert_eq!(counts(&v), want, "{mode} {v}");
        assert_eq!(v["rejected"][0]["row"], 3, "{mode} {v}");
        let reason = v["rejected"][0]["reason"].as_str().unwrap();
        assert!(
            reason.contains("unique index other than the key (id)"),
            "{reason}"
        );
        let stored = db
            .query("SELECT id, email, name FROM people ORDER BY id")
            .await;
        let stored: Vec<String> = stored
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| c.clone().unwrap())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            stored,
            ["1 ann@x.org Anne", "2 bob@x.org Bob", "4 cy@x.org Cy"],
            "{mode}: bob's row is untouched"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_equal_under_a_case_insensitive_collation_are_counted_as_they_were_applied() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.execute(
        "CREATE TABLE tags (tag VARCHAR(20) PRIMARY KEY, uses INT) ENGINE=InnoDB \
         DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
    )
    .await;
    db.execute("INSERT INTO tags VALUES ('Rust', 1)").await;
    let dir = tempdir();
    let file = dir.path().join("t.xlsx");
    let sheet = [("rust", 2.0), ("sql", 3.0), ("SQL", 4.0)]
        .iter()
        .map(|(t, n)| vec![X::S(t), X::N(*n)]);
    let mut rows = vec![vec![X::S("tag"), X::S("uses")]];
    rows.extend(sheet);
    write_xlsx(&file, &rows);
    let f = file.to_str().unwrap();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            f,
            "--database-url",
            &db.url,
            "--table",
            "tags",
            "--mode",
            "upsert",
            "--json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The reader sees three keys; the column sees two: `rust` updates
    // `Rust`, `sql` is inserted, `SQL` updates it.
    assert_eq!(counts(&v), (1, 2, 0, 3, 0), "{v}");
    let stored = db.query("SELECT tag, uses FROM tags ORDER BY tag").await;
    assert_eq!(
        stored,
        [
            [Some("Rust".to_string()), Some("2".to_string())],
            [Some("sql".to_string()), Some("4".to_string())]
        ]
    );
}

/// `trap (id, code VARCHAR(5), due DATE)` as a schema of text columns, so
/// only MariaDB can find the bad values.
async fn trap(db: &TestDb) -> Arc<TableSchema> {
    db.execute(
        "CREATE TABLE trap (id INT PRIMARY KEY, code VARCHAR(5) NOT NULL, due DATE) \
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )
    .await;
    db.execute("INSERT INTO trap VALUES (1, 'one', '2024-01-01'), (2, 'two', '2024-01-02')")
        .await;
    let mut columns = vec![Column::new("id", SqlType::BigInt)];
    columns.extend(["code", "due"].map(|n| Column::new(n, SqlType::Text)));
    Arc::new(TableSchema {
        name: "trap".into(),
        columns,
        primary_key: vec!["id".into()],
        unique: vec![],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_long_value_or_a_bad_date_in_an_upsert_is_rejected_never_stored_clipped() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let dir = tempdir();
    let file = dir.path().join("trap.xlsx");
    let mut sheet = vec![vec![X::S("id"), X::S("code"), X::S("due")]];
    for (id, code, due) in [
        (1.0, "uno", "2024-03-01"),
        (2.0, "TOOLONG", "2024-03-02"),
        (3.0, "tres", "2024-02-30"),
        (4.0, "four", "2024-03-04"),
    ] {
        sheet.push(vec![X::N(id), X::S(code), X::S(due)]);
    }
    write_xlsx(&file, &sheet);
    let sink = db.bare_sink().await;
    let mut job = ImportJob::new(&file);
    job.table = trap(&db).await;
    job.mode = ModeOptions::from_words(Some("upsert"), None, None, None).unwrap();
    let plan = Plan::new(Method::Copy, Some(2), None);
    let report = pipeline::run(job, &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!(
        (report.inserted, report.updated, report.rejected),
        (1, 1, 2)
    );
    let bad: Vec<(u32, String)> = report
        .rejected_rows
        .iter()
        .map(|r| (r.row, r.reason.clone()))
        .collect();
    assert_eq!(
        bad.iter().map(|b| b.0).collect::<Vec<_>>(),
        [3, 4],
        "{bad:?}"
    );
    assert!(
        bad.iter().all(|b| b.1.contains("rejected by the database")),
        "{bad:?}"
    );
    let stored = db.query("SELECT id, code, due FROM trap ORDER BY id").await;
    let stored: Vec<String> = stored
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| c.clone().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        stored,
        ["1 uno 2024-03-01", "2 two 2024-01-02", "4 four 2024-03-04"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_upsert_thousands_of_rows_half_of_them_stored_counted_exactly() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.execute(ITEMS).await;
    // Every other key is stored already, half of them with the file's values.
    let stored: Vec<String> = (0..6000u32)
        .step_by(2)
        .map(|i| {
            let name = if i % 4 == 0 {
                format!("name{i}")
            } else {
                "old".into()
            };
            format!("('k{i:05}', '{name}', {i})")
        })
        .collect();
    db.execute(&format!(
        "INSERT INTO items (code, name, qty) VALUES {}",
        stored.join(", ")
    ))
    .await;
    let dir = tempdir();
    let file = dir.path().join("big.xlsx");
    let mut sheet = vec![vec![X::S("code"), X::S("name"), X::S("qty")]];
    for i in 0..6000u32 {
        sheet.push(vec![
            X::O(format!("k{i:05}")),
            X::O(format!("name{i}")),
            X::N(f64::from(i)),
        ]);
    }
    write_xlsx(&file, &sheet);
    let f = file.to_str().unwrap();
    let args = [
        "import",
        f,
        "--database-url",
        &db.url,
        "--table",
        "items",
        "--mode",
        "upsert",
        "--workers",
        "2",
        "--batch-size",
        "250",
        "--json",
    ];
    let out = run_cli(dir.path(), &args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{v}");
    assert_eq!(counts(&v), (3000, 3000, 0, 6000, 0), "{v}");
    let check = db
        .query("SELECT count(*), SUM(name = CONCAT('name', qty)), SUM(note IS NULL) FROM items")
        .await;
    assert_eq!(
        check[0],
        [
            Some("6000".into()),
            Some("6000".into()),
            Some("6000".into())
        ]
    );
    let args = [
        &args[..6],
        &["--mode", "skip-existing", "--workers", "2", "--json"],
    ]
    .concat();
    let out = run_cli(dir.path(), &args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts(&v), (0, 0, 6000, 0, 0), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mode_upsert_on_mysql_over_a_socket() {
    let Some(db) = seeded().await else { return };
    let app = spawn_app_with(db, |_| {}).await;
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
    assert_eq!(
        rows(&app.db).await,
        ["a:Apricot:10:-", "b:Bean:2:-", "c:Cherry:3:-"]
    );
    let res = app.upload("/upload?table=items", "h.xlsx", bytes).await;
    assert_eq!(res.status(), 409, "append of the same file is refused");
}
