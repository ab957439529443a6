//! Issue 15 item 3, "… and undo": `sheetpipe undo ID [--force]` and `POST
//! /imports/{id}/undo` on the real MariaDB — an append's rows deleted (by
//! the key the file maps, and by the AUTO_INCREMENT id range, with batch,
//! copy and concurrent writers), an upsert's updated rows given back their exact values, a
//! skip-existing's and a replace's undone; refused (changing nothing) when
//! a touched row changed since, unless forced; an unrelated change does
//! not stop it; it cannot run twice; a table whose rows cannot be found
//! again is refused naming why. Skipped when MariaDB is unreachable
//! outside CI.

use std::path::Path;

use serde_json::Value;

use crate::api::spawn_app_with;
use crate::helpers::{json_out, run_cli, tempdir, write_xlsx, TestDb, X};
use crate::modes::{counts, import, items_xlsx};
use crate::mysql_modes::{rows, seeded};
use crate::undo::{id_of, status, undo};

/// `import FILE --table TABLE --json` plus `extra`.
fn import_into(db: &TestDb, file: &Path, table: &str, extra: &[&str]) -> Value {
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
    let out = run_cli(file.parent().unwrap(), &args);
    let v = json_out(&out);
    assert!(out.status.success(), "{v}");
    v
}

