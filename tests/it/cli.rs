//! The binary as a user runs it: JSON output, text output, exit codes.

use crate::helpers::{header, json_out, run_cli, tempdir, write_xlsx, TestDb, X};

#[test]
fn json_output_is_one_object_with_the_tutorial_stats_and_rejections() {
    let dir = tempdir();
    let file = dir.path().join("b.xlsx");
    write_xlsx(
        &file,
        &[
            header(),
            vec![
                X::S("Acme"),
                X::S("Retail"),
                X::N(5551234567.0),
                X::S("a@acme.com"),
            ],
            vec![X::S("Beta"), X::E, X::E, X::S("nope")],
            vec![],
            vec![X::S("  Gamma  ")],
        ],
    );
    let out = run_cli(
        dir.path(),
        &["import", "b.xlsx", "--method", "batch", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    assert_eq!(v["message"], "Import completed successfully");
    assert_eq!(v["method"], "batch");
    let stats = &v["stats"];
    assert_eq!(stats["total_records"], 3, "the blank row is not counted");
    assert_eq!(stats["success_count"], 2);
    assert_eq!(stats["error_count"], 1);
    assert!(stats["duration"].is_string());
    assert!(stats["duration_ms"].is_u64());
    assert!(stats["records_per_second"].is_number());
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["row"], 3);
    assert_eq!(rejected[0]["column"], "D (email)");
    assert_eq!(rejected[0]["value"], "nope");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("email"));
    // The embedded SQLite default landed in the working directory.
    assert!(dir.path().join("sheetpipe.db").exists());
}

#[test]
fn text_output_shows_the_stats_and_where_each_rejection_is() {
    let dir = tempdir();
    let file = dir.path().join("t.xlsx");
    write_xlsx(
        &file,
        &[header(), vec![X::E, X::S("Retail")], vec![X::S("Ok")]],
    );
    let out = run_cli(dir.path(), &["import", "t.xlsx"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Import completed successfully"), "{text}");
    assert!(text.contains("total_records:      2"), "{text}");
    assert!(
        text.contains("Sheet1!A2 (name): name is required"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no progress bar escape codes when stdout is not a TTY"
    );
}

#[test]
fn a_sheet_without_a_name_column_exits_3_with_one_clear_line() {
    let dir = tempdir();
    let file = dir.path().join("h.xlsx");
    write_xlsx(
        &file,
        &[
            vec![X::S("Owner"), X::S("Town")],
            vec![X::S("Acme"), X::S("Paris")],
        ],
    );
    let out = run_cli(dir.path(), &["import", "h.xlsx"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no column matches 'name'") && err.contains("Owner, Town"),
        "{err}"
    );
}

#[test]
fn a_missing_file_exits_3_and_a_dead_database_exits_5() {
    let dir = tempdir();
    let out = run_cli(dir.path(), &["import", "nope.xlsx", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json_out(&out)["file"], "nope.xlsx");
    assert!(json_out(&out)["error"]
        .as_str()
        .unwrap()
        .contains("cannot read the file"));

    let file = dir.path().join("ok.xlsx");
    write_xlsx(&file, &[header(), vec![X::S("Acme")]]);
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "ok.xlsx",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

#[test]
fn the_rejects_file_lists_every_rejected_row() {
    let dir = tempdir();
    let file = dir.path().join("r.xlsx");
    let mut rows = vec![header()];
    for i in 0..300 {
        rows.push(vec![
            if i % 3 == 0 {
                X::E
            } else {
                X::O(format!("n{i}"))
            },
            X::S("=cmd"),
        ]);
    }
    write_xlsx(&file, &rows);
    let out = run_cli(
        dir.path(),
        &["import", "r.xlsx", "--rejects", "rej.csv", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["stats"]["error_count"], 100);
    assert_eq!(json_out(&out)["rejected"].as_array().unwrap().len(), 100);
    let report = std::fs::read_to_string(dir.path().join("rej.csv")).unwrap();
    assert_eq!(report.lines().count(), 101);
    assert!(
        report.lines().nth(1).unwrap().contains(",'=cmd"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_into_postgres_from_database_url() {
    let db = TestDb::postgres().await;
    let dir = tempdir();
    let gen = run_cli(
        dir.path(),
        &[
            "generate",
            "g.csv",
            "--rows",
            "500",
            "--bad-rate",
            "0.1",
            "--seed",
            "9",
        ],
    );
    assert!(gen.status.success());
    let out = std::process::Command::new(crate::helpers::bin())
        .args([
            "import",
            "g.csv",
            "--json",
            "--method",
            "concurrent",
            "--workers",
            "3",
        ])
        .current_dir(dir.path())
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    let inserted = v["stats"]["success_count"].as_u64().unwrap();
    assert_eq!(inserted + v["stats"]["error_count"].as_u64().unwrap(), 500);
    assert!(v["stats"]["error_count"].as_u64().unwrap() > 20);
    assert_eq!(db.count().await, inserted);
}
