//! Exact accounting when the database refuses rows inside a unit: the good
//! rows of that unit are still inserted, only the refused ones rejected,
//! with the database's reason — in every multi-row method, on both backends,
//! with the bad rows at the start, middle and end of a unit.

use sheetpipe::pipeline::{self, Control, ImportJob, Method, Plan, Status};

use crate::helpers::{header, tempdir, write_xlsx, TestDb, X};

/// 100 rows named `ok 000`…; the names of rows at `bad` (0-based data index)
/// start with `BAD`, which a CHECK constraint added by the test refuses.
fn sheet_with_bad_names(path: &std::path::Path, bad: &[usize]) {
    let mut rows = vec![header()];
    for i in 0..100 {
        let name = if bad.contains(&i) {
            format!("BAD {i:03}")
        } else {
            format!("ok {i:03}")
        };
        rows.push(vec![X::O(name), X::S("Retail")]);
    }
    write_xlsx(path, &rows);
}

async fn add_check(db: &TestDb) {
    db.sink().await;
    let sql = if db.backend() == "postgres" {
        "ALTER TABLE businesses ADD CONSTRAINT no_bad CHECK (name NOT LIKE 'BAD%')"
    } else {
        // SQLite cannot add a CHECK to an existing table: a trigger refuses
        // the same rows with a constraint error.
        "CREATE TRIGGER no_bad BEFORE INSERT ON businesses WHEN NEW.name LIKE 'BAD%' \
         BEGIN SELECT RAISE(ABORT, 'no_bad: name starts with BAD'); END"
    };
    db.execute(sql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_inside_a_unit_costs_no_good_row() {
    let dir = tempdir();
    let file = dir.path().join("bad.xlsx");
    // Units of 20: bad rows at the start (0, 20), middle (45) and end (59, 99).
    let bad = [0usize, 20, 45, 59, 99];
    sheet_with_bad_names(&file, &bad);
    for method in [
        Method::Batch,
        Method::Copy,
        Method::Sequential,
        Method::Concurrent,
    ] {
        for db in TestDb::both().await {
            add_check(&db).await;
            let sink = db.sink().await;
            let plan = Plan::new(method, Some(2), Some(20));
            let report =
                pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
            let ctx = format!("{method} on {}", db.backend());
            assert_eq!(
                report.status,
                Status::Completed,
                "{ctx}: {:?}",
                report.error
            );
            assert_eq!((report.inserted, report.rejected), (95, 5), "{ctx}");
            assert_eq!(db.count().await, 95, "{ctx}");
            let rows: Vec<u32> = report.rejected_rows.iter().map(|r| r.row).collect();
            let want: Vec<u32> = bad.iter().map(|i| *i as u32 + 2).collect();
            assert_eq!(rows, want, "{ctx}");
            for r in &report.rejected_rows {
                assert!(r.reason.contains("no_bad"), "{ctx}: {}", r.reason);
            }
            let stored_bad = db
                .query("SELECT count(*) FROM businesses WHERE name LIKE 'BAD%'")
                .await;
            assert_eq!(stored_bad[0][0].as_deref(), Some("0"), "{ctx}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_a_fatal_error_not_a_row_error() {
    let dir = tempdir();
    let file = dir.path().join("ok.xlsx");
    sheet_with_bad_names(&file, &[]);
    let db = TestDb::postgres().await;
    let sink = db.sink().await;
    db.execute("DROP TABLE businesses").await;
    let plan = Plan::new(Method::Batch, Some(2), Some(10));
    let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.inserted, 0);
    assert_eq!(
        report.rejected, 0,
        "a table error must not be blamed on rows"
    );
    let err = report.error.unwrap().to_string();
    assert!(err.contains("businesses"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_at_a_unit_boundary_with_exact_counts() {
    let dir = tempdir();
    let file = dir.path().join("big.csv");
    sheetpipe::generate::generate(
        &file,
        &sheetpipe::generate::GenerateOptions {
            rows: 20_000,
            ..Default::default()
        },
    )
    .unwrap();
    let db = TestDb::postgres().await;
    let sink = db.sink().await;
    let ctl = Control::default();
    let plan = Plan::new(Method::Sequential, None, None);
    let cancel = ctl.cancel.clone();
    let progress = ctl.progress.clone();
    tokio::spawn(async move {
        while progress.inserted.load(std::sync::atomic::Ordering::Relaxed) < 50 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        cancel.cancel();
    });
    let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &ctl).await;
    assert_eq!(report.status, Status::Cancelled);
    assert!(
        report.inserted >= 50 && report.inserted < 20_000,
        "{}",
        report.inserted
    );
    assert_eq!(db.count().await, report.inserted);
    assert_eq!(
        report.inserted + report.rejected + report.unprocessed(),
        report.rows_read
    );
}

/// `rows` CSV data rows named `ok N`; those at the given 0-based indexes
/// are named `BAD N` (refused by the CHECK / trigger of [`add_check`]).
fn csv_with_bad_names(path: &std::path::Path, rows: usize, bad: &[usize]) {
    let mut out = String::from("name,category,email\n");
    for i in 0..rows {
        let name = if bad.contains(&i) { "BAD" } else { "ok" };
        out.push_str(&format!("{name} {i},Retail,b{i}@example.com\n"));
    }
    std::fs::write(path, out).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_at_its_default_unit_rejects_only_the_refused_rows_on_both_backends() {
    let chunk = pipeline::COPY_CHUNK;
    let rows = chunk * 2 + chunk / 2;
    // First row of the file and of unit 2, last row of unit 1, middle of
    // unit 2, two adjacent rows, and the very last row (a short unit).
    let bad = [
        0,
        chunk - 1,
        chunk,
        chunk + chunk / 2,
        chunk + chunk / 2 + 1,
        rows - 1,
    ];
    let dir = tempdir();
    let file = dir.path().join("bad.csv");
    csv_with_bad_names(&file, rows, &bad);
    for db in TestDb::both().await {
        add_check(&db).await;
        let sink = db.sink().await;
        let plan = Plan::new(Method::Copy, None, None);
        assert_eq!(plan.batch_size, chunk);
        let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
        let ctx = db.backend();
        assert_eq!(
            report.status,
            Status::Completed,
            "{ctx}: {:?}",
            report.error
        );
        assert_eq!(report.rows_read, rows as u64, "{ctx}");
        assert_eq!(
            (report.inserted, report.rejected),
            ((rows - bad.len()) as u64, bad.len() as u64),
            "{ctx}"
        );
        assert_eq!(db.count().await, report.inserted, "{ctx}");
        let got: Vec<u32> = report.rejected_rows.iter().map(|r| r.row).collect();
        let want: Vec<u32> = bad.iter().map(|i| *i as u32 + 2).collect();
        assert_eq!(got, want, "{ctx}");
        assert!(report
            .rejected_rows
            .iter()
            .all(|r| r.reason.contains("no_bad")));
        // Every good row is there exactly once, and no bad one.
        let stored = db
            .query("SELECT count(DISTINCT name), count(*) FILTER (WHERE name LIKE 'BAD%') FROM businesses")
            .await;
        assert_eq!(
            stored[0][0].as_deref(),
            Some(&*(rows - bad.len()).to_string()),
            "{ctx}"
        );
        assert_eq!(stored[0][1].as_deref(), Some("0"), "{ctx}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_import_reports_unprocessed_rows_apart_and_the_row_to_resume_from() {
    let dir = tempdir();
    let file = dir.path().join("c.csv");
    // Data row i is sheet row i + 2 and named `r{i+2}`; every 7th has a bad email.
    let mut text = String::from("name,email\n");
    for i in 0..20_000 {
        let email = if i % 7 == 3 {
            "nope".to_string()
        } else {
            format!("e{i}@x.com")
        };
        text.push_str(&format!("r{},{email}\n", i + 2));
    }
    std::fs::write(&file, text).unwrap();
    let db = TestDb::postgres().await;
    let sink = db.sink().await;
    let ctl = Control::default();
    let plan = Plan::new(Method::Batch, Some(3), Some(20));
    let (cancel, progress) = (ctl.cancel.clone(), ctl.progress.clone());
    tokio::spawn(async move {
        while progress.inserted.load(std::sync::atomic::Ordering::Relaxed) < 200 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        cancel.cancel();
    });
    let job = ImportJob {
        rejects_files: vec![dir.path().join("rej.csv")],
        ..ImportJob::new(&file)
    };
    let report = pipeline::run(job, &plan, &sink, &ctl).await;
    assert_eq!(report.status, Status::Cancelled);
    let stats = report.stats();
    assert_eq!(
        stats.error_count, report.rejected,
        "error_count is rejected rows only"
    );
    assert_eq!(
        stats.unprocessed,
        report.rows_read - report.inserted - report.rejected
    );
    assert_eq!(
        stats.success_count + stats.error_count + stats.unprocessed,
        stats.total_records
    );
    let report_lines = std::fs::read_to_string(dir.path().join("rej.csv")).unwrap();
    assert_eq!(report_lines.lines().count() as u64, stats.error_count + 1);

    let resume = report.resume_from_row.expect("stopped before the end");
    let mut done: std::collections::HashSet<u32> = db
        .query("SELECT name FROM businesses")
        .await
        .into_iter()
        .map(|r| r[0].as_deref().unwrap()[1..].parse().unwrap())
        .collect();
    assert_eq!(done.len() as u64, report.inserted);
    for line in report_lines.lines().skip(1) {
        done.insert(line.split(',').nth(1).unwrap().parse().unwrap());
    }
    assert!(
        (2..resume).all(|row| done.contains(&row)),
        "every row before {resume} is inserted or rejected"
    );
    assert!(!done.contains(&resume), "row {resume} is neither");
    assert_eq!(report.to_json()["resume_from_row"], resume);
    assert_eq!(report.to_json()["stats"]["unprocessed"], stats.unprocessed);
}