/// The first column of every row of `sql`.
async fn column(db: &TestDb, sql: &str) -> Vec<String> {
    db.query(sql)
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_else(|| "-".into()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_an_append_on_mysql_deletes_exactly_its_rows_found_by_key_or_by_id_range() {
    for method in ["batch", "copy", "concurrent"] {
        // By the key the file maps (items.code).
        let Some(db) = seeded().await else { return };
        let dir = tempdir();
        let file = items_xlsx(
            dir.path(),
            "a.xlsx",
            &[("c", "Cherry", 3.0, None), ("d", "Date", 4.0, Some("x"))],
        );
        let (out, v) = import(&db, &file, &["--method", method]);
        assert!(out.status.success(), "{method} {v}");
        let id = id_of(&v);
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 0, "{method} {u}");
        assert_eq!(
            (
                u["deleted"].as_u64(),
                u["restored"].as_u64(),
                u["kept"].as_u64()
            ),
            (Some(2), Some(0), Some(0)),
            "{method} {u}"
        );
        assert_eq!(u["mode"], "append", "{u}");
        assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean:2:-"], "{method}");
        assert_eq!(status(&db, &id).await, "undone");
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 9, "{method} {u}");
        assert!(
            u["error"].as_str().unwrap().contains("already undone"),
            "{u}"
        );
        let (code, u) = undo(&db, dir.path(), &uuid::Uuid::new_v4().to_string(), &[]);
        assert_eq!(code, 3, "{u}");

        // By the AUTO_INCREMENT id the file does not map: 2,500 rows (two
        // units of the copy), with rows before and after it by others.
        db.execute(
            "CREATE TABLE logs (id BIGINT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(20), \
             name TEXT NOT NULL, qty INT, note TEXT) ENGINE=InnoDB",
        )
        .await;
        db.execute("INSERT INTO logs (code, name) VALUES ('before', 'x')")
            .await;
        let mut sheet = vec![vec![X::S("code"), X::S("name"), X::S("qty")]];
        for i in 0..2500 {
            sheet.push(vec![X::S("f"), X::S("n"), X::N(f64::from(i))]);
        }
        let big = dir.path().join("logs.xlsx");
        write_xlsx(&big, &sheet);
        let v = import_into(&db, &big, "logs", &["--method", method]);
        assert_eq!(counts(&v).0, 2500, "{v}");
        db.execute("INSERT INTO logs (code, name) VALUES ('after', 'y')")
            .await;
        // One of its rows, in the middle of its id range, changed since:
        // refused; forced, the others go (the range split around it).
        db.execute("UPDATE logs SET code = 'edited' WHERE qty = 1200")
            .await;
        let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
        assert_eq!(code, 8, "{method} {u}");
        let (code, u) = undo(&db, dir.path(), &id_of(&v), &["--force"]);
        assert_eq!(code, 0, "{method} {u}");
        assert_eq!(
            (u["deleted"].as_u64(), u["kept"].as_u64()),
            (Some(2499), Some(1)),
            "{method} {u}"
        );
        let left = column(&db, "SELECT code FROM logs ORDER BY id").await;
        assert_eq!(left, ["before", "edited", "after"], "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_table_whose_rows_cannot_be_found_again_is_imported_but_not_undone() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.execute("CREATE TABLE loose (code TEXT, name TEXT, qty INT, note TEXT) ENGINE=InnoDB")
        .await;
    let dir = tempdir();
    let file = items_xlsx(dir.path(), "l.xlsx", &[("c", "Cherry", 3.0, None)]);
    let v = import_into(&db, &file, "loose", &[]);
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 9, "{u}");
    let e = u["error"].as_str().unwrap();
    assert!(e.contains("cannot be found again"), "{e}");
    assert_eq!(column(&db, "SELECT code FROM loose").await, ["c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_an_upsert_on_mysql_restores_the_updated_rows_and_deletes_the_inserted() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(
        dir.path(),
        "u.xlsx",
        &[
            ("a", "Apricot", 10.0, None),
            ("c", "Cherry", 3.0, None),
            // c again in a later unit: the import updates a row it
            // inserted itself, which undo deletes.
            ("c", "Cherry2", 5.0, Some("z")),
        ],
    );
    let args = [
        "--mode",
        "upsert",
        "--duplicates",
        "last",
        "--batch-size",
        "1",
    ];
    let (out, v) = import(&db, &file, &args);
    assert!(out.status.success(), "{v}");
    assert_eq!(
        rows(&db).await,
        ["a:Apricot:10:-", "b:Bean:2:-", "c:Cherry2:5:z"]
    );
    db.execute("UPDATE items SET name = 'Bean!' WHERE code = 'b'")
        .await;
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (u["deleted"].as_u64(), u["restored"].as_u64()),
        (Some(1), Some(1)),
        "{u}"
    );
    assert_eq!(u["mode"], "upsert");
    assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean!:2:-"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_undone_on_mysql_gives_back_every_type_exactly() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    db.execute(
        "CREATE TABLE typed (code VARCHAR(10) PRIMARY KEY, amount DECIMAL(12,3), ratio DOUBLE, \
         day DATE, at DATETIME(6), doc JSON, flag TINYINT(1), note TEXT) \
         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )
    .await;
    db.execute(
        "INSERT INTO typed VALUES ('k', 1.250, 1/3e0, '2024-02-29', '2024-01-02 03:04:05.678901', \
         '{\"a\":  [1, 2.50]}', 1, 'tab\\there \\\\ 😀'), \
         ('m', NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    .await;
    let all = "SELECT CONCAT_WS('|', code, COALESCE(CAST(amount AS CHAR), '-'), \
               COALESCE(CAST(ratio AS CHAR), '-'), COALESCE(CAST(day AS CHAR), '-'), \
               COALESCE(CAST(at AS CHAR), '-'), COALESCE(CAST(doc AS CHAR), '-'), \
               COALESCE(CAST(flag AS CHAR), '-'), \
               COALESCE(note, '-')) FROM typed ORDER BY code";
    let before = column(&db, all).await;
    let dir = tempdir();
    let file = dir.path().join("t.xlsx");
    let header = [
        "code", "amount", "ratio", "day", "at", "doc", "flag", "note",
    ];
    let mut sheet = vec![header.iter().map(|h| X::S(h)).collect::<Vec<_>>()];
    for code in ["k", "m"] {
        sheet.push(vec![
            X::S(code),
            X::N(9.5),
            X::N(2.0),
            X::S("2025-01-01"),
            X::S("2025-01-01 00:00:00"),
            X::S("{\"b\": 1}"),
            X::S("false"),
            X::S("new"),
        ]);
    }
    write_xlsx(&file, &sheet);
    let v = import_into(&db, &file, "typed", &["--mode", "upsert"]);
    assert_eq!(counts(&v).1, 2, "{v}");
    assert_ne!(
        column(&db, all).await,
        before,
        "the upsert changed the rows"
    );
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(u["restored"].as_u64(), Some(2), "{u}");
    assert_eq!(column(&db, all).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_a_touched_row_changed_since_refuses_the_undo_unless_forced() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(
        dir.path(),
        "c.xlsx",
        &[
            ("a", "Apricot", 10.0, None),
            ("c", "Cherry", 3.0, None),
            ("d", "Date", 4.0, None),
        ],
    );
    let (out, v) = import(&db, &file, &["--mode", "upsert"]);
    assert!(out.status.success(), "{v}");
    let id = id_of(&v);
    db.execute("UPDATE items SET qty = 99 WHERE code = 'c'")
        .await;
    db.execute("DELETE FROM items WHERE code = 'a'").await;
    let before = rows(&db).await;
    let (code, u) = undo(&db, dir.path(), &id, &[]);
    assert_eq!(code, 8, "{u}");
    let e = u["error"].as_str().unwrap();
    assert!(e.contains("2 row(s)") && e.contains("--force"), "{e}");
    assert_eq!(rows(&db).await, before, "a refused undo changes nothing");
    assert_eq!(status(&db, &id).await, "completed");
    let (code, u) = undo(&db, dir.path(), &id, &["--force"]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (
            u["deleted"].as_u64(),
            u["restored"].as_u64(),
            u["kept"].as_u64()
        ),
        (Some(1), Some(0), Some(2)),
        "{u}"
    );
    assert_eq!(rows(&db).await, ["b:Bean:2:-", "c:Cherry:99:-"]);
}

/// Undo of `id` refuses (exit 8) naming `changed` changed rows, then
/// `--force` undoes it: the forced undo's deleted, restored and kept.
fn refused_then_forced(
    db: &TestDb,
    dir: &Path,
    id: &str,
    changed: u64,
) -> (Option<u64>, Option<u64>, Option<u64>) {
    let (code, u) = undo(db, dir, id, &[]);
    assert_eq!(code, 8, "{u}");
    let e = u["error"].as_str().unwrap();
    assert!(e.contains(&format!("{changed} row(s)")), "{e}");
    let (code, u) = undo(db, dir, id, &["--force"]);
    assert_eq!(code, 0, "{u}");
    let n = |k: &str| u[k].as_u64();
    (n("deleted"), n("restored"), n("kept"))
}

/// The packed entries' row digest tells a changed row from the one the
/// import left even where a plain join of the values would not: a NULL
/// and a value traded between two columns, a NULL made empty. A row the
/// import did not write does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_the_row_digest_sees_a_null_traded_between_columns_and_a_null_made_empty() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(
        dir.path(),
        "d.xlsx",
        &[
            ("c", "Cherry", 3.0, None),
            ("e", "Egg", 5.0, None),
            ("f", "Fig", 6.0, None),
        ],
    );
    let (out, v) = import(&db, &file, &["--method", "copy"]);
    assert!(out.status.success(), "{v}");
    let id = id_of(&v);
    db.execute("UPDATE items SET qty = NULL, note = '3' WHERE code = 'c'")
        .await;
    db.execute("UPDATE items SET note = '' WHERE code = 'e'")
        .await;
    db.execute("UPDATE items SET note = 'new' WHERE code = 'a'")
        .await;
    let (deleted, _, kept) = refused_then_forced(&db, dir.path(), &id, 2);
    assert_eq!((deleted, kept), (Some(1), Some(2)));
    assert_eq!(
        rows(&db).await,
        ["a:Apple:1:new", "b:Bean:2:-", "c:Cherry:-:3", "e:Egg:5:"]
    );
}

/// An integer key the file maps is found again by its runs of consecutive
/// values (one `BETWEEN` each), and rows of others lying between the runs
/// are left alone by the undo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_an_integer_key_is_found_by_its_runs_and_rows_between_them_stay() {
    let Some(db) = seeded().await else { return };
    db.execute("CREATE TABLE nums (id BIGINT PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB")
        .await;
    db.execute("INSERT INTO nums VALUES (6, 'theirs'), (-3, 'theirs')")
        .await;
    let dir = tempdir();
    let mut sheet = vec![vec![X::S("id"), X::S("v")]];
    for id in [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 8.0, -4.0, -2.0, 9e15] {
        sheet.push(vec![X::N(id), X::S("mine")]);
    }
    let file = dir.path().join("n.xlsx");
    write_xlsx(&file, &sheet);
    for method in ["copy", "batch"] {
        let v = import_into(&db, &file, "nums", &["--method", method]);
        assert_eq!(v["stats"]["inserted"], 10, "{v}");
        let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
        assert_eq!((code, u["deleted"].as_u64()), (0, Some(10)), "{u}");
        assert_eq!(
            column(&db, "SELECT CONCAT(id, ':', v) FROM nums ORDER BY id").await,
            ["-3:theirs", "6:theirs"],
            "{method}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_a_replace_and_of_skip_existing_on_mysql() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = items_xlsx(dir.path(), "r.xlsx", &[("z", "Zucchini", 7.0, None)]);
    let (out, v) = import(&db, &file, &["--mode", "replace"]);
    assert!(out.status.success(), "{v}");
    assert_eq!(rows(&db).await, ["z:Zucchini:7:-"]);
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (u["deleted"].as_u64(), u["restored"].as_u64()),
        (Some(1), Some(2)),
        "{u}"
    );
    assert_eq!(u["mode"], "replace");
    assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean:2:-"]);

    let file = items_xlsx(
        dir.path(),
        "s.xlsx",
        &[("a", "Apricot", 10.0, None), ("e", "Endive", 5.0, None)],
    );
    let (out, v) = import(&db, &file, &["--mode", "skip-existing"]);
    assert!(out.status.success(), "{v}");
    // A change to the row it skipped is not its business.
    db.execute("UPDATE items SET note = 'mine' WHERE code = 'a'")
        .await;
    let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (
            u["deleted"].as_u64(),
            u["restored"].as_u64(),
            u["kept"].as_u64()
        ),
        (Some(1), Some(0), Some(0)),
        "{u}"
    );
    assert_eq!(rows(&db).await, ["a:Apple:1:mine", "b:Bean:2:-"]);
}

