//! Issue 14: the mode and the exact counts of a re-import in the history —
//! `sheetpipe imports` and `imports show ID` (text and `--json`), `GET
//! /imports`, `GET /imports/{id}` (live and from the table) — on
//! PostgreSQL and SQLite, with real workbooks, processes and sockets.

use std::path::Path;

use serde_json::Value;

use crate::api::spawn_app_with;
use crate::helpers::{json_out, run_cli, tempdir, TestDb};
use crate::modes::{counts, import, items_xlsx, rows, seeded};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `imports ARGS --database-url URL` in `dir`.
fn imports(dir: &Path, db: &TestDb, args: &[&str]) -> std::process::Output {
    let mut all = vec!["imports"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", &db.url]);
    let out = run_cli(dir, &all);
    assert!(
        out.status.success(),
        "{}: {}",
        db.backend(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// (mode, inserted, updated, skipped, rejected) of a history entry.
fn entry(v: &Value) -> (String, u64, u64, u64, u64) {
    let p = &v["progress"];
    let n = |k: &str| {
        p[k].as_u64()
            .unwrap_or_else(|| panic!("progress.{k} in {v}"))
    };
    (
        v["mode"].as_str().unwrap_or_default().to_string(),
        n("inserted"),
        n("updated"),
        n("skipped"),
        n("rejected"),
    )
}

fn id_of(v: &Value) -> String {
    v["import_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_history_shows_each_mode_and_its_exact_counts() {
    for db in TestDb::both().await {
        let b = db.backend();
        let dir = tempdir();
        seeded(&db).await;
        // a updates, c is new, d breaks the CHECK (qty >= 0): rejected.
        let up = items_xlsx(
            dir.path(),
            "up.xlsx",
            &[
                ("a", "Apricot", 10.0, None),
                ("c", "Cherry", 3.0, None),
                ("d", "Date", -1.0, None),
            ],
        );
        let (out, v) = import(&db, &up, &["--mode", "upsert"]);
        assert_eq!(out.status.code(), Some(0), "{b}: {v}");
        assert_eq!(counts(&v), (1, 1, 0, 2, 1), "{b}: {v}");
        let up_id = id_of(&v);

        let show = json_out(&imports(dir.path(), &db, &["show", &up_id, "--json"]));
        assert_eq!(entry(&show), ("upsert".into(), 1, 1, 0, 1), "{b}: {show}");
        let stats = &show["stats"];
        assert_eq!(
            (
                stats["success_count"].as_u64(),
                stats["inserted"].as_u64(),
                stats["updated"].as_u64(),
                stats["skipped"].as_u64(),
                stats["error_count"].as_u64(),
                stats["unprocessed"].as_u64(),
                stats["total_records"].as_u64(),
            ),
            (
                Some(2),
                Some(1),
                Some(1),
                Some(0),
                Some(1),
                Some(0),
                Some(3)
            ),
            "{b}: {show}"
        );
        let text = stdout(&imports(dir.path(), &db, &["show", &up_id]));
        for want in [
            "mode:          upsert",
            "inserted:      1",
            "updated:       1",
            "skipped:       0",
            "rejected:      1",
            "unprocessed:   0",
        ] {
            assert!(text.contains(want), "{b}: {want:?} in:\n{text}");
        }

        // skip-existing: a and b are there (skipped), e is new.
        let skip = items_xlsx(
            dir.path(),
            "skip.xlsx",
            &[
                ("a", "A", 1.0, None),
                ("b", "B", 1.0, None),
                ("e", "Elder", 5.0, None),
            ],
        );
        let (out, v) = import(&db, &skip, &["--mode", "skip-existing"]);
        assert_eq!(out.status.code(), Some(0), "{b}: {v}");
        assert_eq!(counts(&v), (1, 0, 2, 1, 0), "{b}: {v}");
        let skip_id = id_of(&v);

        // replace: the table becomes x, y.
        let repl = items_xlsx(
            dir.path(),
            "repl.xlsx",
            &[("x", "Xigua", 1.0, None), ("y", "Yam", 2.0, None)],
        );
        let (out, v) = import(&db, &repl, &["--mode", "replace"]);
        assert_eq!(out.status.code(), Some(0), "{b}: {v}");
        assert_eq!(rows(&db).await, ["x:Xigua:1:-", "y:Yam:2:-"], "{b}");
        let repl_id = id_of(&v);

        // The list, text: one line per import with its mode and counts.
        let text = stdout(&imports(dir.path(), &db, &[]));
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines[0][4..],
            ["MODE", "READ", "INSERTED", "UPDATED", "SKIPPED", "REJECTED", "STATUS"],
            "{b}: {text}"
        );
        let line = |id: &str| {
            lines
                .iter()
                .find(|l| l[0] == id)
                .unwrap_or_else(|| panic!("{b}: {id} in\n{text}"))[4..]
                .to_vec()
        };
        assert_eq!(
            line(&repl_id),
            ["replace", "2", "2", "0", "0", "0", "completed"],
            "{b}"
        );
        assert_eq!(
            line(&skip_id),
            ["skip-existing", "3", "1", "0", "2", "0", "completed"],
            "{b}"
        );
        assert_eq!(
            line(&up_id),
            ["upsert", "3", "1", "1", "0", "1", "completed"],
            "{b}"
        );

        // The list, JSON: the shape of GET /imports.
        let list = json_out(&imports(dir.path(), &db, &["--json"]));
        let got: Vec<(String, u64, u64, u64, u64)> = list["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(entry)
            .collect();
        assert_eq!(
            got,
            [
                ("replace".into(), 2, 0, 0, 0),
                ("skip-existing".into(), 1, 0, 2, 0),
                ("upsert".into(), 1, 1, 0, 1),
            ],
            "{b}: {list}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_history_shows_each_mode_and_its_exact_counts() {
    for db in TestDb::both().await {
        let b = db.backend();
        let app = spawn_app_with(db, |_| {}).await;
        seeded(&app.db).await;
        let dir = tempdir();
        let file = items_xlsx(
            dir.path(),
            "s.xlsx",
            &[("a", "A", 1.0, None), ("f", "Fig", 6.0, None)],
        );
        let bytes = std::fs::read(&file).unwrap();

        // A background skip-existing: the live status, then the history.
        let res = app
            .upload(
                "/imports?table=items&mode=skip-existing",
                "s.xlsx",
                bytes.clone(),
            )
            .await;
        assert_eq!(res.status(), 202, "{b}");
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let done = app.wait_final(&id).await;
        assert_eq!(done["status"], "completed", "{b}: {done}");
        assert_eq!(
            entry(&done),
            ("skip-existing".into(), 1, 0, 1, 0),
            "{b}: {done}"
        );
        assert_eq!(done["stats"]["skipped"], 1, "{b}: {done}");

        // A synchronous upsert: its report, then its status.
        let res = app
            .upload("/upload?table=items&mode=upsert", "s.xlsx", bytes)
            .await;
        assert_eq!(res.status(), 200, "{b}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(counts(&body), (0, 2, 0, 2, 0), "{b}: {body}");
        let up_id = id_of(&body);
        let (_, status) = app.get_json(&format!("/imports/{up_id}")).await;
        assert_eq!(
            entry(&status),
            ("upsert".into(), 0, 2, 0, 0),
            "{b}: {status}"
        );

        // An import made by the CLI is known to the service from the table
        // only (not in its memory): the same fields.
        let cli_file = items_xlsx(
            dir.path(),
            "c.xlsx",
            &[("a", "Again", 2.0, None), ("g", "Grape", 7.0, None)],
        );
        let (out, v) = import(&app.db, &cli_file, &["--mode", "upsert"]);
        assert_eq!(out.status.code(), Some(0), "{b}: {v}");
        let cli_id = id_of(&v);
        let (code, row) = app.get_json(&format!("/imports/{cli_id}")).await;
        assert_eq!(code, 200, "{b}: {row}");
        assert_eq!(entry(&row), ("upsert".into(), 1, 1, 0, 0), "{b}: {row}");
        assert_eq!(row["stats"]["success_count"], 2, "{b}: {row}");
        assert_eq!(row["stats"]["updated"], 1, "{b}: {row}");

        let (_, list) = app.get_json("/imports").await;
        let modes: Vec<(String, u64, u64, u64, u64)> = list["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(entry)
            .collect();
        assert_eq!(
            modes,
            [
                ("upsert".into(), 1, 1, 0, 0),
                ("upsert".into(), 0, 2, 0, 0),
                ("skip-existing".into(), 1, 0, 1, 0),
            ],
            "{b}: {list}"
        );
    }
}
