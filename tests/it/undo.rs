//! Issue 14 item 3: `sheetpipe undo ID [--force]` and `POST
//! /imports/{id}/undo` on PostgreSQL and SQLite — an append's rows deleted,
//! an upsert's updated rows given back their values, a replace reverted;
//! refused (changing nothing) when a touched row changed since, unless
//! forced; an unrelated change does not stop it; it cannot run twice.

use std::path::Path;

use serde_json::Value;

use crate::api::spawn_app_with;
use crate::helpers::{json_out, run_cli, tempdir, TestDb};
use crate::modes::{counts, import, items_xlsx, rows, seeded};

/// `undo ID --json` plus `extra` on `db`: exit code and JSON.
pub(crate) fn undo(db: &TestDb, dir: &Path, id: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["undo", id, "--database-url", &db.url, "--json"];
    args.extend_from_slice(extra);
    let out = run_cli(dir, &args);
    (out.status.code().unwrap_or(-1), json_out(&out))
}

/// `undo ID` on `db`, which must succeed: its `deleted` and `restored`.
pub(crate) fn undone(db: &TestDb, dir: &Path, id: &str) -> (u64, u64) {
    let (code, u) = undo(db, dir, id, &[]);
    assert_eq!(code, 0, "{} {u}", db.backend());
    let n = |k: &str| u[k].as_u64().unwrap_or_else(|| panic!("{k} in {u}"));
    (n("deleted"), n("restored"))
}

pub(crate) fn id_of(v: &Value) -> String {
    v["import_id"]
        .as_str()
        .unwrap_or_else(|| panic!("import_id in {v}"))
        .to_string()
}

/// The history's status of import `id`.
pub(crate) async fn status(db: &TestDb, id: &str) -> String {
    let r = db
        .query(&format!("SELECT status FROM imports WHERE id = '{id}'"))
        .await;
    r[0][0].clone().unwrap_or_default()
}

#[tokio::test]
async fn undo_of_an_append_deletes_its_rows_only_and_cannot_run_twice() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(
            dir.path(),
            "a.xlsx",
            &[("c", "Cherry", 3.0, None), ("d", "Date", 4.0, Some("x"))],
        );
        let (out, v) = import(&db, &file, &[]);
        assert!(out.status.success(), "{b} {v}");
        let id = id_of(&v);
        assert_eq!(rows(&db).await.len(), 4, "{b}");
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 0, "{b} {u}");
        assert_eq!(
            (u["deleted"].as_u64(), u["restored"].as_u64()),
            (Some(2), Some(0)),
            "{b} {u}"
        );
        assert_eq!(u["mode"], "append", "{b} {u}");
        assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean:2:-"], "{b}");
        assert_eq!(status(&db, &id).await, "undone", "{b}");
        // Twice: refused, exit 9, nothing changes.
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 9, "{b} {u}");
        assert!(
            u["error"].as_str().unwrap().contains("already undone"),
            "{b} {u}"
        );
        // The file may be imported again now (it is no longer imported).
        let (out, v) = import(&db, &file, &[]);
        assert!(out.status.success(), "{b} {v}");
        // An unknown id: exit 3.
        let (code, u) = undo(&db, dir.path(), &uuid::Uuid::new_v4().to_string(), &[]);
        assert_eq!(code, 3, "{b} {u}");
    }
}

#[tokio::test]
async fn undo_of_an_upsert_restores_the_updated_rows_and_deletes_the_inserted() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(
            dir.path(),
            "u.xlsx",
            &[
                ("a", "Apricot", 10.0, None),
                ("c", "Cherry", 3.0, None),
                // c again: the last wins, in a later unit (--batch-size 1),
                // so the import updates a row it inserted itself.
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
        assert!(out.status.success(), "{b} {v}");
        assert_eq!(counts(&v).0, 1, "{b} {v}");
        assert_eq!(
            rows(&db).await,
            ["a:Apricot:10:-", "b:Bean:2:-", "c:Cherry2:5:z"],
            "{b}"
        );
        // An unrelated change to a row the import did not touch.
        db.execute("UPDATE items SET name = 'Bean!' WHERE code = 'b'")
            .await;
        assert_eq!(undone(&db, dir.path(), &id_of(&v)), (1, 1), "{b}");
        assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean!:2:-"], "{b}");
    }
}