/// A replace's new rows are recorded after its INSERT as packed entries,
/// 200 rows a part for a text key; one changed row among 450 is found by
/// the undo, which refuses, and a forced undo keeps exactly that row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_a_replace_of_many_rows_is_packed_and_its_undo_sees_the_one_changed() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let mut csv = String::from("code,name,qty,note\n");
    for i in 0..450 {
        csv.push_str(&format!("r{i:03},Name {i},{i},n\n"));
    }
    let file = dir.path().join("many.csv");
    std::fs::write(&file, csv).unwrap();
    let (out, v) = import(&db, &file, &["--mode", "replace"]);
    assert!(out.status.success(), "{v}");
    let parts = column(
        &db,
        "SELECT CONCAT(COUNT(*), ':', SUM(loc)) FROM sheetpipe_undo_rows WHERE kind = 'W'",
    )
    .await;
    assert_eq!(parts, ["3:450"]);
    db.execute("UPDATE items SET qty = 1000 WHERE code = 'r321'")
        .await;
    let id = id_of(&v);
    let counts = refused_then_forced(&db, dir.path(), &id, 1);
    assert_eq!(counts, (Some(449), Some(2), Some(1)));
    assert_eq!(
        rows(&db).await,
        ["a:Apple:1:old", "b:Bean:2:-", "r321:Name 321:1000:n"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_over_http_on_mysql_answers_counts_then_409() {
    let Some(db) = seeded().await else { return };
    let app = spawn_app_with(db, |_| {}).await;
    let dir = tempdir();
    let file = items_xlsx(
        dir.path(),
        "h.xlsx",
        &[("a", "Apricot", 10.0, None), ("c", "Cherry", 3.0, None)],
    );
    let res = app
        .upload(
            "/upload?table=items&mode=upsert",
            "h.xlsx",
            std::fs::read(&file).unwrap(),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let id = id_of(&body);
    let undo_url = app.url(&format!("/imports/{id}/undo"));
    let res = app.client.post(&undo_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let u: Value = res.json().await.unwrap();
    assert_eq!(
        (u["deleted"].as_u64(), u["restored"].as_u64()),
        (Some(1), Some(1)),
        "{u}"
    );
    assert_eq!(rows(&app.db).await, ["a:Apple:1:old", "b:Bean:2:-"]);
    let (code, v) = app.get_json(&format!("/imports/{id}")).await;
    assert_eq!((code, v["status"].as_str()), (200, Some("undone")), "{v}");
    let res = app.client.post(&undo_url).send().await.unwrap();
    assert_eq!(res.status(), 409);
    let other = app.url(&format!("/imports/{}/undo", uuid::Uuid::new_v4()));
    let res = app.client.post(&other).send().await.unwrap();
    assert_eq!(res.status(), 404);
    app.stop().await;
}

/// A CLI import on MariaDB holds a named lock while it runs (as on
/// PostgreSQL an advisory lock): an undo of it while it runs is refused,
/// and once its process is killed — still `running` in the history — the
/// undo takes back exactly what it committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_a_running_cli_import_is_not_undone_and_a_killed_one_is() {
    let Some(db) = seeded().await else { return };
    let dir = tempdir();
    let file = crate::undo::big_csv(dir.path(), 300_000);
    let mut child = crate::undo::spawn_items_import(&db, dir.path(), &file, &[]);
    let id = crate::undo::first_commit(&db).await;
    let (code, u) = undo(&db, dir.path(), &id, &[]);
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(still_running, "the import ended before the undo was tried");
    assert_eq!(code, 9, "{u}");
    assert!(
        u["error"].as_str().unwrap().contains("still running"),
        "{u}"
    );
    assert_eq!(status(&db, &id).await, "running", "killed, not ended");
    let (code, u) = undo(&db, dir.path(), &id, &[]);
    assert_eq!(code, 0, "{u}");
    assert!(u["deleted"].as_u64().unwrap() > 0, "{u}");
    assert_eq!(status(&db, &id).await, "undone");
    assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean:2:-"]);
}
