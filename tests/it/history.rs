//! The imports history from the CLI (`sheetpipe imports`, `imports show
//! ID`) and the same file twice: an append of a file already imported
//! completely into the same table is refused before any row is written —
//! CLI exit 7, HTTP 409 naming the earlier import — unless allowed.

use serde_json::Value;

use crate::api::{spawn_app_with, TestApp};
use crate::helpers::{header, json_out, run_cli, tempdir, write_xlsx, TestDb, X};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sheet of `good` valid rows tagged `tag`, then `bad` rows with a
/// broken email.
pub(crate) fn sheet(path: &std::path::Path, tag: &str, good: usize, bad: usize) {
    let mut rows = vec![header()];
    for i in 0..good {
        rows.push(vec![
            X::O(format!("{tag} {i}")),
            X::S("Retail"),
            X::E,
            X::O(format!("x{i}@{tag}.example.com")),
        ]);
    }
    for i in 0..bad {
        rows.push(vec![
            X::O(format!("{tag} bad {i}")),
            X::E,
            X::E,
            X::S("nope"),
        ]);
    }
    write_xlsx(path, &rows);
}

pub(crate) fn import(
    dir: &std::path::Path,
    db: &TestDb,
    file: &str,
    more: &[&str],
) -> std::process::Output {
    let mut args = vec!["import", file, "--json", "--database-url", &db.url];
    args.extend_from_slice(more);
    run_cli(dir, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_twice_is_refused_with_exit_7_naming_the_earlier_import() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        sheet(&dir.path().join("a.xlsx"), "twice", 4, 1);
        let first = import(dir.path(), &db, "a.xlsx", &[]);
        assert!(first.status.success(), "{b}: {}", stderr(&first));
        let first_id = json_out(&first)["import_id"].as_str().unwrap().to_string();
        let sha = db
            .query(&format!(
                "SELECT sha256, table_name FROM imports WHERE id = '{first_id}'"
            ))
            .await;
        let expected = sheetpipe::source::digest::sha256_file(&dir.path().join("a.xlsx")).unwrap();
        assert_eq!(
            sha[0][0].as_deref(),
            Some(expected.as_str()),
            "{b}: the CLI records the sha256"
        );
        assert_eq!(sha[0][1].as_deref(), Some("businesses"), "{b}");

        // The same bytes under another name: refused, nothing written.
        std::fs::copy(dir.path().join("a.xlsx"), dir.path().join("copy.xlsx")).unwrap();
        let again = import(dir.path(), &db, "copy.xlsx", &[]);
        assert_eq!(again.status.code(), Some(7), "{b}: {}", stderr(&again));
        let err = stderr(&again);
        assert!(
            err.starts_with(
                "error: copy.xlsx: this file was already imported into businesses by import "
            ),
            "{b}: {err}"
        );
        assert!(err.contains(&first_id), "{b}: {err}");
        assert!(err.contains("--allow-reimport"), "{b}: {err}");
        let v = json_out(&again);
        assert_eq!(v["previous_import"]["id"], first_id.as_str(), "{b}: {v}");
        assert_eq!(v["previous_import"]["inserted"], 4, "{b}: {v}");
        assert_eq!(v["previous_import"]["filename"], "a.xlsx", "{b}: {v}");
        assert_eq!(v["file"], "copy.xlsx", "{b}: {v}");
        let finished = db
            .query(&format!(
                "SELECT finished_at FROM imports WHERE id = '{first_id}'"
            ))
            .await;
        assert!(
            err.contains(v["previous_import"]["finished_at"].as_str().unwrap()),
            "{b}: {err}"
        );
        assert!(finished[0][0].is_some());
        assert_eq!(db.count().await, 4, "{b}: no row written");
        let recorded = db.query("SELECT count(*) FROM imports").await;
        assert_eq!(
            recorded[0][0].as_deref(),
            Some("1"),
            "{b}: a refusal is not an import"
        );

        // A dry run writes nothing and is never refused.
        let dry = run_cli(
            dir.path(),
            &["import", "a.xlsx", "--dry-run", "--database-url", &db.url],
        );
        assert!(dry.status.success(), "{b}: {}", stderr(&dry));

        // --allow-reimport: the rows go in again, and the import is recorded.
        let allowed = import(dir.path(), &db, "a.xlsx", &["--allow-reimport"]);
        assert!(allowed.status.success(), "{b}: {}", stderr(&allowed));
        assert_eq!(db.count().await, 8, "{b}");
        // It hashed the file beside the import, and recorded the hash.
        let allowed_id = json_out(&allowed)["import_id"]
            .as_str()
            .unwrap()
            .to_string();
        let allowed_sha = db
            .query(&format!(
                "SELECT sha256 FROM imports WHERE id = '{allowed_id}'"
            ))
            .await;
        assert_eq!(
            allowed_sha[0][0].as_deref(),
            Some(expected.as_str()),
            "{b}: an import that does not wait for the hash still records it"
        );

        // The same file into another table is another import; a second
        // time into that table is refused, naming it.
        let created = import(
            dir.path(),
            &db,
            "a.xlsx",
            &["--table", "copies", "--create"],
        );
        assert!(created.status.success(), "{b}: {}", stderr(&created));
        let copies_id = json_out(&created)["import_id"]
            .as_str()
            .unwrap()
            .to_string();
        let twice = import(dir.path(), &db, "a.xlsx", &["--table", "copies"]);
        assert_eq!(twice.status.code(), Some(7), "{b}: {}", stderr(&twice));
        let v = json_out(&twice);
        assert_eq!(v["previous_import"]["id"], copies_id.as_str(), "{b}: {v}");
        assert_eq!(v["previous_import"]["table"], "copies", "{b}: {v}");
        assert!(
            stderr(&twice).contains("already imported into copies by import"),
            "{b}"
        );
        let copies = db.query("SELECT count(*) FROM copies").await;
        // A table of its own has no email rule: all five rows went in.
        assert_eq!(copies[0][0].as_deref(), Some("5"), "{b}");
        assert_eq!(v["previous_import"]["inserted"], 5, "{b}: {v}");

        // A different file is not refused.
        sheet(&dir.path().join("b.xlsx"), "other", 3, 0);
        let other = import(dir.path(), &db, "b.xlsx", &[]);
        assert!(other.status.success(), "{b}: {}", stderr(&other));
        assert_eq!(db.count().await, 11, "{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_not_imported_completely_or_with_no_row_inserted_may_be_imported_again() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        // Stopped by the error budget (exit 6): not complete.
        sheet(&dir.path().join("stopped.xlsx"), "stop", 2, 3);
        let out = import(
            dir.path(),
            &db,
            "stopped.xlsx",
            &["--max-errors", "0", "--method", "sequential"],
        );
        assert_eq!(out.status.code(), Some(6), "{b}: {}", stderr(&out));
        let again = import(dir.path(), &db, "stopped.xlsx", &[]);
        assert!(again.status.success(), "{b}: {}", stderr(&again));
        // Now it is complete: a third time is refused.
        let third = import(dir.path(), &db, "stopped.xlsx", &[]);
        assert_eq!(third.status.code(), Some(7), "{b}: {}", stderr(&third));
        let v = json_out(&third);
        assert_eq!(
            v["previous_import"]["id"],
            json_out(&again)["import_id"],
            "{b}"
        );

        // Every row rejected: nothing was added, nothing to double.
        sheet(&dir.path().join("bad.xlsx"), "allbad", 0, 2);
        for _ in 0..2 {
            let out = import(dir.path(), &db, "bad.xlsx", &[]);
            assert!(out.status.success(), "{b}: {}", stderr(&out));
            assert_eq!(json_out(&out)["stats"]["error_count"], 2, "{b}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheetpipe_imports_lists_newest_first_and_show_gives_every_field() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        sheet(&dir.path().join("one.xlsx"), "one", 3, 1);
        sheet(&dir.path().join("two.xlsx"), "two", 2, 0);
        let one = import(
            dir.path(),
            &db,
            "one.xlsx",
            &["--rejects", "bad.csv", "--method", "batch"],
        );
        assert!(one.status.success(), "{b}: {}", stderr(&one));
        let two = import(dir.path(), &db, "two.xlsx", &[]);
        let (one_id, two_id) = (
            json_out(&one)["import_id"].as_str().unwrap().to_string(),
            json_out(&two)["import_id"].as_str().unwrap().to_string(),
        );

        let list = run_cli(dir.path(), &["imports", "--database-url", &db.url]);
        assert!(list.status.success(), "{b}: {}", stderr(&list));
        let text = stdout(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{b}: {text}");
        for col in [
            "ID", "TIME", "FILE", "TABLE", "MODE", "READ", "INSERTED", "UPDATED", "SKIPPED",
            "REJECTED", "STATUS",
        ] {
            assert!(lines[0].contains(col), "{b}: {text}");
        }
        let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let newest = words(lines[1]);
        assert_eq!(newest[0], two_id, "{b}: newest first: {text}");
        assert_eq!(
            newest[2..],
            [
                "two.xlsx",
                "businesses",
                "append",
                "2",
                "2",
                "0",
                "0",
                "0",
                "completed"
            ],
            "{b}"
        );
        let older = words(lines[2]);
        assert_eq!(older[0], one_id, "{b}");
        assert_eq!(
            older[2..],
            [
                "one.xlsx",
                "businesses",
                "append",
                "4",
                "3",
                "0",
                "0",
                "1",
                "completed"
            ],
            "{b}"
        );

        // --limit and --json: the shape of GET /imports.
        let out = run_cli(
            dir.path(),
            &[
                "imports",
                "--limit",
                "1",
                "--json",
                "--database-url",
                &db.url,
            ],
        );
        let v = json_out(&out);
        assert_eq!(v["total"], 2, "{b}: {v}");
        assert_eq!(v["imports"].as_array().unwrap().len(), 1, "{b}");
        assert_eq!(v["imports"][0]["id"], two_id.as_str(), "{b}");
        assert_eq!(v["imports"][0]["table_name"], "businesses", "{b}");
        assert_eq!(v["imports"][0]["stats"]["success_count"], 2, "{b}");
        let text = stdout(&run_cli(
            dir.path(),
            &["imports", "--limit", "1", "--database-url", &db.url],
        ));
        assert!(
            text.contains("1 of 2 imports shown; --offset 1 for the next"),
            "{b}: {text}"
        );

        // show: every field, and where the reject report is.
        let out = run_cli(
            dir.path(),
            &["imports", "show", &one_id, "--database-url", &db.url],
        );
        assert!(out.status.success(), "{b}: {}", stderr(&out));
        let text = stdout(&out);
        let report = std::fs::canonicalize(dir.path().join("bad.csv")).unwrap();
        let size = std::fs::metadata(&report).unwrap().len();
        for want in [
            format!("Import {one_id}"),
            "file:          one.xlsx".to_string(),
            "table:         businesses".to_string(),
            "method:        batch".to_string(),
            "status:        completed".to_string(),
            "rows read:     4".to_string(),
            "inserted:      3".to_string(),
            "rejected:      1".to_string(),
            format!(
                "reject report: {} (present, {size} bytes)",
                report.display()
            ),
        ] {
            assert!(text.contains(&want), "{b}: {want:?} in:\n{text}");
        }
        let sha = sheetpipe::source::digest::sha256_file(&dir.path().join("one.xlsx")).unwrap();
        assert!(text.contains(&sha), "{b}: {text}");
        std::fs::remove_file(&report).unwrap();
        let out = run_cli(
            dir.path(),
            &[
                "imports",
                "show",
                &one_id,
                "--json",
                "--database-url",
                &db.url,
            ],
        );
        let v = json_out(&out);
        assert_eq!(
            v["rejects_reports"][0]["path"],
            report.display().to_string(),
            "{b}: {v}"
        );
        assert_eq!(v["rejects_reports"][0]["exists"], false, "{b}: {v}");
        assert_eq!(v["stats"]["error_count"], 1, "{b}: {v}");
        assert_eq!(v["mode"], "append", "{b}: {v}");

        // An unknown id: exit 3, named.
        let out = run_cli(
            dir.path(),
            &[
                "imports",
                "show",
                "00000000-0000-4000-8000-000000000000",
                "--database-url",
                &db.url,
            ],
        );
        assert_eq!(out.status.code(), Some(3), "{b}");
        assert!(
            stderr(&out).contains("no import with id 00000000-0000-4000-8000-000000000000"),
            "{b}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn imports_on_a_missing_sqlite_file_says_so_and_creates_nothing() {
    let dir = tempdir();
    let out = run_cli(dir.path(), &["imports"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("no SQLite database at sheetpipe.db"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("sheetpipe.db").exists());
}

async fn upload(app: &TestApp, query: &str, bytes: &[u8]) -> (u16, Value) {
    let r = app
        .upload(&format!("/upload{query}"), "same.xlsx", bytes.to_vec())
        .await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_answers_409_naming_the_earlier_import_unless_allow_reimport() {
    for db in TestDb::both().await {
        let b = db.backend();
        let app = spawn_app_with(db, |_| {}).await;
        let dir = tempdir();
        let path = dir.path().join("same.xlsx");
        sheet(&path, "http", 3, 0);
        let bytes = std::fs::read(&path).unwrap();
        let (code, first) = upload(&app, "", &bytes).await;
        assert_eq!(code, 200, "{b}: {first}");
        let first_id = first["import_id"].as_str().unwrap().to_string();

        let (code, v) = upload(&app, "", &bytes).await;
        assert_eq!(code, 409, "{b}: {v}");
        let error = v["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!(
                "File already imported: import {first_id} imported it into businesses at "
            )),
            "{b}: {v}"
        );
        assert_eq!(v["previous_import"]["id"], first_id.as_str(), "{b}");
        assert_eq!(
            v["previous_import"]["status_url"],
            format!("/imports/{first_id}"),
            "{b}"
        );
        assert_eq!(v["previous_import"]["inserted"], 3, "{b}");
        let (_, earlier) = app.get_json(&format!("/imports/{first_id}")).await;
        assert_eq!(
            v["previous_import"]["finished_at"], earlier["finished_at"],
            "{b}"
        );
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains("allow_reimport=true"),
            "{b}: {v}"
        );
        // The background endpoint refuses at once too, before any 202.
        let r = app.upload("/imports", "same.xlsx", bytes.clone()).await;
        assert_eq!(r.status(), 409, "{b}");
        assert_eq!(app.db.count().await, 3, "{b}: nothing written");
        let (_, list) = app.get_json("/imports").await;
        assert_eq!(list["total"], 1, "{b}: refusals are not imports: {list}");
        assert_eq!(list["imports"][0]["table_name"], "businesses", "{b}");

        // A dry run is never refused; a bad flag is a 400.
        let (code, v) = upload(&app, "?dry_run=true", &bytes).await;
        assert_eq!(code, 200, "{b}: {v}");
        let (code, v) = upload(&app, "?allow_reimport=yes", &bytes).await;
        assert_eq!(code, 400, "{b}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("allow_reimport"),
            "{b}: {v}"
        );

        let (code, v) = upload(&app, "?allow_reimport=true", &bytes).await;
        assert_eq!(code, 200, "{b}: {v}");
        assert_eq!(app.db.count().await, 6, "{b}");

        // Into another table it is another import; twice there is a 409.
        let (code, v) = upload(&app, "?table=copies&create=true", &bytes).await;
        assert_eq!(code, 200, "{b}: {v}");
        let (code, v) = upload(&app, "?table=copies", &bytes).await;
        assert_eq!(code, 409, "{b}: {v}");
        assert_eq!(v["previous_import"]["table"], "copies", "{b}: {v}");
        let (_, list) = app.get_json("/imports?limit=1").await;
        assert_eq!(list["imports"][0]["table_name"], "copies", "{b}: {list}");
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_imported_by_the_cli_is_refused_over_http_and_listed_by_both() {
    let db = TestDb::postgres().await;
    let dir = tempdir();
    sheet(&dir.path().join("cli.xlsx"), "shared", 2, 0);
    let out = import(dir.path(), &db, "cli.xlsx", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cli_id = json_out(&out)["import_id"].as_str().unwrap().to_string();
    let app = spawn_app_with(db, |_| {}).await;
    let bytes = std::fs::read(dir.path().join("cli.xlsx")).unwrap();
    let (code, v) = upload(&app, "", &bytes).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["previous_import"]["id"], cli_id.as_str());
    let (_, row) = app.get_json(&format!("/imports/{cli_id}")).await;
    assert_eq!(row["table_name"], "businesses");
    assert_eq!(row["sha256"].as_str().unwrap().len(), 64);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_history_made_before_the_new_columns_gains_them() {
    let db = TestDb::postgres().await;
    drop(db.bare_sink().await);
    db.execute("ALTER TABLE imports DROP COLUMN table_name, DROP COLUMN rejects_files")
        .await;
    db.execute("DROP INDEX idx_imports_sha256").await;
    let dir = tempdir();
    sheet(&dir.path().join("old.xlsx"), "old", 1, 0);
    let out = import(dir.path(), &db, "old.xlsx", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = db
        .query("SELECT table_name, (SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_imports_sha256') FROM imports")
        .await;
    assert_eq!(
        rows,
        [[Some("businesses".to_string()), Some("1".to_string())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_refuses_the_same_file_twice_and_lists_it() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let dir = tempdir();
    sheet(&dir.path().join("m.xlsx"), "maria", 2, 1);
    let first = import(dir.path(), &db, "m.xlsx", &["--rejects", "r.xlsx"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let id = json_out(&first)["import_id"].as_str().unwrap().to_string();
    let again = import(dir.path(), &db, "m.xlsx", &[]);
    assert_eq!(again.status.code(), Some(7), "{}", stderr(&again));
    assert_eq!(json_out(&again)["previous_import"]["id"], id.as_str());
    let out = run_cli(
        dir.path(),
        &["imports", "show", &id, "--json", "--database-url", &db.url],
    );
    let v = json_out(&out);
    assert_eq!(v["table_name"], "businesses", "{v}");
    assert_eq!(v["stats"]["success_count"], 2, "{v}");
    assert_eq!(v["rejects_reports"][0]["exists"], true, "{v}");
    assert_eq!(db.count().await, 2);
    // --allow-reimport hashes beside the import and records the hash: the
    // import it made is then the one a third attempt names.
    let allowed = import(dir.path(), &db, "m.xlsx", &["--allow-reimport"]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    let allowed_id = json_out(&allowed)["import_id"]
        .as_str()
        .unwrap()
        .to_string();
    let third = import(dir.path(), &db, "m.xlsx", &[]);
    assert_eq!(third.status.code(), Some(7), "{}", stderr(&third));
    assert_eq!(
        json_out(&third)["previous_import"]["id"],
        allowed_id.as_str()
    );
}