/// Stored rows whose rowids (SQLite keeps them in insertion order) run
/// against their keys' order, an upsert naming them in runs that go up,
/// down and skip: each updated row's hash is read back by runs of
/// consecutive rowids, so a hash given to the wrong row would make the
/// undo refuse an untouched row, or miss the touched one.
#[tokio::test]
async fn undo_of_an_upsert_over_scattered_rowids_checks_each_row_by_its_own_hash() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        seeded(&db).await;
        let order = [
            14, 15, 16, 17, 3, 4, 5, 6, 7, 0, 1, 2, 19, 18, 13, 12, 8, 9, 10, 11,
        ];
        for k in order {
            db.execute(&format!(
                "INSERT INTO items VALUES ('k{k:02}', 'old {k}', {k}, NULL)"
            ))
            .await;
        }
        let before = rows(&db).await;
        let mut csv = String::from("code,name,qty,note\n");
        for (i, k) in (0..20).chain([30, 31]).rev().enumerate() {
            csv.push_str(&format!("k{k:02},new {k},{},n{i}\n", k + 100));
        }
        let file = dir.path().join("scattered.csv");
        std::fs::write(&file, csv).unwrap();
        let (out, v) = import(&db, &file, &["--mode", "upsert"]);
        assert!(out.status.success(), "{b} {v}");
        assert_eq!(counts(&v), (2, 20, 0, 22, 0), "{b} {v}");
        assert_eq!(undone(&db, dir.path(), &id_of(&v)), (2, 20), "{b}");
        assert_eq!(rows(&db).await, before, "{b}");
        // Again, and one updated row changed since: that one is named.
        let (out, v) = import(&db, &file, &["--mode", "upsert", "--allow-reimport"]);
        assert!(out.status.success(), "{b} {v}");
        db.execute("UPDATE items SET qty = 7 WHERE code = 'k07'")
            .await;
        let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
        assert_eq!(code, 8, "{b} {u}");
        let e = u["error"].as_str().unwrap();
        assert!(e.contains("1 row(s)"), "{b} {e}");
    }
}

#[tokio::test]
async fn a_touched_row_changed_since_refuses_the_undo_unless_forced() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        seeded(&db).await;
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
        assert!(out.status.success(), "{b} {v}");
        let id = id_of(&v);
        db.execute("UPDATE items SET qty = 99 WHERE code = 'c'")
            .await;
        db.execute("DELETE FROM items WHERE code = 'a'").await;
        let before = rows(&db).await;
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        assert_eq!(code, 8, "{b} {u}");
        let e = u["error"].as_str().unwrap();
        assert!(e.contains("2 row(s)") && e.contains("--force"), "{b} {e}");
        assert_eq!(
            rows(&db).await,
            before,
            "{b}: a refused undo changes nothing"
        );
        assert_eq!(status(&db, &id).await, "completed", "{b}");
        // Forced: d (unchanged) goes, c and the deleted a stay as they are.
        let (code, u) = undo(&db, dir.path(), &id, &["--force"]);
        assert_eq!(code, 0, "{b} {u}");
        assert_eq!(
            (u["deleted"].as_u64(), u["kept"].as_u64()),
            (Some(1), Some(2)),
            "{b} {u}"
        );
        assert_eq!(rows(&db).await, ["b:Bean:2:-", "c:Cherry:99:-"], "{b}");
    }
}

#[tokio::test]
async fn undo_of_a_replace_and_of_skip_existing() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        seeded(&db).await;
        let file = items_xlsx(dir.path(), "r.xlsx", &[("z", "Zucchini", 7.0, None)]);
        let (out, v) = import(&db, &file, &["--mode", "replace"]);
        assert!(out.status.success(), "{b} {v}");
        assert_eq!(rows(&db).await, ["z:Zucchini:7:-"], "{b}");
        assert_eq!(undone(&db, dir.path(), &id_of(&v)), (1, 2), "{b}");
        assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean:2:-"], "{b}");

        let file = items_xlsx(
            dir.path(),
            "s.xlsx",
            &[("a", "Apricot", 10.0, None), ("e", "Endive", 5.0, None)],
        );
        let (out, v) = import(&db, &file, &["--mode", "skip-existing"]);
        assert!(out.status.success(), "{b} {v}");
        let (code, u) = undo(&db, dir.path(), &id_of(&v), &[]);
        assert_eq!(code, 0, "{b} {u}");
        assert_eq!(u["deleted"].as_u64(), Some(1), "{b} {u}");
        assert_eq!(rows(&db).await, ["a:Apple:1:old", "b:Bean:2:-"], "{b}");
    }
}

