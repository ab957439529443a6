//! What a new user meets in the first minutes, through the real binary:
//! where the rows went, an import that imported nothing, the error budget,
//! one clear line for a failure, the file checked before the database.

use crate::helpers::{header, json_out, run_cli, tempdir, write_xlsx, TestDb, X};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` rows whose `bad` first ones have an invalid email.
fn rows_with_bad_emails(n: usize, bad: usize) -> Vec<Vec<X>> {
    let mut rows = vec![header()];
    for i in 0..n {
        let email = if i < bad {
            "nope".to_string()
        } else {
            format!("r{i}@x.com")
        };
        rows.push(vec![X::O(format!("Row {i}")), X::E, X::E, X::O(email)]);
    }
    rows
}

#[test]
fn the_output_names_the_database_and_table_the_rows_went_to() {
    let dir = tempdir();
    write_xlsx(&dir.path().join("w.xlsx"), &rows_with_bad_emails(3, 1));
    let out = run_cli(dir.path(), &["import", "w.xlsx", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["database"], "sqlite://sheetpipe.db");
    assert_eq!(v["table"], "businesses");
    assert_eq!(v["file"], "w.xlsx");
    // The tutorial's fields are unchanged.
    assert_eq!(v["message"], "Import completed successfully");
    assert_eq!(v["stats"]["success_count"], 2);

    let out = run_cli(dir.path(), &["import", "w.xlsx", "--allow-reimport"]);
    let text = stdout(&out);
    assert!(
        text.contains("Imported 2 rows into businesses in sqlite://sheetpipe.db"),
        "{text}"
    );
}

#[test]
fn an_import_that_imported_nothing_says_so_plainly() {
    let dir = tempdir();
    write_xlsx(&dir.path().join("z.xlsx"), &rows_with_bad_emails(4, 4));
    let out = run_cli(dir.path(), &["import", "z.xlsx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Nothing was imported into businesses in sqlite://sheetpipe.db: all 4 rows were rejected"),
        "{text}"
    );
    assert!(!text.contains("Imported "), "{text}");
}

#[test]
fn more_rejected_rows_than_max_errors_stops_the_import_early_with_exit_6() {
    let dir = tempdir();
    // 500 bad rows, then 4,500 good ones: a stop at the 11th bad row leaves
    // most of the file unread.
    write_xlsx(&dir.path().join("m.xlsx"), &rows_with_bad_emails(5000, 500));
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "m.xlsx",
            "--json",
            "--max-errors",
            "10",
            "--batch-size",
            "50",
        ],
    );
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let v = json_out(&out);
    assert_eq!(v["message"], "Import stopped: too many rejected rows");
    assert!(v["error"].as_str().unwrap().contains("10 allowed"), "{v}");
    let total = v["stats"]["total_records"].as_u64().unwrap();
    assert!(total < 5000, "stopped early, not at the end: {v}");
    assert!(v["stats"]["error_count"].as_u64().unwrap() > 10, "{v}");
    assert_eq!(
        stderr(&out).trim().lines().count(),
        1,
        "one line on stderr: {}",
        stderr(&out)
    );

    // Under budget, the same file imports with exit 0.
    let out = run_cli(
        dir.path(),
        &["import", "m.xlsx", "--json", "--max-errors", "500"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_out(&out)["stats"]["success_count"], 4500);
}

#[test]
fn an_error_rate_over_max_error_rate_exits_6_and_a_bad_rate_exits_2() {
    let dir = tempdir();
    write_xlsx(&dir.path().join("r.xlsx"), &rows_with_bad_emails(20, 5));
    // 5 of 20 is 25%: judged at the end, because fewer than 100 rows.
    let out = run_cli(
        dir.path(),
        &["import", "r.xlsx", "--json", "--max-error-rate", "10%"],
    );
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let v = json_out(&out);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("5 of the 20 rows judged (25.0%)"),
        "{v}"
    );
    let out = run_cli(dir.path(), &["import", "r.xlsx", "--max-error-rate", "0.3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_cli(dir.path(), &["import", "r.xlsx", "--max-error-rate", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("between 0 and 1"), "{}", stderr(&out));
}

#[test]
fn a_failed_import_is_one_line_on_stderr_naming_the_file_once() {
    let dir = tempdir();
    write_xlsx(
        &dir.path().join("h.xlsx"),
        &[
            vec![X::S("Owner"), X::S("Town")],
            vec![X::S("A"), X::S("B")],
        ],
    );
    for dry in [false, true] {
        let mut args = vec!["import", "h.xlsx"];
        if dry {
            args.push("--dry-run");
        }
        let out = run_cli(dir.path(), &args);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(stdout(&out), "", "no block of zero counts");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: h.xlsx: no header row found"),
            "{err}"
        );
        assert_eq!(err.matches("h.xlsx").count(), 1, "{err}");

        args.push("--json");
        let out = run_cli(dir.path(), &args);
        let v = json_out(&out);
        let message = if dry {
            "Dry run failed"
        } else {
            "Import failed"
        };
        assert_eq!(v["message"], message);
        assert!(
            v["error"].as_str().unwrap().contains("no column matches"),
            "{v}"
        );
    }
    // A missing file: the same one line.
    let out = run_cli(dir.path(), &["import", "gone.csv"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: gone.csv: cannot read the file:"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_reported_before_any_database_is_touched() {
    let dir = tempdir();
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "missing.xlsx",
            "--database-url",
            "sqlite://err.db",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!dir.path().join("err.db").exists(), "no database created");
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "missing.xlsx",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "the file error, not the database's"
    );
    assert!(stderr(&out).contains("missing.xlsx"), "{}", stderr(&out));
    // An empty file too: no tables created.
    std::fs::write(dir.path().join("empty.csv"), b"").unwrap();
    let out = run_cli(
        dir.path(),
        &["import", "empty.csv", "--database-url", "sqlite://err.db"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!dir.path().join("err.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_import_is_recorded_in_the_imports_history_with_its_id() {
    for db in TestDb::both().await {
        let dir = tempdir();
        write_xlsx(&dir.path().join("h.xlsx"), &rows_with_bad_emails(5, 2));
        let out = std::process::Command::new(crate::helpers::bin())
            .args(["import", "h.xlsx", "--json", "--database-url", &db.url])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v = json_out(&out);
        let id = v["import_id"].as_str().expect("an import id").to_string();
        let rows = db
            .query(&format!(
                "SELECT status, rows_read, inserted, rejected, filename FROM imports WHERE id = '{id}'"
            ))
            .await;
        let row: Vec<String> = rows[0].iter().map(|c| c.clone().unwrap()).collect();
        assert_eq!(
            row,
            ["completed", "5", "3", "2", "h.xlsx"],
            "{}",
            db.backend()
        );
        let text = run_cli_in(
            dir.path(),
            &db.url,
            &["import", "h.xlsx", "--allow-reimport"],
        );
        assert!(text.contains("recorded in its imports table"), "{text}");
    }
}

fn run_cli_in(dir: &std::path::Path, url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(crate::helpers::bin())
        .args(args)
        .args(["--database-url", url])
        .current_dir(dir)
        .output()
        .unwrap();
    stdout(&out)
}

#[test]
fn the_summary_fits_a_30_line_terminal_and_a_dry_run_says_valid() {
    let dir = tempdir();
    write_xlsx(&dir.path().join("s.xlsx"), &rows_with_bad_emails(60, 40));
    let out = run_cli(dir.path(), &["import", "s.xlsx", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines().count() <= 30,
        "{} lines:\n{text}",
        text.lines().count()
    );
    assert!(text.contains("success_count:      20 (valid)"), "{text}");
    assert!(text.contains("20 rows valid for businesses"), "{text}");
    assert!(!text.contains("inserted"), "{text}");
    assert!(text.contains("Rejected rows (first 10 of 40):"), "{text}");
    assert!(
        text.contains("use --rejects FILE.csv (or --json)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_reports_unprocessed_rows_apart_and_where_to_resume() {
    let db = TestDb::sqlite();
    let dir = tempdir();
    let gen = run_cli(
        dir.path(),
        &[
            "generate",
            "big.csv",
            "--rows",
            "100000",
            "--bad-rate",
            "0.01",
        ],
    );
    assert!(gen.status.success());
    let child = std::process::Command::new(crate::helpers::bin())
        .args([
            "import",
            "big.csv",
            "--method",
            "sequential",
            "--database-url",
            &db.url,
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until rows are being written (the ctrl-c handler is set by then).
    loop {
        let started = std::path::Path::new(&db.url["sqlite://".len()..]).exists()
            && db
                .query("SELECT count(*) FROM sqlite_master WHERE name = 'businesses'")
                .await[0][0]
                .as_deref()
                == Some("1");
        if started && db.count().await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Import cancelled"), "{text}");
    let number = |label: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    let (total, ok, errors) = (
        number("total_records:"),
        number("success_count:"),
        number("error_count:"),
    );
    let left = number("unprocessed:");
    assert_eq!(ok + errors + left, total, "{text}");
    assert!(total < 100_000, "stopped early: {text}");
    assert_eq!(db.count().await, ok);
    let listed = text
        .lines()
        .find(|l| l.starts_with("Rejected rows"))
        .unwrap_or("");
    assert!(
        errors == 0 || listed.ends_with(&format!("of {errors}):")),
        "error_count is the rejected rows only: {text}"
    );
    assert!(text.contains("re-run from row"), "{text}");
}
