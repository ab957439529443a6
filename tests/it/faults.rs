//! Faults during an import, on a real PostgreSQL: the writers' connections
//! killed mid-import (`pg_terminate_backend`), and the database gone at the
//! start. Every time: a failed status naming the database, exact counts of
//! what was committed (the table agrees), no panic.

use std::time::Duration;

use sheetpipe::pipeline::{self, Control, ImportError, ImportJob, Method, Plan, Status};

use crate::helpers::{pg_admin_url, run_cli, tempdir, TestDb};

/// The database name at the end of a test database's URL.
fn db_name(db: &TestDb) -> String {
    db.url.rsplit('/').next().unwrap().to_string()
}

/// Runs SQL on the server's admin database.
async fn admin(sql: &str) -> u64 {
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.simple_query(sql).await.unwrap().len() as u64
}

fn generate(dir: &std::path::Path, rows: &str) -> std::path::PathBuf {
    let out = run_cli(
        dir,
        &["generate", "big.csv", "--rows", rows, "--bad-rate", "0.05"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("big.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_connections_mid_import_fails_with_exact_counts() {
    let dir = tempdir();
    let file = generate(dir.path(), "200000");
    for (method, batch) in [
        (Method::Batch, Some(50)),
        (Method::Copy, Some(2000)),
        (Method::Concurrent, None),
    ] {
        let db = TestDb::postgres().await;
        let sink = db.sink().await;
        let ctl = Control::default();
        let plan = Plan::new(method, Some(2), batch);
        let import = {
            let (sink, ctl, file) = (sink.clone(), ctl.clone(), file.clone());
            tokio::spawn(
                async move { pipeline::run(ImportJob::new(file), &plan, &sink, &ctl).await },
            )
        };
        // Wait for the first commits, then kill every session of the db.
        while ctl
            .progress
            .inserted
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            assert!(
                !import.is_finished(),
                "{method}: the import ended before any commit"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db_name(&db)
        ))
        .await;
        let report = import.await.expect("no panic");
        let ctx = format!("{method}: {killed} sessions killed");
        assert_eq!(report.status, Status::Failed, "{ctx}");
        let err = report.error.as_ref().expect("an error");
        assert!(matches!(err, ImportError::Database(_)), "{ctx}: {err}");
        assert_eq!(err.exit_code(), 5);
        let text = err.to_string();
        assert!(
            text.contains("terminating connection")
                || text.contains("connection to PostgreSQL was closed"),
            "{ctx}: {err}"
        );
        let stored = db.count().await;
        assert_eq!(report.inserted, stored, "{ctx}: counted vs stored");
        assert!(
            stored > 0 && stored < 180_000,
            "{ctx}: cut short, {stored} stored"
        );
        assert!(
            report.inserted + report.rejected <= report.rows_read,
            "{ctx}"
        );
        let stats = report.stats();
        assert_eq!(stats.success_count, stored, "{ctx}");
        assert_eq!(
            stats.success_count + stats.error_count,
            stats.total_records,
            "{ctx}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_gone_before_the_writers_connect_fails_cleanly() {
    let dir = tempdir();
    let file = generate(dir.path(), "1000");
    let db = TestDb::postgres().await;
    let sink = db.sink().await;
    admin(&format!("DROP DATABASE {} WITH (FORCE)", db_name(&db))).await;
    let plan = Plan::new(Method::Batch, Some(2), None);
    let report = pipeline::run(ImportJob::new(&file), &plan, &sink, &Control::default()).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.expect("an error").to_string();
    assert!(
        err.contains("cannot connect to PostgreSQL") && err.contains("does not exist"),
        "{err}"
    );
    assert_eq!(report.inserted, 0);
}

#[test]
fn an_unreachable_database_at_start_exits_5_with_one_clear_line() {
    let dir = tempdir();
    generate(dir.path(), "10");
    // Nothing listens on port 1.
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "big.csv",
            "--json",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: database error: cannot connect to PostgreSQL"),
        "{stderr}"
    );
    assert!(lines[0].contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}