#[tokio::test]
async fn undo_over_http_answers_counts_then_409_and_the_history_says_undone() {
    for db in TestDb::both().await {
        let b = db.backend();
        let app = spawn_app_with(db, |_| {}).await;
        seeded(&app.db).await;
        let dir = tempdir();
        let file = items_xlsx(
            dir.path(),
            "h.xlsx",
            &[("a", "Apricot", 10.0, None), ("c", "Cherry", 3.0, None)],
        );
        let res = app
            .upload(
                "/imports?table=items&mode=upsert",
                "h.xlsx",
                std::fs::read(&file).unwrap(),
            )
            .await;
        assert_eq!(res.status(), 202, "{b}");
        let accepted: Value = res.json().await.unwrap();
        let id = accepted["id"].as_str().unwrap().to_string();
        app.wait_final(&id).await;
        let undo_url = app.url(&format!("/imports/{id}/undo"));
        let res = app.client.post(&undo_url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{b}");
        let u: Value = res.json().await.unwrap();
        assert_eq!(
            (u["deleted"].as_u64(), u["restored"].as_u64()),
            (Some(1), Some(1)),
            "{b} {u}"
        );
        assert_eq!(rows(&app.db).await, ["a:Apple:1:old", "b:Bean:2:-"], "{b}");
        let (code, v) = app.get_json(&format!("/imports/{id}")).await;
        assert_eq!(
            (code, v["status"].as_str()),
            (200, Some("undone")),
            "{b} {v}"
        );
        let res = app.client.post(&undo_url).send().await.unwrap();
        assert_eq!(res.status(), 409, "{b}");
        let e: Value = res.json().await.unwrap();
        assert!(
            e["error"].as_str().unwrap().contains("already undone"),
            "{b} {e}"
        );
        let other = app.url(&format!("/imports/{}/undo", uuid::Uuid::new_v4()));
        let res = app.client.post(&other).send().await.unwrap();
        assert_eq!(res.status(), 404, "{b}");
        let res = app
            .client
            .post(format!("{undo_url}?force=maybe"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{b}");
        app.stop().await;
    }
}

/// A CSV of `items`: a (updated) and `n` new codes.
pub(crate) fn big_csv(dir: &Path, n: usize) -> std::path::PathBuf {
    let path = dir.join("big.csv");
    let mut text = String::from("code,name,qty,note\na,Apricot,10,new\n");
    for i in 0..n {
        text.push_str(&format!("k{i:06},Item {i},{},\n", i % 100));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `import FILE --table items --batch-size 500` plus `extra` on `db`, as
/// a child process to be killed (its output dropped).
pub(crate) fn spawn_items_import(
    db: &TestDb,
    dir: &Path,
    file: &Path,
    extra: &[&str],
) -> std::process::Child {
    std::process::Command::new(crate::helpers::bin())
        .args([
            "import",
            file.to_str().unwrap(),
            "--database-url",
            &db.url,
            "--table",
            "items",
            "--batch-size",
            "500",
        ])
        .args(extra)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The id of the one import in `db`'s history once it has committed a
/// unit (waits up to a minute).
pub(crate) async fn first_commit(db: &TestDb) -> String {
    for _ in 0..6000 {
        if committed(db).await > 0 {
            let r = db.query("SELECT id FROM imports").await;
            if let Some(id) = r.first().and_then(|r| r[0].clone()) {
                return id;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{}: the import never committed", db.backend())
}

/// Rows the import has committed so far (its ledger, or SQLite's count).
async fn committed(db: &TestDb) -> u64 {
    let exists = match db.backend() {
        "postgres" => "SELECT CAST(to_regclass('import_ledger') IS NOT NULL AS TEXT)",
        "mysql" => {
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'import_ledger'"
        }
        _ => "SELECT CAST(count(*) > 0 AS TEXT) FROM sqlite_master WHERE name = 'imports'",
    };
    if !matches!(db.query(exists).await[0][0].as_deref(), Some("true" | "1")) {
        return 0;
    }
    let sql = match db.backend() {
        "postgres" => "SELECT CAST(COALESCE(sum(inserted), 0) AS TEXT) FROM import_ledger",
        "mysql" => "SELECT CONCAT(COALESCE(sum(inserted), 0)) FROM import_ledger",
        _ => "SELECT CAST(COALESCE(sum(inserted), 0) AS TEXT) FROM imports",
    };
    db.query(sql).await[0][0]
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_import_killed_mid_upsert_is_undone_to_the_rows_before_it() {
    for db in TestDb::both().await {
        let b = db.backend();
        // (A kill mid-replace leaves the old rows and nothing to undo:
        // tests/it/kill_modes.rs kills one; its staging loads record no count
        // to poll here.)
        for mode in ["upsert"] {
            db.execute("DROP TABLE IF EXISTS items").await;
            seeded(&db).await;
            let dir = tempdir();
            let file = big_csv(dir.path(), 200_000);
            let mut child = spawn_items_import(&db, dir.path(), &file, &["--mode", mode]);
            // Killed once some units are committed, long before the end.
            let before = committed(&db).await;
            let mut n = before;
            for _ in 0..6000 {
                n = committed(&db).await;
                if n >= before + 2000 || child.try_wait().unwrap().is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(
                n >= before + 2000,
                "{b} {mode}: nothing committed before the kill"
            );
            let id = db
                .query("SELECT id, status FROM imports ORDER BY created_at DESC")
                .await;
            let (id, was) = (id[0][0].clone().unwrap(), id[0][1].clone().unwrap());
            assert_eq!(was, "running", "{b} {mode}: the killed import's status");
            let rows_now = rows(&db).await;
            if mode == "replace" {
                // Never swapped in: the old contents, nothing between.
                assert_eq!(rows_now, ["a:Apple:1:old", "b:Bean:2:-"], "{b} {mode}");
            } else {
                // Whole units only: a updated first, then the new rows.
                assert_eq!(rows_now[0], "a:Apricot:10:new", "{b} {mode}");
                assert!(rows_now.len() > 2, "{b} {mode}");
            }
            // The process is gone, so its import can be undone.
            let (code, u) = undo(&db, dir.path(), &id, &[]);
            assert_eq!(code, 0, "{b} {mode} {u}");
            assert_eq!(
                rows(&db).await,
                ["a:Apple:1:old", "b:Bean:2:-"],
                "{b} {mode}: undo returns the table to the rows before the import"
            );
            assert_eq!(status(&db, &id).await, "undone", "{b} {mode}");
        }
    }
}

#[tokio::test]
async fn a_running_import_is_not_undone() {
    for db in TestDb::both().await {
        let b = db.backend();
        seeded(&db).await;
        let dir = tempdir();
        let file = big_csv(dir.path(), 300_000);
        let mut child = spawn_items_import(&db, dir.path(), &file, &["--mode", "upsert"]);
        let id = first_commit(&db).await;
        let (code, u) = undo(&db, dir.path(), &id, &[]);
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            still_running,
            "{b}: the import ended before the undo was tried"
        );
        assert_eq!(code, 9, "{b} {u}");
        assert!(
            u["error"].as_str().unwrap().contains("still running"),
            "{b} {u}"
        );
    }
}

/// SQLite records an append unit's rowids as runs of consecutive ones; a
/// file that gives the rowids itself (an `INTEGER PRIMARY KEY`), out of
/// order and with gaps, breaks them into several, and the undo still checks
/// and takes back each row on its own: the two changed since are counted
/// and kept, the others deleted, the row from before left alone.
#[tokio::test]
async fn sqlite_undo_of_an_append_with_its_own_rowids_checks_each_row() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    db.execute("CREATE TABLE nums (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        .await;
    db.execute("INSERT INTO nums VALUES (5, 'old')").await;
    let file = dir.path().join("nums.csv");
    std::fs::write(&file, "id,name\n3,c\n1,a\n2,b\n10,j\n11,k\n12,l\n").unwrap();
    let args = [
        "import",
        file.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--table",
        "nums",
        "--method",
        "copy",
        "--json",
    ];
    let out = run_cli(dir.path(), &args);
    let v = json_out(&out);
    assert!(out.status.success(), "{v}");
    assert_eq!(v["stats"]["inserted"], 6, "{v}");
    let id = id_of(&v);
    db.execute("UPDATE nums SET name = 'B' WHERE id = 2").await;
    db.execute("DELETE FROM nums WHERE id = 11").await;
    let (code, u) = undo(&db, dir.path(), &id, &[]);
    assert_eq!(code, 8, "{u}");
    assert!(u["error"].as_str().unwrap().contains("2 row(s)"), "{u}");
    let (code, u) = undo(&db, dir.path(), &id, &["--force"]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(
        (u["deleted"].as_u64(), u["kept"].as_u64()),
        (Some(4), Some(2)),
        "{u}"
    );
    let left = db
        .query("SELECT CAST(id AS TEXT) || ':' || name FROM nums ORDER BY id")
        .await;
    let left: Vec<String> = left.into_iter().filter_map(|r| r[0].clone()).collect();
    assert_eq!(left, ["2:B", "5:old"]);
}
